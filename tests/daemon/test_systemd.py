"""The service as systemd runs it: READY/WATCHDOG/STOPPING over $NOTIFY_SOCKET, journald levels,
SIGTERM, and a unit file with the hardening the issue asks for."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.daemon.conftest import RIBAO, ROOT


def test_notify_ready_watchdog_stopping(setup, tmp_path):
    cfg, dovecot, smtp = setup
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(20)
    env = dict(os.environ, NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="2000000", JOURNAL_STREAM="8:1")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([*RIBAO, "run", "--config", str(cfg)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not ({"READY=1", "WATCHDOG=1"} <= set(seen)):
            seen.extend(sock.recv(4096).decode().split("\n"))
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in seen and time.monotonic() < deadline + 10:
            seen.extend(sock.recv(4096).decode().split("\n"))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert {"READY=1", "WATCHDOG=1", "STOPPING=1"} <= set(seen)
    assert proc.returncode == 0
    assert "<6>ribao: ribao running" in err          # journald reads the level from the prefix


def test_unit_file_hardening():
    unit = (Path(ROOT) / "deploy" / "ribao.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=ribao", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "ExecStart=/opt/ribao/.venv/bin/ribao run"):
        assert line in unit, line


def test_watchdog_stops_pinging_a_wedged_poll(tmp_path, monkeypatch):
    """A poll stuck longer than judging may take gets no ping (systemd restarts it); an idle one does."""
    import time as _time

    from daemon import config, profile
    from daemon import runner as runner_mod
    from daemon.judging import roster
    from tests.builders.config import write_config
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    cfg = config.load(write_config(tmp_path / "c", maildir=md))
    r = runner_mod.Runner(cfg, profile.load("xiamen-2023"), roster.load(cfg.rules.roster))
    pings = []
    monkeypatch.setattr(runner_mod.systemd, "notify", lambda *s: pings.append(s))
    r.watchdog()
    assert pings == [("WATCHDOG=1",)]
    r.polling, r.service.progress = True, _time.monotonic() - r.service.judge_seconds - 301
    r.watchdog()
    assert pings == [("WATCHDOG=1",)]
    r.service.progress = _time.monotonic()
    r.watchdog()
    assert len(pings) == 2
    r.service.close()
