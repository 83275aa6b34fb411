"""The database's schema: versioned (PRAGMA user_version) and carried forward at start-up.

Version 1 is the schema of the first release (c30e0cd), which wrote no version stamp; every later
change is one numbered function in MIGRATIONS, run in order inside one transaction each. Before
an existing database is migrated it is copied beside itself (ribao.db.pre-vN), so an upgrade can
be undone by putting the copy back and reinstalling the older release.
"""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import sqlite_utils

log = logging.getLogger("ribao.store")


class SchemaError(RuntimeError):
    """The database can't be used by this release (one plain line: what and how to fix)."""


def _v1(db: sqlite_utils.Database) -> None:
    """The first release's tables (c30e0cd)."""
    if "messages" not in db.table_names():
        db["messages"].create({
            "id": int, "message_id": str, "uid": int, "uidvalidity": int, "folder": str,
            "sender": str, "subject": str, "school": str, "school_how": str, "report_date": str,
            "deliverables": str, "received": str, "late": int, "kind": str, "verdict": str,
            "ok": int, "state": str, "reason": str, "raw_path": str, "raw_sha256": str, "size": int,
            "text_chars": int, "photos": int, "videos": int, "due": str,
            "superseded_by": int, "duplicate_of": int, "filed_to": str,
            "accepted_by": str, "accepted_reason": str, "accepted_at": str,
            "assigned_by": str, "judged_at": str, "created_at": str, "updated_at": str,
            "attempts": int, "overrides": str,
        }, pk="id", not_null={"state"}, defaults={"attempts": 0, "late": 0})
        db["messages"].create_index(["uidvalidity", "uid"], unique=True, if_not_exists=True)
        db["messages"].create_index(["message_id"], if_not_exists=True)
        db["messages"].create_index(["school", "report_date"], if_not_exists=True)
        db["messages"].create_index(["state"], if_not_exists=True)
    if "defects" not in db.table_names():
        db["defects"].create({"id": int, "message": int, "code": str, "severity": str, "file": str,
                              "text": str}, pk="id", foreign_keys=[("message", "messages", "id")])
        db["defects"].create_index(["message"], if_not_exists=True)
    if "materials" not in db.table_names():
        db["materials"].create({"id": int, "message": int, "file": str, "type": str, "format": str,
                                "size": int, "sha256": str, "width": int, "height": int,
                                "duration": float, "caption": str, "text_chars": int,
                                "in_archive": int, "stored_path": str},
                               pk="id", foreign_keys=[("message", "messages", "id")])
        db["materials"].create_index(["message"], if_not_exists=True)
        db["materials"].create_index(["sha256"], if_not_exists=True)
    if "submissions" not in db.table_names():
        # one row per deliverable a report carries: what `pending` and the digest count
        db["submissions"].create({"id": int, "message": int, "school": str, "deliverable": str,
                                  "report_date": str, "received": str, "late": int, "ok": int,
                                  "superseded_by": int}, pk="id",
                                 foreign_keys=[("message", "messages", "id")])
        db["submissions"].create_index(["school", "deliverable", "report_date"], if_not_exists=True)
    if "tables_rows" not in db.table_names():
        db["tables_rows"].create({"id": int, "message": int, "file": str, "rows": str}, pk="id")
    if "outbox" not in db.table_names():
        db["outbox"].create({
            "id": int, "message": int, "kind": str, "dedupe_key": str, "recipient": str,
            "subject": str, "raw": str, "state": str, "reason": str, "attempts": int,
            "next_try": str, "last_error": str, "created_at": str, "sent_at": str, "day": str,
        }, pk="id", defaults={"attempts": 0})
        db["outbox"].create_index(["dedupe_key"], unique=True, if_not_exists=True)
        db["outbox"].create_index(["state", "next_try"], if_not_exists=True)
        db["outbox"].create_index(["recipient", "day"], if_not_exists=True)
    if "mailbox_state" not in db.table_names():
        db["mailbox_state"].create({"folder": str, "uidvalidity": int, "last_uid": int,
                                    "last_poll": str, "last_error": str, "last_error_at": str},
                                   pk="folder")
    if "school_emails" not in db.table_names():
        db["school_emails"].create({"email": str, "school": str, "by": str, "at": str}, pk="email")
    if "corrections" not in db.table_names():
        db["corrections"].create({"id": int, "at": str, "by": str, "action": str, "message": int,
                                  "details": str}, pk="id")
    if "events" not in db.table_names():
        db["events"].create({"id": int, "at": str, "level": str, "text": str}, pk="id")


