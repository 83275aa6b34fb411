"""The scheduled mail of `ribao run`: the daily digest, reminders and the week's summary.

Each job runs daily at its configured time and decides for itself whether there is anything to
send (a week day's deadline just passed, a deadline is near, the week is over); the outbox's
dedupe keys make a second run, a restart or a late misfire harmless. A job never raises: an error
is logged and recorded as an event, and the service goes on polling.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

from daemon.reports.day import last_due_day
from daemon.store.db import Store

log = logging.getLogger("ribao.jobs")
_lock = threading.Lock()        # one reports job at a time


def _hm(text: str) -> tuple[int, int] | None:
    try:
        hh, mm = (int(x) for x in text.strip().split(":"))
    except (ValueError, AttributeError):
        return None
    return (hh, mm) if 0 <= hh < 24 and 0 <= mm < 60 else None


def _run(name: str, cfg, service, fn) -> None:
    """Run one job body on its own database connection, then hand the outbox to the service."""
    with _lock:
        store = None
        try:
            store = Store(cfg.storage.path)
            n = fn(store)
            if n:
                log.info("%s: %s mail queued", name, n)
                # on this thread's own connection: the poll job may be mid-transaction on the service's
                from daemon.outgoing.outbox import deliver
                deliver(store, service.transport, cfg.smtp.sender, cfg.replies.retry_seconds)
        except Exception as e:          # noqa: BLE001 - a report job must never stop the service
            log.exception("%s failed: %s", name, e)
            try:
                (store or service.store).event("error", f"{name} failed: {type(e).__name__}: {e}")
            except Exception:
                pass
        finally:
            if store is not None:
                store.close()


def digest_job(cfg, profile, service, now: dt.datetime | None = None) -> None:
    """The digest for the week day whose deadline passed within the last day."""
    from daemon.reports.digest import enqueue_digest

    def body(store):
        t = now or dt.datetime.now(profile.tz)
        day = last_due_day(profile, t)
        if day is None or t - profile.daily_due(day) > dt.timedelta(days=1):
            return 0
        return enqueue_digest(cfg, profile, service.roster, store, day, now=t)
    _run("digest", cfg, service, body)


def reminder_job(cfg, profile, service, now: dt.datetime | None = None) -> None:
    from daemon.reports.reminders import enqueue_reminders

    def body(store):
        return len(enqueue_reminders(cfg, profile, service.roster, store, now)["queued"])
    _run("reminders", cfg, service, body)


def summary_job(cfg, profile, service, now: dt.datetime | None = None) -> None:
    """The week's workbook once the last daily deadline has passed (within two weeks of it)."""
    from daemon.reports.workbook import enqueue_summary

    def body(store):
        t = now or dt.datetime.now(profile.tz)
        end = profile.daily_due(profile.week_end) if profile.daily else \
            dt.datetime.combine(profile.week_end + dt.timedelta(days=1), dt.time(0, 0), profile.tz)
        if not (end <= t <= end + dt.timedelta(days=14)):
            return 0
        return enqueue_summary(cfg, profile, service.roster, store, t)
    _run("summary", cfg, service, body)


def storage_job(cfg, profile, service, now: dt.datetime | None = None) -> None:
    """Hourly: `[storage] keep_days` purge and the low-space warning, each at most once a day."""
    from daemon.storage.purge import daily

    def body(store):
        daily(cfg, store, (now or dt.datetime.now(profile.tz)).date())
        return 0
    _run("storage", cfg, service, body)


def add_jobs(scheduler, cfg, profile, service) -> list[str]:
    """Add the configured jobs to an APScheduler 3 scheduler; returns their ids."""
    s, added = cfg.schedule, []
    tz = s.timezone
    digest_at = _hm(s.digest_time) if s.digest_time else None
    if digest_at and cfg.digest.recipients and profile.daily:
        scheduler.add_job(digest_job, "cron", hour=digest_at[0], minute=digest_at[1], timezone=tz, id="digest",
                          args=[cfg, profile, service], replace_existing=True)
        added.append("digest")
    elif s.digest_time and not digest_at:
        log.error("[schedule] digest_time %r is not a time such as \"12:30\": no digest", s.digest_time)
    remind_at = _hm(s.reminder_time) if s.reminder_time else None
    if remind_at and cfg.digest.reminders:
        scheduler.add_job(reminder_job, "cron", hour=remind_at[0], minute=remind_at[1], timezone=tz, id="reminders",
                          args=[cfg, profile, service], replace_existing=True)
        added.append("reminders")
    elif s.reminder_time and cfg.digest.reminders and not remind_at:
        log.error("[schedule] reminder_time %r is not a time such as \"10:00\": no reminders", s.reminder_time)
    if s.summary_after_week and cfg.digest.recipients:
        at = digest_at or (18, 0)
        scheduler.add_job(summary_job, "cron", hour=at[0], minute=at[1], timezone=tz, id="summary",
                          args=[cfg, profile, service], replace_existing=True)
        added.append("summary")
    scheduler.add_job(storage_job, "interval", hours=1, id="storage", args=[cfg, profile, service],
                      next_run_time=dt.datetime.now(profile.tz) + dt.timedelta(minutes=1), replace_existing=True)
    added.append("storage")
    return added
