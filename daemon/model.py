"""The few value types every stage shares: an attachment on disk, a material, a defect, a verdict.

Stages pass these along one direction (parse → identify → judge → store → reply); none of them
knows about the stages after it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

ERROR = "error"
WARNING = "warning"
KNOWN_HOW = ("sender", "staff")     # school_how values that say the mail is the school's own


@dataclass
class Attachment:
    """One file a school sent, already written to disk (never held whole in memory).

    `name` is what the school sees and what defects name: the attachment's file name, or
    `archive.zip/inner.jpg` for an archive member.
    """

    name: str
    path: Path
    size: int
    content_type: str = "application/octet-stream"
    depth: int = 0              # 0 = attached to the mail, 1 = inside an archive, ...
    in_archive: bool = False
    sha256: str = ""
    inline: bool = False        # shown in the body (Content-ID), e.g. a signature logo
    named: bool = True          # False: the part had no file name (an alternative rendering, ...)

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        base = self.basename
        return base.rsplit(".", 1)[-1].lower() if "." in base else ""

    def head(self, n: int = 64) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read(n)


@dataclass
class Defect:
    code: str
    severity: str               # "error" | "warning"
    file: str | None
    message: str                # one clear Chinese sentence telling the school what to fix
    facts: dict = field(default_factory=dict)   # what the sentence was rendered from (daemon/defects.py)
    form: str = ""              # which of the code's wordings

    def as_dict(self) -> dict:
        """The `ribao check --json` contract: code, severity, file, message."""
        return {"code": self.code, "severity": self.severity, "file": self.file, "message": self.message}


@dataclass
class Material:
    """What one inspector learned about one file."""

    file: str
    type: str                   # photo | video | document | table | archive | other
    size: int = 0
    sha256: str = ""
    width: int | None = None    # as displayed (after EXIF orientation / rotation)
    height: int | None = None
    duration: float | None = None
    caption: str | None = None
    text: str | None = None     # documents: extracted text
    text_chars: int | None = None
    rows: list[list] | None = None   # tables: header row first
    format: str | None = None   # jpeg, png, heic, mp4, mov, zip, docx, xlsx ...
    in_archive: bool = False
    path: Path | None = None    # where the file lies on disk while judging

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("path", None)
        d.pop("rows", None)
        d.pop("text", None)
        return d


@dataclass
class Inspection:
    """An inspector's answer: the materials it found, its defects, and, for containers, the
    files inside (judged in turn by the inspectors)."""

    materials: list[Material] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    children: list[Attachment] = field(default_factory=list)


@dataclass
class Verdict:
    kind: str                   # report | auto | other
    school: str | None
    report_date: str | None
    late: bool
    defects: list[Defect]
    materials: dict             # {text_chars, photos, videos}
    deliverables: list[str] = field(default_factory=list)
    # facts kept for storage and replies, not part of the JSON contract
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    received: str = ""          # ISO-8601 in the profile's timezone
    items: list[Material] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    due: str | None = None      # the deadline this report was judged against (ISO)
    school_how: str = ""        # sender | subject | body | attachment | staff
    recurring: str | None = None  # the id of the recurring deliverable (the daily report) it carries

    @property
    def ok(self) -> bool:
        return not any(d.severity == ERROR for d in self.defects)

    @property
    def known_sender(self) -> bool:
        """From one of the school's known addresses (roster or staff-assigned), or assigned by staff."""
        return self.school_how in KNOWN_HOW

    @property
    def held(self) -> bool:
        """A report naming a roster school from an address not known to be that school's (待确认):
        it joins no school's day until staff assign it."""
        return self.kind == "report" and bool(self.school) and not self.known_sender

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "school": self.school,
            "report_date": self.report_date,
            "late": self.late,
            "ok": self.ok,
            "deliverables": list(self.deliverables),
            "materials": dict(self.materials),
            "defects": [d.as_dict() for d in self.defects],
        }
