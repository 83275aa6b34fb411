"""One message in, one verdict out: parse → kind → inspect files → identify → which deliverable
and day → message-level checks.

`ribao check` and the daemon both call `judge_file`, so a person at a terminal and the daemon
always agree.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
import time
from pathlib import Path

from daemon.defects import apply, defect
from daemon.judging import authres, incidental
from daemon.judging import dates as datelogic
from daemon.judging.checks import Judgement, captions, chain
from daemon.judging.inspect import Context, FileTimeout, Limits, inspector_for
from daemon.judging.inspect.budget import run_limited
from daemon.judging.inspect.sniff import sniff
from daemon.judging.links import find_links
from daemon.judging.parse import ParsedMessage, parse_file
from daemon.judging.quoting import strip_quoted
from daemon.judging.roster import Roster
from daemon.judging.textcount import count_chars
from daemon.model import KNOWN_HOW, Attachment, Defect, Material, Verdict
from daemon.profile import Deliverable, Profile
from daemon.store.safefs import is_full

log = logging.getLogger("ribao")
DECORATION_BYTES = 100_000      # inline images smaller than this are logos and signatures
LEAD_LINES, LEAD_CHARS = 5, 400  # where a body's words tie a mail to the week: its title and lead
_AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|no-?reply|bounce[s]?)@", re.I)
_AUTO_SUBJECT = re.compile(r"\s*(自动回复|自動回覆|自动答复|自動回復|auto(matic)?[ -]?(reply|response|antwort)|autoreply|"
                           r"auto:|out of (the )?office)\s*[:：]?", re.I)
_AUTO_SIGNS = ("in-reply-to", "references", "x-auto-response-suppress")
_OUR_REPLY_MARKS = ("【已收到】", "【请修改】")          # the subjects replies.py gives our replies


def is_auto(msg: ParsedMessage) -> str | None:
    """Why this mail is an auto-reply or bounce (RFC 3834 and common practice), or None."""
    auto = msg.header("auto-submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if msg.content_type == "multipart/report":
        return "multipart/report (delivery or read report)"
    if _AUTO_SENDERS.match(msg.sender or ""):
        return f"sent by {msg.sender}"
    prec = msg.header("precedence").strip().lower()
    if prec in ("bulk", "junk", "list", "auto_reply", "auto-reply"):
        return f"Precedence: {prec}"
    for h in ("x-autoreply", "x-autorespond"):
        v = msg.header(h).strip().lower()
        if v and v not in ("no", "false", "0"):
            return f"{h}: {v}"
    if msg.header("list-id") or msg.header("list-unsubscribe"):
        return "mailing list"
    # Vacation replies without RFC 3834 headers (QQ, 163, Outlook): an auto-reply subject, and a
    # sign that it answers a mail (In-Reply-To, References, our reply's own subject) or asks not to
    # be answered itself. The subject alone is not enough: a school's report must never be lost.
    subject = msg.subject or ""
    if _AUTO_SUBJECT.match(subject) and (any(msg.header(h) for h in _AUTO_SIGNS) or
                                         any(m in subject for m in _OUR_REPLY_MARKS)):
        return f"auto-reply subject: {subject[:40]}"
    return None


def _received(msg: ParsedMessage, override: dt.datetime | None, profile: Profile) -> dt.datetime:
    when = override or msg.date or dt.datetime.now(profile.tz)
    if when.tzinfo is None:
        when = when.replace(tzinfo=profile.tz)
    return when.astimezone(profile.tz)


def _inspect_all(msg: ParsedMessage, ctx: Context, j: Judgement) -> None:
    """Every attachment through its inspector; containers' children joined to the queue.

    Each file has ctx.limits.file_seconds, within the message's message_seconds. Formats whose
    libraries can't be interrupted (the inspector's FORK set) run in a child killed at the budget;
    the others bound their external tools by the same budget. A file past it gets file.timeout and
    the rest of the mail is still judged. Forking costs a few ms, so cheap formats stay here."""
    queue: list[Attachment] = [a for a in msg.attachments
                               if not (a.inline and a.size < DECORATION_BYTES and a.content_type.startswith("image/"))]
    seen_eml = 0
    while queue:
        att = queue.pop(0)
        if ctx.time_left() <= 0:
            j.defects.append(_message_timeout(att))
            break
        fmt = sniff(att.path, att.basename)
        if fmt == "eml" and seen_eml < 20 and att.depth < ctx.limits.max_depth + 1:
            seen_eml += 1
            _open_forwarded(att, ctx, j, queue)
            continue
        mod = inspector_for(fmt, att)
        if mod is None:
            j.items.append(Material(file=att.name, type="other", size=att.size, sha256=att.sha256,
                                    format=fmt, in_archive=att.in_archive, path=att.path))
            if fmt != "empty" or att.size:
                j.defects.append(defect("attachment.unknown_type", att.name))
            continue
        ctx.file_deadline = time.monotonic() + ctx.limits.file_seconds
        try:
            if fmt in getattr(mod, "FORK", ()):
                mod.preload(fmt)        # imported once here, not again in every file's child
                result = run_limited(mod.inspect, (att, fmt, ctx), ctx.file_left())
            else:
                result = mod.inspect(att, fmt, ctx)
        except FileTimeout:
            j.items.append(_unchecked(att, mod, fmt))
            if ctx.time_left() <= 0:
                j.defects.append(_message_timeout(att))
                break
            j.defects.append(defect("file.timeout", att.name))
            continue
        except Exception as e:          # an inspector's bug must not cost the message its verdict
            if is_full(e):
                raise                   # but a full disk is not the file's fault: judge it again later
            log.warning("inspecting %s failed: %s: %s", att.name, type(e).__name__, e)
            j.items.append(_unchecked(att, mod, fmt))
            j.defects.append(defect("attachment.check_failed", att.name))
            continue
        finally:
            ctx.file_deadline = None
        j.items.extend(result.materials)
        j.defects.extend(result.defects)
        queue.extend(result.children)


def _message_timeout(att: Attachment) -> Defect:
    return defect("message.timeout", att.name)


def _unchecked(att: Attachment, mod, fmt: str) -> Material:
    """A file that could not be checked still counts as sent, as what its inspector takes."""
    kind = getattr(mod, "KIND", "other")
    return Material(file=att.name, type=kind, size=att.size, sha256=att.sha256, format=fmt,
                    in_archive=att.in_archive, path=att.path, text="" if kind == "document" else None)


def _open_forwarded(att: Attachment, ctx: Context, j: Judgement, queue: list) -> None:
    try:
        inner = parse_file(att.path, att.path.parent / f"{att.path.name}.d")
    except Exception:
        j.defects.append(defect("attachment.unknown_type", att.name, form="eml"))
        return
    for body in inner.bodies:
        text = strip_quoted(body)
        if text.strip():
            j.items.append(Material(file=att.name, type="document", format="eml", text=text,
                                    text_chars=count_chars(text), size=att.size))
    for a in inner.attachments:
        a.depth = att.depth + 1
        queue.append(a)


def _forwarded_texts(msg: ParsedMessage, j: Judgement) -> None:
    for i, body in enumerate(msg.bodies[1:], start=1):
        text = strip_quoted(body)
        if text.strip():
            j.items.append(Material(file=f"转发邮件{i}", type="document", format="eml", text=text,
                                    text_chars=count_chars(text)))


def find_deliverables(profile: Profile, texts: list[str]) -> list[Deliverable]:
    """Deliverables named in `texts` (tried in order; the first that names any wins).

    When one deliverable's word lies inside another's (统计表 inside 信息统计表), the longer,
    more specific match wins."""
    words = [(w.lower(), d) for d in profile.deliverables for w in d.words if w]
    for text in texts:
        if not text:
            continue
        low = text.lower()
        found: set[int] = set()
        for w, d in words:
            start = low.find(w) if id(d) not in found else -1
            while start >= 0:       # linear in the text: a subject of 250,000 "一日一报" must not hang
                if not _inside_longer(low, start, w, d, words):
                    found.add(id(d))
                    break
                start = low.find(w, start + 1)
        if found:
            return [d for d in profile.deliverables if id(d) in found]
    return []


def _inside_longer(low: str, start: int, w: str, d: Deliverable, words: list) -> bool:
    """Whether the match of `w` at `start` lies inside a longer match of another deliverable's word."""
    end = start + len(w)
    return any(d2 is not d and len(w2) > len(w) and
               any(low.startswith(w2, s2) for s2 in range(max(0, end - len(w2)), start + 1))
               for w2, d2 in words)


