"""Third-party mail is never a report: invitations, signed mail, bounces, newsletters, spam and
library torture tests from public test fixtures (tests/corpus/third_party/, sources in its README)
must all be judged `other` or `auto`, and none may crash the judge.

The bureau's address is public, so its mailbox gets all of this; a `report` verdict would send a
stranger 【请修改】 and file their mail under the week. Every file is judged in-process (fast);
a handful also go through `ribao check --json`, the path people use.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import traceback
from pathlib import Path

from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.judging.judge import judge_file
from tests.builders.mail import TZ

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "third_party"
ROSTER = ROOT / "demo" / "roster.csv"
RECEIVED = dt.datetime(2023, 5, 16, 9, 0, tzinfo=TZ)      # inside the xiamen-2023 week
NOT_MAIL = {"README.md", ".gitattributes"}
# One of each kind, through the CLI: an invitation, a PGP-signed mail, GB2312 text, a bounce,
# and a From: header deep enough to exhaust the email package's recursion.
CLI_SAMPLE = ["james/eml__yahooInvitation.eml", "mail-mime-parser/m4001.txt", "spamassassin/nice__cjk__gb2312.1",
              "sisimai/rhost-tencent-01.eml", "mimekit/messages__stack-overflow.txt"]


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in NOT_MAIL)


def describe(rel: str, verdict) -> str:
    items = ", ".join(f"{m.file} ({m.type}/{m.format})" for m in verdict.items[:6]) or "no files"
    return (f"{rel}: kind=report school={verdict.school} deliverables={list(verdict.deliverables)} "
            f"subject={verdict.subject[:60]!r} materials: {items}")


def test_corpus_is_there():
    files = corpus_files()
    assert len(files) >= 300, f"{CORPUS}: only {len(files)} messages; the README lists where they come from"
    assert sum(p.stat().st_size for p in files) < 8 * 1024 * 1024
    assert all(p.stat().st_size <= 300_000 for p in files)


def test_no_third_party_mail_is_judged_a_report():
    prof = profiles.load(profiles.default_name())
    assert prof.id == "xiamen-2023"
    ros = rosters.load(ROSTER)
    files = corpus_files()
    reports, crashes = [], []
    for path in files:
        rel = str(path.relative_to(CORPUS))
        try:
            verdict, _ = judge_file(path, prof, ros, received=RECEIVED)
        except Exception as e:      # noqa: BLE001 - collected and reported below
            where = [f for f in traceback.extract_tb(e.__traceback__) if "/daemon/" in f.filename]
            at = f" at {Path(where[-1].filename).name}:{where[-1].lineno}" if where else ""
            crashes.append(f"{rel}: raised {type(e).__name__}{at}: {str(e)[:120]}")
            continue
        if verdict.kind == "report":
            reports.append(describe(rel, verdict))
    problems = crashes + reports
    assert not problems, (f"of {len(files)} third-party messages, {len(crashes)} crashed the judge and "
                          f"{len(reports)} were judged `report`:\n" + "\n".join(problems))


def test_ribao_check_on_a_sample():
    failures = []
    for rel in CLI_SAMPLE:
        path = CORPUS / rel
        assert path.is_file(), f"{path}: sample file missing from the corpus"
        r = subprocess.run([sys.executable, "-m", "daemon", "check", str(path), "--roster", str(ROSTER),
                            "--received", RECEIVED.isoformat(), "--json"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            failures.append(f"{rel}: exit {r.returncode}, stdout is not JSON; stderr: {r.stderr.strip()[:200]}")
            continue
        if r.returncode not in (0, 1):
            failures.append(f"{rel}: exit {r.returncode}; stderr: {r.stderr.strip()[:200]}")
        if out.get("kind") == "report":
            codes = [d.get("code") for d in out.get("defects", [])]
            failures.append(f"{rel}: kind=report school={out.get('school')} "
                            f"deliverables={out.get('deliverables')} defects={codes}; stderr: {r.stderr.strip()[:200]}")
    assert not failures, "\n".join(failures)
