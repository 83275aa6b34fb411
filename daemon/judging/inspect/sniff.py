"""What a file is, by its first bytes (and its name only where the bytes can't tell).

Schools rename files freely (`photo.jpg` that is a PNG, `.mov` called `.mp4`), so every
inspector is chosen by content. Reading 4 KiB is enough for every format here.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

PICTURE = {"jpeg", "png", "gif", "bmp", "webp", "heic", "tiff"}
VIDEO = {"mp4", "mov", "3gp", "avi", "mkv", "webm", "flv", "wmv", "mpeg-ts", "mpeg-ps"}
ARCHIVE = {"zip", "rar", "7z"}
DOCUMENT = {"docx", "doc", "wps", "pdf", "txt", "rtf", "odt"}
TABLE = {"xlsx", "xls", "et", "csv", "ods"}
VIDEO_SUFFIXES = {"mp4", "mov", "m4v", "3gp", "avi", "mkv", "webm", "flv", "wmv", "mpg", "mpeg", "ts", "mts", "vob"}
_OLE_BY_SUFFIX = {"doc": "doc", "dot": "doc", "wps": "wps", "xls": "xls", "et": "et", "xlt": "xls", "ett": "et"}
_MP4_BRANDS_QT = {b"qt  "}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis", b"avif"}
_3GP_PREFIX = (b"3gp", b"3g2")


def _ooxml_kind(path: Path) -> str | None:
    """docx/xlsx/… are zips; peek at the central directory names only (no member read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()[:2000]
    except Exception:
        return None
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "mimetype" in names and "content.xml" in names:
        try:
            with zipfile.ZipFile(path) as zf:
                mime = zf.read("mimetype")[:100]
        except Exception:
            mime = b""
        if b"spreadsheet" in mime:
            return "ods"
        if b"text" in mime:
            return "odt"
    return "zip"


def sniff(path: Path, name: str = "") -> str:
    """A short format name: one of the sets above, or "eml", "text", "empty", "unknown"."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return "unknown"
    if not head:
        return "empty"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and suffix in ("bmp", "dib", ""):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return "heic"
        if brand in _MP4_BRANDS_QT:
            return "mov"
        if brand.startswith(_3GP_PREFIX):
            return "3gp"
        return "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"          # old QuickTime without ftyp
    if head[:4] == b"\x1aE\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "wmv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg-ps"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        kind = _ooxml_kind(path)
        if kind is None:        # a broken zip: its name says what it was meant to be
            kind = {"docx": "docx", "xlsx": "xlsx", "xlsm": "xlsx", "odt": "odt", "ods": "ods"}.get(suffix, "zip")
        return kind
    if head[:6] == b"Rar!\x1a\x07":
        return "rar"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:8] == bytes.fromhex("d0cf11e0a1b11ae1"):
        return _OLE_BY_SUFFIX.get(suffix, "doc")
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:5] == b"{\\rtf":
        return "rtf"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if _looks_like_text(head) or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        if suffix == "csv":
            return "csv"
        if suffix in ("eml", "msg") or _looks_like_mail(head):
            return "eml"
        return "txt"
    return "unknown"


_CONTROL = bytes(range(0, 9)) + bytes(range(14, 27)) + bytes(range(28, 32)) + b"\x7f"


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
