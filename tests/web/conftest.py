"""The staff desk as ops run it: `python -m daemon web --listen 127.0.0.1:PORT --config …` in a
subprocess, over a database the daemon made (`python -m daemon run --once`), driven by a real
headless Chromium (Debian's /usr/bin/chromium through playwright). A missing Chromium fails."""
from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon.conftest import ROOT, ribao
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = ROOT / "tests" / "artefacts" / "web"
# as root, with no network: no sandbox, and nothing that phones home (see the machine notes)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
EDITOR, VIEWER = ("alice", "correct-horse-1"), ("bob", "battery-staple-2")


def passwd(cfg: Path, name: str, password: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", "web", "passwd", name, *args, "--config", str(cfg)],
                          input=password + "\n", capture_output=True, text=True, timeout=60, cwd=ROOT)


class Desk:
    """A running `ribao web`; .url, .db() for a fresh connection to its database."""

    def __init__(self, cfg: Path, listen: str | None = None):
        self.cfg = cfg
        self.host, self.port = "127.0.0.1", free_port()
        self.listen = listen or f"{self.host}:{self.port}"
        self.url = f"http://{self.listen}"
        self.log = cfg.parent / "desk.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "daemon", "web", "--listen", self.listen, "--config", str(cfg)],
                                     cwd=ROOT, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, seconds: float = 30) -> None:
        host, port = self.listen.rsplit(":", 1)
        host = host.strip("[]")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ribao web exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"ribao web did not listen on {self.listen}: {self.log.read_text()[-2000:]}")

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.cfg.parent / "data" / "ribao.db")

    def rows(self, sql: str, args=()) -> list[tuple]:
        conn = self.db()
        try:
            return conn.execute(sql, list(args)).fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_desk():
    """start_desk(cfg, listen=None) -> a running Desk with an editor and a viewer account."""
    made = []

    def start(cfg: Path, listen: str | None = None) -> Desk:
        for (name, pw), role in ((EDITOR, "editor"), (VIEWER, "viewer")):
            r = passwd(cfg, name, pw, "--role", role)
            assert r.returncode == 0, r.stderr
        desk = Desk(cfg, listen)
        made.append(desk)
        return desk

    yield start
    for desk in made:
        desk.stop()


def run_daemon(cfg: Path) -> None:
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, through playwright (never a browser playwright downloads)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium (make system)"
    from playwright.sync_api import sync_playwright  # a missing playwright fails too: pip install -e '.[test]'
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def browse(chromium):
    """browse(width=1280) -> a new page in its own cookie jar."""
    contexts = []

    def open_page(width: int = 1280, height: int = 900):
        ctx = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(ctx)
        return ctx.new_page()

    yield open_page
    for ctx in contexts:
        ctx.close()


def login(page, desk: Desk, who=EDITOR, then: str = "/"):
    page.goto(desk.url + then)
    assert "/login" in page.url
    page.fill("input[name=name]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]
    return page


def no_overflow(page) -> tuple[int, int]:
    """(document width, viewport width) of the page as laid out now."""
    return tuple(page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"))
