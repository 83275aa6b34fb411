"""`ribao run`: the long-running service, a thin loop of APScheduler jobs over Service.

Jobs: `poll` (interval, never overlapping, misfires coalesced), and the digest, reminders and
week summary at the times config gives. An IMAP IDLE watcher on its own connection (daemon/intake/idle.py)
wakes the poll job as soon as mail arrives. SIGTERM lets the message in hand finish, then exits cleanly.
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time

from apscheduler.schedulers.blocking import BlockingScheduler

from daemon import systemd
from daemon.config import Config
from daemon.intake import MailboxError
from daemon.service import Service

log = logging.getLogger("ribao")


class Runner:
    def __init__(self, cfg: Config, profile, roster):
        self.cfg, self.profile = cfg, profile
        self.stopping = threading.Event()
        self.service = Service(cfg, profile, roster, stop=self.stopping.is_set)
        self.service.keep_workers = True      # the judging workers live as long as the service
        self.scheduler = BlockingScheduler(timezone=cfg.schedule.timezone,
                                           job_defaults={"coalesce": True, "max_instances": 1,
                                                         "misfire_grace_time": 3600})
        self.last_ok: dt.datetime | None = None
        self.polling = False
        self._woken = False
        self._wake_lock = threading.Lock()
        self.failures = 0

    # ------------------------------------------------------------ jobs
    def poll(self) -> dict | None:
        """The poll job; once more at once when IDLE announced mail while it ran."""
        while True:
            with self._wake_lock:
                self.polling, self._woken = True, False
            try:
                counts = self._poll()
            finally:
                with self._wake_lock:
                    self.polling = False
                    again = self._woken and not self.stopping.is_set()
            if not again:
                return counts

    def _poll(self) -> dict | None:
        self.service.progress = time.monotonic()
        try:
            counts = self.service.poll_once()
        except MailboxError as e:
            self.failures += 1
            log.error("%s", e)
            systemd.notify(f"STATUS=mailbox error: {e}")
            return None
        except Exception as e:              # keep the service up; the error is recorded
            self.failures += 1
            log.exception("poll failed: %s", e)
            self.service.store.event("error", f"poll failed: {type(e).__name__}: {e}")
            return None
        self.failures = 0
        self.last_ok = dt.datetime.now()
        if counts["new"]:
            log.info("poll: %(new)s new, %(judged)s judged, %(quarantined)s quarantined, %(duplicates)s duplicates", counts)
        systemd.notify(f"STATUS=last poll {self.last_ok:%H:%M:%S}: {counts['new']} new")
        return counts

    def watchdog(self) -> None:
        """Ping systemd unless a poll has made no progress for longer than judging one message may
        take: a wedged poll stops the pings and systemd restarts the service. An unreachable
        mailbox is not wedged (the poll returns and the next one retries)."""
        stalled = time.monotonic() - self.service.progress
        if self.polling and stalled > self.service.judge_seconds + 300:
            log.error("poll made no progress for %.0f s: no watchdog ping, systemd will restart ribao", stalled)
            return
        systemd.notify("WATCHDOG=1")

    def add_jobs(self) -> None:
        s = self.cfg.schedule
        self.scheduler.add_job(self.poll, "interval", seconds=s.poll_seconds, id="poll",
                               next_run_time=dt.datetime.now(self.profile.tz))
        wd = systemd.watchdog_seconds()
        if wd:
            self.scheduler.add_job(self.watchdog, "interval", seconds=max(1.0, wd), id="watchdog")
        try:
            from daemon import jobs
        except ImportError:
            return
        jobs.add_jobs(self.scheduler, self.cfg, self.profile, self.service)

    def wake(self) -> None:
        """New mail announced (IDLE): poll now. A poll in progress polls once more when it ends instead,
        since APScheduler would skip a second instance of the job rather than queue it."""
        with self._wake_lock:
            self._woken = True
            if self.polling:
                hint = getattr(self.service.source, "hint", None)
                if hint is not None:
                    hint.set()            # a long fetch looks for it before its next message
                return
        job = self.scheduler.get_job("poll")
        if job:
            job.modify(next_run_time=dt.datetime.now(self.profile.tz))

    def idle_watcher(self) -> None:
        """A second IMAP connection in IDLE (daemon/intake/idle.py); new mail calls wake()."""
        if self.cfg.mailbox.kind != "imap":
            return
        from daemon.intake.idle import IdleWatcher
        IdleWatcher(self.cfg, self.wake, self.stopping).run()

    # ------------------------------------------------------------ life cycle
    def stop(self, *_args) -> None:
        if not self.stopping.is_set():
            log.info("stopping: finishing the message in hand")
            systemd.notify("STOPPING=1")
            self.stopping.set()
            threading.Thread(target=lambda: self.scheduler.shutdown(wait=True), daemon=True).start()

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.add_jobs()
        if self.cfg.mailbox.kind == "imap":         # whatever a previous run left: not known yet
            self.service.store.set_mailbox_state(self.cfg.mailbox.folder, idle=None)
        threading.Thread(target=self.idle_watcher, name="idle", daemon=True).start()
        systemd.notify("READY=1", "STATUS=started")
        log.info("ribao running: profile %s, mailbox %s, poll every %ss", self.profile.id,
                 self.cfg.mailbox.host or self.cfg.mailbox.path, self.cfg.schedule.poll_seconds)
        try:
            self.scheduler.start()
        finally:
            if self.cfg.mailbox.kind == "imap":     # nothing idles once we are gone: "not known"
                self.service.store.set_mailbox_state(self.cfg.mailbox.folder, idle=None)
            self.service.close_pool()
            self.service.close()
            log.info("stopped")
