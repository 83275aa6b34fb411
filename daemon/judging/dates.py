"""Which day a report covers, and whether it came in late.

An explicit date in the subject (then in the first lines of the body) wins; without one the
profile says whether a mail before the deadline reports on the previous day (每日上午12点前报送前一日)
or the same day (每天下午4时前报送当天). A mail after the deadline covers the same day.
"""
from __future__ import annotations

import datetime as dt
import re

from daemon.profile import Profile

_FULL = re.compile(r"(?<!\d)(20\d\d)\s*(?:年|[.\-/．])\s*(\d{1,2})\s*(?:月|[.\-/．])\s*(\d{1,2})(?!\d)\s*[日号]?")
_CN = re.compile(r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?(?!\d)")
_SHORT = re.compile(r"(?<![\d.:/\-．])(\d{1,2})\s*[.\-/．]\s*(\d{1,2})(?![\d.:/\-．%])")
BODY_LINES = 5          # a body's date counts only in its first lines (the title and the lead)


def find_date(text: str, profile: Profile) -> dt.date | None:
    """The first plausible date in `text` (a month near the activity week)."""
    if not text:
        return None
    found: list[tuple[int, dt.date]] = []
    taken: list[tuple[int, int]] = []
    for m in _FULL.finditer(text):
        d = _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d:
            found.append((m.start(), d))
            taken.append(m.span())
    year = profile.week_start.year
    for rx in (_CN, _SHORT):
        for m in rx.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            month, day = int(m.group(1)), int(m.group(2))
            if not _near_week(month, profile):
                continue
            d = _make(year, month, day)
            if d:
                found.append((m.start(), d))
                taken.append(m.span())
    return min(found)[1] if found else None


def _near_week(month: int, profile: Profile) -> bool:
    return profile.week_start.month - 1 <= month <= profile.week_end.month + 1


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def explicit_date(subject: str, body: str, profile: Profile) -> dt.date | None:
    d = find_date(subject, profile)
    if d:
        return d
    head = "\n".join([ln for ln in (body or "").splitlines() if ln.strip()][:BODY_LINES])
    return find_date(head, profile)


def implicit_date(received: dt.datetime, profile: Profile) -> dt.date:
    """The day a report without a date covers, from when it arrived."""
    daily = profile.daily
    local = received.astimezone(profile.tz)
    today = local.date()
    if daily is None:
        return today
    if daily.due_midnight:
        return today - dt.timedelta(days=daily.due_day_offset)
    before = local.time() < daily.due_time
    if before and daily.before_deadline_covers == "previous_day":
        return today - dt.timedelta(days=1)
    return today
