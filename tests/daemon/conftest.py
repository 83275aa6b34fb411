"""Run the real daemon (`ribao run --once` in a subprocess, or the Service in-process) against the
real loopback Dovecot and SMTP servers from tests/servers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from daemon import config as configs
from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.service import Service
from tests.builders.config import write_config

RIBAO = [sys.executable, "-m", "daemon"]
ROOT = Path(__file__).resolve().parents[2]


def ribao(*args, cwd=None, timeout=120, env=None) -> subprocess.CompletedProcess:
    e = dict(os.environ, **(env or {}))
    return subprocess.run([*RIBAO, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=e)


def service(config_path: Path, **kw) -> Service:
    cfg = configs.load(config_path)
    return Service(cfg, profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster), **kw)


@pytest.fixture
def setup(tmp_path, dovecot, smtp_server):
    """(config path, dovecot, smtp) for a daemon talking to real servers."""
    return write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server), dovecot, smtp_server


class Running:
    """`ribao run` (the service, not --once) as ops start it, its stderr in a file; stopped by SIGTERM
    (killed if it does not stop) when the with-block ends."""

    def __init__(self, config_path: Path):
        self.config_path = config_path
        self.log_path = config_path.parent / "ribao-run.log"

    def __enter__(self) -> "Running":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([*RIBAO, "run", "--config", str(self.config_path)], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict:
        """`ribao status --json`; {"mailbox": {}} while the starting daemon has not made its database yet."""
        r = ribao("status", "--json", "--config", str(self.config_path))
        if r.returncode == 2 and "no database yet" in r.stderr:
            return {"mailbox": {}}
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait_until(self, what, timeout: float = 30.0, every: float = 0.3):
        """Poll what() until it is truthy; AssertionError naming the daemon's log after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            got = what()
            if got:
                return got
            assert self.proc.poll() is None, f"ribao run exited {self.proc.returncode}:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"timed out; ribao run's log:\n{self.log()[-3000:]}"
            time.sleep(every)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def __exit__(self, *exc) -> None:
        self.stop()
