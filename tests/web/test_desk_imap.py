"""The desk over the real loopback Dovecot and SMTP server (not only the embedded Maildir): a held
mail confirmed in the browser is filed, counted and answered once over SMTP; the desk also listens
on [::1], stops cleanly on SIGTERM and refuses a bad --listen in one line."""
from __future__ import annotations

import email
import email.policy
import time
from urllib.request import urlopen

from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.builders.maildir import new_maildir
from tests.daemon.conftest import ribao
from tests.servers import free_port
from tests.web.conftest import login, run_daemon
from tests.web.test_desk import AT


def test_confirm_held_mail_on_imap_answers_once_over_smtp(tmp_path, dovecot, smtp_server, start_desk, browse):
    cfg = write_config(tmp_path / "c", dovecot=dovecot, smtp=smtp_server)
    dovecot.append(build_mail(subject="厦门信息学校一日一报5月15日", sender="teacher.wang@163.com", date=AT,
                              body=report_text(1000, school="厦门信息学校")), date=AT)
    dovecot.append(build_mail(subject="一日一报5月15日", sender="newteacher@example.com", date=AT,
                              body=report_text(1000, school="本校")), date=AT)
    run_daemon(cfg)
    first = len(smtp_server.wait_for(2))                      # the daemon answered both (held, unknown)
    desk = start_desk(cfg)
    page = login(browse(390), desk, then="/mail?tab=held")
    held = desk.rows("select id from messages where sender = 'teacher.wang@163.com'")[0][0]
    page.locator(f"#mail-{held}").locator("text=确认是厦门信息学校的报送").click()
    page.wait_for_load_state()
    assert page.locator("#day-status").inner_text() == "按时报送"

    page.goto(desk.url + "/mail?tab=unknown")
    unknown = desk.rows("select id from messages where sender = 'newteacher@example.com'")[0][0]
    card = page.locator(f"#mail-{unknown}")
    card.locator("input[name=school]").fill("厦门市集美职业技术学校")
    card.locator("form.assign button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#day-status").inner_text() == "按时报送"

    got = smtp_server.wait_for(first + 2)
    time.sleep(0.5)
    assert len(smtp_server.messages) == first + 2             # one receipt each, at once, not twice
    to = sorted(m.rcpt_tos[0] for m in got[first:])
    assert to == ["newteacher@example.com", "teacher.wang@163.com"]
    body = email.message_from_bytes(got[-1].data, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "收到" in body
    filed = desk.rows("select filed_to from messages where id = ?", [held])[0][0]
    assert filed and "厦门信息学校" in filed                   # filed on the IMAP server like the daemon files

    run_daemon(cfg)                                           # the daemon's next cycle sends nothing again
    time.sleep(0.5)
    assert len(smtp_server.messages) == first + 2


def test_desk_listens_on_ipv6_loopback_and_refuses_a_bad_address(tmp_path, start_desk):
    cfg = write_config(tmp_path / "c", maildir=new_maildir(tmp_path / "md"))
    desk = start_desk(cfg, listen=f"[::1]:{free_port()}")
    with urlopen(desk.url + "/login", timeout=10) as r:
        assert r.status == 200 and "登录" in r.read().decode("utf-8")
    desk.stop()                                               # systemctl stop: SIGTERM, a clean exit
    assert desk.proc.returncode == 0 and "staff desk stopped" in desk.log.read_text()
    r = ribao("web", "--listen", "8080", "--config", str(cfg))
    assert r.returncode == 2 and r.stderr.strip().startswith("ribao: --listen '8080': expected HOST:PORT")
