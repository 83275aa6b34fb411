"""Faults: servers that go away, connections cut mid-transfer, a full disk, a locked database and
`kill -9`. Whatever happens, every message ends judged exactly once, no reply goes out twice, and
the next run resumes where the last one stopped.

Random points are seeded (CHAOS_SEED, KILL_SEED), so a failure can be replayed.
"""
from __future__ import annotations

import hashlib
import os
import random
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daemon.judging.inspect import archive
from tests.builders.config import write_config
from tests.builders.files import make_zip
from tests.builders.mail import build_mail, report_text
from tests.builders.media import attachment, context, make_jpeg
from tests.hostile.conftest import ROOT, fill_maildir, rows

CHAOS_SEED = 20230515
KILL_SEED = 8
RIBAO = [sys.executable, "-m", "daemon"]


def run(cfg, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*RIBAO, "run", "--once", "--config", str(cfg)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def reports(n: int, photo: bytes, prefix: str) -> list[bytes]:
    """n reports from n senders, so "nobody answered twice" is "no recipient twice"."""
    return [build_mail(subject=f"集美职校一日一报5月{14 + i % 7}日", sender=f"{prefix}{i}@school.cn",
                       body=report_text(1000, "集美职校") + "\n照片：开放日", message_id=f"<{prefix}{i}@x>",
                       attachments=[("开放日.jpg", photo, "image/jpeg")]) for i in range(n)]


def assert_each_once(cfg, smtp, mids: list[str]) -> None:
    got = rows(cfg, "select message_id, state from messages where duplicate_of is null")
    assert sorted(m for m, _ in got) == sorted(mids), "a message was lost or recorded twice"
    assert {s for _, s in got} == {"done"}, rows(cfg, "select message_id, state, attempts, reason from messages "
                                                     "where state != 'done'")
    per_message = rows(cfg, "select m.message_id, count(o.id), group_concat(o.state) from messages m "
                            "left join outbox o on o.message = m.id and o.kind = 'reply' group by m.id")
    assert all(n == 1 for _, n, _ in per_message), per_message      # one reply decision each, none lost
    time.sleep(0.5)
    rcpts = [m.rcpt_tos[0] for m in smtp.messages]
    assert len(rcpts) == len(set(rcpts)), "somebody was answered twice"
    sent = {r for (r,) in rows(cfg, "select recipient from outbox where state = 'sent'")}
    uncertain = {r for (r,) in rows(cfg, "select recipient from outbox where state = 'uncertain'")}
    assert sent <= set(rcpts) <= sent | uncertain


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> bytes:
    return make_jpeg(tmp_path_factory.mktemp("ph") / "p.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()


def test_imap_and_smtp_restarted_at_random_points(tmp_path, dovecot, smtp_server, photo):
    raws = reports(18, photo, "chaos")
    for raw in raws:
        dovecot.append(raw)
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    rng = random.Random(CHAOS_SEED)
    done = threading.Event()
    events = []

    def chaos():
        try:
            for _ in range(6):
                time.sleep(rng.uniform(0.2, 1.5))
                server = rng.choice(["imap", "imap", "smtp"])
                if server == "imap":
                    (dovecot.kill if rng.random() < 0.5 else dovecot.stop)()
                    time.sleep(rng.uniform(0.1, 0.8))
                    dovecot.start()
                else:
                    smtp_server.stop()
                    time.sleep(rng.uniform(0.1, 0.8))
                    smtp_server.start()
                events.append(server)
        finally:
            done.set()

    thread = threading.Thread(target=chaos, daemon=True)
    thread.start()
    outcomes = []
    while not done.is_set() and len(outcomes) < 30:
        r = run(cfg)
        outcomes.append(r)
    thread.join(30)
    assert not thread.is_alive() and len(events) == 6
    for _ in range(4):                  # servers are up again: finish the work
        outcomes.append(run(cfg))
    for r in outcomes:
        assert r.returncode in (0, 2) and "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert outcomes[-1].returncode == 0
    assert any(r.returncode == 2 for r in outcomes), "no run ever saw a server go away: the test tested nothing"
    assert_each_once(cfg, smtp_server, [f"<chaos{i}@x>" for i in range(len(raws))])
    print(f"\nchaos: {events}, {len(outcomes)} runs, exit codes {[r.returncode for r in outcomes]}")


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of Dovecot. While armed, it resets the connection (both
    sides, RST) once `cut_after` bytes have gone from the server to the client."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_after: int | None = None
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client, server):
        """Both directions in one thread, so the cut closes sockets nobody else is blocked on (an RST)."""
        down = 0
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 30)
                if not ready:
                    break
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        raise EOFError
                    (client if src is server else server).sendall(data)
                    if src is server:
                        down += len(data)
                        if self.cut_after is not None and down >= self.cut_after:
                            self.cut_after, self.cuts = None, self.cuts + 1
                            raise EOFError
        except (OSError, EOFError):
            pass
        for s in (client, server):
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def close(self):
        self.listener.close()


