"""The outbox table's one writer for staff mail (digests, reminders, summaries) and its look-ups."""
from __future__ import annotations

from daemon.store.db import Store, now_iso


def add(store: Store, *, kind: str, dedupe_key: str, recipient: str, subject: str, raw: str, day: str) -> bool:
    """One pending mail; False when the same key is already there (sent once, ever)."""
    cur = store.db.execute(
        "insert or ignore into outbox (kind, dedupe_key, recipient, subject, raw, state, created_at, next_try, day, attempts) "
        "values (?, ?, ?, ?, ?, 'pending', ?, ?, ?, 0)",
        [kind, dedupe_key, recipient, subject, raw, now_iso(), now_iso(), day])
    return cur.rowcount == 1


def has(store: Store, key: str) -> bool:
    return store.db.execute("select 1 from outbox where dedupe_key = ?", [key]).fetchone() is not None


def keys_like(store: Store, prefix: str) -> set[str]:
    return {r[0] for r in store.db.execute("select dedupe_key from outbox where dedupe_key like ?", [prefix + "%"])}


# ---------------------------------------------------------------- replies
LIVE = "state in ('pending','sending','sent','uncertain')"


def add_reply(store: Store, *, message: int, key: str, recipient: str, subject: str, raw: str | None,
              state: str, day: str, next_try: str | None = None, reason: str | None = None) -> None:
    """A reply row (pending), or the record of one not sent (suppressed/failed, key `skip:…`)."""
    store.db["outbox"].insert({"message": message, "kind": "reply", "dedupe_key": key, "recipient": recipient,
                               "subject": subject, "raw": raw, "state": state, "reason": reason,
                               "created_at": now_iso(), "next_try": next_try, "day": day}, ignore=True)


def has_reply(store: Store, message: int) -> bool:
    """Whether any reply row (sent, pending or skipped) exists for the message."""
    return store.db.execute("select 1 from outbox where message = ? and kind = 'reply'", [message]).fetchone() is not None


def sent_count(store: Store) -> int:
    return store.db.execute("select count(*) from outbox where state = 'sent'").fetchone()[0]


def days_of_keys(store: Store, keys: list[str]) -> list[tuple[str, str]]:
    """(dedupe_key, day) of the outbox rows with these keys."""
    marks = ",".join("?" for _ in keys)
    return store.db.execute(f"select dedupe_key, day from outbox where dedupe_key in ({marks})", keys).fetchall()


def reply_recorded(store: Store, message: int, keys: list[str]) -> bool:
    marks = ",".join("?" for _ in keys)
    return store.db.execute(f"select 1 from outbox where message = ? and kind = 'reply' and dedupe_key in ({marks})",
                            [message, *keys]).fetchone() is not None


def full_reply_live(store: Store, message: int) -> bool:
    """A full reply (not the plain one to strangers) to this message is queued or sent."""
    return store.db.execute(f"select 1 from outbox where message = ? and kind = 'reply' and dedupe_key like 'reply:%' "
                            f"and {LIVE}", [message]).fetchone() is not None


def count_live(store: Store, day: str, *, prefix: str | None = None, recipient: str | None = None) -> int:
    sql, args = f"select count(*) from outbox where day = ? and {LIVE}", [day]
    if prefix is not None:
        sql, args = sql + " and dedupe_key like ?", args + [prefix + "%"]
    if recipient is not None:
        sql, args = sql + " and recipient = ?", args + [recipient]
    return store.db.execute(sql, args).fetchone()[0]


def settle(store: Store, message: int, recipient: str, school: str, report_date: str | None,
           deliverables: str, reason: str) -> int:
    """Replies still pending about the same school's day are replaced (state suppressed)."""
    return store.db.execute(
        "update outbox set state = 'suppressed', reason = ? where kind = 'reply' and state = 'pending' "
        "and recipient = ? and message != ? and message in (select id from messages where school = ? "
        "and coalesce(report_date, '') = coalesce(?, '') and deliverables = ?)",
        [reason, recipient, message, school, report_date, deliverables]).rowcount


# ---------------------------------------------------------------- delivery
def recover(store: Store) -> int:
    """At start-up: rows caught mid-send are not sent again."""
    return store.db.execute("update outbox set state = 'uncertain', reason = 'interrupted while sending; not resent' "
                            "where state = 'sending'").rowcount


def due(store: Store) -> list[tuple]:
    """(id, recipient, raw, attempts) of every pending row whose time has come."""
    return list(store.db.execute("select id, recipient, raw, attempts from outbox where state = 'pending' and "
                                 "(next_try is null or next_try <= ?) order by id", [now_iso()]).fetchall())


def claim(store: Store, ident: int) -> bool:
    """Mark a row `sending` (committed) before the SMTP conversation; False if another took it."""
    return store.db.execute("update outbox set state = 'sending', attempts = attempts + 1 "
                            "where id = ? and state = 'pending'", [ident]).rowcount == 1


def sent(store: Store, ident: int) -> None:
    store.db.execute("update outbox set state = 'sent', sent_at = ?, last_error = null where id = ?", [now_iso(), ident])


def failed(store: Store, ident: int, error: str) -> None:
    store.db.execute("update outbox set state = 'failed', last_error = ? where id = ?", [error, ident])


def retry(store: Store, ident: int, at: str, error: str) -> None:
    store.db.execute("update outbox set state = 'pending', next_try = ?, last_error = ? where id = ?", [at, error, ident])


def postpone_after(store: Store, ident: int, at: str) -> None:
    """The server is down: later rows wait too (rows waiting for a later day keep their later time)."""
    store.db.execute("update outbox set next_try = ? where state = 'pending' and id > ? and "
                     "(next_try is null or next_try < ?)", [at, ident, at])
