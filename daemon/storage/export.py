"""`ribao export`: the bureau's archive of what schools sent, as one zip that opens in Windows
Explorer and WPS.

One folder per day and school (or per one-off deliverable and school) holds the materials that
count under the names the school gave them; what a resend replaced is kept beside them in
已替换/. The week's workbook, each day's digest (HTML) and a manifest (CSV, UTF-8 with BOM so
Excel and WPS read it: file, school, day, sha256, verdict) come with it. Names are made safe for
Windows (reserved characters and device names replaced, lengths bounded, no two names that differ
only in case); the zip's UTF-8 flag is set for every non-ASCII name. Files are streamed into the
zip a megabyte at a time and hashed as they go; the zip is written 0600 and renamed into place.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from daemon.store import reads

REPLACED = "已替换"
MANIFEST = "文件清单.csv"
MANIFEST_HEAD = ["文件", "学校", "日期", "材料", "字节数", "sha256", "结论", "问题"]
VERDICT_ZH = {"ok": "合格", "defects": "有问题", "accepted": "人工认可", "replaced": "已替换（重报前）"}
STORED = {".jpg", ".jpeg", ".png", ".heic", ".gif", ".mp4", ".mov", ".avi", ".zip", ".rar", ".7z",
          ".docx", ".xlsx", ".pptx", ".pdf", ".gz"}            # already compressed: stored as they are
_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_DEVICES = {"con", "prn", "aux", "nul", "conin$", "conout$", *(f"com{i}" for i in "123456789¹²³"),
            *(f"lpt{i}" for i in "123456789¹²³")}
PART_MAX = 80          # characters of a file name
FOLDER_MAX = 60        # characters of a folder name (day, school, deliverable)
PATH_MAX = 180         # characters of a whole path in the zip (Explorer's limit is 260 with the target folder)
CHUNK = 1 << 20


class ExportError(RuntimeError):
    """One plain line: what can't be exported and why."""


def win_name(name: str, limit: int = PART_MAX) -> str:
    """One path component Windows accepts: reserved characters → "_", no trailing dot or space,
    no device name (CON, NUL.txt, COM1 …), at most `limit` characters with the extension kept."""
    name = _BAD.sub("_", name or "").strip().rstrip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        stem, ext = name, ""
    else:
        ext = "." + ext
    if stem.split(".")[0].strip().lower() in _DEVICES:
        stem = "_" + stem
    stem = stem[: max(1, limit - len(ext))].rstrip(". ") or "_"
    return stem + ext


@dataclass
class Entry:
    path: str                        # inside the zip
    source: Path | None = None       # a file on disk, or …
    data: bytes | None = None        # … bytes made here (digests)
    school: str = ""
    day: str = ""
    deliverable: str = ""
    verdict: str = ""
    defects: list = field(default_factory=list)


class Names:
    """Unique, bounded zip paths (Windows compares names without case)."""

    def __init__(self):
        self.taken: set[str] = set()

    def add(self, folders: list[str], name: str) -> str:
        parts = [win_name(f, FOLDER_MAX) for f in folders]
        base = "/".join(parts)
        limit = min(PART_MAX, max(20, PATH_MAX - len(base) - 1))
        leaf = win_name(name, limit)
        stem, ext = os.path.splitext(leaf)
        n = 1
        while True:
            path = f"{base}/{leaf}" if base else leaf
            if path.lower() not in self.taken:
                self.taken.add(path.lower())
                return path
            n += 1
            mark = f" ({n})"
            leaf = f"{stem[: max(1, limit - len(ext) - len(mark))]}{mark}{ext}"


def _verdict(msg: dict, replaced: bool) -> str:
    if replaced:
        return VERDICT_ZH["replaced"]
    if msg.get("accepted_by"):
        return VERDICT_ZH["accepted"]
    return VERDICT_ZH.get(msg.get("verdict") or "", msg.get("verdict") or "")


