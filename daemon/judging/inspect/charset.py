"""Decode the text files and file names schools send: Notepad's UTF-8/UTF-16 with BOM, GBK from
Chinese Windows, now and then Big5. Never raises: the worst case is a few replacement characters."""
from __future__ import annotations

import codecs
import re
from pathlib import Path

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

# what Chinese file names are made of: ASCII, CJK, full-width forms, common symbols, emoji
_NAME_RANGES = [(0x20, 0x7E), (0xB7, 0xB7), (0xD7, 0xD7), (0x2000, 0x206F), (0x2160, 0x217F),
                (0x2460, 0x24FF), (0x3000, 0x30FF), (0x3200, 0x32FF), (0x3400, 0x4DBF),
                (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF),
                (0x1F000, 0x1FAFF), (0x20000, 0x3134F)]
# ... and what GBK text may hold besides (Latin-1, Greek, Cyrillic, ℃ ㎡ №, radicals)
_TEXT_RANGES = _NAME_RANGES + [(0x09, 0x0D), (0xA0, 0xFF), (0x370, 0x4FF), (0x2100, 0x27BF),
                               (0x2E80, 0x2FDF), (0x3300, 0x33FF), (0xFE30, 0xFE4F)]


def _class(ranges, negate: bool) -> re.Pattern:
    body = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)
    return re.compile(f"[{'^' if negate else ''}{body}]")


_ODD_IN_NAME = _class(_NAME_RANGES, negate=True)
_ODD_IN_TEXT = _class(_TEXT_RANGES, negate=True)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM shows as NULs in every other byte of ASCII-heavy text (GBK and
    UTF-8 text never hold NULs)."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    codec = "utf-16-le" if odd > half * 0.3 and even * 4 < odd else \
        "utf-16-be" if even > half * 0.3 and odd * 4 < even else None
    if codec is None:
        return None
    try:
        return data[: len(data) // 2 * 2].decode(codec)
    except UnicodeDecodeError:
        return None


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # a file cut at a size limit may end inside a character
        if e.reason == "unexpected end of data" and e.start >= len(data) - 3:
            return data[: e.start].decode("utf-8", errors="replace")
        return None


def decode_text(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            if codec.startswith("utf-16"):
                body = body[: len(body) // 2 * 2]
            elif codec.startswith("utf-32"):
                body = body[: len(body) // 4 * 4]
            return body.decode(codec, errors="replace")
    for attempt in (_utf16_without_bom, _utf8):
        text = attempt(data)
        if text is not None:
            return text
    decoded = []
    for codec in ("gb18030", "big5"):
        try:
            decoded.append(data.decode(codec))
        except UnicodeDecodeError:
            pass
    if len(decoded) == 2:
        # Big5 bytes mostly decode as GB18030 too, but into private-use and stray characters
        gb, big5 = decoded
        if len(_ODD_IN_TEXT.findall(big5[:100_000])) < len(_ODD_IN_TEXT.findall(gb[:100_000])):
            return big5
    if decoded:
        return decoded[0]
    return data.decode("gb18030", errors="replace")


def read_text_file(path: Path | str, limit_bytes: int = 20_000_000) -> str:
    """The file's text, reading at most `limit_bytes` (a longer file is cut, not refused)."""
    with open(path, "rb") as fh:
        data = fh.read(limit_bytes)
    return decode_text(data)


def decode_name(raw: bytes) -> str:
    """A file name stored without an encoding mark (zip without the UTF-8 flag, old RAR).

    macOS and 7-Zip write UTF-8, Chinese Windows and WinRAR write GBK. Some GBK byte pairs are
    valid UTF-8 too (一 = D2 BB = һ, 茅 = C3 A9 = é), so UTF-8 wins only if it reads as
    ASCII/Chinese; a Latin-accented UTF-8 name without the flag is taken as GBK (rare here)."""
    try:
        utf = raw.decode("utf-8")
    except UnicodeDecodeError:
        utf = None
    try:
        gb = raw.decode("gb18030")
    except UnicodeDecodeError:
        gb = None
    if utf is not None and (gb is None or not _ODD_IN_NAME.search(utf)):
        return utf
    if gb is not None:
        return gb
    return raw.decode("cp437")
