"""ImapSource against a real Dovecot on loopback (tests/servers/dovecot.py), plus the SMTP test server."""
from __future__ import annotations

import datetime as dt
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage

import pytest

from daemon.config import MailboxConfig
from daemon.intake import MailboxError, open_source
from daemon.intake.imap import ImapSource
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

SCHOOL = "一日一报/2023-05-15/厦门工商旅游学校"
TZ = dt.timezone(dt.timedelta(hours=8))


def mail(n: int, subject: str = "一日一报") -> bytes:
    m = EmailMessage()
    m["From"] = f"school{n}@example.test"
    m["To"] = "bureau@example.test"
    m["Subject"] = f"{subject} {n}"
    m["Message-ID"] = f"<m{n}@example.test>"
    m.set_content(f"第{n}封\n")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))


def config(server: Dovecot, **kw) -> MailboxConfig:
    values = dict(host=server.host, port=server.port, security="none", username=server.user,
                  password=server.password, client_id="ribao-test", timeout=10)
    values.update(kw)
    return MailboxConfig(**values)


@pytest.fixture
def spool(tmp_path):
    return tmp_path / "spool"


@pytest.fixture
def source(dovecot, spool):
    src = open_source(config(dovecot), spool)
    yield src
    src.close()


class Wire:
    """Records the IMAP commands a client really sends (tagged lines on the socket)."""

    def __init__(self, src: ImapSource):
        imap = src._c._imap
        self.commands: list[str] = []
        send, prefix = imap.send, imap.tagpre

        def spy(data: bytes):
            for line in data.split(b"\r\n"):
                if line.startswith(prefix):
                    words = line.split()
                    self.commands.append(b" ".join(words[1:3] if words[1] == b"UID" else words[1:2]).decode())
            return send(data)
        imap.send = spy


def flags(server: Dovecot, folder: str = "INBOX") -> dict:
    with server.client() as c:
        c.select_folder(folder, readonly=True)
        return c.get_flags(c.search("ALL"))


