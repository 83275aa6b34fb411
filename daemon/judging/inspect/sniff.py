"""What a file is, by its first bytes (and its name only where the bytes can't tell).

Schools rename files freely (`photo.jpg` that is a PNG, `.mov` called `.mp4`), so every
inspector is chosen by content. Each inspector knows its own formats' magic numbers (its
`sniff(head, suffix, path)`); this asks them in an order where no two can claim the same bytes,
then tells plain text apart: a .csv table, a forwarded mail (.eml), or a text document.
Reading 4 KiB is enough for every format here.
"""
from __future__ import annotations

from pathlib import Path

from daemon.judging.inspect import archive, document, photo, table, video

# photo before video: an iPhone HEIC is an ISO media file like an mp4, told apart by its brand;
# table before document: an OLE file is a .xls or a .doc only by its name.
SNIFFERS = (photo, video, archive, table, document)
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 27)) + bytes(range(28, 32)) + b"\x7f"


def sniff(path: Path, name: str = "") -> str:
    """A short format name from an inspector's FORMATS, or "eml", "text", "empty", "unknown"."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "unknown"
    if not head:
        return "empty"
    for mod in SNIFFERS:
        fmt = mod.sniff(head, suffix, path)
        if fmt:
            return fmt
    if _looks_like_text(head) or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        if suffix == "csv":
            return "csv"
        if suffix in ("eml", "msg") or _looks_like_mail(head):
            return "eml"
        return "txt"
    return "unknown"


def _looks_like_text(head: bytes) -> bool:
    """Text has no NULs and almost no control characters (ESC 0x1b is allowed for old GB2312 files)."""
    sample = head[:4096]
    if b"\x00" in sample:
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    return controls <= len(sample) // 100


def _looks_like_mail(head: bytes) -> bool:
    lines = head[:1024].split(b"\n", 8)
    keys = sum(1 for ln in lines if ln.split(b":", 1)[0].lower() in
               (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"received", b"return-path"))
    return keys >= 3
