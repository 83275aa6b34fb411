"""File names from strangers, made safe to put on disk.

Attachment and archive-member names come from schools' mail clients and zip tools: they may hold
directories, `..`, control characters, Windows-reserved characters or hundreds of bytes of
Chinese. `safe_name` keeps what a person would recognise (Chinese, the extension) and drops the
rest; `safe_join` is the last check that a path stays under its root.
"""
from __future__ import annotations

import re
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
