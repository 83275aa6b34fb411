"""The daemon against real servers: a Dovecot IMAP mailbox and an SMTP server on loopback."""
from __future__ import annotations

import email
import email.policy
import os
import signal
import sqlite3
import subprocess
import time

from tests.builders.mail import bounce, build_mail, report_text
from tests.daemon.conftest import RIBAO, ROOT, ribao, service

FOLDER = "一日一报/2023-05-15/厦门工商旅游学校"


def good(subject="【一日一报】厦门工商旅游学校5月15日活动情况", sender="school@qq.com", **kw):
    kw.setdefault("body", report_text(1000))
    return build_mail(subject=subject, sender=sender, **kw)


def bad(sender="jmzx@163.com", day=15):
    return build_mail(subject=f"集美职校一日一报5月{day}日", sender=sender, body=report_text(300))


def db(cfg_path):
    return sqlite3.connect(cfg_path.parent / "data" / "ribao.db")


def parsed(rec):
    return email.message_from_bytes(rec.data, policy=email.policy.default)


def test_new_mail_is_judged_filed_and_answered(setup):
    cfg, dovecot, smtp = setup
    mid = "<report-1@qq.com>"
    dovecot.append(good(message_id=mid))
    dovecot.append(bad())
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    rows = db(cfg).execute("select school, report_date, kind, verdict, state, filed_to from messages order by id").fetchall()
    assert rows == [("厦门工商旅游学校", "2023-05-15", "report", "ok", "done", FOLDER),
                    ("厦门市集美职业技术学校", "2023-05-15", "report", "defects", "done",
                     "一日一报/2023-05-15/厦门市集美职业技术学校")]
    assert FOLDER in dovecot.folders()
    assert len(dovecot.uids(FOLDER)) == 1 and len(dovecot.uids("INBOX")) == 2     # copied, nothing deleted
    got = {m.rcpt_tos[0]: parsed(m) for m in smtp.wait_for(2)}
    receipt, fix = got["school@qq.com"], got["jmzx@163.com"]
    assert receipt["In-Reply-To"] == mid and mid in receipt["References"]
    assert receipt["Auto-Submitted"] == "auto-replied"
    assert "报送成功" in receipt.get_body(("plain",)).get_content()
    text = fix.get_body(("plain",)).get_content()
    assert "少于通知要求的800字" in text and "12:00" in text
    assert fix.get_body(("html",)) is not None


