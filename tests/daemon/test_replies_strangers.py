"""Strangers through the daemon (`ribao run --once`, Maildir in, .eml files out): a flood of
"一日一报" mails from unknown addresses with hostile headers gets at most max_unknown_per_day
plain replies, each to its From, and the roster school's report behind them still gets its own."""
from __future__ import annotations

import email
import email.policy
import mailbox
import sqlite3

from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import ribao

EVIL_MID = "<=?utf-8?q?{}=0D=0ABcc:_evil@x.example?=@a>"          # one each: the same id is a copy
EVIL_WORD = "=?utf-8?q?x=0D=0ABcc:_evil@x.example=0D=0A=0D=0Aattacker_body?="
WRITTEN = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
           "x-auto-response-suppress", "content-type", "content-transfer-encoding", "mime-version"}


def stranger(i: int) -> bytes:
    # the subject decodes to an encoded word (double-encoded), which decodes to a Bcc and a body
    return build_mail(subject=f"一日一报 {i} {EVIL_WORD}", sender=f"s{i}@stranger{i}.example", client="163",
                      body="一日一报：今天的活动很好。", message_id=EVIL_MID.format(i) if i % 2 else None,
                      headers={"Reply-To": f"victim{i}@elsewhere.example", "References": EVIL_WORD})


def test_sixty_strangers_then_a_school(tmp_path):
    md = mailbox.Maildir(tmp_path / "md", create=True)
    for i in range(60):
        md.add(stranger(i))
    md.add(stranger(0))                                  # the same stranger again: still one reply
    md.add(build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", sender="school@qq.com",
                      body=report_text(1000), message_id=EVIL_MID.format("school"), headers={"References": EVIL_WORD}))
    cfg = write_config(tmp_path / "ribao", maildir=tmp_path / "md", extra="max_unknown_per_day = 50")
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((cfg.parent / "replies").glob("*.eml"))]
    school = [m for m in sent if m["To"] == "school@qq.com"]
    strangers = [m for m in sent if m["To"] != "school@qq.com"]
    assert len(school) == 1 and len(strangers) == 50
    assert len({m["To"] for m in strangers}) == 50 and all(m["To"].startswith("s") for m in strangers)
    for m in sent:
        names = [k.lower() for k in m.keys()]
        assert set(names) <= WRITTEN and len(names) == len(set(names)) and m["Bcc"] is None
        assert m["In-Reply-To"] is None and "=?" not in str(m["Subject"])
    for m in strangers:
        i = int(m["To"][1:].split("@")[0])
        assert m["To"] == f"s{i}@stranger{i}.example"    # its From, never the Reply-To
        body = m.get_body(("plain",)).get_content()
        assert str(m["Subject"]) == "【已收到】您的来信" and m.get_body(("html",)) is None
        assert "一日一报" not in body and "evil" not in body and "attacker" not in body and "登记" in body
    assert "报送成功" in school[0].get_body(("plain",)).get_content()
    with sqlite3.connect(cfg.parent / "data" / "ribao.db") as db:
        reasons = [r for r, in db.execute("select reason from outbox where state = 'suppressed'")]
    assert sorted(reasons) == sorted(["limit of 50 replies per day to unknown addresses reached"] * 10 +
                                     ["an unknown address gets one reply a day, and this one had it"])
