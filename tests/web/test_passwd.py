"""`ribao web passwd NAME [--role viewer|editor] [--disable] [--config FILE]` as an admin runs it:
one line from standard input, or asked twice on a terminal; an empty password is refused (exit 2)."""
from __future__ import annotations

import os
import select
import sqlite3
import subprocess
import sys
import time

from tests.builders.config import write_config
from tests.builders.maildir import new_maildir
from tests.daemon.conftest import ROOT
from tests.web.conftest import passwd


def _cfg(tmp_path):
    return write_config(tmp_path / "c", maildir=new_maildir(tmp_path / "md"))


def accounts(cfg):
    conn = sqlite3.connect(cfg.parent / "data" / "ribao.db")
    try:
        return {n: (h, r, d) for n, h, r, d in conn.execute("select name, hash, role, disabled from web_accounts")}
    finally:
        conn.close()


def test_passwd_from_stdin(tmp_path):
    cfg = _cfg(tmp_path)
    r = passwd(cfg, "wang", "")
    assert r.returncode == 2 and r.stderr.strip() == "ribao: empty password refused"
    assert not (cfg.parent / "data" / "ribao.db").exists() or accounts(cfg) == {}

    r = passwd(cfg, "wang", "first-password-1")
    assert r.returncode == 0, r.stderr
    assert "created (viewer)" in r.stdout
    h, role, disabled = accounts(cfg)["wang"]
    assert role == "viewer" and disabled == 0 and h.startswith("scrypt$") and "first-password-1" not in h

    r = passwd(cfg, "wang", "second-password-2", "--role", "editor")
    assert r.returncode == 0 and accounts(cfg)["wang"][1] == "editor"
    r = passwd(cfg, "wang", "third-password-3")                      # keeps its role
    assert r.returncode == 0 and accounts(cfg)["wang"][1] == "editor" and "password changed" in r.stdout

    r = passwd(cfg, "wang", "", "--disable")
    assert r.returncode == 0 and accounts(cfg)["wang"][2] == 1
    r = passwd(cfg, "nobody", "", "--disable")
    assert r.returncode == 2 and "no account 'nobody'" in r.stderr
    r = passwd(cfg, "wang", "x", "--role", "admin")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = passwd(cfg, "wang", "short")
    assert r.returncode == 0 and "short" in r.stderr and accounts(cfg)["wang"][2] == 0     # unlocked again


def _on_a_terminal(cfg, name: str, answers: list[str]) -> tuple[int, str]:
    """Run passwd with a pseudo-terminal as its controlling terminal and type `answers` at the prompts."""
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)

    def own_terminal():
        os.setsid()
        os.close(os.open(slave_name, os.O_RDWR))         # opened after setsid: now the controlling terminal

    p = subprocess.Popen([sys.executable, "-m", "daemon", "web", "passwd", name, "--config", str(cfg)], cwd=ROOT,
                         stdin=slave, stdout=slave, stderr=slave, preexec_fn=own_terminal)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    pending, answered = list(answers), 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:                                   # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        prompts = out.decode("utf-8", "replace").count("：")      # answer each prompt once it is shown
        while pending and answered < prompts:
            os.write(master, (pending.pop(0) + "\n").encode())
            answered += 1
    if p.poll() is None:
        p.kill()
    p.wait(30)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def test_passwd_on_a_terminal_asks_twice(tmp_path):
    cfg = _cfg(tmp_path)
    code, out = _on_a_terminal(cfg, "li", ["typed-pass-1", "typed-pass-2"])
    assert code == 2 and "differ" in out and "typed-pass" not in out       # hidden, and nothing changed
    assert not (cfg.parent / "data" / "ribao.db").exists() or "li" not in accounts(cfg)
    code, out = _on_a_terminal(cfg, "li", ["typed-pass-1", "typed-pass-1"])
    assert code == 0, out
    assert out.count("：") >= 2 and "typed-pass" not in out
    assert accounts(cfg)["li"][1] == "viewer"
