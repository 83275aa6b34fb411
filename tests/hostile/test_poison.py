"""No poison messages: a mail that makes recording, storing, answering or filing fail is quarantined
with the reason, and the good report queued behind it is answered in the same `run --once`.

Also each message's extraction budget: judging starts only with it free on the storage disk, and an
archive unpacking past it is archive.unsafe, not a disk filled for every mail after it.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from daemon import service as service_mod
from daemon.intake.maildir import MaildirSource
from daemon.service import StorageFull
from tests.builders.config import write_config
from tests.builders.files import make_zip
from tests.builders.mail import build_mail, report_text
from tests.builders.media import make_jpeg
from tests.daemon.conftest import ribao, service

GBK_ID = "<测试@x>".encode("gbk")                 # raw 8-bit bytes in the header, as old clients send them
UTF8_ID = "<报送-测试@学校.cn>"                    # SMTPUTF8: kept as it is


def mail_with_id(raw_id: bytes, **kw) -> bytes:
    return build_mail(message_id="<placeholder@x>", **kw).replace(b"<placeholder@x>", raw_id)


def jimei(**kw) -> dict:
    return {"subject": "集美职校一日一报5月15日", "sender": "jmzx@163.com", "body": report_text(1000, "集美职校"), **kw}


def xinxi(**kw) -> dict:
    return {"subject": "信息学校一日一报5月15日", "sender": "xxxx@126.com", "body": report_text(1000, "信息学校"), **kw}


def good() -> bytes:
    """The school's good report, queued behind the hostile mail."""
    return build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", sender="school@qq.com",
                      body=report_text(1000), message_id="<good@x>")


def maildir_config(tmp: Path, raws: list[bytes]) -> Path:
    md = tmp / "maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    for i, raw in enumerate(raws):                # Maildir names sort in arrival order
        (md / "new" / f"16840000{i:02d}.M{i}P1.test").write_bytes(raw)
    return write_config(tmp / "ribao", maildir=md)


def rows(cfg: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(cfg.parent / "data" / "ribao.db") as c:
        return c.execute(sql, args).fetchall()


def answered(cfg: Path) -> dict[str, str]:
    return dict(rows(cfg, "select recipient, state from outbox where kind = 'reply'"))


# ------------------------------------------------------------------------------------------ Message-IDs

def test_8bit_and_utf8_message_ids_over_maildir(tmp_path):
    cfg = maildir_config(tmp_path, [mail_with_id(GBK_ID, **jimei()), mail_with_id(UTF8_ID.encode(), **xinxi()),
                                    good()])
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert rows(cfg, "select message_id, state from messages order by id") == [
        ("<\ufffd\ufffd\ufffd\ufffd@x>", "done"), (UTF8_ID, "done"), ("<good@x>", "done")]
    assert answered(cfg) == {"jmzx@163.com": "sent", "xxxx@126.com": "sent", "school@qq.com": "sent"}
    assert len(list((cfg.parent / "replies").glob("*.eml"))) == 3


def test_8bit_and_utf8_message_ids_over_imap(tmp_path, dovecot, smtp_server):
    cfg, smtp = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server), smtp_server
    dovecot.append(mail_with_id(GBK_ID, **jimei()))
    dovecot.append(mail_with_id(UTF8_ID.encode(), **xinxi()))
    dovecot.append(good())
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert rows(cfg, "select message_id, state from messages order by id") == [
        ("<\ufffd\ufffd\ufffd\ufffd@x>", "done"), (UTF8_ID, "done"), ("<good@x>", "done")]
    assert {m.rcpt_tos[0] for m in smtp.wait_for(3)} == {"jmzx@163.com", "xxxx@126.com", "school@qq.com"}
    assert len(dovecot.uids("一日一报/2023-05-15/厦门工商旅游学校")) == 1


# ------------------------------------------------------------------------------------------ any step

def _hostile_id(args, kwargs) -> bool:
    """Whether a patched call is about the hostile mail: some argument is its verdict or carries its id."""
    for v in (*args, *kwargs.values()):
        if v == "<hostile@x>" or getattr(v, "message_id", None) == "<hostile@x>":
            return True
    return False