def _v2(db: sqlite_utils.Database) -> None:
    """Drop what nothing uses: the `filed` and `ignored` states (never written) and the
    `assigned_by` column (staff assignments are recorded in `corrections`)."""
    db.execute("update messages set state = 'judged' where state = 'filed'")
    db.execute("update messages set state = 'done' where state = 'ignored'")
    if "assigned_by" in db["messages"].columns_dict:
        db.execute("alter table messages drop column assigned_by")


def _v3(db: sqlite_utils.Database) -> None:
    """Whether the running daemon watches the mailbox with IMAP IDLE (1), polls only (0), or
    doesn't know yet (NULL): `ribao status` shows it."""
    if "idle" not in db["mailbox_state"].columns_dict:
        db.execute("alter table mailbox_state add column idle integer")


def _v4(db: sqlite_utils.Database) -> None:
    """A defect's facts as JSON (daemon/defects.py: what its sentence was rendered from), so reports
    read a link's expiry instead of parsing the sentence. Rows written before stay NULL."""
    if "facts" not in db["defects"].columns_dict:
        db.execute("alter table defects add column facts text")


def _v5(db: sqlite_utils.Database) -> None:
    """The staff desk (`ribao web`): accounts with password hashes and server-side sessions (a
    session can be ended, and a disabled account's sessions stop at once)."""
    db.execute("create table if not exists web_accounts (name text primary key, hash text not null, "
               "role text not null check (role in ('viewer', 'editor')), disabled integer not null default 0, "
               "created_at text, updated_at text, last_login text)")
    db.execute("create table if not exists web_sessions (token_sha256 text primary key, account text not null "
               "references web_accounts(name), csrf text not null, created_at text, expires text not null)")
    db.execute("create index if not exists web_sessions_account on web_sessions(account)")


MIGRATIONS = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5}
LATEST = max(MIGRATIONS)


def version(db: sqlite_utils.Database) -> int:
    v = db.execute("PRAGMA user_version").fetchone()[0]
    if v == 0 and "messages" in db.table_names():
        return 1                  # the first release stamped no version
    return v


def ensure(db: sqlite_utils.Database, path: Path) -> int:
    """Bring the database at `path` to LATEST; returns the version it had."""
    had = version(db)
    if had > LATEST:
        raise SchemaError(f"database {path} is schema version {had}, newer than this ribao understands "
                          f"({LATEST}): install the newer release again, or restore {path.name}.pre-v{had}")
    if had == LATEST:
        return had
    if had > 0:
        backup = path.with_name(f"{path.name}.pre-v{LATEST}")
        _backup(db.conn, backup)
        log.warning("database %s: upgrading schema %s → %s (a copy of the old one: %s)", path, had, LATEST, backup)
    for n in range(had + 1, LATEST + 1):
        if n == 1:                # sqlite-utils' create() commits on its own; each step is idempotent
            _v1(db)
            db.execute("PRAGMA user_version = 1")
            continue
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[n](db)
            db.conn.execute(f"PRAGMA user_version = {n}")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    return had


def _backup(conn: sqlite3.Connection, target: Path) -> None:
    """A consistent copy (WAL included) through SQLite's backup API, private like the original."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    dst = sqlite3.connect(str(tmp))
    try:
        conn.backup(dst)
    finally:
        dst.close()
    tmp.chmod(0o600)
    tmp.replace(target)
