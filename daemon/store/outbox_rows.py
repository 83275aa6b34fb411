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
