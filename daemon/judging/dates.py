"""Which day a report covers, and whether it came in late.

An explicit date in the subject (then in the first lines of the body) wins; without one the
profile says whether a mail before the deadline reports on the previous day (每日上午12点前报送前一日)
or the same day (每天下午4时前报送当天). A mail after the deadline covers the same day.

Only a bounded head of the text is searched (a title is short), and each pattern is scanned once
with its earliest date kept, so a hostile 0.7 MB line of "5.15 5.15 …" costs as little as a title.
"""
from __future__ import annotations

import bisect
import datetime as dt
import re

from daemon.profile import Profile

_FULL = re.compile(r"(?<!\d)(20\d\d)\s*(?:年|[.\-/．])\s*(\d{1,2})\s*(?:月|[.\-/．])\s*(\d{1,2})(?!\d)\s*[日号]?")
_CN = re.compile(r"(?<![\d.])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?(?!\d)")
_SHORT = re.compile(r"(?<![\d.:/\-．])(\d{1,2})\s*[.\-/．]\s*(\d{1,2})(?![\d.:/\-．%])")
BODY_LINES = 5          # a body's date counts only in its first lines (the title and the lead)
LINE_CHARS = 200        # of each of those lines, only the start (a title or a lead's first words)
SUBJECT_CHARS = 300


def find_date(text: str, profile: Profile) -> dt.date | None:
    """The first plausible date in `text` (a month near the activity week).

    A full date (2023年5月15日) wins over a shorter form found inside it (5月15日, 5.15)."""
    if not text:
        return None
    best: tuple[int, dt.date] | None = None
    starts: list[int] = []              # spans taken by dates found so far, sorted by start
    ends: list[int] = []
    for m in _FULL.finditer(text):
        d = _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d:
            best = (m.start(), d)
            starts.append(m.start())
            ends.append(m.end())
            break                       # the first full date: nothing later can come first
    year = profile.week_start.year
    for rx in (_CN, _SHORT):
        found_here: list[tuple[int, int]] = []
        for m in rx.finditer(text):
            if best is not None and m.start() >= best[0]:
                break                   # later than the best so far: it can't win
            i = bisect.bisect_right(starts, m.start()) - 1
            if i >= 0 and m.start() < ends[i]:
                continue                # inside a date already found
            month, day = int(m.group(1)), int(m.group(2))
            if not _near_week(month, profile):
                continue
            d = _make(year, month, day)
            if d:
                best = (m.start(), d)
                found_here.append(m.span())
                break
        for a, b in found_here:
            i = bisect.bisect_right(starts, a)
            starts.insert(i, a)
            ends.insert(i, b)
    return best[1] if best else None


def _near_week(month: int, profile: Profile) -> bool:
    return profile.week_start.month - 1 <= month <= profile.week_end.month + 1


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def explicit_date(subject: str, body: str, profile: Profile) -> dt.date | None:
    d = find_date((subject or "")[:SUBJECT_CHARS], profile)
    if d:
        return d
    return find_date(head_lines(body or ""), profile)


def head_lines(body: str, lines: int = BODY_LINES, chars: int = LINE_CHARS) -> str:
    """The first `lines` non-empty lines of `body`, each cut to `chars`: found without splitting
    the whole body (a body can be one line of megabytes)."""
    out: list[str] = []
    pos, n = 0, len(body)
    while pos < n and len(out) < lines:
        end = body.find("\n", pos)
        end = n if end < 0 else end
        line = body[pos:min(end, pos + chars)]
        if line.strip():
            out.append(line.rstrip("\r"))
        pos = end + 1
    return "\n".join(out)


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
