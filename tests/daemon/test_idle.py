"""IMAP IDLE in the running service: `ribao run` (not --once) against the real Dovecot, with a poll
interval far longer than the test, so only IDLE can explain a prompt answer."""
from __future__ import annotations

import json
import time

from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import Running, ribao

LONG_POLL = "[schedule]\npoll_seconds = 300\n"
PROMPT = 60          # a functional bound: well before the next poll at 300 s, not a benchmark


def report(n: int) -> bytes:
    return build_mail(subject=f"【一日一报】厦门工商旅游学校5月{14 + n}日活动情况", sender="school@qq.com",
                      body=report_text(1000), message_id=f"<idle-{n}@qq.com>")


def idle_of(daemon: Running):
    mb = daemon.status()["mailbox"]
    return mb.get("last_poll") is not None and mb.get("idle") is True


def answered_within(dovecot, smtp, n: int, raw: bytes) -> float:
    t0 = time.monotonic()
    dovecot.append(raw)
    smtp.wait_for(n, timeout=PROMPT)
    took = time.monotonic() - t0
    print(f"answered in {took:.2f} s")
    return took


def test_new_mail_is_answered_at_once_and_after_a_server_restart(tmp_path, dovecot, smtp_server):
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server, extra=LONG_POLL)
    with Running(cfg) as daemon:
        daemon.wait_until(lambda: idle_of(daemon))
        assert answered_within(dovecot, smtp_server, 1, report(1)) < PROMPT

        dovecot.restart()                               # drops both connections
        daemon.wait_until(lambda: "IDLE: reconnected" in daemon.log() and idle_of(daemon))
        assert answered_within(dovecot, smtp_server, 2, report(2)) < PROMPT
        log = daemon.log()
        assert log.count("IDLE connection lost") == 1 and "Traceback" not in log
        assert daemon.stop() == 0
    assert [m.rcpt_tos for m in smtp_server.messages] == [["school@qq.com"]] * 2
    r = ribao("status", "--json", "--config", str(cfg))
    assert json.loads(r.stdout)["mailbox"]["idle"] is None          # stopped: nothing is idling


def test_a_server_without_idle_falls_back_to_polling_and_says_so_once(tmp_path, make_dovecot, smtp_server):
    dovecot = make_dovecot(capabilities="IMAP4rev1 LITERAL+ UIDPLUS")
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server,
                       extra="[schedule]\npoll_seconds = 5\n")
    with Running(cfg) as daemon:
        daemon.wait_until(lambda: daemon.status()["mailbox"].get("idle") is False)
        plain = ribao("status", "--config", str(cfg)).stdout
        assert "邮件服务器不支持" in plain and "每 5 秒收信一次" in plain
        dovecot.append(report(1))
        smtp_server.wait_for(1, timeout=PROMPT)         # the poll still answers it
        dovecot.append(report(2))
        smtp_server.wait_for(2, timeout=PROMPT)         # ... and the next one: several polls have run
        assert daemon.log().count("does not offer IDLE") == 1
        assert daemon.stop() == 0


def test_idle_turned_off_in_config(tmp_path, dovecot, smtp_server):
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server,
                       extra="[schedule]\npoll_seconds = 300\n")
    text = cfg.read_text().replace('folder = "INBOX"\n', 'folder = "INBOX"\nidle = false\n')
    cfg.write_text(text)
    with Running(cfg) as daemon:
        daemon.wait_until(lambda: daemon.status()["mailbox"].get("idle") is False)
        assert "配置中已关闭" in ribao("status", "--config", str(cfg)).stdout
        assert "IDLE is off" in daemon.log()


def test_status_idle_is_null_for_a_maildir(tmp_path):
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    cfg = write_config(tmp_path / "ribao", maildir=md)
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    r = ribao("status", "--json", "--config", str(cfg))
    mb = json.loads(r.stdout)["mailbox"]
    assert mb["idle"] is None and {"folder", "last_poll", "last_uid", "last_error"} <= set(mb)
    assert "IDLE" not in ribao("status", "--config", str(cfg)).stdout


def test_mail_announced_during_a_poll_is_polled_again(tmp_path):
    """APScheduler skips a job instance while one runs, so a wake mid-poll must not be lost."""
    from daemon import config, profile
    from daemon.judging import roster
    from daemon.runner import Runner
    md = tmp_path / "md"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    cfg = config.load(write_config(tmp_path / "c", maildir=md))
    r = Runner(cfg, profile.load("xiamen-2023"), roster.load(cfg.rules.roster))
    calls = []

    def poll_once():
        calls.append(r.polling)
        if len(calls) == 1:
            r.wake()                    # IDLE announces mail while this poll runs
        return {"new": 0, "judged": 0, "quarantined": 0, "duplicates": 0}
    r.service.poll_once = poll_once
    r.add_jobs()
    r.poll()
    assert calls == [True, True] and not r.polling
    r.poll()                            # no wake this time: one poll
    assert len(calls) == 3
    r.service.close()
