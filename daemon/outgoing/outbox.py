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
from daemon.store import outbox_rows as rows
from daemon.store.db import Store

log = logging.getLogger("ribao.outbox")


def recover(store: Store) -> int:
    """At start-up: rows caught mid-send are not sent again."""
    return rows.recover(store)


def _later(seconds: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).astimezone().isoformat(timespec="seconds")


def deliver(store: Store, transport, sender: str, retry_seconds: list[int], stop=lambda: False) -> dict:
    """Send every due row; returns counts {sent, failed, retry}."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    for ident, recipient, raw, attempts in rows.due(store):
        if stop():
            break
        if not rows.claim(store, ident):
            continue        # another deliver() (a job, or `ribao digest --send`) took this row
        unsafe = check((raw or "").encode("ascii", "replace"))
        if unsafe:
            rows.failed(store, ident, unsafe)
            counts["failed"] += 1
            log.error("outbox row %s to %s not sent: %s", ident, recipient, unsafe)
            store.event("error", f"outbox row {ident} not sent: {unsafe}")
            continue
        try:
            transport.send(raw.encode("ascii", "replace"), sender, [recipient])
        except SendError as e:
            if e.retry:
                delay = retry_seconds[min(attempts, len(retry_seconds) - 1)] if retry_seconds else 300
                rows.retry(store, ident, _later(delay), str(e))
                counts["retry"] += 1
                log.warning("reply %s to %s not sent, retry in %ss: %s", ident, recipient, delay, e)
                store.event("warning", f"outbox: {e}")
                if "cannot reach" in str(e):
                    # the server is down: don't hammer it with every other row now
                    # (rows waiting for a later day's budget keep their later time)
                    rows.postpone_after(store, ident, _later(delay))
                    break
            else:
                rows.failed(store, ident, str(e))
                counts["failed"] += 1
                log.error("reply %s to %s failed: %s", ident, recipient, e)
            continue
        rows.sent(store, ident)
        counts["sent"] += 1
        log.info("sent %s to %s", ident, recipient)
    return counts
