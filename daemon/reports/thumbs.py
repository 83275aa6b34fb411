"""Small JPEG thumbnails of schools' photos for the digest, a few KB each.

`Image.draft` lets the JPEG decoder scale down by 1/2…1/8 while decoding, so a 2400×1600 photo
costs a fraction of a full decode; `exif_transpose` turns phone photos upright. A budget shared
round-robin across schools keeps a 200-school digest to a few MB: every school gets its first
thumbnail before any school gets its second. Only JPEGs get one, and only from that reduced decode:
anything else (a 120-Mpixel PNG named .jpg took 360 MB decoded in full) is skipped.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

from PIL import Image, ImageOps

log = logging.getLogger("ribao.reports")

SIZE = 160
QUALITY = 70
PER_SCHOOL = 4
BUDGET = 2_000_000          # bytes of thumbnails in one digest (base64 adds a third)
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


def _cached(cache_dir: Path | None, key: str) -> tuple[bytes, int, int] | None:
    if cache_dir is None or len(key) != 64:
        return None
    p = cache_path(cache_dir, key)
    try:
        data = p.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            return data, im.width, im.height
    except (OSError, ValueError):
        return None


class Thumbs:
    """Thumbnails for a digest: one CID image per distinct photo, within a byte budget.
    With `cache_dir` (storage/thumbs) the thumbnails made at judging time are used as they are."""

    def __init__(self, budget: int = BUDGET, per_school: int = PER_SCHOOL, cache_dir: Path | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.budget, self.per_school = budget, per_school
        self.used = 0
        self.images: dict[str, tuple[bytes, str]] = {}     # cid → (bytes, subtype)
        self._by_key: dict[str, dict] = {}
        self.skipped = 0

    def add(self, key: str, path: Path) -> dict | None:
        """{cid, width, height} of one photo's thumbnail, or None (unreadable or over budget)."""
        if key in self._by_key:
            return self._by_key[key]
        if self.used >= self.budget:
            self.skipped += 1
            return None
        made = _cached(self.cache_dir, key) or thumbnail(path)
        if made is None:
            return None
        data, w, h = made
        if self.used + len(data) > self.budget:
            self.skipped += 1
            return None
        self.used += len(data)
        cid = f"t{len(self.images) + 1}.{hashlib.sha256(key.encode()).hexdigest()[:12]}@ribao"
        self.images[cid] = (data, "jpeg")
        self._by_key[key] = {"cid": cid, "width": w, "height": h}
        return self._by_key[key]

    def for_rows(self, photo_lists: list[list[dict]]) -> list[list[dict]]:
        """Round-robin over schools: thumbnails[i] for photo_lists[i] (each at most per_school)."""
        out: list[list[dict]] = [[] for _ in photo_lists]
        for k in range(self.per_school):
            for i, photos in enumerate(photo_lists):
                if k < len(photos):
                    m = photos[k]
                    t = self.add(m.get("sha256") or str(m["path"]), m["path"])
                    if t is not None:
                        out[i].append({**t, "file": m.get("file") or "", "caption": m.get("caption") or ""})
        return out
