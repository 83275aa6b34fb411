"""The desk's accounts and sessions (tables web_accounts, web_sessions): the SQL behind web/auth.py.

Each function takes the store's database (`store.db`) and does one statement; auth.py decides what
is allowed, hashes and times things, and calls these. A session row keeps only its token's SHA-256.
"""
from __future__ import annotations

FIELDS = ("name", "hash", "role", "disabled", "last_login")


def account(db, name: str) -> dict | None:
    """{name, hash, role, disabled, last_login} of one account, or None."""
    row = db.execute("select name, hash, role, disabled, last_login from web_accounts where name = ?", [name]).fetchone()
    return dict(zip(FIELDS, row)) if row else None


def any_enabled(db) -> bool:
    """Whether anyone can log in at all (the desk warns at start when nobody can)."""
    return db.execute("select 1 from web_accounts where disabled = 0 limit 1").fetchone() is not None


def add(db, name: str, digest: str, role: str, at: str) -> None:
    db.execute("insert into web_accounts (name, hash, role, disabled, created_at, updated_at) values (?, ?, ?, 0, ?, ?)",
               [name, digest, role, at, at])


def set_password(db, name: str, digest: str, role: str, at: str) -> None:
    """New hash and role; a password set again also unlocks the account."""
    db.execute("update web_accounts set hash = ?, role = ?, disabled = 0, updated_at = ? where name = ?",
               [digest, role, at, name])


def disable(db, name: str, at: str, role: str | None = None) -> None:
    """Lock the account (its role changed too when `role` is given); sessions are ended separately."""
    db.execute("update web_accounts set disabled = 1, updated_at = ?" + (", role = ?" if role else "") +
               " where name = ?", [at, *([role] if role else []), name])


def note_login(db, name: str, at: str) -> None:
    db.execute("update web_accounts set last_login = ? where name = ?", [at, name])


# ------------------------------------------------------------------ sessions

def add_session(db, token_sha256: str, name: str, csrf: str, at: str, expires: str, now_utc: str) -> None:
    """A new session row; sessions expired before `now_utc` are dropped first (the table stays small)."""
    db.execute("delete from web_sessions where expires < ?", [now_utc])
    db.execute("insert into web_sessions (token_sha256, account, csrf, created_at, expires) values (?, ?, ?, ?, ?)",
               [token_sha256, name, csrf, at, expires])


def session(db, token_sha256: str) -> dict | None:
    """{account, role, csrf, expires, disabled} of the session with this token hash, or None."""
    row = db.execute("select s.account, a.role, s.csrf, s.expires, a.disabled from web_sessions s "
                     "join web_accounts a on a.name = s.account where s.token_sha256 = ?", [token_sha256]).fetchone()
    return dict(zip(("account", "role", "csrf", "expires", "disabled"), row)) if row else None


def end_session(db, token_sha256: str) -> None:
    db.execute("delete from web_sessions where token_sha256 = ?", [token_sha256])


def end_sessions(db, name: str) -> None:
    db.execute("delete from web_sessions where account = ?", [name])
