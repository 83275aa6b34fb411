"""A school's day is everything it sent for it, combined — not its last mail.

Schools split a day's report over several mails (QQ and 163 cap attachments), resend one corrected
photo on its own, or send the text on time and the video later. So for one school and one day (or
one one-off deliverable):

- the text is the latest mail's that carries text (a new text replaces an older one);
- files are a union over the mails by content: the same file twice counts once, and a file with
  the name of an earlier one replaces it (a corrected photo);
- a mail whose subject says it is a full resend (the profile's `resend_words`) replaces every
  earlier mail of the day;
- a file's own defects stay open until that file is replaced; checks about the whole report (text
  length, no photos or videos, no document or table) are decided on the combined day; a defect a
  later mail cured is listed as fixed;
- the day is late only when its first mail was; staff acceptance holds until a later mail brings
  a new error.

`combine` is pure (rows in, a Combined out), so `ribao check A.eml B.eml`, the daemon's replies,
the digest and the workbook all compute a day the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TEXT_CODES = {"text.missing", "text.too_short", "text.too_long"}
NOT_OPEN = {"submission.late", "school.unconfirmed_sender"}   # shown elsewhere, never "to fix"
MEDIA = ("photo", "video")
HISTORY = 20


@dataclass
class Mail:
    """One mail of the day as stored: its messages row, defects and materials."""
    row: dict
    defects: list[dict]
    materials: list[dict]
    resend: bool = False

    @property
    def id(self) -> int:
        return self.row["id"]

    @property
    def text_chars(self) -> int:
        return int(self.row.get("text_chars") or 0)


@dataclass
class Combined:
    mails: list[Mail]                       # every mail of the day, in arrival order
    live: list[Mail]                        # those since the last full resend
    text_mail: Mail | None                  # the mail whose text counts
    files: dict[str, tuple[dict, Mail]]     # file name → (its current material, the mail it came in)
    open: list[dict] = field(default_factory=list)      # open defects (rows), latest first per (code, file)
    fixed: list[dict] = field(default_factory=list)     # one row per code that was open once and is no more
    late: bool = False                      # the day's first mail came after the deadline
    accepted: Mail | None = None            # the mail whose acceptance by staff holds

    @property
    def text_chars(self) -> int:
        """The counting text's 字; with none, what the latest mail had (a few words are still shown)."""
        if self.text_mail:
            return self.text_mail.text_chars
        return self.live[-1].text_chars if self.live else 0

    def of_type(self, kind: str) -> list[dict]:
        return [m for m, _ in self.files.values() if m["type"] == kind]

    @property
    def photos(self) -> int:
        return len(self.of_type("photo"))

    @property
    def videos(self) -> int:
        return len(self.of_type("video"))

    @property
    def open_codes(self) -> list[str]:
        return sorted({d["code"] for d in self.open})

    @property
    def fixed_codes(self) -> list[str]:
        return sorted({d["code"] for d in self.fixed})


def combine(mails: list[Mail], *, text_floor: int = 50) -> Combined:
    """The day made of `mails` (arrival order). `text_floor`: under this many 字 a mail carries no text."""
    c = _files(mails, text_floor)
    c.open = _open(c)
    c.accepted = _accepted(c)
    c.fixed = _fixed(c, text_floor)
    return c


def _files(mails: list[Mail], text_floor: int) -> Combined:
    """The day's text and files: a full resend starts the day afresh."""
    live = mails[max((i for i, m in enumerate(mails) if m.resend), default=0):]
    text_mail = next((m for m in reversed(live) if m.text_chars >= text_floor), None)
    files: dict[str, tuple[dict, Mail]] = {}
    seen: set[str] = set()
    for m in live:
        for mat in m.materials:
            sha = mat.get("sha256") or ""
            if sha and sha in seen and mat["file"] not in files:
                continue                    # the same file again under another name: counted once
            files[mat["file"]] = (mat, m)
            if sha:
                seen.add(sha)
    return Combined(mails=mails, live=live, text_mail=text_mail, files=files, late=bool(mails and mails[0].row.get("late")))


def _fixed(c: Combined, text_floor: int) -> list[dict]:
    """Defects that were open on the day after some earlier mail and are no more (the last
    HISTORY mails are replayed; a school that sent more than that in a day is an oddity)."""
    now_open = {d["code"] for d in c.open}
    fixed: dict[str, dict] = {}
    for k in range(max(1, len(c.mails) - HISTORY), len(c.mails)):
        for d in _open(_files(c.mails[:k], text_floor)):
            if d["code"] not in now_open:
                fixed.setdefault(d["code"], d)
    return list(fixed.values())


def _open(c: Combined) -> list[dict]:
    last = c.live[-1] if c.live else None
    out: dict[tuple, dict] = {}
    for m in c.live:
        for d in m.defects:
            code, name = d["code"], d.get("file")
            if code in NOT_OPEN:
                continue
            if name and name in c.files:
                keep = c.files[name][1] is m                 # open while this version of the file counts
            elif name:
                keep = True                                  # a link or a file no inspector kept: as sent
            elif code in TEXT_CODES:
                keep = m is (c.text_mail or last)
            elif code == "materials.missing":
                keep = not any(mat["type"] in MEDIA for mat, _ in c.files.values())
            elif code == "document.missing":
                keep = not c.of_type("document") and c.text_mail is None
            elif code == "table.missing":
                keep = not c.of_type("table")
            else:
                keep = m is last                             # anything else about the mail: its latest word
            if keep:
                out[(code, name)] = d
    return list(out.values())


def _accepted(c: Combined) -> Mail | None:
    """Staff accepted the day on some mail; a later mail with an open error of its own reopens it."""
    acc = None
    for m in c.mails:
        if m.row.get("accepted_at"):
            acc = m
        elif acc is not None and any(d["severity"] == "error" and d in c.open for d in m.defects):
            acc = None
    return acc
