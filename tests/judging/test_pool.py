"""The judging workers (daemon/judging/pool.py): they live across jobs, keep each job's time limit,
and a worker that dies, hangs or grows is replaced while the others go on.

The jobs here run a stand-in for judge_job (patched before the pool forks, so the workers have it):
what is tested is the pool's bookkeeping, not judging (tests/daemon and tests/hostile judge for real
through the pool)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from daemon.judging import pool as pool_mod
from daemon.judging.pool import Job, Pool
from daemon.judging.roster import Roster


def fake_judge(path, profile, roster, received, workdir, overrides, thumbs_dir, limits, blobs_dir=None, hash_raw=False):
    """Does what the job's path says: ok, crash, hang, grow, term; answers with its pid and the
    roster's staff-tied addresses as the worker sees them."""
    if path == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if path == "hang":
        time.sleep(600)
    if path == "slow":
        time.sleep(0.5)
    if path == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    if path == "spawn-and-hang":
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        with open(workdir, "w") as fh:
            fh.write(str(child))
        time.sleep(600)
    if path == "grow":
        global ballast
        ballast = bytearray(64 * 1024**2)      # touched: resident
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1
    return ("ok", {"pid": os.getpid(), "path": path, "emails": dict(roster.extra_emails)}, {})


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.setattr(pool_mod, "judge_job", fake_judge)
    p = Pool(profile=None, roster=Roster(), size=2)
    yield p
    p.close()


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def job(path: str, ident: int = 1, seconds: float = 30.0, **kw) -> Job:
    return Job(ident=ident, path=path, seconds=seconds, **kw)


def test_workers_live_across_jobs(pool):
    tickets = [pool.submit(job("ok", i)) for i in range(8)]
    results = [t.result() for t in tickets]
    assert all(r[0] == "ok" for r in results)
    pids = {r[1]["pid"] for r in results}
    assert len(pids) == 2 and pids == set(pool.pids()) and pool.started == 2
    assert os.getpid() not in pids


def test_a_crash_costs_only_its_job_and_the_worker_is_replaced(pool, caplog):
    before = [pool.submit(job("ok", i)) for i in range(2)]
    crash = pool.submit(job("crash", 9))
    after = [pool.submit(job("ok", 10 + i)) for i in range(3)]
    assert [t.result()[0] for t in before + after] == ["ok"] * 5
    kind, reason, _ = crash.result()
    assert kind == "error" and "died" in reason and "signal 9" in reason
    assert "ended while judging message 9" in caplog.text and "replaced" in caplog.text     # ops see it
    # replaced when work needs it: two slow jobs at once run on two workers again
    both = [pool.submit(job("slow", 20 + i)) for i in range(2)]
    assert len({t.result()[1]["pid"] for t in both}) == 2 and len(pool.workers) == 2 and pool.started == 3


def test_a_hang_is_killed_at_the_jobs_time_limit_with_what_it_started(pool, tmp_path):
    marker = tmp_path / "child.pid"
    hang = pool.submit(job("spawn-and-hang", 1, seconds=2.0, workdir=str(marker)))
    other = pool.submit(job("ok", 2))
    assert other.result()[0] == "ok"              # the other worker went on meanwhile
    kind, reason, _ = hang.result()
    assert kind == "error" and "longer than 2 s" in reason
    assert gone(int(marker.read_text())), "the hung job's own child survived"     # killed with its group
    assert pool.submit(job("ok", 3)).result()[0] == "ok"


def test_a_worker_past_the_memory_ceiling_retires_after_answering(pool, monkeypatch):
    first = pool.submit(job("ok", 1)).result()[1]["pid"]
    assert first in pool.pids()                     # no growth: it stays
    pool.close()
    monkeypatch.setattr(pool_mod, "RSS_GROWTH", 32 * 1024**2)     # "grow" adds 64 MB
    grown = pool.submit(job("grow", 2)).result()
    assert grown[0] == "ok"
    again = pool.submit(job("ok", 3)).result()
    assert again[0] == "ok" and again[1]["pid"] not in (grown[1]["pid"], first)
    assert grown[1]["pid"] not in pool.pids()


def test_a_stopped_worker_is_interrupted_not_a_fault_of_the_mail(pool):
    kind, reason, _ = pool.submit(job("term", 1)).result()
    assert kind == "interrupted" and "signal 15" in reason
    assert pool.submit(job("ok", 2)).result()[0] == "ok"


def test_staff_tied_addresses_reach_every_worker(pool):
    pool.roster.extra_emails = {"teacher@qq.com": "集美职校"}
    seen = [t.result()[1]["emails"] for t in [pool.submit(job("ok", i)) for i in range(4)]]
    assert seen == [{"teacher@qq.com": "集美职校"}] * 4
    pool.roster.extra_emails = {}
    seen = [t.result()[1]["emails"] for t in [pool.submit(job("ok", i)) for i in range(4)]]
    assert seen == [{}] * 4


def test_workers_end_when_the_daemon_is_killed(monkeypatch, tmp_path):
    """kill -9 of the daemon: its workers see their pipe close and exit (no orphans judging on)."""
    monkeypatch.setattr(pool_mod, "judge_job", fake_judge)
    r, w = os.pipe()
    daemon = os.fork()
    if daemon == 0:                              # the "daemon": starts two workers, reports their pids
        os.close(r)
        p = Pool(profile=None, roster=Roster(), size=2)
        for t in [p.submit(job("ok", i)) for i in range(2)]:
            t.result()
        os.write(w, " ".join(map(str, p.pids())).encode())
        os.close(w)
        time.sleep(600)
        os._exit(0)
    os.close(w)
    pids = [int(x) for x in os.read(r, 100).split()]
    os.close(r)
    assert len(pids) == 2
    os.kill(daemon, signal.SIGKILL)
    os.waitpid(daemon, 0)
    assert all(gone(pid) for pid in pids), "a worker outlived the daemon"
