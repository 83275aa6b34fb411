"""Staff corrections through the daemon with real servers: assign, accept, rejudge — each school
answered at most once for the same findings, every correction recorded with time and OS user."""
from __future__ import annotations

import email
import email.policy
import sqlite3
import time

from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import ribao


def db(cfg):
    return sqlite3.connect(cfg.parent / "data" / "ribao.db")


def replies_to(smtp, addr):
    return [email.message_from_bytes(m.data, policy=email.policy.default) for m in smtp.messages if addr in m.rcpt_tos]


def test_assign_ties_sender_to_school_and_answers_once(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(build_mail(subject="一日一报5月15日", sender="newteacher@example.com", body=report_text(1000, school="本校")))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    first = email.message_from_bytes(smtp.wait_for(1)[0].data, policy=email.policy.default)
    assert first["Subject"] == "【已收到】您的来信" and "登记" in first.get_content()     # an unknown address: plain
    ident = db(cfg).execute("select id from messages").fetchone()[0]
    r = ribao("assign", str(ident), "--school", "厦门信息学校", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    row = db(cfg).execute("select school, school_how, verdict from messages where id = ?", [ident]).fetchone()
    assert row == ("厦门信息学校", "staff", "ok")
    smtp.wait_for(2)
    assert ribao("assign", str(ident), "--school", "厦门信息学校", "--config", str(cfg)).returncode == 0
    time.sleep(0.5)
    got = replies_to(smtp, "newteacher@example.com")
    assert len(got) == 2 and "报送成功" in got[1].get_body(("plain",)).get_content()   # the plain answer, then one receipt
    by, action = db(cfg).execute("select by, action from corrections order by id").fetchall()[0]
    assert action == "assign" and by
    # the address is remembered: the next mail from it belongs to the school without help
    dovecot.append(build_mail(subject="一日一报5月16日", sender="newteacher@example.com", body=report_text(1000, school="本校")))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    assert db(cfg).execute("select school from messages order by id desc").fetchone()[0] == "厦门信息学校"


def test_assign_rejects_unknown_school_and_message(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(build_mail(subject="一日一报5月15日", sender="school@qq.com", body=report_text(1000)))
    ribao("run", "--once", "--config", str(cfg))
    r = ribao("assign", "1", "--school", "不存在的学校", "--config", str(cfg))
    assert r.returncode == 2 and "not on the roster" in r.stderr and r.stderr.count("\n") == 1
    r = ribao("assign", "99", "--school", "厦门信息学校", "--config", str(cfg))
    assert r.returncode == 2 and "no message #99" in r.stderr


def test_accept_is_recorded(setup):
    cfg, dovecot, smtp = setup
    dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com", body=report_text(300)))
    ribao("run", "--once", "--config", str(cfg))
    r = ribao("accept", "1", "--reason", "电话确认，文字稿另行纸质报送", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    by, reason = db(cfg).execute("select accepted_by, accepted_reason from messages where id = 1").fetchone()
    assert by and reason == "电话确认，文字稿另行纸质报送"
    assert db(cfg).execute("select action from corrections").fetchone()[0] == "accept"


def test_rejudge_after_rules_change_answers_only_what_changed(setup, tmp_path):
    cfg, dovecot, smtp = setup
    dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com", body=report_text(700)))
    dovecot.append(build_mail(subject="工商旅游一日一报5月15日", sender="school@qq.com", body=report_text(1000)))
    ribao("run", "--once", "--config", str(cfg))
    smtp.wait_for(2)
    r = ribao("rejudge", "--config", str(cfg))                 # nothing changed: nobody answered again
    assert r.returncode == 0 and "0 verdicts changed" in r.stdout, r.stdout + r.stderr
    time.sleep(0.3)
    assert len(smtp.messages) == 2
    # the bureau relaxes the minimum to 600 characters
    from daemon import profile
    rules = tmp_path / "relaxed.toml"
    rules.write_text((profile.RULES_DIR / "xiamen-2023.toml").read_text(encoding="utf-8")
                     .replace("min_chars = 800", "min_chars = 600"), encoding="utf-8")
    text = cfg.read_text(encoding="utf-8").replace('profile = "xiamen-2023"', f'profile = "{rules}"')
    cfg.write_text(text, encoding="utf-8")
    r = ribao("rejudge", "--date", "2023-05-15", "--config", str(cfg))
    assert r.returncode == 0 and "1 verdicts changed" in r.stdout, r.stdout + r.stderr
    smtp.wait_for(3)
    time.sleep(0.3)
    assert len(replies_to(smtp, "jmzx@163.com")) == 2 and len(replies_to(smtp, "school@qq.com")) == 1
    assert db(cfg).execute("select verdict from messages where id = 1").fetchone()[0] == "ok"
