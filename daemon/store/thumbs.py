"""Thumbnails of schools' photos, cached beside the store (thumbs/<sha[:2]>/<sha>.jpg), a few KB each.

Made once in the judging child, right after a photo is judged, and read by the digest and the
desk, so neither decodes a day's photos at once. `Image.draft` lets the JPEG decoder scale down by
1/2…1/8 while decoding, so a 2400×1600 photo costs a fraction of a full decode; `exif_transpose`
turns phone photos upright. Only JPEGs get one, and only from that reduced decode: anything else
(a 120-Mpixel PNG named .jpg took 360 MB decoded in full) is skipped. Here, in the store, because
judging and reports both use it and neither should import the other.
"""
from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from PIL import Image, ImageOps

log = logging.getLogger("ribao.store")

SIZE = 160
QUALITY = 70
PER_SCHOOL = 4              # photos of one school the digest shows: the ones worth a thumbnail
MAX_PIXELS = 120_000_000    # refuse absurd headers (decompression bombs)
MAX_DRAFT_PIXELS = 4_000_000   # what the reduced decode may still cost (12 MB of RGB)


def thumbnail(path: str | Path, size: int = SIZE, quality: int = QUALITY) -> tuple[bytes, int, int] | None:
    """(jpeg bytes, width, height), or None for anything but a JPEG of sane size (PNG, HEIC,
    broken files): the pixels are decoded only at the draft's reduced scale."""
    try:
        with Image.open(path) as im:
            if im.format != "JPEG" or im.width * im.height > MAX_PIXELS:
                return None
            im.draft("RGB", (size * 2, size * 2))
            if im.width * im.height > MAX_DRAFT_PIXELS:
                return None
            im = ImageOps.exif_transpose(im)
            im = im.convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality, optimize=True)
            return buf.getvalue(), im.width, im.height
    except Exception as e:        # noqa: BLE001 - a bad photo costs its thumbnail, nothing more
        log.debug("no thumbnail for %s: %s", path, e)
        return None


def cache_path(cache_dir: Path, sha256: str) -> Path:
    return Path(cache_dir) / sha256[:2] / f"{sha256}.jpg"


def cache_thumbnail(cache_dir: Path, sha256: str, path: str | Path) -> Path | None:
    """Make a photo's thumbnail once, when it is judged, so a digest of 2,000 schools only reads
    small files (decoding the photos is what costs: ~27 ms each)."""
    if not sha256 or len(sha256) < 8:
        return None
    target = cache_path(cache_dir, sha256)
    if target.exists():
        return target
    made = thumbnail(path)
    if made is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(made[0])
    os.replace(tmp, target)
    return target


def cached(cache_dir: Path | None, sha256: str) -> tuple[bytes, int, int] | None:
    """(jpeg bytes, width, height) of the cached thumbnail of a photo, or None."""
    if cache_dir is None or len(sha256) != 64:
        return None
    p = cache_path(cache_dir, sha256)
    try:
        data = p.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            return data, im.width, im.height
    except (OSError, ValueError):
        return None
