"""Answer a school: decide whether to reply, render the reply, put it in the outbox.

Never to auto-replies, bounces, unrelated mail, mailing lists or ourselves; at most N replies
per sender per day and M in all; and never the same reply twice (a resend with the very same
defects, or a rejudge that finds nothing new, is recorded as suppressed, not sent).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from .mailout import build, clean_header, valid_address
from .model import Verdict
from .profile import Profile
from .store import Store, now_iso
from .templating import render, zh_date, zh_time


def reply_to_address(verdict: Verdict, msg_headers: dict) -> str:
    rt = (msg_headers.get("reply-to") or [""])[0]
    from email.utils import getaddresses
    addrs = [a for _, a in getaddresses([rt]) if a]
    return (addrs[0] if addrs else verdict.sender or "").strip().lower()


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


def content_key(verdict: Verdict, recipient: str) -> str:
    """Same recipient, same report, same findings → same key → sent once."""
    basis = json.dumps([recipient, verdict.school, verdict.deliverables, verdict.report_date, verdict.ok,
                        sorted((d.code, d.file or "") for d in verdict.defects)], ensure_ascii=False)
    return "reply:" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def render_reply(verdict: Verdict, profile: Profile, subject: str) -> tuple[str, str, str]:
    names = {d.id: d.name for d in profile.deliverables}
    what = "、".join(names.get(d, d) for d in verdict.deliverables) or "邮件"
    reqs = []
    if "daily" in verdict.deliverables and not verdict.ok:
        reqs = [r for r in (profile.text.requirement, profile.photos.requirement, profile.videos.requirement) if r]
        reqs = list(dict.fromkeys(reqs))
    ctx = dict(
        school=verdict.school, what=what, ok=verdict.ok,
        received_zh=zh_time(verdict.received), report_date_zh=zh_date(verdict.report_date) + "活动" if verdict.report_date else "",
        due_zh=zh_time(verdict.due) if verdict.due and not verdict.ok else "",
        errors=[d for d in verdict.defects if d.severity == "error"],
        warnings=[d for d in verdict.defects if d.severity != "error"],
        materials=verdict.materials, requirements=reqs, issuer=profile.issuer, subject=subject,
    )
    prefix = "【已收到】" if verdict.ok else "【请修改】"
    subj = clean_header(f"{prefix}回复：{verdict.subject or what}")
    text = re.sub(r"\n{3,}", "\n\n", render("reply.txt.j2", **ctx))
    return subj, text, render("reply.html.j2", **ctx)


def enqueue_reply(store: Store, ident: int, verdict: Verdict, profile: Profile, msg_headers: dict,
                  *, sender: str, own: set[str], cfg, tz) -> str:
    """Record what happens to this message's reply: pending, or suppressed with the reason."""
    recipient = reply_to_address(verdict, msg_headers)
    # limits count per day of arrival: a backlog after an outage is not one flood
    day = (verdict.received or dt.datetime.now(tz).isoformat())[:10]
    key = content_key(verdict, recipient)
    if store.db.execute("select 1 from outbox where message = ? and kind = 'reply' and dedupe_key in (?, ?)",
                        [ident, key, f"skip:{key}:{ident}"]).fetchone():
        return "already queued"          # a restart, or a rejudge that changed nothing
    reason = why_not(verdict, recipient, own, cfg)
    if reason is None and store.db.execute("select 1 from outbox where dedupe_key = ?", [key]).fetchone():
        reason = "the same reply was already sent to this address"
    if reason is None:
        live = "state in ('pending','sending','sent','uncertain')"
        sent_today = store.db.execute(f"select count(*) from outbox where recipient = ? and day = ? and {live}",
                                      [recipient, day]).fetchone()[0]
        all_today = store.db.execute(f"select count(*) from outbox where day = ? and {live}", [day]).fetchone()[0]
        if sent_today >= cfg.max_per_sender_per_day:
            reason = f"limit of {cfg.max_per_sender_per_day} replies per sender per day reached"
        elif all_today >= cfg.max_per_day:
            reason = f"limit of {cfg.max_per_day} replies per day reached"
    if reason is not None:
        store.db["outbox"].insert({"message": ident, "kind": "reply", "dedupe_key": f"skip:{key}:{ident}",
                                   "recipient": recipient, "subject": "", "raw": None, "state": "suppressed",
                                   "reason": reason, "created_at": now_iso(), "day": day}, ignore=True)
        return f"suppressed: {reason}"
    subject, text, html = render_reply(verdict, profile, verdict.subject)
    refs = (msg_headers.get("references") or [""])[0]
    mid = verdict.message_id if verdict.message_id.startswith("<") else None
    msg = build(sender=sender, to=recipient, subject=subject, text=text, html=html, in_reply_to=mid, references=refs)
    store.db["outbox"].insert({"message": ident, "kind": "reply", "dedupe_key": key, "recipient": recipient,
                               "subject": subject, "raw": msg.as_bytes().decode("ascii", "replace"),
                               "state": "pending", "created_at": now_iso(), "next_try": now_iso(), "day": day},
                              ignore=True)
    return "queued"