def _by_content(profile: Profile, j: Judgement) -> list[Deliverable]:
    """No words named a deliverable: go by what the mail carries and which is due next."""
    if profile.daily:
        return [profile.daily]
    need = []
    if j.tables:
        need.append("table")
    if j.documents or count_chars(j.body) >= 200:
        need.append("document")
    if j.photos or j.videos:
        need.append("materials")
    chosen = []
    for what in need:
        cands = [d for d in profile.deliverables if what in d.requires]
        if not cands:
            continue
        open_ = sorted((d for d in cands if d.due is None or d.due >= j.received), key=lambda d: (d.due is None, d.due))
        chosen.append((open_ or cands)[0] if len(cands) > 1 else cands[0])
    return [d for d in profile.deliverables if d in chosen]


def judge_file(path: Path, profile: Profile, roster: Roster, *, received: dt.datetime | None = None,
               workdir: Path | None = None, limits: Limits | None = None,
               overrides: dict | None = None, known=None, hash_raw: bool = False) -> tuple[Verdict, ParsedMessage]:
    """Judge the message in `path`. Attachments are written under `workdir` (a temporary
    folder when None, removed afterwards; then the verdict's materials lose their paths).

    `overrides` carries a staff correction: {"school", "date", "deliverable"} win over what the
    mail itself says. `known` (sha256 → a kept file or None) spares writing attachments the store
    already has (daemon/judging/parse.py, _Writer); `hash_raw` has the file's sha256 taken on the
    same read (ParsedMessage.raw_sha256)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="ribao-") as tmp:
            verdict, msg = judge_file(path, profile, roster, received=received, workdir=Path(tmp),
                                      limits=limits, overrides=overrides, hash_raw=hash_raw)
            for m in verdict.items:
                m.path = None
            return verdict, msg
    msg = parse_file(path, workdir / "parts", known, hash_raw)
    ctx = Context(profile=profile, workdir=workdir / "unpacked", limits=limits or Limits())
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    when = _received(msg, received, profile)
    base = dict(message_id=msg.message_id, sender=msg.sender, subject=msg.subject, received=when.isoformat())
    if is_auto(msg):
        return Verdict(kind="auto", school=None, report_date=None, late=False, defects=[],
                       materials={"text_chars": 0, "photos": 0, "videos": 0}, **base), msg
    j = Judgement(profile=profile, msg=msg, received=when, body=strip_quoted(msg.body))
    msg.attachments = [a for a in msg.attachments if incidental.why(a) is None]
    trusted = not authres.from_fails(msg.headers.get("authentication-results", []), roster.authserv_id)
    school, how = roster.identify(msg.sender, msg.subject, j.body, [a.name for a in msg.attachments],
                                  trust_sender=trusted)
    j.school, j.school_how = (school.name if school else None), how
    over = overrides or {}
    if over.get("school"):
        j.school, j.school_how = over["school"], "staff"     # staff said so: the school's own mail
    if not tied_to_week(profile, j, msg.subject):
        j.kind = "other"                # a stranger's files are not even opened
        return _verdict(j, [], **base), msg
    _forwarded_texts(msg, j)
    _inspect_all(msg, ctx, j)
    names = [a.name for a in msg.attachments] + [m.file for m in j.items if m.in_archive]
    if j.school is None:                # a name inside an archive may still tell
        school, how = roster.identify("", "", "", names)
        j.school, j.school_how = (school.name if school else None), how
    j.links = find_links(msg.body)
    j.deliverables = find_deliverables(profile, [msg.subject, "\n".join(names), j.body]) or _by_content(profile, j)
    if over.get("deliverable"):
        j.deliverables = [d for d in profile.deliverables if d.id == over["deliverable"]]
    if profile.daily and profile.daily in j.deliverables:
        explicit = over.get("date") or datelogic.explicit_date(msg.subject, j.body, profile)
        j.explicit_date = explicit is not None
        j.report_date = explicit or datelogic.implicit_date(when, profile)
    captions.decide(j)                  # facts first; the checks below only read them
    for rule in chain():
        j.defects.extend(rule.check(j))
    return _verdict(j, j.defects, **base), msg


def tied_to_week(profile: Profile, j: Judgement, subject: str) -> bool:
    """A mail is a report only when something ties it to the week: a school's own address (or staff),
    a roster school named in the subject or body, or the notice's words in the subject or the
    body's lead. What it carries proves nothing: strangers attach files too."""
    if j.school_how in KNOWN_HOW or (j.school and j.school_how in ("subject", "body")):
        return True
    lead = "\n".join(j.body.strip().splitlines()[:LEAD_LINES])[:LEAD_CHARS]
    for text in (subject or "", lead):
        low = text.lower()
        if any(w and w.lower() in low for w in profile.report_words):
            return True
    return bool(find_deliverables(profile, [subject or "", lead]))


def _verdict(j: Judgement, defects: list[Defect], **base) -> Verdict:
    defects = [apply(j.profile, d) for d in defects]      # the profile's [defects."CODE"] severity and wording
    late = any(d.code == "submission.late" for d in defects)
    due = None
    if j.deliverables:
        d0 = j.deliverables[0]
        due_dt = j.profile.due_of(d0, j.report_date)
        due = due_dt.isoformat() if due_dt else None
    return Verdict(
        kind=j.kind, school=j.school, report_date=j.report_date.isoformat() if j.report_date else None,
        late=late, defects=defects,
        materials={"text_chars": j.text_chars(), "photos": len(j.photos), "videos": len(j.videos)},
        deliverables=[d.id for d in j.deliverables] if j.kind == "report" else [],
        items=j.items, links=j.links, due=due, school_how=j.school_how,
        recurring=j.profile.daily.id if j.profile.daily in j.deliverables and j.kind == "report" else None, **base)
