"""Nothing a stranger writes reaches our headers (CVE-2024-6923 on this Python, 3.11.7), and a
reply that reads back with anything we did not write is refused, not queued or sent."""
from __future__ import annotations

import base64
import email
import email.policy
import sys
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from daemon import profile
from daemon.config import RepliesConfig
from daemon.model import Verdict
from daemon.outgoing import mailout, outbox, replies
from daemon.outgoing.mailout import POLICY, build, check, clean_header, msg_id, msg_ids
from daemon.store.db import Store

TZ = ZoneInfo("Asia/Shanghai")
PROF = profile.load("xiamen-2023")
EVIL_MID = "<=?utf-8?q?x=0D=0ABcc:_evil@x.example?=@a>"
EVIL_WORD = "=?utf-8?q?x=0D=0ABcc:_evil@x.example=0D=0A=0D=0Aattacker_body?="
DOUBLE = "=?utf-8?b?" + base64.b64encode(EVIL_WORD.encode()).decode() + "?="     # =?utf-8?b?PT91dGYtOD9...
WRITTEN = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
           "x-auto-response-suppress", "content-type", "content-transfer-encoding", "mime-version"}


def back(raw: bytes | str):
    raw = raw.encode() if isinstance(raw, str) else raw
    return email.message_from_bytes(raw, policy=email.policy.default)


def assert_clean(raw: bytes | str, to: str) -> None:
    m = back(raw)
    names = [k.lower() for k in m.keys()]
    assert set(names) <= WRITTEN and len(names) == len(set(names)), names
    assert m["Bcc"] is None and m["Cc"] is None and m["To"] == to
    text = raw if isinstance(raw, str) else raw.decode("ascii")
    assert not any(line.lower().startswith(("bcc:", "cc:")) for line in text.splitlines())
    for part in m.walk():
        if part.get_content_maintype() == "text":
            assert "attacker" not in part.get_content() and "evil@" not in part.get_content()


def test_the_attack_works_on_the_bare_email_package_here_and_check_refuses_it():
    """What an unprotected reply looked like: the encoded word is decoded while folding."""
    m = EmailMessage(policy=POLICY)
    m["From"], m["To"], m["Subject"] = "bureau@x.cn", "a@school.cn", "s"
    m["In-Reply-To"] = EVIL_MID
    m["References"] = EVIL_WORD
    m.set_content("hello")
    raw = m.as_bytes()
    injected = back(raw)["Bcc"] is not None
    if sys.version_info[:3] == (3, 11, 7):         # the Python this project ships on: reproduced
        assert injected and b"\r\nBcc: evil@x.example" in raw and b"\r\n\r\nattacker body" in raw
    if injected:
        assert "did not write" in check(raw, m) and "did not write" in check(raw)


def test_msg_ids_are_strict_tokens():
    assert msg_id("<abc.1@x.example>") == "<abc.1@x.example>"
    assert msg_id(" <a@[10.0.0.1]> ") == "<a@[10.0.0.1]>"
    for bad in (EVIL_MID, "<a b@c>", "<a@b>\r\nBcc: v@x.cn", "a@b", "<a@b@c>", "<学校@x>", "<a@b> <c@d>",
                "<" + "a" * 300 + "@x>", "<a=?x?q?y?=@b>", "<a@b\x00>", ""):
        assert msg_id(bad) is None, bad
    assert msg_ids(f"<a@b> {EVIL_MID}\r\n\t<c@d> junk <a@b>") == ["<a@b>", "<c@d>"]
    assert len(msg_ids(" ".join(f"<{i}@x>" for i in range(50)))) == 10


def test_subjects_are_decoded_until_no_encoded_word_is_left():
    assert clean_header(DOUBLE) == "x Bcc: evil@x.example attacker body"
    assert "=?" not in clean_header("=?utf-8?b?" + base64.b64encode(DOUBLE.encode()).decode() + "?=")
    assert "=?" not in clean_header("=?bogus?x?y?= =?utf-8?q??=")
    gbk = "=?gb2312?b?" + base64.b64encode("一日一报".encode("gbk")).decode() + "?="
    assert clean_header(f"{gbk} =?utf-8?q?_ok?=") == "一日一报 ok"


def test_built_reply_keeps_nothing_of_the_attack():
    msg = build(sender="bureau@x.cn", to="a@school.cn", subject="【已收到】回复：" + DOUBLE, text="正文",
                html="<p>正文</p>", in_reply_to=EVIL_MID, references=f"<ok@x> {EVIL_WORD}")
    raw = msg.as_bytes()
    assert_clean(raw, "a@school.cn")
    assert msg["In-Reply-To"] is None and check(raw, msg) is None      # no strict id: no threading at all
    ok = build(sender="bureau@x.cn", to="a@school.cn", subject="s", text="t", in_reply_to="<m@x>",
               references=f"<ok@x> {EVIL_MID}")
    assert back(ok.as_bytes())["References"] == "<ok@x> <m@x>"


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "data")