def _materials(store, names: Names, folders: list[str], msg: dict, replaced: bool, day: str, deliv: str) -> list[Entry]:
    """The message's files as sent (archive members travel inside their archive)."""
    from daemon.reports.day import stored_path
    defects = store.defects_of(msg["id"])
    out = []
    for m in store.materials_of(msg["id"]):
        p = stored_path(store, m.get("stored_path"))
        if m.get("in_archive") or p is None or not p.is_file():
            continue
        codes = sorted({d["code"] for d in defects if d["file"] and (d["file"] == m["file"] or
                                                                      d["file"].startswith(m["file"] + "/"))})
        original = (m["file"] or "").replace("\\", "/").rsplit("/", 1)[-1] or p.name
        out.append(Entry(names.add(folders + ([REPLACED] if replaced else []), original), source=p,
                         school=msg.get("school") or "", day=day, deliverable=deliv,
                         verdict=_verdict(msg, replaced), defects=codes))
    return out


def plan(profile, roster, store, *, days: list[dt.date], deliverables: list[str]) -> list[Entry]:
    """Every file of the archive except the workbook and the manifest, in order."""
    names, out = Names(), []
    daily = profile.daily.id if profile.daily else None
    for day in days:
        for school, rdate, mid, sup in reads.submissions(store, daily, day.isoformat()) if daily else []:
            msg = store.get(mid) or {"id": mid}
            out += _materials(store, names, [rdate, school], msg, sup is not None, rdate, daily)
    for did in deliverables:
        d = profile.deliverable(did)
        for school, _, mid, sup in reads.submissions(store, did, None):
            msg = store.get(mid) or {"id": mid}
            out += _materials(store, names, [d.name or did, school], msg, sup is not None, "", did)
    if roster.schools:
        from daemon.reports.digest import build_digest
        for day in days:
            html = build_digest(profile, roster, store, day).standalone().encode("utf-8")
            out.append(Entry(names.add(["每日汇总"], f"{day.isoformat()}.html"), data=html, day=day.isoformat()))
    return out


def _add(zf: zipfile.ZipFile, arcname: str, *, source: Path | None = None, data: bytes | None = None) -> tuple[int, str]:
    """Stream one file into the zip; returns (bytes, sha256) of what was written."""
    zi = zipfile.ZipInfo(arcname, date_time=dt.datetime.now().timetuple()[:6])
    zi.compress_type = zipfile.ZIP_STORED if Path(arcname).suffix.lower() in STORED else zipfile.ZIP_DEFLATED
    zi.external_attr = 0o600 << 16
    h, n = hashlib.sha256(), 0
    size = source.stat().st_size if source is not None else len(data)
    with zf.open(zi, "w", force_zip64=size > (1 << 31)) as out:
        if data is not None:
            out.write(data)
            h.update(data)
            n = len(data)
        else:
            with open(source, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    n += len(chunk)
    return n, h.hexdigest()


def write_export(profile, roster, store, out: Path, *, days: list[dt.date], deliverables: list[str]) -> dict:
    """Write the archive to `out` (0600, atomically); returns {files, bytes}."""
    from daemon.reports.workbook import write_workbook
    entries = plan(profile, roster, store, days=days, deliverables=deliverables)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    rows, total = [], 0
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as zf, \
                tempfile.TemporaryDirectory(prefix="ribao-export-") as tmp:
            if roster.schools:
                book = Path(tmp) / "week.xlsx"
                write_workbook(profile, roster, store, book)
                entries.append(Entry(f"情况统计表-{win_name(profile.id)}.xlsx", source=book))
            for e in entries:
                n, sha = _add(zf, e.path, source=e.source, data=e.data)
                total += n
                rows.append([e.path, e.school, e.day, e.deliverable, n, sha, e.verdict, " ".join(e.defects)])
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(MANIFEST_HEAD)
            w.writerows(rows)
            _add(zf, MANIFEST, data=buf.getvalue().encode("utf-8-sig"))
        os.chmod(part, 0o600)
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {"files": len(rows), "bytes": total, "path": str(out)}