def test_connection_cut_mid_fetch_loses_and_doubles_nothing(tmp_path, dovecot, smtp_server, photo):
    big = build_mail(subject="集美职校一日一报5月15日", sender="big@school.cn", body=report_text(1000, "集美职校"),
                     message_id="<big@x>", attachments=[(f"照片{i}.jpg", photo, "image/jpeg") for i in range(3)])
    small = [build_mail(subject="集美职校一日一报5月15日", sender=f"s{i}@school.cn", body=report_text(1000, "集美职校"),
                        message_id=f"<small{i}@x>") for i in range(2)]
    for raw in (small[0], big, small[1]):
        dovecot.append(raw)
    proxy = CuttingProxy(dovecot.port)

    class ViaProxy:
        port, user, password = proxy.port, dovecot.user, dovecot.password

    cfg = write_config(tmp_path / "ribao", dovecot=ViaProxy, smtp=smtp_server)
    try:
        proxy.cut_after = len(big) // 2              # well inside the big message's literal
        first = run(cfg)
        assert proxy.cuts == 1
        assert first.returncode == 2 and "Traceback" not in first.stderr
        assert f"IMAP server 127.0.0.1:{proxy.port}" in first.stderr.splitlines()[-1]
        # small mail is fetched first (daemon/intake/order.py): both were answered before the big one broke
        assert sorted(rows(cfg, "select message_id, state from messages")) == [("<small0@x>", "done"),
                                                                               ("<small1@x>", "done")]
        assert list((cfg.parent / "data" / "spool").iterdir()) == []      # no half message left about
        second = run(cfg)
        assert second.returncode == 0, second.stderr
    finally:
        proxy.close()
    assert_each_once(cfg, smtp_server, ["<small0@x>", "<big@x>", "<small1@x>"])
    with dovecot.client() as c:
        c.select_folder("INBOX", readonly=True)
        served = c.fetch([2], ["BODY.PEEK[]"])[2][b"BODY[]"]
    [(raw_path,)] = rows(cfg, "select raw_path from messages where message_id = '<big@x>'")
    assert hashlib.sha256(Path(raw_path).read_bytes()).digest() == hashlib.sha256(served).digest()


