"""How much the storage folder holds, how much room is left and how fast it fills.

Sizes are apparent sizes (what `du -sb` prints), each inode counted once: an identical photo
sent by many schools is one blob hard-linked into every school's folder, and costs its bytes once.
The intake rate is read from the database (bytes of mail and decoded attachments recorded per
day), so it needs no walk of the folder and a new day's figure is there as soon as mail is.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from daemon.store import reads

RATE_DAYS = 3          # the intake rate is the mean of the last few days that had intake …
RATE_WINDOW = 7        # … within this many days; older intake says nothing about tomorrow
DB_FILES = ("ribao.db", "ribao.db-wal", "ribao.db-shm")


def _walk(paths, seen: set) -> int:
    """Apparent bytes under `paths` (directories included, as du counts them), each inode once."""
    total = 0
    stack = [Path(p) for p in paths]
    while stack:
        p = stack.pop()
        try:
            st = p.lstat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        total += st.st_size
        if p.is_dir() and not p.is_symlink():
            try:
                stack.extend(e for e in p.iterdir())
            except OSError:
                pass
    return total


def daily_intake(db) -> dict[str, int]:
    """{YYYY-MM-DD: bytes} of raw mail plus decoded attachments recorded on that (local) day."""
    out: dict[str, int] = {}
    for day, raw, att in reads.intake_by_day(db):
        if day:
            out[day] = int(raw or 0) + int(att or 0)
    return out


def intake_rate(db, today: dt.date | None = None) -> float | None:
    """Bytes a day, from the last days with intake (None before there is any recent intake)."""
    today = today or dt.date.today()
    since = (today - dt.timedelta(days=RATE_WINDOW)).isoformat()
    recent = sorted(((d, n) for d, n in daily_intake(db).items() if d > since and n > 0), reverse=True)[:RATE_DAYS]
    return sum(n for _, n in recent) / len(recent) if recent else None


def free_bytes(root: str | Path) -> int:
    return shutil.disk_usage(root).free


def usage(root: str | Path, db, today: dt.date | None = None) -> dict:
    """The `storage` object of `ribao status --json` (keys are a contract)."""
    root = Path(root)
    seen: set = set()
    raw = _walk([root / "raw"], seen)
    attachments = _walk([root / "attachments", root / "blobs"], seen)
    database = _walk([root / n for n in DB_FILES], seen)
    used = raw + attachments + database + _walk([root], seen)
    free = free_bytes(root)
    rate = intake_rate(db, today)
    return {"path": str(root), "used_bytes": used, "free_bytes": free, "raw_bytes": raw,
            "attachments_bytes": attachments, "database_bytes": database,
            "days_left": round(free / rate, 1) if rate else None}


def low_space(root: str | Path, db) -> dict | None:
    """{free_bytes, busiest_bytes} when free space is under two busiest days' intake, else None."""
    busiest = max(daily_intake(db).values(), default=0)
    if busiest <= 0:
        return None
    try:
        free = free_bytes(root)
    except OSError:
        return None
    return {"free_bytes": free, "busiest_bytes": busiest} if free < 2 * busiest else None


def human(n: int | float | None) -> str:
    """1.5 GB, 230 MB, 12 KB: for people (powers of 1024, as df -h)."""
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") or n >= 100 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def status_lines(s: dict) -> list[str]:
    """The same figures for `ribao status` (plain, in Chinese)."""
    left = (f"按近几日收件速度约可用 {_days(s['days_left'])}" if s["days_left"] is not None
            else "近几日无收件，无法估算可用天数")
    return [f"存储：{s['path']}　已用 {human(s['used_bytes'])}（原始邮件 {human(s['raw_bytes'])}，"
            f"附件 {human(s['attachments_bytes'])}，数据库 {human(s['database_bytes'])}），"
            f"剩余 {human(s['free_bytes'])}，{left}"]


def warning_zh(low: dict) -> str:
    """One sentence for the digest and the log."""
    return (f"存储空间不足：剩余 {human(low['free_bytes'])}，不到最忙一天收件量（{human(low['busiest_bytes'])}）的两倍。"
            f"请尽快扩容，或先用 ribao export 导出存档、再用 ribao purge 清理往日材料。")


def _days(n: float) -> str:
    """Days of room in words: a year or more is plenty, not 2.2404e+07 天."""
    if n >= 365:
        return "一年以上"
    return f"{n:.1f} 天" if n < 10 else f"{n:.0f} 天"
