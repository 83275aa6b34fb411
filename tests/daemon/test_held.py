"""A school's day belongs to the school: mail naming a school from an unknown address is held
(待确认) until staff assign it; it never changes the school's day on its own. Through the
commands ops and staff run (`ribao run --once`, `status`, `digest`, `pending`, `assign`,
`forget`) on the embedded default (a Maildir, replies as .eml files)."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.daemon.conftest import ribao

DAY = "2023-05-14"


def _setup(tmp_path, extra=""):
    md = new_maildir(tmp_path / "md")
    return write_config(tmp_path / "c", maildir=md, extra=extra), md


def _db(cfg):
    return sqlite3.connect(cfg.parent / "data" / "ribao.db")


def _digest_rows(cfg, day=DAY):
    out = ribao("digest", "--date", day, "--out", str(cfg.parent / "d.html"), "--config", str(cfg))
    assert out.returncode == 0, out.stderr
    return (cfg.parent / "d.html").read_text(encoding="utf-8")


def test_prankster_cannot_supersede_a_schools_day(tmp_path):
    cfg, md = _setup(tmp_path)
    at = dt.datetime(2023, 5, 15, 9, 0, tzinfo=TZ)
    drop(md, build_mail(subject="厦门信息学校一日一报5月14日", sender="xxxx@126.com", date=at, body=report_text(1000)), at)
    drop(md, build_mail(subject="…厦门信息学校5月14日…", sender="prankster@gmail.com", body="无",
                        date=at + dt.timedelta(minutes=30)), at + dt.timedelta(minutes=30))
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    db = _db(cfg)
    good, prank = [r for r in db.execute("select id, superseded_by, school_how from messages order by id")]
    assert good[1] is None and prank[2] == "subject"          # nothing superseded the school's report
    subs = db.execute("select message from submissions where school = '厦门信息学校'").fetchall()
    assert subs == [(good[0],)]
    codes = {c for (c,) in db.execute("select code from defects where message = ?", [prank[0]])}
    assert "school.unconfirmed_sender" in codes

    st = json.loads(ribao("status", "--json", "--config", str(cfg)).stdout)
    assert st["held"] == [{"id": prank[0], "received": st["held"][0]["received"], "sender": "prankster@gmail.com",
                           "school": "厦门信息学校"}]
    plain = ribao("status", "--config", str(cfg)).stdout
    assert "待确认" in plain and "prankster@gmail.com" in plain

    html = _digest_rows(cfg)
    assert "prankster@gmail.com" in html and "待确认" in html
    pend = json.loads(ribao("pending", "--date", DAY, "--json", "--config", str(cfg)).stdout)
    assert "厦门信息学校" not in json.dumps(pend, ensure_ascii=False)


def test_held_mail_joins_the_day_only_when_staff_assign_it_and_forget_undoes(tmp_path):
    cfg, md = _setup(tmp_path)
    drop(md, build_mail(subject="厦门信息学校一日一报5月14日", sender="teacher.wang@163.com",
                        date=dt.datetime(2023, 5, 15, 9, 0, tzinfo=TZ), body=report_text(1000)))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    pend = ribao("pending", "--date", DAY, "--json", "--config", str(cfg)).stdout
    assert "厦门信息学校" in pend                         # held: the school is still on the 未提交名单
    ident = _db(cfg).execute("select id from messages").fetchone()[0]

    r = ribao("assign", str(ident), "--school", "厦门信息学校", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    db = _db(cfg)
    assert db.execute("select school_how from messages where id = ?", [ident]).fetchone()[0] == "staff"
    assert db.execute("select count(*) from submissions where school = '厦门信息学校'").fetchone()[0] == 1
    assert json.loads(ribao("status", "--json", "--config", str(cfg)).stdout)["held"] == []
    assert "厦门信息学校" not in ribao("pending", "--date", DAY, "--json", "--config", str(cfg)).stdout

    # the address is remembered: its next mail is the school's own
    drop(md, build_mail(subject="一日一报5月15日", sender="teacher.wang@163.com",
                        date=dt.datetime(2023, 5, 16, 9, 0, tzinfo=TZ), body=report_text(1000, school="本校")))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    last = _db(cfg).execute("select school, school_how from messages order by id desc").fetchone()
    assert last == ("厦门信息学校", "sender")

    r = ribao("forget", "Teacher.Wang@163.com", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    db = _db(cfg)
    assert db.execute("select count(*) from school_emails").fetchone()[0] == 0
    action, details = db.execute("select action, details from corrections order by id desc").fetchone()
    assert action == "forget" and "teacher.wang@163.com" in details
    drop(md, build_mail(subject="厦门信息学校一日一报5月16日", sender="teacher.wang@163.com",
                        date=dt.datetime(2023, 5, 17, 9, 0, tzinfo=TZ), body=report_text(1000)))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    assert _db(cfg).execute("select school_how from messages order by id desc").fetchone()[0] == "subject"
    r = ribao("forget", "nobody@163.com", "--config", str(cfg))
    assert r.returncode == 2 and "not a remembered address" in r.stderr


def test_forged_roster_address_failing_dmarc_is_held(tmp_path):
    cfg, md = _setup(tmp_path, extra="")
    text = cfg.read_text(encoding="utf-8").replace('[mailbox]\n', '[mailbox]\nauthserv_id = "mx.bureau.example"\n')
    cfg.write_text(text, encoding="utf-8")
    at = dt.datetime(2023, 5, 15, 9, 0, tzinfo=TZ)
    forged = {"Authentication-Results": "mx.bureau.example; spf=fail smtp.mailfrom=126.com; dkim=none; dmarc=fail header.from=126.com"}
    fine = {"Authentication-Results": "mx.bureau.example; spf=pass smtp.mailfrom=126.com; dkim=pass; dmarc=pass"}
    stranger_says_pass = {"Authentication-Results": "mx.evil.example; dmarc=fail"}
    drop(md, build_mail(subject="厦门信息学校一日一报5月14日", sender="xxxx@126.com", date=at, body=report_text(1000),
                        headers=forged))
    drop(md, build_mail(subject="一日一报5月14日", sender="xxxx@126.com", date=at, body=report_text(1000), headers=fine))
    drop(md, build_mail(subject="一日一报5月15日", sender="xxxx@126.com", date=at, body=report_text(1000),
                        headers=stranger_says_pass))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    rows = _db(cfg).execute("select school, school_how from messages order by id").fetchall()
    assert rows == [("厦门信息学校", "subject"), ("厦门信息学校", "sender"), ("厦门信息学校", "sender")]


def test_strangers_and_pranksters_over_imap_do_not_stall_a_good_report(setup):
    """Real Dovecot and SMTP: a newsletter with files, a calendar invite and a prankster naming a
    school, then the school's own report: the report is answered in the same run, the invite and
    newsletter get nothing, the prankster's mail is held and answered only with the plain text."""
    import email
    import email.policy
    cfg, dovecot, smtp = setup
    ics = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    dovecot.append(build_mail(subject="Weekly digest", sender="news@example.org", body="Top stories",
                              attachments=[("report.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")]))
    dovecot.append(build_mail(subject="Invitation: sync", sender="cal@example.org", body="Join us",
                              attachments=[("invite.ics", ics, "text/calendar")]))
    dovecot.append(build_mail(subject="…厦门信息学校5月14日…", sender="prankster@gmail.com", body="无"))
    dovecot.append(build_mail(subject="厦门信息学校一日一报5月14日", sender="xxxx@126.com", body=report_text(1000)))
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    got = smtp.wait_for(2)
    by = {m.rcpt_tos[0]: email.message_from_bytes(m.data, policy=email.policy.default) for m in got}
    assert set(by) == {"xxxx@126.com", "prankster@gmail.com"}
    assert str(by["xxxx@126.com"]["Subject"]).startswith("【已收到】")
    assert str(by["prankster@gmail.com"]["Subject"]) == "【已收到】您的来信"
    assert "厦门信息学校" not in by["prankster@gmail.com"].get_body(("plain",)).get_content()
    kinds = _db(cfg).execute("select kind, school_how from messages order by id").fetchall()
    assert kinds == [("other", ""), ("other", ""), ("report", "subject"), ("report", "sender")]


def test_plain_status_reads_in_chinese_with_local_times(tmp_path):
    cfg, md = _setup(tmp_path)
    drop(md, build_mail(subject="厦门信息学校一日一报5月14日", sender="xxxx@126.com", body=report_text(1000)))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    plain = ribao("status", "--config", str(cfg)).stdout
    assert "已处理 1" in plain and "已发送 1" in plain and "报送 合格 已处理" in plain
    assert "none" not in plain and "done" not in plain and "+00:00" not in plain and "年" in plain
    js = json.loads(ribao("status", "--json", "--config", str(cfg)).stdout)
    assert js["messages"] == {"done": 1} and js["outbox"] == {"sent": 1}          # the JSON keeps its values
