"""Run the real daemon (`ribao run --once` in a subprocess, or the Service in-process) against the
real loopback Dovecot and SMTP servers from tests/servers."""
from __future__ import annotations

import os
import subprocess
import sys
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
