"""Deliver what is queued in the outbox table, at most once each.

A row is marked `sending` (committed) before the SMTP conversation and `sent` after it. A crash in
between leaves `sending`, which the next start turns into `uncertain` and never sends again: a
school may miss one reply in that rare case, but it never gets two. A server that can't be
reached puts the row back to `pending` with a growing delay (config `retry_seconds`). Each mail is
parsed back before it goes out, and one with a header we never write (an injected Bcc) is `failed`.
"""
from __future__ import annotations

import datetime as dt
import logging

from daemon.outgoing.mailout import SendError, check
from daemon.store.db import Store, now_iso

log = logging.getLogger("ribao.outbox")


def recover(store: Store) -> int:
    """At start-up: rows caught mid-send are not sent again."""
    cur = store.db.execute("update outbox set state = 'uncertain', reason = 'interrupted while sending; not resent' "
                           "where state = 'sending'")
    return cur.rowcount


def _later(seconds: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).astimezone().isoformat(timespec="seconds")


def deliver(store: Store, transport, sender: str, retry_seconds: list[int], stop=lambda: False) -> dict:
    """Send every due row; returns counts {sent, failed, retry}."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    now = now_iso()
    rows = list(store.db.execute(
        "select id, recipient, raw, attempts from outbox where state = 'pending' and (next_try is null or next_try <= ?) "
        "order by id", [now]).fetchall())
    for ident, recipient, raw, attempts in rows:
        if stop():
            break
        claimed = store.db.execute("update outbox set state = 'sending', attempts = attempts + 1 "
                                   "where id = ? and state = 'pending'", [ident]).rowcount
        if claimed != 1:
            continue        # another deliver() (a job, or `ribao digest --send`) took this row
        unsafe = check((raw or "").encode("ascii", "replace"))
        if unsafe:
            store.db.execute("update outbox set state = 'failed', last_error = ? where id = ?", [unsafe, ident])
            counts["failed"] += 1
            log.error("outbox row %s to %s not sent: %s", ident, recipient, unsafe)
            store.event("error", f"outbox row {ident} not sent: {unsafe}")
            continue
        try:
            transport.send(raw.encode("ascii", "replace"), sender, [recipient])
        except SendError as e:
            if e.retry:
                delay = retry_seconds[min(attempts, len(retry_seconds) - 1)] if retry_seconds else 300
                store.db.execute("update outbox set state = 'pending', next_try = ?, last_error = ? where id = ?",
                                 [_later(delay), str(e), ident])
                counts["retry"] += 1
                log.warning("reply %s to %s not sent, retry in %ss: %s", ident, recipient, delay, e)
                store.event("warning", f"outbox: {e}")
                if "cannot reach" in str(e):
                    # the server is down: don't hammer it with every other row now
                    # (rows waiting for a later day's budget keep their later time)
                    store.db.execute("update outbox set next_try = ? where state = 'pending' and id > ? and "
                                     "(next_try is null or next_try < ?)", [_later(delay), ident, _later(delay)])
                    break
            else:
                store.db.execute("update outbox set state = 'failed', last_error = ? where id = ?", [str(e), ident])
                counts["failed"] += 1
                log.error("reply %s to %s failed: %s", ident, recipient, e)
            continue
        store.db.execute("update outbox set state = 'sent', sent_at = ?, last_error = null where id = ?", [now_iso(), ident])
        counts["sent"] += 1
        log.info("sent %s to %s", ident, recipient)
    return counts
