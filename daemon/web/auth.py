"""Who may use the desk: accounts (scrypt hashes, never plain), sessions, CSRF tokens, login limits.

Accounts and sessions live in ribao.db (tables web_accounts, web_sessions; schema v3). A session
cookie carries a random token; the database keeps only its SHA-256, so a copy of the database
opens no session. Each session has its own CSRF token, sent back with every form. A disabled
account's sessions end at once. Two roles: a viewer looks, an editor also corrects.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import unicodedata
from collections import defaultdict, deque

from daemon.web.lib import accounts

ROLES = ("viewer", "editor")
N, R, P = 2 ** 15, 8, 1          # scrypt cost: ~32 MiB and ~0.1 s a try on this machine's cores
MAXMEM = 64 * 1024 * 1024


class AuthError(ValueError):
    """One plain line: what is wrong with the account request."""


# ------------------------------------------------------------------ passwords

def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64): the cost travels with the hash, so it can be raised later."""
    if not password:
        raise AuthError("empty password refused")
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, maxmem=MAXMEM, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")          # noqa: E731
    return f"scrypt${N}${R}${P}${b64(salt)}${b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, want = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        if kind != "scrypt" or n > 2 ** 20 or r > 16 or p > 4:
            return False
        salt, want = base64.b64decode(salt), base64.b64decode(want)
    except (ValueError, AttributeError):
        return False
    got = hashlib.scrypt((password or "").encode("utf-8"), salt=salt, n=n, r=r, p=p,
                         maxmem=max(MAXMEM, 256 * n * r), dklen=len(want))
    return hmac.compare_digest(got, want)


_DUMMY = None


def _dummy_hash() -> str:
    """A hash to check an unknown name against, so a wrong name costs as long as a wrong password."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password(secrets.token_urlsafe(16))
    return _DUMMY


# ------------------------------------------------------------------ accounts

def check_name(name: str) -> str:
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name or len(name) > 64 or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in name):
        raise AuthError(f"account name {name!r}: 1 to 64 characters, no spaces or control characters")
    return name


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def account(db, name: str) -> dict | None:
    return accounts.account(db, name)


def set_password(db, name: str, password: str | None, role: str | None = None, disable: bool = False) -> dict:
    """Create or change an account. A new one is a viewer unless `role` says otherwise; an existing
    one keeps its role. `disable` locks it (no password needed) and ends its sessions; setting a
    password again unlocks it. Returns {name, role, disabled, created}."""
    name = check_name(name)
    if role is not None and role not in ROLES:
        raise AuthError(f"role {role!r}: must be viewer or editor")
    old = account(db, name)
    if disable:
        if old is None:
            raise AuthError(f"no account {name!r} to disable")
        accounts.disable(db, name, _now(), role)
        end_sessions(db, name)
        return {"name": name, "role": role or old["role"], "disabled": True, "created": False}
    digest = hash_password(password or "")
    if old is None:
        accounts.add(db, name, digest, role or "viewer", _now())
        return {"name": name, "role": role or "viewer", "disabled": False, "created": True}
    accounts.set_password(db, name, digest, role or old["role"], _now())
    end_sessions(db, name)           # a new password ends the sessions the old one opened
    return {"name": name, "role": role or old["role"], "disabled": False, "created": False}


def authenticate(db, name: str, password: str) -> dict | None:
    """The account, if the name and password match and it is not disabled."""
    try:
        name = check_name(name)
    except AuthError:
        name = ""
    acc = account(db, name) if name else None
    ok = verify_password(password, acc["hash"] if acc else _dummy_hash())
    if not ok or acc is None or acc["disabled"]:
        return None
    accounts.note_login(db, name, _now())
    return acc


# ------------------------------------------------------------------ sessions

def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def new_session(db, name: str, hours: int) -> tuple[str, str]:
    """(cookie token, csrf token) of a new session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).isoformat(timespec="seconds")
    accounts.add_session(db, _sha(token), name, csrf, _now(), expires,
                         now_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return token, csrf


def session(db, token: str | None) -> dict | None:
    """{name, role, csrf} of a live session of an enabled account, else None."""
    if not token or len(token) > 200:
        return None
    row = accounts.session(db, _sha(token))
    if row is None or row["disabled"] or dt.datetime.fromisoformat(row["expires"]) <= dt.datetime.now(dt.timezone.utc):
        return None
    return {"name": row["account"], "role": row["role"], "csrf": row["csrf"]}


def end_session(db, token: str | None) -> None:
    if token:
        accounts.end_session(db, _sha(token))


def end_sessions(db, name: str) -> None:
    accounts.end_sessions(db, name)


def same_token(sent: str | None, want: str | None) -> bool:
    return bool(sent) and bool(want) and hmac.compare_digest(str(sent).encode(), str(want).encode())


def may(role: str | None, action: str) -> bool:
    """`look` for any account; `change` for editors only."""
    return role in ROLES and (action == "look" or role == "editor")


# ------------------------------------------------------------------ login attempts

class RateLimit:
    """At most `limit` failed logins per key (an account name, an address) within `window` seconds.
    In memory: the desk is one process, and a restart forgetting the count is no help to a guesser
    who still has to wait for the service to restart."""

    def __init__(self, limit: int = 5, window: float = 900.0, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self.failures: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()              # the desk serves from several threads

    def _trim(self, key: str) -> deque:
        q, now = self.failures[key], self.clock()
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        with self.lock:
            return len(self._trim(key)) >= self.limit

    def wait(self, key: str) -> int:
        """Seconds until `key` may try again (0 when it may now)."""
        with self.lock:
            q = self._trim(key)
            return 0 if len(q) < self.limit else int(self.window - (self.clock() - q[0])) + 1

    def failed(self, key: str) -> None:
        with self.lock:
            self._trim(key).append(self.clock())
            if len(self.failures) > 10_000:        # a flood of made-up names: keep memory bounded
                for k in [k for k in self.failures if not self._trim(k)]:
                    del self.failures[k]

    def reset(self, key: str) -> None:
        with self.lock:
            self.failures.pop(key, None)
