"""Photos: size as displayed, format and file size against the notice, from headers only.

Schools send dozens of 5 MB pictures a day, so nothing here decodes pixels: Pillow's `open`
reads the header (and EXIF), HEIC's size comes from its `ispe` box, and a truncated JPEG is
spotted by looking for its end marker in the file's last 4 KiB.
"""
from __future__ import annotations

import math
import struct
import warnings

from PIL import Image

from daemon.defects import defect
from daemon.judging.inspect import Context
from daemon.model import Attachment, Inspection, Material

KIND = "photo"
FORMATS = {"jpeg", "png", "gif", "bmp", "webp", "heic", "tiff"}
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis", b"avif"}


def sniff(head: bytes, suffix: str, path) -> str | None:
    """A picture by its first bytes (whatever its name says: a PNG called .jpg is a PNG)."""
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
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "heic"                  # iPhone photos: an ISO media file like an mp4, with its own brand
    return None

MIB = 1024 * 1024
_TAIL = 4096
_HEAD = 64 * 1024
_LABEL = {"jpeg": "JPG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "webp": "WebP", "heic": "HEIC", "tiff": "TIFF"}
# Motion photos (Google MicroVideo, Samsung) carry a video after the JPEG's end marker.
_MOTION_MARKS = (b"MotionPhoto", b"MicroVideo", b"MotionPhoto_Data")

# We report oversized images ourselves (as corrupt); Pillow's warning would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class _Unreadable(Exception):
    """The header can't be read: the photo.corrupt form that says why, and its facts."""

    def __init__(self, form: str = "", **facts):
        super().__init__(form)
        self.form, self.facts = form, facts


def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection:
    rules = ctx.profile.photos
    mat = Material(file=att.name, type="photo", size=att.size, sha256=att.sha256, format=fmt,
                   in_archive=att.in_archive, path=att.path)
    out = Inspection(materials=[mat])
    if rules.formats and fmt not in rules.formats:
        want = "或".join(_LABEL.get(f, f.upper()) for f in rules.formats)
        out.defects.append(defect("photo.not_jpeg", att.name, form="heic" if fmt == "heic" else "",
                                  format=_LABEL.get(fmt, fmt.upper()), formats=want, to_format=want.split("或")[0]))
    try:
        mat.width, mat.height = _heic_size(att) if fmt == "heic" else _pillow_size(att, fmt, ctx)
    except _Unreadable as e:
        out.defects.append(defect("photo.corrupt", att.name, form=e.form, **e.facts))
        return out
    if rules.min_width and mat.width is not None and mat.width < rules.min_width:
        out.defects.append(defect("photo.too_narrow", att.name, width=mat.width, min_width=rules.min_width))
    if rules.min_bytes and att.size < rules.min_bytes:
        have = math.floor(att.size / MIB * 10) / 10      # floor: never print "2.0MB, below 2MB"
        out.defects.append(defect("photo.too_small", att.name, size_mb=f"{have:.1f}", min_mb=_mb(rules.min_bytes)))
    return out


def _mb(n: int) -> str:
    return str(n // MIB) if n % MIB == 0 else f"{n / MIB:.1f}"


def _pillow_size(att: Attachment, fmt: str, ctx: Context) -> tuple[int, int]:
    """Displayed (width, height) from the header; EXIF orientation 5-8 turns the picture."""
    limit = ctx.limits.max_image_pixels
    Image.MAX_IMAGE_PIXELS = limit          # Pillow refuses beyond twice this at open()
    try:
        with Image.open(att.path) as im:
            w, h = im.size
            try:
                # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the
                # image data (360 MB for a 120-Mpixel PNG): only one before it is read.
                exif = im.getexif() if fmt != "png" or "exif" in im.info else {}
                orientation = exif.get(0x0112, 1)
            except Exception:               # a broken EXIF block does not spoil the picture
                orientation = 1
    except Image.DecompressionBombError:
        raise _Unreadable("huge") from None
    except Exception:
        raise _Unreadable() from None
    if w <= 0 or h <= 0:
        raise _Unreadable()
    if w * h > limit:
        raise _Unreadable("pixels", width=w, height=h)
    if fmt in ("jpeg", "png") and not _complete(att, fmt):
        raise _Unreadable("truncated")
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _complete(att: Attachment, fmt: str) -> bool:
    """A whole JPEG ends with FFD9, a whole PNG with IEND: read only the tail to tell."""
    with open(att.path, "rb") as fh:
        fh.seek(max(0, att.size - _TAIL))
        tail = fh.read(_TAIL)
        if fmt == "png":
            return b"IEND" in tail
        if b"\xff\xd9" in tail or tail.endswith(b"SEFT"):    # SEFT: Samsung's trailer
            return True
        fh.seek(0)
        head = fh.read(_HEAD)
    return any(m in head for m in _MOTION_MARKS)


def _boxes(buf: bytes, start: int, end: int):
    """(type, body_start, body_end) of the ISO-BMFF boxes in buf[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        hdr = 8
        if size == 1:
            if pos + 16 > end:
                return
            size, hdr = struct.unpack(">Q", buf[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < hdr:
            return
        yield kind, pos + hdr, min(pos + size, end)
        pos += size


def _heic_size(att: Attachment) -> tuple[int | None, int | None]:
    """The primary item's ispe (turned by its irot) from the first 64 KiB; (None, None) if absent.

    meta → pitm (primary item), iprp → ipco (properties, 1-based) + ipma (item → properties).
    Without pitm/ipma, the largest ispe is taken (tiles and thumbnails are smaller).
    """
    with open(att.path, "rb") as fh:
        buf = fh.read(_HEAD)
    try:
        meta = next(((s, e) for k, s, e in _boxes(buf, 0, len(buf)) if k == b"meta"), None)
        if meta is None:
            return None, None
        primary, props, assoc = None, [], {}
        for kind, s, e in _boxes(buf, meta[0] + 4, meta[1]):           # meta is a full box
            if kind == b"pitm":
                primary = int.from_bytes(buf[s + 4:s + (6 if buf[s] == 0 else 8)], "big")
            elif kind == b"iprp":
                for k2, s2, e2 in _boxes(buf, s, e):
                    if k2 == b"ipco":
                        props = [(k3, buf[s3:e3]) for k3, s3, e3 in _boxes(buf, s2, e2)]
                    elif k2 == b"ipma":
                        assoc.update(_ipma(buf[s2:e2]))
        if primary in assoc:
            chosen = [props[i - 1] for i in assoc[primary] if 0 < i <= len(props)]
        else:
            chosen = [max((p for p in props if p[0] == b"ispe"), default=(b"", b""),
                          key=lambda p: _ispe(p[1])[0] * _ispe(p[1])[1])]
        size = next((_ispe(b) for k, b in chosen if k == b"ispe"), None)
        if size is None:
            return None, None
        turn = next((b[0] & 3 for k, b in chosen if k == b"irot" and b), 0)
        return (size[1], size[0]) if turn in (1, 3) else size
    except (struct.error, IndexError):
        return None, None


def _ispe(body: bytes) -> tuple[int, int]:
    return struct.unpack(">II", body[4:12]) if len(body) >= 12 else (0, 0)


def _ipma(body: bytes) -> dict[int, list[int]]:
    version, flags = body[0], int.from_bytes(body[1:4], "big")
    (count,), pos, out = struct.unpack(">I", body[4:8]), 8, {}
    for _ in range(count):
        if version < 1:
            item, pos = struct.unpack(">H", body[pos:pos + 2])[0], pos + 2
        else:
            item, pos = struct.unpack(">I", body[pos:pos + 4])[0], pos + 4
        n, pos = body[pos], pos + 1
        idx = []
        for _ in range(n):
            if flags & 1:
                idx.append(struct.unpack(">H", body[pos:pos + 2])[0] & 0x7FFF)
                pos += 2
            else:
                idx.append(body[pos] & 0x7F)
                pos += 1
        out[item] = idx
    return out
