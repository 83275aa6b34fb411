"""Polite reminders to schools that have not reported yet, before the deadline (opt-in).

Each reminder is an outbox row with a dedupe key, so a second run the same day (a restart, a
misfired job run late) queues nothing new: "reminder:daily:{school}:{date}" for the daily report,
"reminder:{deliverable}:{school}" for a one-off (once, `reminder_days_before` days before its due
time). A school that has sent anything for that deliverable is never reminded.

Staff can also remind now (`remind_now`, the desk's 未提交名单): the same rules, and never a second
reminder to a school on the same calendar day, whoever queued the first.
"""
from __future__ import annotations

import datetime as dt

from daemon.judging.roster import Roster, School
from daemon.outgoing.mailout import build, valid_address
from daemon.profile import Profile
from daemon.reports.day import daily_reported, due_text, held_waiting, sent_deliverable, upcoming_day
from daemon.reports.digest import queue, short
from daemon.store import outbox_rows, reads
from daemon.store.db import Store
from daemon.templating import render, zh_date, zh_time


def school_address(school: School, store: Store) -> str | None:
    """The school's first roster address, else the last address staff tied to it."""
    for e in school.emails:
        if valid_address(e):
            return e
    for e in reads.school_addresses(store, school.name):
        if valid_address(e):
            return e
    return None


def _requirements(profile: Profile) -> list[str]:
    reqs = [r for r in (profile.text.requirement, profile.photos.requirement, profile.videos.requirement) if r]
    return list(dict.fromkeys(reqs))


def _one(cfg, profile: Profile, store: Store, school: School, *, key: str, day_str: str, ctx: dict,
         subject: str, result: dict) -> None:
    if outbox_rows.has(store, key):
        result["already"].append(school.name)
        return
    addr = school_address(school, store)
    if addr is None or addr.lower() == (cfg.smtp.sender or "").lower():
        result["skipped"].append((school.name, "no usable address"))
        return
    ctx = {**ctx, "school": short(school.name, 60), "subject": subject, "issuer": short(profile.issuer or "教育局", 40)}
    msg = build(sender=cfg.smtp.sender, to=addr, subject=subject, text=render("reminder.txt.j2", **ctx),
                html=render("reminder.html.j2", **ctx), auto="auto-generated")
    if queue(store, kind="reminder", dedupe_key=key, recipient=addr, msg=msg, day=day_str):
        result["queued"].append(school.name)
    else:
        result["already"].append(school.name)


def enqueue_reminders(cfg, profile: Profile, roster: Roster, store: Store, now: dt.datetime | None = None) -> dict:
    """Queue today's reminders; returns {queued, already, reported, skipped} lists of school names."""
    result = {"queued": [], "already": [], "reported": [], "skipped": []}
    if not cfg.digest.reminders:
        return result
    now = now or dt.datetime.now(profile.tz)
    today = now.astimezone(profile.tz).date().isoformat()
    day = upcoming_day(profile, now)
    if day is not None:
        d = profile.daily
        due = profile.daily_due(day)
        subject = f"【提醒】请于{due_text(due)}前报送{zh_date(day)}的{d.name}"
        ctx = dict(daily=True, what=d.name, day_zh=zh_date(day), due_zh=due_text(due), now_zh=zh_time(now),
                   requirements=_requirements(profile), overdue=False)
        for s in roster.schools:
            if daily_reported(store, s.name, day):
                result["reported"].append(s.name)
                continue
            if held_waiting(store, s.name, day):
                result["skipped"].append((s.name, "a mail naming it waits for staff to confirm the sender"))
                continue
            _one(cfg, profile, store, s, key=f"reminder:daily:{s.name}:{day.isoformat()}", day_str=today,
                 ctx=ctx, subject=subject, result=result)
    ahead = dt.timedelta(days=cfg.digest.reminder_days_before)
    for d in profile.deliverables:
        if d.is_daily or d.due is None or not (d.due - ahead <= now < d.due):
            continue
        subject = f"【提醒】请于{due_text(d.due)}前报送{d.name}"
        ctx = dict(daily=False, what=d.name, day_zh="", due_zh=due_text(d.due), now_zh=zh_time(now), requirements=[],
                   overdue=False)
        for s in roster.schools:
            if sent_deliverable(store, s.name, d.id):
                result["reported"].append(s.name)
                continue
            if held_waiting(store, s.name):
                result["skipped"].append((s.name, "a mail naming it waits for staff to confirm the sender"))
                continue
            _one(cfg, profile, store, s, key=f"reminder:{d.id}:{s.name}", day_str=today, ctx=ctx,
                 subject=subject, result=result)
    return result


def _today_key(store: Store, base: str, today: str) -> str | None:
    """The dedupe key for a reminder queued by hand today: the scheduled key while it is unused,
    else one for today; None when this school was reminded today already (either way)."""
    rows = outbox_rows.days_of_keys(store, [base, f"{base}:{today}"])
    if any(day == today for _, day in rows):
        return None
    return f"{base}:{today}" if rows else base


def remind_now(cfg, profile: Profile, roster: Roster, store: Store, deliverable: str, day: dt.date | None = None,
               now: dt.datetime | None = None) -> dict:
    """Staff's "send a reminder now" for one deliverable (a daily one: for `day`), to each school
    that has not sent it; returns {queued, already, reported, skipped} like enqueue_reminders."""
    result = {"queued": [], "already": [], "reported": [], "skipped": []}
    now = now or dt.datetime.now(profile.tz)
    today = now.astimezone(profile.tz).date().isoformat()
    d = profile.deliverable(deliverable)
    if d is None:
        raise ValueError(f"no deliverable {deliverable!r}; this profile has {', '.join(x.id for x in profile.deliverables)}")
    if d.is_daily:
        if day is None or day not in profile.week_days():
            raise ValueError(f"{day} is not a day of the activity week")
        due = profile.daily_due(day)
        what_day = f"{zh_date(day)}的"
    else:
        due = d.due
        what_day = ""
        if due is None:
            raise ValueError(f"{d.name} has no deadline in the notice: there is nothing to remind of")
    overdue = due is not None and due <= now
    subject = (f"【提醒】请尽快补报{what_day}{d.name}" if overdue else f"【提醒】请于{due_text(due)}前报送{what_day}{d.name}")
    ctx = dict(daily=d.is_daily, what=d.name, day_zh=zh_date(day) if d.is_daily else "", due_zh=due_text(due),
               now_zh=zh_time(now), requirements=_requirements(profile) if d.is_daily else [], overdue=overdue)
    for s in roster.schools:
        sent = daily_reported(store, s.name, day) if d.is_daily else sent_deliverable(store, s.name, d.id)
        if sent:
            result["reported"].append(s.name)
            continue
        if held_waiting(store, s.name, day if d.is_daily else None):
            result["skipped"].append((s.name, "a mail naming it waits for staff to confirm the sender"))
            continue
        base = f"reminder:daily:{s.name}:{day.isoformat()}" if d.is_daily else f"reminder:{d.id}:{s.name}"
        key = _today_key(store, base, today)
        if key is None:
            result["already"].append(s.name)
            continue
        _one(cfg, profile, store, s, key=key, day_str=today, ctx=ctx, subject=subject, result=result)
    return result
