"""The digest, the week's summary and reminders through the daemon's real SMTP server, after
real reports went through the real Dovecot."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import time

from daemon import jobs
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.media import make_jpeg
from tests.daemon.conftest import ribao, service


def _fill(cfg, dovecot, tmp_path):
    photo = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_200_000).read_bytes()
    arrive = dt.datetime(2023, 5, 16, 9, 30, tzinfo=TZ)
    dovecot.append(build_mail(subject="工商旅游一日一报5月15日", sender="school@qq.com", body=report_text(1000),
                              attachments=[("开幕式合影.jpg", photo, "image/jpeg")]), date=arrive)
    dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com", body=report_text(300)),
                   date=arrive)
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0


def test_digest_and_summary_sent_once_through_smtp(tmp_path, dovecot, smtp_server):
    from tests.builders.config import write_config
    cfg = write_config(tmp_path / "r", dovecot=dovecot, smtp=smtp_server,
                       extra='[digest]\nrecipients = ["staff@bureau.example", "chief@bureau.example"]\n')
    _fill(cfg, dovecot, tmp_path)
    smtp_server.wait_for(2)
    smtp_server.clear()
    for _ in range(2):                                   # twice: sent once
        r = ribao("digest", "--date", "2023-05-15", "--send", "--config", str(cfg))
        assert r.returncode == 0, r.stderr
    got = smtp_server.wait_for(2)
    time.sleep(0.3)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["chief@bureau.example", "staff@bureau.example"]
    msg = email.message_from_bytes(got[0].data, policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    assert "厦门工商旅游学校" in html and "未报送" in html and "<script" not in html
    images = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert images and all(p["Content-ID"] and p["Content-ID"].strip("<>") in html for p in images)
    assert len(got[0].data) < 3_000_000
    smtp_server.clear()
    r = ribao("summary", "--send", "--out", str(tmp_path / "week.xlsx"), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    sent = smtp_server.wait_for(2)
    parts = [p.get_filename() for p in email.message_from_bytes(sent[0].data, policy=email.policy.default).walk()]
    assert any(n and n.endswith(".xlsx") for n in parts)


def test_reminders_only_to_schools_that_have_not_reported(tmp_path, dovecot, smtp_server):
    from tests.builders.config import write_config
    cfg = write_config(tmp_path / "r", dovecot=dovecot, smtp=smtp_server,
                       extra='[digest]\nrecipients = ["staff@bureau.example"]\nreminders = true\n')
    _fill(cfg, dovecot, tmp_path)
    smtp_server.wait_for(2)
    smtp_server.clear()
    svc = service(cfg)
    now = dt.datetime(2023, 5, 16, 10, 0, tzinfo=TZ)          # before the 12:00 deadline for 5/15
    jobs.reminder_job(svc.cfg, svc.profile, svc, now=now)
    jobs.reminder_job(svc.cfg, svc.profile, svc, now=now)      # a second run: nothing more
    svc.close()
    got = smtp_server.wait_for(1)
    time.sleep(0.3)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["xxxx@126.com"]]   # only 厦门信息学校 has not reported
    text = email.message_from_bytes(got[0].data, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "厦门信息学校" in text and "12:00" in text
