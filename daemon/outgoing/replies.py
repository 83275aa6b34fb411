"""Answer a school: decide whether to reply, to whom, render the reply, put it in the outbox.

Never to auto-replies, bounces, unrelated mail, mailing lists or ourselves, and never the same
reply twice. A known sender (the From is one of the school's addresses, or staff assigned the
mail) gets the full reply at its From, or at a Reply-To that is one of the same school's
addresses; over `max_per_day` or `max_per_sender_per_day` it waits for the next day's budget.
Anyone else gets at most one fixed reply per address per day, at its From, that quotes nothing
it sent, from its own budget `max_unknown_per_day`. Every reply is read back before it is queued.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from email.utils import getaddresses

from daemon.defects import title
from daemon.model import Verdict
from daemon.outgoing.mailout import build, check, clean_header, valid_address
from daemon.profile import Profile
from daemon.store import outbox_rows as rows
from daemon.store.db import Store, now_iso
from daemon.templating import render, zh_date, zh_time

log = logging.getLogger("ribao.replies")
DEFER_DAYS = 14                  # a known sender's reply waits at most this many days for a budget
STRANGER_SUBJECT = "【已收到】您的来信"


def is_known(verdict: Verdict) -> bool:
    """The mail came from one of its school's known addresses, or staff assigned it."""
    return verdict.school_how in ("sender", "staff")


def reply_to_address(verdict: Verdict, msg_headers: dict, roster=None, known: bool = True) -> str:
    """The From address; a Reply-To only when it is a known address of the same school."""
    sender = (verdict.sender or "").strip().lower()
    if not known or roster is None or not verdict.school:
        return sender
    rt = (msg_headers.get("reply-to") or [""])[0]
    addrs = [a.strip().lower() for _, a in getaddresses([rt]) if a]
    school = roster.by_email(addrs[0]) if addrs else None
    return addrs[0] if school is not None and school.name == verdict.school else sender


def why_not(verdict: Verdict, recipient: str, own: set[str], cfg) -> str | None:
    """The reason not to answer, or None to answer."""
    if not cfg.enabled:
        return "replies are off in config"
    if verdict.kind != "report":
        return f"kind {verdict.kind}: never answered"
    if not valid_address(recipient):
        return f"no usable reply address ({recipient!r})"
    if recipient in own or verdict.sender in own:
        return "sent by ourselves"
    if recipient in {a.lower() for a in cfg.ignore_senders}:
        return "sender on the ignore list"
    if verdict.ok and not cfg.receipts and not verdict.defects:
        return "receipts are off in config"
    return None


def content_key(verdict: Verdict, recipient: str, day=None) -> str:
    """Same recipient, same report (or the same state of the school's day), same findings → same
    key → sent once: an identical resend, or a rejudge that changes nothing, is not answered again."""
    if day is not None and day.combined is not None:
        c = day.combined
        basis = [recipient, verdict.school, verdict.deliverables, verdict.report_date, day.status,
                 sorted((d["code"], d.get("file") or "") for d in c.open), c.fixed_codes,
                 [c.text_chars, c.photos, c.videos]]
    else:
        basis = [recipient, verdict.school, verdict.deliverables, verdict.report_date, verdict.ok,
                 sorted((d.code, d.file or "") for d in verdict.defects)]
    return "reply:" + hashlib.sha256(json.dumps(basis, ensure_ascii=False).encode()).hexdigest()[:32]


_REPLY_PREFIX = re.compile(r"^(\s*(【已收到】|【请修改】|回复|答复|回覆|re|fw|fwd|转发)\s*[:：]?\s*)+", re.I)


def reply_subject(ok: bool, subject: str, what: str) -> str:
    """【已收到】回复：<their subject>, never 回复：回复： however often the thread goes back and forth."""
    core = _REPLY_PREFIX.sub("", subject or "").strip() or what
    return clean_header(f"{'【已收到】' if ok else '【请修改】'}回复：{core}")


def render_reply(verdict: Verdict, profile: Profile, subject: str, day=None) -> tuple[str, str, str]:
    """The reply; with `day` (the school's day after this mail) it speaks of the whole day: what the
    bureau now holds, what is still open, what a later mail fixed, and asks only for what is missing."""
    names = {d.id: d.name for d in profile.deliverables}
    what = "、".join(names.get(d, d) for d in verdict.deliverables) or "邮件"
    if day is not None and day.combined is not None:
        c = day.combined
        errors = [{"message": d["text"], "code": d["code"]} for d in c.open if d["severity"] == "error"]
        warnings = [{"message": d["text"], "code": d["code"]} for d in c.open if d["severity"] != "error"]
        warnings += [{"message": d.message, "code": d.code} for d in verdict.defects if d.code == "submission.late"]
        held = {"mails": len(day.messages), "text_chars": c.text_chars, "photos": c.photos, "videos": c.videos}
        fixed = [title(code) for code in c.fixed_codes]
    else:
        errors = [d for d in verdict.defects if d.severity == "error"]
        warnings = [d for d in verdict.defects if d.severity != "error"]
        held, fixed = None, []
    ok = not errors
    reqs = []
    if verdict.recurring and not ok:
        reqs = [r for r in (profile.text.requirement, profile.photos.requirement, profile.videos.requirement) if r]
        reqs = list(dict.fromkeys(reqs))
    ctx = dict(
        school=verdict.school, what=what, ok=ok,
        received_zh=zh_time(verdict.received), report_date_zh=zh_date(verdict.report_date) + "活动" if verdict.report_date else "",
        due_zh=zh_time(verdict.due) if verdict.due and not ok else "",
        errors=errors, warnings=warnings, points=len(errors) + len(warnings), held=held, fixed=fixed,
        materials=verdict.materials, requirements=reqs, issuer=profile.issuer, subject=subject,
    )
    text = re.sub(r"\n{3,}", "\n\n", render("reply.txt.j2", **ctx))
    return reply_subject(ok, verdict.subject, what), text, render("reply.html.j2", **ctx)


