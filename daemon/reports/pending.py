"""未提交名单: roster schools that have not yet sent a deliverable, with the last mail seen from each
(so staff can tell "never wrote" from "wrote, but not the report")."""
from __future__ import annotations

import datetime as dt

from daemon.judging.roster import Roster
from daemon.profile import Profile
from daemon.reports.day import daily_reported, due_text, last_due_day, last_seen, sent_deliverable, upcoming_day
from daemon.store.db import Store


class PendingError(ValueError):
    pass


def default_day(profile: Profile, now: dt.datetime) -> dt.date:
    """The day whose daily deadline comes next (a next-day 12:00 deadline at 10:00 on 5/16: the report on 5/15);
    after the week, its last day; otherwise today."""
    return upcoming_day(profile, now) or last_due_day(profile, now) or now.date()


def pending(profile: Profile, roster: Roster, store: Store, deliverable: str | None = None,
            day: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """{deliverable, name, date, due, missing: [{school, last_seen, last_subject}]}."""
    now = now or dt.datetime.now(profile.tz)
    d = profile.deliverable(deliverable) if deliverable else profile.daily
    if d is None:
        known = ", ".join(x.id for x in profile.deliverables)
        what = f"no deliverable {deliverable!r}" if deliverable else "no daily report"
        raise PendingError(f"profile {profile.id} has {what}; its deliverables are: {known}")
    if d.is_daily:
        day = day or default_day(profile, now)
        due = profile.daily_due(day)
        has = lambda school: daily_reported(store, school, day)           # noqa: E731
    else:
        day, due = None, d.due
        has = lambda school: sent_deliverable(store, school, d.id)        # noqa: E731
    missing = []
    for s in roster.schools:
        if has(s.name):
            continue
        seen = last_seen(store, s.name) or {}
        missing.append({"school": s.name, "last_seen": seen.get("received"), "last_subject": seen.get("subject")})
    return {"deliverable": d.id, "name": d.name, "date": day.isoformat() if day else None,
            "due": due.isoformat() if due else None, "due_zh": due_text(due), "missing": missing,
            "roster": len(roster.schools)}
