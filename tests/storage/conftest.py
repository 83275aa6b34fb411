"""A week made by the daemon itself: `ribao run --once` over tests/builders/week.py's Maildir."""
from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.builders.config import write_config
from tests.builders.week import week_maildir
from tests.daemon.conftest import ribao


class Week:
    def __init__(self, tmp: Path, smtp=None):
        self.md, self.info = week_maildir(tmp)
        self.cfg = write_config(tmp / "c", maildir=self.md, smtp=smtp)
        self.data = self.cfg.parent / "data"

    def run(self, *args, ok: bool = True) -> subprocess.CompletedProcess:
        r = ribao(*args, "--config", str(self.cfg))
        if ok:
            assert r.returncode == 0, r.stderr
        return r

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "ribao.db")

    def storage(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)["storage"]


def du(*paths: Path) -> int:
    """`du -sbc`: apparent bytes, each hard-linked file once across all the paths."""
    out = subprocess.run(["du", "-sbc", *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1].split()[0])


@pytest.fixture
def week(tmp_path) -> Week:
    w = Week(tmp_path)
    w.run("run", "--once")
    return w
