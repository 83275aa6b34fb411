"""Hostile and broken mail: every one ends as a stored message with a verdict (or quarantined with
a reason), never a crash, a hang, a lost message or a file written outside the storage folder.

The corpus (tests/hostile/conftest.py) is judged twice: by `judge_file` directly, where each
verdict is checked in detail, and by the real daemon over a real Dovecot with good reports mixed
in, where what matters is that the good ones after the hostile ones are still judged and answered.
A judge that hangs or dies (a parser bug we can't foresee) is simulated inside the forked child.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import time
from pathlib import Path

from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.judging.judge import judge_file
from daemon.model import Verdict
from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.daemon.conftest import service
from tests.hostile.conftest import escaped_files, fill_maildir, ribao_measured, rows, storage_problems
from tests.judging.conftest import ROSTER

GOOD = [("gslx@163.com", "工商旅游学校一日一报5月16日", "厦门工商旅游学校"),
        ("jmzx@163.com", "集美职校一日一报5月15日", "厦门市集美职业技术学校"),
        ("xxxx@126.com", "信息学校一日一报5月15日", "厦门信息学校")]


def good_report(i: int, photo: bytes) -> bytes:
    sender, subject, school = GOOD[i]
    return build_mail(subject=subject, sender=sender, body=report_text(1000, school) + "\n照片：开放日合影",
                      message_id=f"<good-{i}@school.test>", attachments=[("开放日合影.jpg", photo, "image/jpeg")])


def test_judge_file_gives_every_hostile_mail_a_verdict(corpus, secret_file, tmp_path):
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text(ROSTER, encoding="utf-8")
    prof, ros = profiles.load("xiamen-2023"), rosters.load(roster_csv)
    secret = secret_file.read_text()
    failures = []
    for case in corpus:
        path = tmp_path / f"{case.name}.eml"
        path.write_bytes(case.raw)
        started = time.monotonic()
        try:
            verdict, _ = judge_file(path, prof, ros, received=dt.datetime(2023, 5, 16, 9, tzinfo=TZ),
                                    workdir=tmp_path / "work" / case.name)
        except BaseException as e:      # noqa: BLE001 - collected, reported below
            failures.append(f"{case.name}: raised {type(e).__name__}: {e}")
            continue
        took = time.monotonic() - started
        codes = {d.code for d in verdict.defects}
        if not isinstance(verdict, Verdict) or verdict.kind not in ("report", "auto", "other"):
            failures.append(f"{case.name}: no proper verdict ({verdict!r})")
        if case.codes - codes:
            failures.append(f"{case.name}: expected {sorted(case.codes)}, got {sorted(codes)}")
        if took > 30:
            failures.append(f"{case.name}: took {took:.0f} s")
        dumped = json.dumps(verdict.as_json(), ensure_ascii=False) + " ".join(m.text or "" for m in verdict.items)
        if secret in dumped:
            failures.append(f"{case.name}: the external entity was read into the verdict")
        for m in verdict.items:
            if m.path is not None and (tmp_path / "work" / case.name).resolve() not in Path(m.path).resolve().parents:
                failures.append(f"{case.name}: {m.file} written to {m.path}")
        shutil.rmtree(tmp_path / "work" / case.name)      # its safely named files would look like escapes later
    assert not failures, "\n".join(failures)


def test_daemon_files_every_hostile_mail_and_still_answers_the_good_ones(corpus, corpus_token, tmp_path,
                                                                         dovecot, smtp_server):
    from tests.builders.media import make_jpeg
    photo = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()
    raws = [c.raw for c in corpus]
    for i, at in enumerate((5, len(raws) // 2 + 1, len(raws) + 2)):       # after hostile ones, and last
        raws.insert(at, good_report(i, photo))
    fill_maildir(dovecot, raws)
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    run = ribao_measured("run", "--once", "--config", str(cfg), tmp=tmp_path, timeout=300)
    assert run["rc"] == 0, run["err"][-3000:]
    assert "Traceback" not in run["err"]

    got = rows(cfg, "select uid, state, reason, message_id, verdict from messages order by uid")
    assert [r[0] for r in got] == list(range(1, len(raws) + 1)), "a message was lost or recorded twice"
    for uid, state, reason, mid, _ in got:
        assert state in ("done", "duplicate", "quarantined"), (uid, mid, state)
        assert state != "quarantined" or reason, (uid, mid)
    by_mid = {r[3]: r for r in got}
    for i, (sender, _, school) in enumerate(GOOD):
        uid, state, _, _, verdict = by_mid[f"<good-{i}@school.test>"]
        assert (state, verdict) == ("done", "ok"), (sender, state, verdict)
    answered = {m.rcpt_tos[0] for m in smtp_server.wait_for(len(GOOD) + 1, timeout=20)}
    assert {g[0] for g in GOOD} <= answered

    data = cfg.parent / "data"
    assert escaped_files(corpus_token, [data]) == []
    assert storage_problems(data) == []
    stored = [p for (p,) in rows(cfg, "select stored_path from materials where stored_path is not null")]
    assert stored, "no attachment was kept at all"
    for p in stored:
        full = (data / p).resolve()
        assert (data / "attachments").resolve() in full.parents and full.is_file(), p
    print(f"\nhostile corpus of {len(raws)} messages through ribao: peak RSS {run['maxrss_mb']:.0f} MB")


def test_a_judge_that_hangs_or_dies_quarantines_only_that_message(tmp_path, dovecot, smtp_server, monkeypatch):
    """The inspector is patched in this process; the Service's forked child inherits the patch."""
    from daemon.judging.inspect import photo
    from tests.builders.media import make_jpeg
    real = photo.inspect

    def evil(att, fmt, ctx):
        if "hang" in att.name:
            time.sleep(120)
        if "crash" in att.name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(att, fmt, ctx)

    monkeypatch.setattr(photo, "inspect", evil)
    jpeg = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()
    for i, name in enumerate(("hang.jpg", "合影.jpg", "crash.jpg", "开幕式.jpg")):
        dovecot.append(build_mail(subject=f"工商旅游一日一报5月{15 + i}日", sender="gslx@163.com",
                                  body=report_text(1000) + f"\n照片：{name}", message_id=f"<m{i}@x>",
                                  attachments=[(name, jpeg, "image/jpeg")]))
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    text = cfg.read_text().replace("[filing]\n", '[filing]\nquarantine_folder = "隔离"\n')
    cfg.write_text(text, encoding="utf-8")
    svc = service(cfg)
    svc.judge_seconds = 3
    started = time.monotonic()
    counts = svc.poll_once()
    svc.close()
    assert time.monotonic() - started < 60
    assert counts["quarantined"] == 2 and counts["judged"] == 2
    got = dict((m, (s, r or "")) for m, s, r in rows(cfg, "select message_id, state, reason from messages"))
    assert got["<m0@x>"][0] == "quarantined" and "longer than 3 s" in got["<m0@x>"][1]
    assert got["<m2@x>"][0] == "quarantined" and "signal 9" in got["<m2@x>"][1]
    assert got["<m1@x>"][0] == got["<m3@x>"][0] == "done"
    assert len(dovecot.uids("隔离")) == 2, "each quarantined message is filed once"
    replies = smtp_server.wait_for(2)
    assert len(replies) == 2            # the two that were judged; nothing for the quarantined ones


def test_a_hanging_ffprobe_is_killed_at_its_time_limit(tmp_path, monkeypatch):
    from daemon.judging.inspect import Limits
    from tests.builders.media import make_video
    video = make_video(tmp_path / "v.mp4", width=1280, height=720, seconds=1).read_bytes()
    fake = tmp_path / "bin" / "ffprobe"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 600\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    mail = tmp_path / "m.eml"
    mail.write_bytes(build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(1000),
                                attachments=[("开幕式.mp4", video, "video/mp4")]))
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text(ROSTER, encoding="utf-8")
    started = time.monotonic()
    verdict, _ = judge_file(mail, profiles.load("xiamen-2023"), rosters.load(roster_csv),
                            limits=Limits(file_seconds=2))
    assert time.monotonic() - started < 60
    [d] = [d for d in verdict.defects if d.file == "开幕式.mp4"]
    assert d.code == "file.timeout" and d.severity == "warning" and "工作人员将人工核对" in d.message
    pid = int((tmp_path / "pid").read_text())
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the hanging ffprobe was left running"