def test_disk_short_of_a_mails_budget_keeps_it_and_the_next_run_resumes(tmp_path, dovecot, smtp_server, photo,
                                                                        tmpfs):
    """Judging a mail starts only with its extraction budget free (16 × its size, at least 16 MB):
    a disk short of it keeps that mail `received` with no attempt counted, and the others go on."""
    dovecot.append(build_mail(subject="工商旅游一日一报5月15日", sender="gslx@163.com", body=report_text(1000),
                              message_id="<a@x>"))
    dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com",
                              body=report_text(1000, "集美职校") + "\n照片：开放日合影", message_id="<b@x>",
                              attachments=[("开放日合影.jpg", photo, "image/jpeg")]))
    dovecot.append(build_mail(subject="信息学校一日一报5月15日", sender="xxxx@126.com",
                              body=report_text(1000, "信息学校"), message_id="<c@x>"))
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    data = tmpfs(cfg.parent / "data", "30m")     # room for a small mail's 16 MB budget, not for b's 58 MB
    first = run(cfg)
    assert first.returncode == 0 and "internal error" not in first.stderr, first.stderr
    assert "waits for disk space" in first.stderr and "1 waiting for disk space" in first.stderr
    states = {m: (s, n) for m, s, n in rows(cfg, "select message_id, state, attempts from messages")}
    assert states == {"<a@x>": ("done", 1), "<b@x>": ("received", 0), "<c@x>": ("done", 1)}
    subprocess.run(["mount", "-o", "remount,size=80m", str(data)], check=True)      # staff make room
    second = run(cfg)
    assert second.returncode == 0, second.stderr
    assert_each_once(cfg, smtp_server, ["<a@x>", "<b@x>", "<c@x>"])
    [(verdict, stored)] = rows(cfg, "select m.verdict, t.stored_path from messages m join materials t "
                                    "on t.message = m.id where m.message_id = '<b@x>' and t.type = 'photo'")
    assert verdict == "ok" and stored and (data / stored).is_file()


def test_disk_full_while_unpacking_is_not_a_corrupt_archive(tmp_path, tmpfs):
    work = tmpfs(tmp_path / "small", "1m")
    zipped = make_zip(tmp_path / "a.zip", {"视频.bin": os.urandom(3 << 20)})
    with pytest.raises(OSError) as e:
        archive.inspect(attachment(zipped, "材料.zip"), "zip", context("puyang-2023", work))
    assert e.value.errno == 28


def test_database_locked_by_another_connection_only_waits(tmp_path, dovecot, smtp_server, photo):
    for raw in reports(12, photo, "lock"):
        dovecot.append(raw)
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    db = cfg.parent / "data" / "ribao.db"
    proc = subprocess.Popen([*RIBAO, "run", "--once", "--config", str(cfg)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    reader = writer = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (db.exists() and _count(db) >= 2):
            time.sleep(0.05)
        assert proc.poll() is None, "ribao finished before the lock could be taken"
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("select count(*) from messages").fetchone()          # a long read transaction
        writer = sqlite3.connect(db, isolation_level=None, timeout=30)
        writer.execute("BEGIN IMMEDIATE")                                   # and the write lock
        held = _count(db)
        time.sleep(3)
        assert _count(db) == held and proc.poll() is None                  # ribao waits, it doesn't fail
        writer.execute("COMMIT")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        for c in (writer, reader):
            if c is not None:
                c.close()
    assert proc.returncode == 0 and "locked" not in err, err
    assert_each_once(cfg, smtp_server, [f"<lock{i}@x>" for i in range(12)])


def _count(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as c:
        try:
            return c.execute("select count(*) from messages").fetchone()[0]
        except sqlite3.OperationalError:       # the schema is not there yet
            return 0


def test_kill_9_at_random_points_then_a_clean_run(tmp_path, dovecot, smtp_server, photo):
    n = 40
    fill_maildir(dovecot, reports(n, photo, "k9"))
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    rng = random.Random(KILL_SEED)
    done_after = []
    for _ in range(8):
        proc = subprocess.Popen([*RIBAO, "run", "--once", "--config", str(cfg)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.3))        # start-up alone takes ~0.6 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (cfg.parent / "data" / "ribao.db").exists():
            try:
                done_after.append(rows(cfg, "select count(*) from messages where state = 'done'")[0][0])
            except sqlite3.OperationalError:     # killed before the schema was written
                done_after.append(0)
    assert done_after and done_after[0] < n, "the first kill came too late to test anything"
    final = run(cfg)
    assert final.returncode == 0, final.stderr
    assert_each_once(cfg, smtp_server, [f"<k9{i}@x>" for i in range(n)])
    spool = cfg.parent / "data" / "spool"
    for left in spool.iterdir():               # half-fetched mail a kill left behind: an hour later...
        os.utime(left, (time.time() - 7200, time.time() - 7200))
    assert run(cfg).returncode == 0 and list(spool.iterdir()) == []      # ...the next poll drops it
    print(f"\nkill -9 x8: messages done after each kill {done_after}")
