"""Names and text from strangers, made safe to put on disk or on a terminal; files kept private.

Attachment and archive-member names come from schools' mail clients and zip tools: they may hold
directories, `..`, control characters, Windows-reserved characters or hundreds of bytes of
Chinese. `safe_name` keeps what a person would recognise (Chinese, the extension) and drops the
rest; `safe_join` is the last check that a path stays under its root. `visible` shows such text on
a terminal without letting an escape sequence act. What ribao writes is for staff only:
`write_private` and `private_dir` make it 0600/0700 whatever the umask. `is_full` is the one test
for a full disk, wherever a write can fail.
"""
from __future__ import annotations

import errno
import os
import re
import sqlite3
import unicodedata
from pathlib import Path

_RESERVED = set('<>:"|?*')
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_MAX_BYTES = 200
_EXT = re.compile(r"\.[A-Za-z0-9]{1,10}$")


def _clean(text: str) -> str:
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
        elif ch not in _RESERVED and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)      # (dropped: controls, bidi overrides, surrogates, unassigned)
    return re.sub(r" +", " ", "".join(out))


def _fit(stem: str, ext: str, max_len: int) -> str:
    limit_chars = max(1, max_len - len(ext))
    limit_bytes = _MAX_BYTES - len(ext.encode())
    stem = stem[:limit_chars]
    while stem and len(stem.encode()) > limit_bytes:
        stem = stem[:-1]
    return stem.rstrip(" .")


def safe_name(name: str, max_len: int = 120) -> str:
    """A single path component: no directories, no hidden or reserved names, ≤ 200 UTF-8 bytes,
    the extension kept; never empty ("file")."""
    max_len = max(max_len, 12)
    base = re.split(r"[/\\]", name or "")[-1]
    base = _clean(base).strip().rstrip(" .")
    m = _EXT.search(base)
    ext = m.group(0) if m else ""       # ".jpg" alone is a nameless picture: "file.jpg"
    stem = base[: len(base) - len(ext)] if ext else base
    stem = stem.strip().rstrip(" .").lstrip(".").strip()
    if not stem or stem.split(".")[0].lower() in _WINDOWS_DEVICES:
        stem = f"file_{stem}" if stem else "file"
    stem = _fit(stem, ext, max_len) or "file"
    return stem + ext


def safe_join(root: Path, *parts: str | Path) -> Path:
    """root/parts, resolved; ValueError if the result is not strictly inside root."""
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target == base or base not in target.parents:
        raise ValueError(f"path escapes {base}: {parts!r}")
    return target


# C0 and C1 controls (ESC, CSI \x9b and OSC \x9d start terminal escape sequences), DEL, and the marks
# that reorder or break lines (a name can pose as "…gpj.exe" read backwards, or forge a line)
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSHOWABLE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    n = ord(m.group())
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def visible(text) -> str:
    """One value for a terminal: every control or reordering mark shown as \\xNN / \\uNNNN, never acted on."""
    return _UNSHOWABLE.sub(_escape, "" if text is None else str(text))


def visible_json(dumped: str) -> str:
    """json.dumps(..., ensure_ascii=False) output made terminal-safe and still the same JSON: it
    escapes C0 itself; DEL, C1 and the reordering marks become \\uNNNN escapes too."""
    return _UNSHOWABLE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def private_dir(path: Path) -> Path:
    """mkdir -p, the folders it creates 0700 whatever the umask (existing ones are left alone)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, 0o700)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a file readable by its owner only (0600, also when it existed before), via a temporary
    file beside it: a reader never sees half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


FULL = (errno.ENOSPC, errno.EDQUOT)


def is_full(e: BaseException) -> bool:
    """A full disk (or quota), from the OS or from SQLite: the disk's fault, never the message's, so
    the message is kept to judge again once there is room."""
    if isinstance(e, OSError):
        return e.errno in FULL
    return isinstance(e, sqlite3.OperationalError) and "disk is full" in str(e)
