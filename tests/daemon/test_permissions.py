"""What ribao writes is for staff only: every file 0600 and every folder 0700, whatever the umask it
is started with (cron and shells often give 022, which would make replies and reports world-readable)."""
from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import RIBAO, ROOT


def ribao_022(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*RIBAO, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, umask=0o022)


def loose(*roots: Path) -> list[str]:
    """Everything under roots (the roots too) that others could read: files not 0600, folders not 0700."""
    bad = []
    for root in roots:
        for p in [root, *root.rglob("*")]:
            if p.is_symlink():
                continue
            mode, want = stat.S_IMODE(p.stat().st_mode), 0o700 if p.is_dir() else 0o600
            if mode != want:
                bad.append(f"{oct(mode)} {p}")
    return bad


def test_run_digest_and_summary_write_private_files_under_umask_022(tmp_path):
    md = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    mail = md / "new" / "1684000000.M1P1.test"
    mail.write_bytes(build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(1000)))
    mail.chmod(0o644)                              # as a mail server delivers it
    cfg = write_config(tmp_path / "ribao", maildir=md)
    r = ribao_022("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    replies, data = cfg.parent / "replies", cfg.parent / "data"
    assert len(list(replies.glob("*.eml"))) == 1 and (data / "ribao.db").exists()
    filed = [p for p in md.iterdir() if p.name.startswith(".")]
    assert filed and list(md.rglob(".*/cur/*"))    # the report was filed into a Maildir++ folder
    assert loose(replies, data, md / "ribao-uidlist", *filed) == []

    reports = tmp_path / "out" / "reports"         # --out folders that don't exist yet are made 0700
    r = ribao_022("digest", "--config", str(cfg), "--date", "2023-05-15", "--out", str(reports / "d.html"))
    assert r.returncode == 0, r.stderr
    assert (reports / "d.html").exists() and (reports / "d.txt").exists()
    existing = reports / "w.xlsx"
    existing.write_bytes(b"old")
    existing.chmod(0o644)                          # written before, under another umask
    r = ribao_022("summary", "--config", str(cfg), "--out", str(existing))
    assert r.returncode == 0, r.stderr
    assert loose(tmp_path / "out") == []


def test_demo_writes_private_files_under_umask_022(tmp_path):
    out = tmp_path / "demo"
    r = ribao_022("demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert len(list((out / "replies").glob("*.eml"))) > 10
    assert loose(out) == []