def render_stranger(profile: Profile) -> tuple[str, str]:
    """The fixed reply to an unknown address: nothing in it comes from the mail."""
    return STRANGER_SUBJECT, render("stranger.txt.j2", issuer=profile.issuer or "教育局")


def enqueue_reply(store: Store, ident: int, verdict: Verdict, profile: Profile, msg_headers: dict,
                  *, sender: str, own: set[str], cfg, tz, roster=None, staff_assigned: bool = False,
                  school_day=None) -> str:
    """Record what happens to this message's reply: pending, or suppressed with the reason.

    staff_assigned: staff just assigned this (held) mail to a school; its sender gets one reply
    about the school's day even though it already had the day's reply to an unknown address.
    school_day: the school's day after this mail (reports.day.verdict_day): the reply speaks of it."""
    known = staff_assigned or is_known(verdict)
    recipient = reply_to_address(verdict, msg_headers, roster, known)
    # limits count per day of arrival: a backlog after an outage is not one flood
    day = (verdict.received or dt.datetime.now(tz).isoformat())[:10]
    key = content_key(verdict, recipient, school_day) if known else stranger_key(recipient, day)
    if rows.reply_recorded(store, ident, [key, f"skip:{key}:{ident}"]):
        return "already queued"          # a restart, or a rejudge that changed nothing
    if staff_assigned and rows.full_reply_live(store, ident):
        return "already queued"          # the one reply after an assignment went out already
    reason = why_not(verdict, recipient, own, cfg)
    if reason is None and known and school_day is not None and school_day.status == "accepted":
        reason = "staff accepted the school's day; the school was told so"
    when = day
    if reason is None and rows.has(store, key):
        reason = ("the same reply was already sent to this address" if known else
                  "an unknown address gets one reply a day, and this one had it")
    if reason is None and known:
        when, reason = _known_day(store, recipient, day, cfg)
    elif reason is None:
        if rows.count_live(store, day, prefix="stranger:") >= cfg.max_unknown_per_day:
            reason = f"limit of {cfg.max_unknown_per_day} replies per day to unknown addresses reached"
    if reason is not None:
        _record(store, ident, key, recipient, day, "suppressed", reason)
        return f"suppressed: {reason}"
    if known:
        subject, text, html = render_reply(verdict, profile, verdict.subject, school_day)
        mid = verdict.message_id
        msg = build(sender=sender, to=recipient, subject=subject, text=text, html=html, in_reply_to=mid,
                    references=(msg_headers.get("references") or [""])[0])
    else:                               # nothing of theirs: no subject, no names, no thread
        subject, text = render_stranger(profile)
        msg = build(sender=sender, to=recipient, subject=subject, text=text)
    raw = msg.as_bytes()
    unsafe = check(raw, msg)
    if unsafe:
        log.error("message %s: reply to %s refused: %s", ident, recipient, unsafe)
        store.event("error", f"message {ident}: reply refused: {unsafe}")
        _record(store, ident, key, recipient, day, "failed", f"refused: {unsafe}")
        return f"failed: refused: {unsafe}"
    next_try = now_iso() if when == day else _midnight(when, tz)
    settle = getattr(cfg, "settle_seconds", 0) or 0
    if known and settle > 0 and when == day:
        next_try = max(next_try, _later(settle))
        # a reply still waiting about the same school's day is replaced by this one, which speaks
        # of the whole day: the school gets one answer for its split mails
        rows.settle(store, ident, recipient, verdict.school, verdict.report_date, json.dumps(verdict.deliverables),
                    f"replaced by the reply to message {ident}, which speaks of the whole day")
    rows.add_reply(store, message=ident, key=key, recipient=recipient, subject=clean_header(subject),
                   raw=raw.decode("ascii", "replace"), state="pending", day=when, next_try=next_try)
    return "queued" if when == day else f"queued for {when}: the day's reply limit was reached"


def stranger_key(recipient: str, day: str) -> str:
    """One key per unknown address and day: the unique index makes it one reply, whatever races."""
    return "stranger:" + hashlib.sha256(f"{recipient}\n{day}".encode()).hexdigest()[:32]


def _known_day(store: Store, recipient: str, day: str, cfg) -> tuple[str, str | None]:
    """The first day from `day` on with budget left for a reply to a known address."""
    d = dt.date.fromisoformat(day)
    for _ in range(DEFER_DAYS):
        iso = d.isoformat()
        mine = rows.count_live(store, iso, recipient=recipient)
        known = rows.count_live(store, iso, prefix="reply:")
        if mine < cfg.max_per_sender_per_day and known < cfg.max_per_day:
            return iso, None
        d += dt.timedelta(days=1)
    return day, f"reply limits (max_per_day {cfg.max_per_day}, max_per_sender_per_day " \
                f"{cfg.max_per_sender_per_day}) reached for the next {DEFER_DAYS} days"


def _later(seconds: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).astimezone().isoformat(timespec="seconds")


def _midnight(day: str, tz) -> str:
    """The start of `day` in the profile's timezone, written as now_iso() writes (string-comparable)."""
    start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=tz)
    return start.astimezone(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _record(store: Store, ident: int, key: str, recipient: str, day: str, state: str, reason: str) -> None:
    rows.add_reply(store, message=ident, key=f"skip:{key}:{ident}", recipient=recipient, subject="", raw=None,
                   state=state, day=day, reason=reason)
