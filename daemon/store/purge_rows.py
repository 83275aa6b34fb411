"""The SQL behind `ribao purge` (storage/purge.py decides what goes and removes the files).

A message's day is the day its report covers, else the day it arrived (`DAY`): the same day its
attachments are filed under. Purging clears `raw_path` and `stored_path` and keeps every row.
"""
from __future__ import annotations

from daemon.store.db import Store

DAY = "coalesce(m.report_date, substr(m.received, 1, 10), substr(m.created_at, 1, 10))"


def busy_message(store: Store, before: str) -> tuple[int, str] | None:
    """(id, state) of a message of a day before `before` still being judged or filed, else None."""
    return store.db.execute(
        f"select m.id, m.state from messages m where m.state in ('received', 'judged') and {DAY} < ? "
        "order by m.id limit 1", [before]).fetchone()


def unsent_mail(store: Store, before: str) -> tuple[int, str, int | None] | None:
    """(outbox id, state, message) of mail still to send about (or queued on) a day before `before`."""
    return store.db.execute(
        f"select o.id, o.state, o.message from outbox o left join messages m on m.id = o.message "
        f"where o.state in ('pending', 'sending') and ((o.message is not null and {DAY} < ?) or o.day < ?) "
        "order by o.id limit 1", [before, before]).fetchone()


def with_files(store: Store, before: str) -> list[int]:
    """Ids of messages of days before `before` that still keep raw mail or an attachment."""
    return [r[0] for r in store.db.execute(
        f"select m.id from messages m where {DAY} < ? and (m.raw_path is not null or exists("
        "select 1 from materials a where a.message = m.id and a.stored_path is not null)) order by m.id", [before])]


def files_of(store: Store, ids: list[int]) -> tuple[list[tuple], list[str | None]]:
    """([(material id, sha256, stored_path)], [raw_path]) of these messages."""
    mats, raws = [], []
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        mats += store.db.execute(f"select id, sha256, stored_path from materials where message in ({marks})",
                                 part).fetchall()
        raws += [r[0] for r in store.db.execute(f"select raw_path from messages where id in ({marks})", part)]
    return mats, raws


def forget_files(store: Store, ids: list[int]) -> None:
    """Clear the messages' raw and attachment paths in one transaction: done before the files go, so a
    crash leaves at worst files no row names."""
    with store.tx():
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            store.db.conn.execute(f"update materials set stored_path = null where message in ({marks})", part)
            store.db.conn.execute(f"update messages set raw_path = null where id in ({marks})", part)


def kept_hashes(store: Store) -> set[str]:
    """Hashes of attachments still kept: their blobs stay."""
    return {r[0] for r in store.db.execute("select distinct sha256 from materials where stored_path is not null "
                                           "and sha256 is not null")}


def stored_paths(store: Store) -> set[str]:
    """Every attachment path a row still names (relative to the storage folder)."""
    return {r[0] for r in store.db.execute("select stored_path from materials where stored_path is not null")}


def raw_paths(store: Store) -> list[str]:
    """Every raw mail path a row still names."""
    return [r[0] for r in store.db.execute("select raw_path from messages where raw_path is not null")]


def _chunks(ids: list, n: int = 500):
    """SQLite's limit on bound parameters: at most `n` ids a statement."""
    for i in range(0, len(ids), n):
        yield ids[i:i + n]