def test_no_reply_to_auto_replies_bounces_ourselves_or_other_mail(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(good(headers={"Auto-Submitted": "auto-replied"}))
    dovecot.append(bounce())
    dovecot.append(good(sender="xmedu_gjc@163.com"))
    dovecot.append(build_mail(subject="招生合作", sender="ad@example.com", body="诚邀合作"))
    dovecot.append(good(headers={"Precedence": "list", "List-Id": "<x.list>"}))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    time.sleep(0.5)
    assert smtp.messages == []
    states = db(cfg).execute("select state, reason from outbox order by id").fetchall()
    assert len(states) == 5 and all(s == "suppressed" for s, _ in states)


def test_flood_from_one_sender_is_capped(setup):
    cfg, dovecot, smtp = setup
    for i in range(8):
        dovecot.append(bad(day=14 + (i % 7)))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    assert len(smtp.wait_for(5)) == 5
    time.sleep(0.5)
    assert len(smtp.messages) == 5          # max_per_sender_per_day defaults to 5


def test_same_defects_resent_get_one_reply(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(bad())
    dovecot.append(bad())                   # the teacher pressed send twice
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    smtp.wait_for(1)
    time.sleep(0.5)
    assert len(smtp.messages) == 1


def test_duplicate_message_id_recorded_once(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(good(message_id="<same@qq.com>"))
    dovecot.append(good(message_id="<same@qq.com>"))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    states = [s for (s,) in db(cfg).execute("select state from messages order by id")]
    assert states == ["done", "duplicate"]


def test_uidvalidity_change_rescans_by_message_id(setup):
    cfg, dovecot, smtp = setup
    for i in range(3):
        dovecot.append(good(message_id=f"<m{i}@qq.com>", subject=f"工商旅游一日一报5月{14 + i}日"))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    dovecot.force_uidvalidity_change()
    dovecot.append(good(message_id="<m3@qq.com>", subject="工商旅游一日一报5月17日"))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    rows = db(cfg).execute("select message_id, state from messages order by id").fetchall()
    assert [m for m, _ in rows] == [f"<m{i}@qq.com>" for i in range(4)]      # nothing twice, nothing skipped
    assert all(s == "done" for _, s in rows)
    assert len(smtp.wait_for(4)) == 4


def test_imap_server_restarted_between_and_during_polls(setup):
    cfg, dovecot, smtp = setup
    svc = service(cfg)
    dovecot.append(good(message_id="<a@qq.com>"))
    svc.poll_once()
    dovecot.restart()
    dovecot.append(good(message_id="<b@qq.com>", subject="工商旅游一日一报5月16日"))
    svc.poll_once()                           # reconnects by itself
    dovecot.stop()
    try:
        svc.poll_once()
        raise AssertionError("a stopped server must raise MailboxError")
    except Exception as e:
        assert type(e).__name__ == "MailboxError" and "127.0.0.1" in str(e)
    dovecot.start()
    svc.poll_once()
    svc.close()
    assert [r for (r,) in db(cfg).execute("select message_id from messages order by id")] == ["<a@qq.com>", "<b@qq.com>"]


def test_smtp_down_then_back_reply_arrives_once(setup):
    cfg, dovecot, smtp = setup
    smtp.stop()
    dovecot.append(bad())
    svc = service(cfg)
    svc.poll_once()
    assert db(cfg).execute("select state, last_error from outbox").fetchone()[0] == "pending"
    smtp.start()
    for _ in range(3):
        svc.poll_once()                        # retry_seconds = 0 in the test config
    svc.close()
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1
    assert db(cfg).execute("select state from outbox").fetchone()[0] == "sent"


def test_kill_9_mid_batch_then_restart_judges_each_once(setup, tmp_path):
    from tests.builders.media import make_jpeg
    cfg, dovecot, smtp = setup
    n = 30
    photo = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_200_000).read_bytes()
    for i in range(n):
        dovecot.append(build_mail(subject=f"一日一报5月{14 + i % 7}日", sender=f"s{i}@example.com",
                                  body=report_text(300), message_id=f"<k{i}@x>",
                                  attachments=[(f"照片{i}.jpg", photo, "image/jpeg")]))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done_after_kills = []
    for delay in (0.8, 1.0, 1.5):
        proc = subprocess.Popen([*RIBAO, "run", "--once", "--config", str(cfg)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (cfg.parent / "data" / "ribao.db").exists():
            done_after_kills.append(db(cfg).execute("select count(*) from messages where state = 'done'").fetchone()[0])
    assert any(d < n for d in done_after_kills), f"no kill came mid-batch: {done_after_kills}"
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    rows = db(cfg).execute("select message_id, state from messages").fetchall()
    assert sorted(m for m, _ in rows) == sorted(f"<k{i}@x>" for i in range(n))   # each once, none lost
    assert {s for _, s in rows} <= {"done", "quarantined"}
    time.sleep(0.5)
    rcpts = [m.rcpt_tos[0] for m in smtp.messages]
    assert len(rcpts) == len(set(rcpts))      # nobody answered twice
    # replies now go out while the poll judges (the courier), so a kill can fall between the SMTP
    # server's "250" and the row's `sent`: that row is `uncertain` and never sent again (the README's
    # guarantee). Every reply delivered is recorded as sent or uncertain; every `sent` one was delivered.
    states = dict(db(cfg).execute("select state, count(*) from outbox where state in ('sent', 'uncertain') "
                                  "group by state").fetchall())
    assert states.get("sent", 0) <= len(rcpts) <= states.get("sent", 0) + states.get("uncertain", 0)


def test_sigterm_stops_cleanly(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(good())
    proc = subprocess.Popen([*RIBAO, "run", "--config", str(cfg)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    smtp.wait_for(1, timeout=30)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_status_shows_counts_and_never_the_password(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(good())
    ribao("run", "--once", "--config", str(cfg))
    r = ribao("status", "--config", str(cfg))
    assert r.returncode == 0 and "已处理 1" in r.stdout and "已发送 1" in r.stdout
    assert dovecot.password not in r.stdout + r.stderr
    assert "厦门工商旅游学校" in r.stdout


def test_wrong_config_key_is_one_line(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[mailbox]\nkind = "imap"\nhots = "x"\n[smtp]\nkind = "outbox"\npath = "o"\nfrom = "a@b.cn"\n')
    r = ribao("run", "--once", "--config", str(p))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "[mailbox] hots: unknown key" in r.stderr


def test_unreachable_server_is_one_line(tmp_path):
    from tests.builders.config import write_config
    from tests.servers import free_port

    class Nobody:
        port, user, password = free_port(), "u@x.cn", "secret-pw"
    cfg = write_config(tmp_path, dovecot=Nobody())
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"127.0.0.1:{Nobody.port}" in r.stderr and "secret-pw" not in r.stderr