def message_ids(server: Dovecot, folder: str) -> list[str]:
    with server.client() as c:
        c.select_folder(folder, readonly=True)
        got = c.fetch(c.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        return sorted(v[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip() for v in got.values())


# ---- finding new mail ---------------------------------------------------------------------------------

def test_new_mail_found_by_uid(dovecot, source, spool):
    dates = [dt.datetime(2023, 5, 15, 8, n, tzinfo=TZ) for n in range(3)]
    uids = [dovecot.append(mail(n), date=d) for n, d in enumerate(dates)]
    state = source.select()
    assert (state.uidnext, state.exists) == (uids[-1] + 1, 3)

    got = list(source.fetch_since(0))
    assert [f.uid for f in got] == uids
    assert [f.message_id for f in got] == ["<m0@example.test>", "<m1@example.test>", "<m2@example.test>"]
    assert [f.internaldate for f in got] == dates
    assert all(f.internaldate.tzinfo is not None and f.uidvalidity == state.uidvalidity for f in got)
    for n, f in enumerate(got):
        assert f.path.parent == spool and f.path.read_bytes() == mail(n) and f.size == len(mail(n))
    assert len({f.path for f in got}) == 3
    assert list(source.fetch_since(uids[-1])) == []
    assert list(source.fetch_since(uids[-1] + 5)) == []      # "N:*" names the last message: filtered


def test_fetching_does_not_mark_seen(dovecot, source):
    dovecot.append(mail(1))
    source.select()
    assert len(list(source.fetch_since(0))) == 1
    assert list(flags(dovecot).values()) == [()]


def test_only_the_new_message_after_an_append(dovecot, source):
    first = dovecot.append(mail(1))
    source.select()
    assert [f.uid for f in source.fetch_since(0)] == [first]
    second = dovecot.append(mail(2))
    source.select()
    got = list(source.fetch_since(first))
    assert [(f.uid, f.message_id) for f in got] == [(second, "<m2@example.test>")]


def test_large_and_small_messages_batch_in_uid_order(dovecot, source, monkeypatch):
    monkeypatch.setattr("daemon.intake.imap.BATCH_BYTES", 2000)
    big = mail(99).replace(b"\xe5\xb0\x81", b"x" * 5000)
    uids = [dovecot.append(m) for m in (mail(1), big, mail(2), mail(3), mail(4))]
    source.select()
    got = list(source.fetch_since(0))
    assert [f.uid for f in got] == uids
    assert got[1].path.read_bytes() == big


def test_message_without_message_id(dovecot, source):
    dovecot.append(b"From: a@example.test\r\nSubject: none\r\n\r\nbody\r\n")
    source.select()
    (f,) = source.fetch_since(0)
    assert f.message_id is None


# ---- filing -------------------------------------------------------------------------------------------

def test_filing_creates_chinese_folders_and_copies(dovecot, source):
    u1, u2 = dovecot.append(mail(1)), dovecot.append(mail(2))
    source.select()
    source.file(u1, SCHOOL)
    source.file(u2, SCHOOL)                       # the folder exists now: fine
    folders = dovecot.folders()
    for name in ("一日一报", "一日一报/2023-05-15", SCHOOL):
        assert name in folders
    assert SCHOOL in dovecot.subscribed()
    assert message_ids(dovecot, SCHOOL) == ["<m1@example.test>", "<m2@example.test>"]
    assert dovecot.uids() == [u1, u2]             # copied, not moved


def test_filing_with_move_removes_from_inbox_only(dovecot, source):
    uids = [dovecot.append(mail(n)) for n in range(3)]
    source.select()
    wire = Wire(source)
    source.file(uids[1], SCHOOL, move=True)
    assert "UID MOVE" in wire.commands and "UID COPY" not in wire.commands
    assert dovecot.uids() == [uids[0], uids[2]]
    assert message_ids(dovecot, SCHOOL) == ["<m1@example.test>"]
    state = source.select()                       # the EXPUNGE seen on the MOVE makes it SELECT again
    assert state.exists == 2


def test_filing_uses_the_servers_delimiter(make_dovecot, spool):
    server = make_dovecot(separator=".")
    uid = server.append(mail(1))
    src = ImapSource(config(server), spool)
    src.select()
    src.file(uid, SCHOOL)
    src.close()
    assert "一日一报.2023-05-15.厦门工商旅游学校" in server.folders()
    assert message_ids(server, "一日一报.2023-05-15.厦门工商旅游学校") == ["<m1@example.test>"]


def test_an_older_server_without_move_idle_or_id(make_dovecot, spool):
    server = make_dovecot(capabilities="IMAP4rev1 LITERAL+ UIDPLUS")
    uid = server.append(mail(1))
    src = ImapSource(config(server), spool)
    src.select()
    wire = Wire(src)
    src.file(uid, SCHOOL, move=True)              # no MOVE: COPY only, nothing deleted
    assert "UID COPY" in wire.commands and not {"UID MOVE", "STORE", "UID STORE", "EXPUNGE"} & set(wire.commands)
    assert server.uids() == [uid]
    assert message_ids(server, SCHOOL) == ["<m1@example.test>"]
    wire.commands.clear()
    assert src.wait(0.05) is True                 # no IDLE: a plain sleep
    assert wire.commands == []
    src.close()
    assert "ID sent" not in server.log_text()


# ---- UIDVALIDITY, reconnects, errors ------------------------------------------------------------------

def test_uidvalidity_change_is_detected_and_remapped(dovecot, source):
    for n in range(3):
        dovecot.append(mail(n))
    before = source.select()
    assert len(list(source.fetch_since(0))) == 3
    new = dovecot.force_uidvalidity_change()
    after = source.select()
    assert after.uidvalidity == new != before.uidvalidity
    ids = source.uid_message_ids()
    assert sorted(ids.values()) == ["<m0@example.test>", "<m1@example.test>", "<m2@example.test>"]
    assert sorted(ids) == dovecot.uids()


def test_filing_refuses_stale_uids_after_uidvalidity_change(dovecot, source):
    uid = dovecot.append(mail(1))
    source.select()
    dovecot.force_uidvalidity_change()
    with pytest.raises(MailboxError, match="UIDVALIDITY"):
        source.file(uid, SCHOOL)


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_reconnects_after_server_restart(dovecot, source, how):
    first = dovecot.append(mail(1))
    source.select()
    assert len(list(source.fetch_since(0))) == 1
    if how == "restart":
        dovecot.restart()
    else:
        dovecot.kill()
        dovecot.start()
    second = dovecot.append(mail(2))
    state = source.select()
    assert state.uidnext == second + 1
    assert [f.message_id for f in source.fetch_since(first)] == ["<m2@example.test>"]
    source.file(second, SCHOOL)
    assert message_ids(dovecot, SCHOOL) == ["<m2@example.test>"]


def test_server_down_is_one_clean_line(dovecot, source):
    source.select()
    dovecot.stop()
    with pytest.raises(MailboxError) as e:
        source.select()
    msg = str(e.value)
    assert f"127.0.0.1:{dovecot.port}" in msg and "connection refused" in msg and "[mailbox]" in msg
    assert "\n" not in msg and dovecot.password not in msg
    with pytest.raises(MailboxError, match="connection refused"):
        source.wait(0.01)                         # no connection: one clean line, the caller retries


def test_unknown_host(spool):
    src = ImapSource(MailboxConfig(host="imap.nonexistent.invalid", port=993, username="u", password="pw-123", timeout=5), spool)
    with pytest.raises(MailboxError, match=r"cannot find IMAP server 'imap.nonexistent.invalid'.*\[mailbox\] host"):
        src.select()


def test_wrong_password(dovecot, spool):
    src = ImapSource(config(dovecot, password="wrong-Secret-77"), spool)
    with pytest.raises(MailboxError) as e:
        src.select()
    msg = str(e.value)
    assert "login" in msg and dovecot.user in msg and "password" in msg
    assert "wrong-Secret-77" not in msg and "\n" not in msg


def test_missing_folder(dovecot, spool):
    src = ImapSource(config(dovecot, folder="收件箱/不存在"), spool)
    with pytest.raises(MailboxError, match="'收件箱/不存在'.*check \\[mailbox\\] folder"):
        src.select()
    src.close()


def test_id_is_sent(dovecot, source):
    source.select()
    assert "ID sent: name=ribao-test, version=" in dovecot.log_text()


# ---- cost of polling, IDLE ----------------------------------------------------------------------------

def test_idle_poll_costs_one_command(dovecot, source):
    for n in range(30):
        dovecot.append(mail(n))
    state = source.select()
    last = max(f.uid for f in source.fetch_since(0))
    wire = Wire(source)
    for _ in range(3):
        assert source.select() == state
        assert list(source.fetch_since(last)) == []
    assert wire.commands == ["NOOP"] * 3

    new = dovecot.append(mail(99))                # announced on the NOOP: SELECT, then fetch it
    wire.commands.clear()
    assert source.select().uidnext == new + 1
    assert [f.uid for f in source.fetch_since(last)] == [new]
    assert wire.commands[:2] == ["NOOP", "SELECT"] and len(wire.commands) <= 4


def test_wait_returns_when_mail_arrives_during_idle(dovecot, source):
    source.select()
    wire = Wire(source)
    appended = threading.Timer(0.5, dovecot.append, args=(mail(7),))
    appended.start()
    try:
        assert source.wait(60) is True                # returns on EXISTS; 60 s is only a safety net
    finally:
        appended.join()
    assert wire.commands[0] == "IDLE"
    assert source.select().exists == 1
    assert [f.message_id for f in source.fetch_since(0)] == ["<m7@example.test>"]


def test_wait_connects_on_its_own(dovecot, source):
    """The daemon's IDLE source is never select()ed by a poll: wait() must connect, not fall back to sleep."""
    appended = threading.Timer(0.5, dovecot.append, args=(mail(8),))
    appended.start()
    try:
        assert source.wait(60) is True                # 60 s is only a safety net
    finally:
        appended.join()
    assert source.can_idle() and source._c is not None


def test_idle_is_reissued(dovecot, source, monkeypatch):
    from daemon.intake import imap
    monkeypatch.setattr(imap, "IDLE_SECONDS", 0.2)     # stands for the 25 minutes
    assert source.can_idle()
    wire = Wire(source)
    assert source.wait(1.0) is False
    assert wire.commands.count("IDLE") >= 3 and set(wire.commands) == {"IDLE"}
    assert imap.IDLE_SECONDS < 29 * 60


def test_wait_raises_when_the_server_goes_and_reconnects_after(dovecot, source):
    assert source.can_idle()
    stopped = threading.Timer(0.5, dovecot.stop)
    stopped.start()
    try:
        with pytest.raises(MailboxError, match=f"127.0.0.1:{dovecot.port}"):
            source.wait(60)
    finally:
        stopped.join()
    dovecot.start()
    appended = threading.Timer(0.5, dovecot.append, args=(mail(9),))
    appended.start()
    try:
        assert source.wait(60) is True
    finally:
        appended.join()


def test_wait_times_out_quietly(dovecot, source):
    source.select()
    assert source.wait(0.3) is False


def test_wait_without_idle_sleeps(dovecot, spool):
    src = ImapSource(config(dovecot, idle=False), spool)
    src.select()
    start = time.monotonic()
    assert src.wait(0.2) is True
    assert time.monotonic() - start >= 0.2
    src.close()


def test_close_tolerates_a_dead_connection(dovecot, source):
    source.select()
    dovecot.kill()
    source.close()
    source.close()


# ---- TLS ----------------------------------------------------------------------------------------------

def test_implicit_tls(dovecot_tls, spool):
    dovecot_tls.append(mail(1))
    src = ImapSource(config(dovecot_tls, port=dovecot_tls.imaps_port, security="tls", ca_file=str(dovecot_tls.cert)), spool)
    assert src.select().exists == 1
    assert [f.message_id for f in src.fetch_since(0)] == ["<m1@example.test>"]
    src.close()


def test_starttls(dovecot_tls, spool):
    dovecot_tls.append(mail(1))
    src = ImapSource(config(dovecot_tls, security="starttls", ca_file=str(dovecot_tls.cert)), spool)
    assert src.select().exists == 1
    assert src._c._starttls_done
    src.close()


def test_untrusted_certificate(dovecot_tls, spool):
    src = ImapSource(config(dovecot_tls, port=dovecot_tls.imaps_port, security="tls"), spool)
    with pytest.raises(MailboxError, match=r"certificate not trusted.*ca_file"):
        src.select()
    src = ImapSource(config(dovecot_tls, port=dovecot_tls.imaps_port, security="tls", verify_tls=False), spool)
    assert src.select().exists == 0
    src.close()


def test_tls_to_a_plain_port(dovecot, spool):
    src = ImapSource(config(dovecot, security="tls", verify_tls=False), spool)
    with pytest.raises(MailboxError, match=r"TLS failed.*security"):
        src.select()


# ---- the SMTP test server -----------------------------------------------------------------------------

def test_smtp_server_records_and_restarts_on_the_same_port(smtp_server):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "bureau@example.test", "school@example.test", "回执"
    m.set_content("收到\n")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.send_message(m)
    (got,) = smtp_server.wait_for(1)
    assert got.mail_from == "bureau@example.test" and got.rcpt_tos == ["school@example.test"]
    assert got.message["Subject"] == "回执"

    port = smtp_server.port
    smtp_server.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_server.host, port, timeout=5)
    smtp_server.start()
    assert smtp_server.port == port
    with smtplib.SMTP(smtp_server.host, port, timeout=10) as s:
        s.send_message(m)
    assert len(smtp_server.wait_for(2)) == 2


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_smtp_server_auth_and_tls(tmp_path, tls):
    server = SmtpServer(auth=("bureau", "pw-1"), tls=tls, cert_dir=tmp_path).start()
    ctx = ssl.create_default_context(cafile=str(server.cert))
    try:
        if tls == "tls":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=10, context=ctx)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=10)
            client.starttls(context=ctx)
        with client as s:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.login("bureau", "wrong")
            s.login("bureau", "pw-1")
            s.sendmail("bureau@example.test", ["a@example.test"], b"Subject: hi\r\n\r\nx\r\n")
        assert server.wait_for(1)[0].login == "bureau"
    finally:
        server.stop()


