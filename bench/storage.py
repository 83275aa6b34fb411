"""Storage per school-day, measured on a storage folder the daemon filled (README "Storage").

    .venv/bin/python bench/storage.py STORAGE_DIR [--school-days N] [--sample 20]

Prints the bytes of raw mail, decoded attachments (on disk, identical files once, and as sent,
every file counted), database and thumbnails, each per school-day, and two measurements of what
storing less would cost: compressing the raw copy (zlib levels 1 and 6, ratio and CPU seconds per
GB) and re-decoding attachments from the raw mail when they are opened (parse seconds per GB).
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daemon.judging.parse import parse_file  # noqa: E402
from daemon.storage.usage import _walk  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--school-days", type=int, help="default: distinct (school, report_date) of daily reports")
    ap.add_argument("--sample", type=int, default=20, help="raw mails to compress and re-decode")
    a = ap.parse_args()
    db = sqlite3.connect(a.root / "ribao.db")
    n = a.school_days or db.execute("select count(distinct school || report_date) from submissions "
                                    "where deliverable = 'daily'").fetchone()[0] or 1
    raw = _walk([a.root / "raw"], set())
    att = _walk([a.root / "attachments", a.root / "blobs"], set())
    sent = db.execute("select coalesce(sum(size), 0) from materials where stored_path is not null and not in_archive").fetchone()[0]
    dbb = _walk([a.root / f for f in ("ribao.db", "ribao.db-wal", "ribao.db-shm")], set())
    thumbs = _walk([a.root / "thumbs"], set())
    out = {"school_days": n, "raw": raw / n, "attachments_on_disk": att / n, "attachments_as_sent": sent / n,
           "database": dbb / n, "thumbnails": thumbs / n}
    files = sorted((a.root / "raw").rglob("*.eml"), key=lambda p: p.stat().st_size, reverse=True)[: a.sample]
    total = sum(p.stat().st_size for p in files)
    for level in (1, 6):
        t, packed = time.process_time(), 0
        for p in files:
            c = zlib.compressobj(level)
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    packed += len(c.compress(chunk))
            packed += len(c.flush())
        cpu = time.process_time() - t
        out[f"zlib{level}_ratio"] = packed / total
        out[f"zlib{level}_cpu_s_per_gb"] = cpu / (total / 1e9)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(files):
            parse_file(p, Path(tmp) / str(i))
    out["redecode_s_per_gb"] = (time.perf_counter() - t) / (total / 1e9)
    out["sample_mb"] = total / 1e6
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=2))


if __name__ == "__main__":
    main()