def _fail_on_hostile(real, what: str):
    def patched(*args, **kwargs):
        if _hostile_id(args, kwargs):
            raise RuntimeError(f"boom while {what}")
        return real(*args, **kwargs)
    return patched


@pytest.mark.parametrize("step", ["recording", "storing", "answering", "filing"])
def test_a_failure_at_any_step_quarantines_only_that_mail(tmp_path, monkeypatch, step):
    cfg = maildir_config(tmp_path, [build_mail(message_id="<hostile@x>", **jimei()), good()])
    svc = service(cfg)
    if step == "recording":
        monkeypatch.setattr(svc.store, "add_received", _fail_on_hostile(svc.store.add_received, step))
    elif step == "storing":
        monkeypatch.setattr(svc.store, "save_verdict", _fail_on_hostile(svc.store.save_verdict, step))
    elif step == "answering":
        monkeypatch.setattr(svc, "_queue_reply", _fail_on_hostile(svc._queue_reply, step))
    else:
        real = MaildirSource.file

        def file(self, uid, folder, move=False):
            if uid == 1:                          # the hostile mail is the first in the Maildir
                raise RuntimeError(f"boom while {step}")
            return real(self, uid, folder, move)
        monkeypatch.setattr(MaildirSource, "file", file)
    try:
        counts = svc.poll_once()
    finally:
        svc.close()
    assert counts["quarantined"] == 1 and counts["new"] == 2
    (state, reason), good_row = rows(cfg, "select state, reason from messages order by id")
    assert state == "quarantined" and f"RuntimeError: boom while {step}" in reason
    assert good_row == ("done", None)
    assert answered(cfg)["school@qq.com"] == "sent"
    [(event,)] = rows(cfg, "select text from events where level = 'error'")
    assert event.startswith("message 1 quarantined: ") and "boom" in event


@pytest.mark.parametrize("step", ["storing", "filing", "refused"])
def test_a_failure_over_imap_quarantines_only_that_mail(tmp_path, dovecot, smtp_server, monkeypatch, step):
    """The same through Dovecot and SMTP: the good report is fetched, filed and sent in the same poll.
    `refused`: the server says NO to copying the one message (the connection stays up)."""
    import imaplib

    from imapclient import IMAPClient

    from daemon.intake.imap import ImapSource
    dovecot.append(build_mail(message_id="<hostile@x>", **jimei()))
    dovecot.append(good())
    svc = service(write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server))
    cfg = tmp_path / "ribao" / "config.toml"
    if step == "storing":
        monkeypatch.setattr(svc.store, "save_verdict", _fail_on_hostile(svc.store.save_verdict, step))
    elif step == "refused":
        real_copy = IMAPClient.copy

        def copy(self, messages, folder):
            if list(messages) == [1]:
                raise imaplib.IMAP4.error("COPY command error: NO [SERVERBUG] refused for this one")
            return real_copy(self, messages, folder)
        monkeypatch.setattr(IMAPClient, "copy", copy)
    else:
        real = ImapSource.file

        def file(self, uid, folder, move=False):
            if uid == 1:
                raise RuntimeError(f"boom while {step}")
            return real(self, uid, folder, move)
        monkeypatch.setattr(ImapSource, "file", file)
    try:
        counts = svc.poll_once()
    finally:
        svc.close()
    assert counts["quarantined"] == 1 and counts["new"] == 2
    assert rows(cfg, "select message_id, state from messages order by id") == [
        ("<hostile@x>", "quarantined"), ("<good@x>", "done")]
    assert "school@qq.com" in {m.rcpt_tos[0] for m in smtp_server.wait_for(1 if step == "storing" else 2)}
    if step == "refused":
        assert "refused to file UID 1" in rows(cfg, "select reason from messages where id = 1")[0][0]
    assert len(dovecot.uids("一日一报/2023-05-15/厦门工商旅游学校")) == 1


