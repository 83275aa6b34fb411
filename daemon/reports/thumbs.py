"""Thumbnails for the digest, within a byte budget: a few KB each (made and cached by
daemon/store/thumbs.py, at judging time). A budget shared round-robin across schools keeps a
200-school digest to a few MB: every school gets its first thumbnail before any school gets its second.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from daemon.store.thumbs import PER_SCHOOL, cached, thumbnail

BUDGET = 2_000_000          # bytes of thumbnails in one digest (base64 adds a third)


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
        made = cached(self.cache_dir, key) or thumbnail(path)
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
