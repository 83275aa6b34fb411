"""Reports for bureau staff: the daily digest, reminders, the week's workbook, 未提交名单.

All of them read the store through `day.py`, so a figure means the same everywhere.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path


def demo_reports(cfg, prof, ros, store):
    """`ribao demo`: the digest of the demo week's last reported day and the week's workbook,
    written under reports/ beside the storage folder; yields (label, path)."""
    from daemon.reports.digest import build_digest
    from daemon.reports.workbook import write_workbook
    out = Path(cfg.storage.path).parent / "reports"
    out.mkdir(parents=True, exist_ok=True)
    from daemon.store.reads import report_days
    days = report_days(store, prof.week_start.isoformat(), prof.week_end.isoformat())
    if days and ros.schools:
        day = dt.date.fromisoformat(days[-1])
        d = build_digest(prof, ros, store, day)
        html = out / f"digest-{day.isoformat()}.html"
        html.write_text(d.standalone(), encoding="utf-8")
        html.with_suffix(".txt").write_text(d.text, encoding="utf-8")
        yield "daily digest (HTML):", html
    if ros.schools:
        book = out / f"{prof.id}-week.xlsx"
        write_workbook(prof, ros, store, book)
        yield "week workbook (xlsx):", book


def first_day_to_fix(prof, ros, store) -> str | None:
    """The first week day on which some school has a defect still to fix (what the demo points to)."""
    from daemon.reports.day import day_status
    for day in prof.week_days():
        if any(r.needs_fix for r in day_status(prof, ros, store, day).rows):
            return day.isoformat()
    return None