def test_quarantined_mail_is_not_tried_again(tmp_path, monkeypatch):
    """The next poll leaves a quarantined mail alone (it is not `received`): nothing waits on it."""
    cfg = maildir_config(tmp_path, [build_mail(message_id="<hostile@x>", **jimei()), good()])
    svc = service(cfg)
    monkeypatch.setattr(svc.store, "save_verdict", _fail_on_hostile(svc.store.save_verdict, "storing"))
    svc.poll_once()
    again = svc.poll_once()
    svc.close()
    assert again == {"new": 0, "judged": 0, "quarantined": 0, "duplicates": 0, "waiting": 0}
    assert rows(cfg, "select state, attempts from messages order by id") == [("quarantined", 1), ("done", 1)]


# ------------------------------------------------------------------------------------------ the disk

def _compressible(n_bytes: int) -> bytes:
    """Deflates about 60:1: under the ratio limit (200), so only the size budget can refuse it."""
    block = os.urandom(1024) + bytes(63 * 1024)
    return block * (n_bytes // len(block))


def test_an_archive_unpacking_past_the_mails_budget_is_unsafe(tmp_path):
    zipped = make_zip(tmp_path / "a.zip", {f"表{i}.csv": _compressible(5 << 20) for i in range(8)})   # 40 MB
    assert zipped.stat().st_size < 1 << 20        # a ~1 MB mail: its budget is the 16 MB floor
    hostile = build_mail(message_id="<zip@x>", attachments=[("材料.zip", zipped, "application/zip")], **jimei())
    cfg = maildir_config(tmp_path, [hostile, good()])
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert rows(cfg, "select message_id, state, attempts from messages order by id") == [
        ("<zip@x>", "done", 1), ("<good@x>", "done", 1)]
    [(text,)] = rows(cfg, "select d.text from defects d join messages m on m.id = d.message "
                          "where m.message_id = '<zip@x>' and d.code = 'archive.unsafe'")
    assert "16 MB" in text
    assert answered(cfg) == {"jmzx@163.com": "sent", "school@qq.com": "sent"}


def test_disk_short_of_the_budget_keeps_the_mail_received(tmp_path, tmpfs):
    photo = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()
    big = build_mail(message_id="<big@x>", attachments=[("开放日.jpg", photo, "image/jpeg")],
                     **jimei(body=report_text(1000, "集美职校") + "\n照片：开放日"))
    cfg = maildir_config(tmp_path, [big, good()])
    tmpfs(cfg.parent / "data", "30m")              # room for the good report's 16 MB, not the big one's 58
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "message 1 (3.6 MB) waits for disk space: judging it needs 58.0 MB free" in r.stderr
    assert "1 waiting for disk space" in r.stderr
    assert rows(cfg, "select message_id, state, attempts from messages order by id") == [
        ("<big@x>", "received", 0), ("<good@x>", "done", 1)]
    assert answered(cfg) == {"school@qq.com": "sent"}


def test_a_disk_filling_up_after_the_budget_check_counts_as_an_attempt(tmp_path, tmpfs, monkeypatch):
    """Free space said yes and the disk still filled up: three such polls and the mail is quarantined,
    so it is not retried first forever."""
    photo = make_jpeg(tmp_path / "p.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()
    big = build_mail(message_id="<big@x>", attachments=[("开放日.jpg", photo, "image/jpeg")],
                     **jimei(body=report_text(1000, "集美职校") + "\n照片：开放日"))
    cfg = maildir_config(tmp_path, [big, good()])
    tmpfs(cfg.parent / "data", "5m")               # the raw mail fits, its photo as well does not
    monkeypatch.setattr(service_mod, "_free_bytes", lambda path: 1 << 40)
    svc = service(cfg)
    for attempt in (1, 2, 3):
        with pytest.raises(StorageFull):
            svc.poll_once()
        [(state, attempts, reason)] = rows(cfg, "select state, attempts, reason from messages where id = 1")
        assert (state, attempts) == ("received", attempt) and "disk filled up" in reason
    counts = svc.poll_once()
    svc.close()
    assert counts["quarantined"] == 1
    assert rows(cfg, "select message_id, state from messages order by id") == [
        ("<big@x>", "quarantined"), ("<good@x>", "done")]
    assert "judging failed three times" in rows(cfg, "select reason from messages where id = 1")[0][0]
    assert answered(cfg)["school@qq.com"] == "sent"