def test_smtp_server_refuses_mail_without_auth(tmp_path):
    server = SmtpServer(auth=("bureau", "pw-1")).start()
    try:
        with smtplib.SMTP(server.host, server.port, timeout=10) as s:
            with pytest.raises(smtplib.SMTPDataError):
                s.sendmail("bureau@example.test", ["a@example.test"], b"Subject: hi\r\n\r\nx\r\n")
        assert server.messages == []
    finally:
        server.stop()


# ---- large mail to disk, small mail first ----------------------------------------------------------------

def big_mail(n: int, sender: str, mbytes: float = 2.5) -> bytes:
    """A report with an attachment of `mbytes` MB of random bytes (base64 in the mail)."""
    import os as _os
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = sender, "bureau@example.test", f"一日一报 {n}", f"<big{n}@example.test>"
    m.set_content("照片见附件\n")
    m.add_attachment(_os.urandom(int(mbytes * 1_000_000)), maintype="application", subtype="octet-stream",
                     filename=f"p{n}.bin")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))


def test_a_large_message_goes_to_disk_in_pieces(dovecot, source):
    import tracemalloc
    raw = big_mail(1, "Teacher <Big@School.cn>", mbytes=8)
    uid = dovecot.append(raw)
    source.select()
    tracemalloc.start()
    try:
        (f,) = source.fetch_since(0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f.uid == uid and f.path.read_bytes() == raw and f.size == len(raw)
    assert f.sha256 == ""              # the judging worker takes it (tests/daemon/test_load.py checks it)
    assert (f.message_id, f.sender) == ("<big1@example.test>", "big@school.cn")
    assert peak < 3 * 1024**2, f"{peak / 1024**2:.1f} MB held in memory for an {len(raw) / 1024**2:.0f} MB message"
    # the connection is still in step: the next command works
    assert source.select().exists == 1


def test_small_mail_first_each_senders_in_order(dovecot, source):
    uids = [dovecot.append(m) for m in (big_mail(1, "a@x.cn"), big_mail(2, "b@x.cn"), mail(3), big_mail(4, "school3@example.test", 0.1))]
    source.select()
    got = [(f.uid, f.watermark) for f in source.fetch_since(0)]
    # mail(3) (from school3@example.test) is small: first; the 0.1 MB one is also small but from the same
    # sender as mail(3), which has gone by then, so it goes next; the two large ones keep UID order
    assert [u for u, _ in got] == [uids[2], uids[3], uids[0], uids[1]]
    assert [w for _, w in got] == [0, 0, uids[0], uids[3]]


def test_mail_arriving_during_a_long_fetch_is_taken_before_the_rest(dovecot, source, monkeypatch):
    monkeypatch.setattr("daemon.intake.imap.RECHECK_SECONDS", 0)
    uids = [dovecot.append(big_mail(n, f"s{n}@x.cn")) for n in range(3)]
    source.select()
    order = []
    for f in source.fetch_since(0):
        order.append(f.uid)
        if len(order) == 1:
            late = dovecot.append(mail(9))
    assert order == [uids[0], late, uids[1], uids[2]]