def _verdict(**kw) -> Verdict:
    base = dict(kind="report", school="甲校", report_date="2023-05-15", late=False, defects=[],
                materials={"text_chars": 900, "photos": 1, "videos": 0}, deliverables=["daily"],
                message_id=EVIL_MID, sender="a@school.cn", subject=DOUBLE, received="2023-05-16T09:00:00+08:00",
                school_how="sender")
    base.update(kw)
    return Verdict(**base)


def _add(store, v, uid):
    ident = store.add_received(uid=uid, uidvalidity=1, folder="INBOX", raw_path="/dev/null", raw_sha256=str(uid),
                               size=1, message_id=v.message_id, received=v.received)
    store.save_verdict(ident, v)
    return ident


@pytest.mark.parametrize("how", ["sender", ""])
def test_queued_reply_is_clean_for_known_and_unknown_senders(store, how):
    v = _verdict(school_how=how)
    headers = {"references": [EVIL_WORD], "reply-to": ["evil@x.example"]}
    out = replies.enqueue_reply(store, _add(store, v, 1), v, PROF, headers, sender="bureau@x.cn", own=set(),
                                cfg=RepliesConfig(), tz=TZ)
    assert out == "queued"
    raw, = store.db.execute("select raw from outbox where state = 'pending'").fetchone()
    assert_clean(raw, "a@school.cn")
    subject = str(back(raw)["Subject"])
    assert "=?" not in subject
    assert subject == ("【已收到】您的来信" if how == "" else "【已收到】回复：x Bcc: evil@x.example attacker body")


def test_a_reply_that_reads_back_wrong_is_refused_not_queued(store, monkeypatch):
    """Whatever a future gap lets through: the parsed-back check stops it and says why."""
    def unsafe_build(**kw):
        m = EmailMessage(policy=POLICY)
        m["From"], m["To"], m["Subject"] = kw["sender"], kw["to"], "s"
        m["In-Reply-To"] = EVIL_MID             # straight in, as the old code did
        m.set_content("x")
        return m
    monkeypatch.setattr(replies, "build", unsafe_build)
    v = _verdict()
    out = replies.enqueue_reply(store, _add(store, v, 1), v, PROF, {}, sender="bureau@x.cn", own=set(),
                                cfg=RepliesConfig(), tz=TZ)
    assert out.startswith("failed: refused: the reply read back has headers we did not write (bcc")
    rows = store.db.execute("select state, raw, reason from outbox").fetchall()
    assert rows == [("failed", None, out.removeprefix("failed: "))]
    assert "reply refused" in store.db.execute("select text from events").fetchone()[0]


def test_outbox_does_not_send_a_row_with_a_foreign_header(store):
    m = EmailMessage(policy=POLICY)
    m["From"], m["To"], m["Subject"] = "bureau@x.cn", "a@school.cn", "s"
    m["References"] = EVIL_WORD
    m.set_content("x")
    store.db["outbox"].insert({"message": None, "kind": "digest", "dedupe_key": "k", "recipient": "a@school.cn",
                               "subject": "s", "raw": m.as_bytes().decode("ascii"), "state": "pending",
                               "next_try": None, "day": "2023-05-16"})
    sent = []

    class T:
        def send(self, raw, sender, rcpts):
            sent.append(rcpts)
    counts = outbox.deliver(store, T(), "bureau@x.cn", [0])
    if back(m.as_bytes())["Bcc"] is not None:      # this Python injects: refused
        assert counts["failed"] == 1 and sent == []
        state, err = store.db.execute("select state, last_error from outbox").fetchone()
        assert state == "failed" and "bcc" in err
    else:
        assert sent == [["a@school.cn"]]
    assert mailout.check(build(sender="a@x.cn", to="b@x.cn", subject="s", text="t").as_bytes()) is None


def test_one_point_is_not_introduced_as_several():
    from daemon.model import Defect, Verdict
    from daemon.outgoing.replies import render_reply, reply_subject
    v = Verdict(kind="report", school="甲校", report_date="2023-05-15", late=False, deliverables=["daily"],
                defects=[Defect("photo.too_narrow", "error", "a.jpg", "照片“a.jpg”太窄，请发原图。")],
                materials={"text_chars": 900, "photos": 1, "videos": 0}, subject="一日一报", received="2023-05-16T09:00:00+08:00",
                school_how="sender", recurring="daily")
    subject, text, html = render_reply(v, profile.load("xiamen-2023"), v.subject)
    assert "还有一个问题" in text and "以下" not in text and "1. " not in text and "太窄" in html
    assert reply_subject(True, "回复：Re: 回复：【请修改】回复：一日一报", "x") == "【已收到】回复：一日一报"
