"""Judging workers that live: a small pool of forked processes, each judging one message at a time.

A child forked per message paid the fork and its page faults for every mail; a worker keeps its
imports, the profile and the roster, and takes jobs over a pipe. The guarantees of the child per
message stay: each job runs under the message's time limit (past it the worker is killed with all it
started, and replaced), RLIMIT_AS caps every worker, a worker that crashes or is killed costs only
the message in hand (which gets the reason), and a worker whose RSS grew by more than RSS_GROWTH
(fragmentation, a library's caches) retires after its job and is replaced. Jobs wait in submission order for a free worker; the daemon decides in
what order answers land (daemon/service.py).
"""
from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field

from daemon.judging.isolate import death, judge_job, kill_group, limit_memory, reuse_freed_memory

log = logging.getLogger("ribao")
RSS_GROWTH = 96 * 1024**2       # a worker whose RSS grew this much past its start is replaced after the job
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Job:
    ident: int
    path: str
    received: object = None
    workdir: str | None = None
    overrides: dict | None = None
    thumbs_dir: str | None = None
    limits: object = None
    seconds: float = 90.0                 # killed after this long (Limits.kill_seconds)
    blobs_dir: str | None = None          # the store's blobs: attachments it keeps already are not written
    hash_raw: bool = False                # take the raw mail's sha256 too (it was fetched without)
    extra_emails: dict | None = None      # the roster's staff-tied addresses, sent when they changed


@dataclass
class Ticket:
    """One submitted job: `outcome` is set once the worker answered, died or ran out of time (the
    pool keeps the job's time limit, so waiting on a ticket always ends)."""
    job: Job
    pool: "Pool"
    started: float | None = None          # when a worker took it
    outcome: tuple | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def wait(self, _seconds: float | None = None) -> bool:
        """Run the pool until this job is done; True. (Judging.wait's signature: the limit is the job's.)"""
        while not self.done:
            self.pool.service()
        return True

    def result(self, _seconds: float | None = None) -> tuple:
        self.wait()
        return self.outcome


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


def _serve(conn, others, profile, roster, memory_bytes: int) -> None:
    """A worker's life: jobs in, answers out, until the pipe closes or it grew by RSS_GROWTH. (It starts
    at the daemon's RSS, the pages it shares since the fork: the growth is its own.)"""
    for other in others:                  # the daemon's pipe ends, inherited by the fork: held, the worker
        other.close()                     # would never see the daemon go
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the terminal's ^C is the daemon's to handle
    os.setpgid(0, 0)
    limit_memory(memory_bytes)
    reuse_freed_memory()
    ceiling = _rss() + RSS_GROWTH
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return                        # the daemon is gone
        if job is None:
            return
        if job.extra_emails is not None:
            roster.extra_emails = job.extra_emails
        result = judge_job(job.path, profile, roster, job.received, job.workdir, job.overrides,
                           job.thumbs_dir, job.limits, job.blobs_dir, job.hash_raw)
        retire = _rss() > ceiling
        conn.send((job.ident, result, retire))
        if retire:
            return


@dataclass
class _Worker:
    proc: object
    conn: object
    ticket: Ticket | None = None
    emails: dict | None = field(default=None)      # the extra_emails it has


class Pool:
    def __init__(self, profile, roster, *, size: int = 0, memory_bytes: int = 1024**3):
        self.profile, self.roster, self.memory_bytes = profile, roster, memory_bytes
        self.size = max(2, size or len(os.sched_getaffinity(0)))
        self.ctx = multiprocessing.get_context("fork")
        self.workers: list[_Worker] = []
        self.queue: deque[Ticket] = deque()
        self.started = 0                  # workers started, replacements included

    # ---------------------------------------------------------------- workers
    def _start(self) -> _Worker:
        mine, theirs = self.ctx.Pipe()
        others = [mine, *(w.conn for w in self.workers)]     # the daemon's ends: the worker must not hold them
        proc = self.ctx.Process(target=_serve, args=(theirs, others, self.profile, self.roster, self.memory_bytes),
                                daemon=True, name="ribao-judge")
        proc.start()
        theirs.close()
        try:
            os.setpgid(proc.pid, proc.pid)    # the worker does so too; whoever is first
        except OSError:
            pass
        self.started += 1
        w = _Worker(proc, mine)
        self.workers.append(w)
        return w

    def _retire(self, w: _Worker, kill: bool = False) -> None:
        if kill:
            kill_group(w.proc)
        w.proc.join(5)
        w.conn.close()
        self.workers.remove(w)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers]

    # ---------------------------------------------------------------- jobs
    def submit(self, job: Job) -> Ticket:
        t = Ticket(job, self)
        self.queue.append(t)
        self._dispatch()
        return t

    def _dispatch(self) -> None:
        while self.queue:
            w = next((w for w in self.workers if w.ticket is None), None)
            if w is None and len(self.workers) < self.size:
                w = self._start()
            if w is None:
                return
            t = self.queue.popleft()
            job = t.job
            emails = dict(self.roster.extra_emails)
            job.extra_emails = emails if emails != w.emails else None
            try:
                w.conn.send(job)
            except OSError:               # died while idle: replace it, try again
                self._retire(w, kill=True)
                self.queue.appendleft(t)
                continue
            w.emails, w.ticket, t.started = emails, t, time.monotonic()

    def busy(self) -> int:
        return sum(w.ticket is not None for w in self.workers) + len(self.queue)

    def service(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout`) for answers; take them, kill jobs out of time, replace the dead."""
        busy = [w for w in self.workers if w.ticket is not None]
        if not busy:
            self._dispatch()
            return
        now = time.monotonic()
        due = min(w.ticket.started + w.ticket.job.seconds for w in busy)
        wait = max(0.0, due - now) if timeout is None else max(0.0, min(timeout, due - now))
        ready = multiprocessing.connection.wait([w.conn for w in busy], wait)
        for w in busy:
            t = w.ticket
            if w.conn in ready:
                try:
                    ident, result, retire = w.conn.recv()
                except (EOFError, OSError):
                    w.proc.join(1)
                    t.outcome = death(w.proc.exitcode)
                    log.warning("judging worker %s ended while judging message %s (%s): replaced",
                                w.proc.pid, t.job.ident, t.outcome[1])
                    self._retire(w, kill=True)
                    continue
                t.outcome, w.ticket = result, None
                if retire:
                    log.info("judging worker %s grew by more than %d MB: replaced", w.proc.pid, RSS_GROWTH >> 20)
                    self._retire(w)
            elif time.monotonic() >= t.started + t.job.seconds:
                t.outcome = ("error", f"judging took longer than {t.job.seconds:.0f} s; stopped", "")
                log.warning("judging worker %s stopped: message %s took longer than %.0f s; replaced",
                            w.proc.pid, t.job.ident, t.job.seconds)
                self._retire(w, kill=True)
        self._dispatch()

    def close(self) -> None:
        """Idle workers are told to stop; busy ones (a stop mid-message) are killed with their group."""
        self.queue.clear()
        for w in list(self.workers):
            if w.ticket is None:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
                self._retire(w)
            else:
                w.ticket.outcome = ("interrupted", "the daemon stopped while it was judged", "")
                self._retire(w, kill=True)
