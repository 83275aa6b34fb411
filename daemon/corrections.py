"""Staff corrections as library calls: assign, accept, rejudge, forget.

`ribao assign/accept/rejudge/forget` (cli_staff.py) and the staff desk (`ribao web`) both call these,
so a correction does the same whoever makes it. Each is recorded in `corrections` with who made it
(the desk's account name, else the OS user). A correction never makes a school get the same answer
twice: replies are keyed by their content (replies.content_key) and claimed atomically in the outbox.
"""
from __future__ import annotations

import contextlib
import datetime as dt

from daemon.service import saved_overrides
from daemon.store import reads
from daemon.store.db import Store


class CorrectionError(ValueError):
    """One plain line: what is wrong with the request and how to fix it."""


def message(store: Store, ident: int) -> dict:
    row = store.get(ident)
    if row is None:
        raise CorrectionError(f"no message #{ident}: `ribao status` lists message numbers")
    return row


def _date(day) -> dt.date | None:
    if not day:
        return None
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(str(day).strip())
    except ValueError:
        raise CorrectionError(f"date {day!r} is not a date such as 2023-05-15") from None


def assign(svc, ident: int, school: str, day=None, deliverable: str | None = None, *,
           by: str | None = None, deliver: bool = True) -> dict:
    """Tie message `ident` to `school` (its sender is remembered), judge it again, file it and
    queue its reply; with `deliver`, send what the outbox holds now. Returns the message row."""
    row = message(svc.store, ident)
    if not row.get("raw_path"):
        raise CorrectionError(f"message #{ident} was purged (`ribao purge`): its mail is gone, it can't be judged again")
    school = (school or "").strip()
    if svc.roster.get(school) is None:
        raise CorrectionError(f"{school!r} is not on the roster; names: {', '.join(svc.roster.names[:10])}…")
    date = _date(day)
    if deliverable and svc.profile.deliverable(deliverable) is None:
        known = ", ".join(d.id for d in svc.profile.deliverables)
        raise CorrectionError(f"deliverable {deliverable!r} unknown; this profile has {known}")
    if row["state"] in ("received", "duplicate"):
        why = "is being judged by the daemon: try again in a minute" if row["state"] == "received" else \
            f"is a copy of #{row['duplicate_of']}: assign that one"
        raise CorrectionError(f"message #{ident} {why}")
    over = {"school": school}
    if date:
        over["date"] = date
    if deliverable:
        over["deliverable"] = deliverable
    if row.get("sender"):
        svc.store.remember_email(row["sender"], school, by=by)
        svc.roster.extra_emails[row["sender"].lower()] = school
    saved = {"school": school, "date": date.isoformat() if date else None, "deliverable": deliverable}
    svc.store.correction("assign", ident, saved, by=by)
    svc.store.set_overrides(ident, saved)
    with _mailbox_errors():
        svc.judge(ident, overrides=over)
        svc.finish(ident)
        if deliver:
            svc.deliver()
    return svc.store.get(ident)


def accept(store: Store, ident: int, reason: str, *, by: str, cfg=None, profile=None) -> dict:
    """Accept the school-day (or one-off deliverable) of message `ident` despite its defects: the
    digest and workbook show it as 人工认可 until a later mail brings a new error. With `cfg` and
    `profile` the school is told once (one notice per school-day, whoever accepts it how often)."""
    row = message(store, ident)
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError("a reason is needed to accept a report (it is shown with the acceptance)")
    if row.get("kind") != "report":
        raise CorrectionError(f"message #{ident} is not a report; assign it to a school first")
    store.accept(ident, by, reason)
    store.correction("accept", ident, {"reason": reason[:500]}, by=by)
    if cfg is not None and profile is not None and row.get("school"):
        from daemon.outgoing.notices import queue_accepted
        queue_accepted(store, cfg, profile, store.get(ident))
    return store.get(ident)


def rejudge(svc, day=None, *, by: str | None = None, deliver: bool = True) -> dict:
    """Judge stored reports again (after a rules change); answers only what changed.
    Returns {messages, changed, sent}."""
    date = _date(day)
    rows = reads.stored_reports(svc.store, date.isoformat() if date else None)      # not purged
    changed = 0
    for row in rows:
        before = (row["verdict"], sorted(d["code"] for d in svc.store.defects_of(row["id"])))
        with _mailbox_errors():
            svc.judge(row["id"], overrides=saved_overrides(row))
        svc.store.set_state(row["id"], "done")
        after_row = svc.store.get(row["id"])
        after = (after_row["verdict"], sorted(d["code"] for d in svc.store.defects_of(row["id"])))
        changed += before != after
    svc.store.correction("rejudge", None, {"date": date.isoformat() if date else None, "messages": len(rows),
                                           "changed": changed}, by=by)
    with _mailbox_errors():
        sent = svc.deliver()["sent"] if deliver else 0
    return {"messages": len(rows), "changed": changed, "sent": sent}


@contextlib.contextmanager
def _mailbox_errors():
    """The mailbox or the disk said no (a server down, too little room for a message's budget): one
    plain line for staff, as the daemon would log it, not an internal error."""
    from daemon.intake import MailboxError
    try:
        yield
    except MailboxError as e:
        raise CorrectionError(str(e)) from None


def forget(store: Store, roster, address: str, *, by: str | None = None) -> str:
    """Forget an address staff tied to a school; returns the school. Its next mail is held."""
    email = (address or "").strip().lower()
    school = store.forget_email(email)
    if school is None:
        known = ", ".join(sorted(store.school_emails())[:10]) or "none"
        raise CorrectionError(f"{address!r} is not a remembered address (remembered: {known}); "
                              "roster addresses are changed in the roster file")
    roster.extra_emails.pop(email, None)
    store.correction("forget", None, {"email": email, "school": school}, by=by)
    return school
