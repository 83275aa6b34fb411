"""Replies, digests and secrets can't be turned against anyone.

A stranger controls a mail's subject, file names, From, Reply-To and headers. None of it may add a
header or a recipient to our reply, inject markup into the reply or the staff digest, make us
answer a bounce, ourselves or an auto-responder (mail loops), or flood anybody past the limits.
Passwords come from the config or a password file, and show up in no log, status or error line;
the storage folder and the database are private to the daemon's user.
"""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import os
import re
import stat
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.outgoing.mailout import build
from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.media import make_jpeg
from tests.hostile.conftest import ROOT, rows

SENT_HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
                "x-auto-response-suppress", "mime-version", "content-type", "content-transfer-encoding"}


def ribao(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **(env or {})))


def once(cfg) -> subprocess.CompletedProcess:
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def parsed(rec):
    return email.message_from_bytes(rec.data, policy=email.policy.default)


def _b(text: str) -> str:
    return f"=?utf-8?B?{base64.b64encode(text.encode()).decode()}?="


@pytest.fixture
def cfg(tmp_path, dovecot, smtp_server):
    return write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)


def test_subject_and_file_names_cannot_add_headers_recipients_or_markup(cfg, dovecot, smtp_server, tmp_path):
    small = make_jpeg(tmp_path / "s.jpg", 800, 600).read_bytes()          # too narrow: its name is quoted back
    evil_name = "<script>alert(1)</script>\r\nBcc: victim@evil.test\r\n.jpg"
    raw = build_mail(subject="x", body=report_text(300), sender="jmzx@163.com", sender_name="校长\r\nCc: a@evil.test",
                     attachments=[(evil_name, small, "image/jpeg")], headers={"Cc": "bystander@example.com"})
    raw = raw.replace(b"Subject: =?gb18030?B?eA==?=",
                      f"Subject: {_b('集美职校一日一报5月15日<b>hi</b>' + chr(13) + chr(10) + 'Bcc: victim2@evil.test')}"
                      .encode())
    dovecot.append(raw)
    once(cfg)
    [reply] = smtp_server.wait_for(1)
    assert reply.rcpt_tos == ["jmzx@163.com"]                # not the Cc, not any injected Bcc
    msg = parsed(reply)
    assert {k.lower() for k in msg.keys()} <= SENT_HEADERS
    assert "\r" not in msg["Subject"] and "\n" not in msg["Subject"]
    head = reply.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"\n(bcc|cc)\s*:", head, re.I)     # "Bcc: victim" may only be inside a folded Subject
    assert msg["Bcc"] is None and msg["Cc"] is None
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>hi</b>" not in html
    assert "&lt;script&gt;" in html                          # the name is there, escaped
    text = msg.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script>" in text                # plain text keeps what the school wrote


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=80), st.text(max_size=300))
def test_built_mail_has_exactly_our_headers(subject, name, references):
    msg = build(sender="xmedu_gjc@163.com", to="school@qq.com", subject=subject, text="正文", html="<p>x</p>",
                in_reply_to="<a@b>", references=references, attachments=[(name, b"x", "text/plain")])
    raw = msg.as_bytes()
    back = email.message_from_bytes(raw, policy=email.policy.default)
    assert {k.lower() for k in back.keys()} <= SENT_HEADERS
    assert back.get_all("To") == ["school@qq.com"]
    for part in back.walk():
        assert {k.lower() for k in part.keys()} <= SENT_HEADERS | {"content-disposition"}


def test_no_reply_to_bounces_spoofed_daemons_ourselves_or_lists(cfg, dovecot, smtp_server):
    body = report_text(1000)
    subject = "【一日一报】厦门工商旅游学校5月15日活动情况"
    for kw in (dict(sender="MAILER-DAEMON@qq.com"),
               dict(sender="postmaster@163.com"),
               dict(sender="Mailer-Daemon@mx.example.com"),
               dict(sender="xmedu_gjc@163.com"),                          # our own From
               dict(sender="bureau@example.test"),                        # our own IMAP login
               dict(sender="school@qq.com", headers={"Reply-To": "XMEDU_GJC@163.COM"}),
               dict(sender="school@qq.com", headers={"Reply-To": "not an address\r\n"}),
               dict(sender="school@qq.com", headers={"List-Unsubscribe": "<mailto:u@x.cn>"})):
        dovecot.append(build_mail(subject=subject, body=body, **kw))
    dsn = build_mail(subject=subject, body=body, sender="school@qq.com").replace(
        b"multipart/alternative", b"multipart/report; report-type=delivery-status", 1)
    dovecot.append(dsn)
    once(cfg)
    got = rows(cfg, "select m.sender, o.state, o.reason, o.recipient from messages m join outbox o on o.message = m.id")
    suppressed = [g for g in got if g[1] == "suppressed" and g[2]]
    # a school's Reply-To that is not one of its addresses (here: ours) is ignored; its From is answered
    assert len(got) == 9 and len(suppressed) == 8, got
    assert [(s, st, r) for s, st, _, r in got if st != "suppressed"] == [("school@qq.com", "sent", "school@qq.com")]
    [reply] = smtp_server.wait_for(1)
    assert reply.rcpt_tos == ["school@qq.com"]


def test_replies_per_sender_and_per_day_are_capped(tmp_path, dovecot, smtp_server):
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server,
                       extra="max_per_sender_per_day = 2\nmax_per_day = 3\n")
    for day in (14, 15, 16, 17):                 # four different reports: no two replies alike
        dovecot.append(build_mail(subject=f"集美职校一日一报5月{day}日", sender="jmzx@163.com", body=report_text(300)))
    for sender in ("gslx@163.com", "xxxx@126.com"):
        dovecot.append(build_mail(subject="信息学校一日一报5月15日", sender=sender, body=report_text(300)))
    once(cfg)
    once(cfg)                                     # a second cycle sends nothing more
    sent = [m.rcpt_tos[0] for m in smtp_server.wait_for(3)]
    # which three get today's budget depends on which judging finished first (senders are judged side
    # by side, each sender's own mail in order); the caps themselves may not bend
    assert len(sent) == 3 and sent.count("jmzx@163.com") <= 2
    assert sorted(sent + [r for (r,) in rows(cfg, "select recipient from outbox where state != 'sent'")]) == \
        ["gslx@163.com", *["jmzx@163.com"] * 4, "xxxx@126.com"]
    # over a limit a school's reply is not dropped: it waits for the next day's budget
    [today] = {d for (d,) in rows(cfg, "select day from outbox where state = 'sent'")}
    waiting = rows(cfg, "select recipient, day, next_try from outbox where state != 'sent' order by id")
    tomorrow = (dt.date.fromisoformat(today) + dt.timedelta(days=1)).isoformat()
    assert len(waiting) == 3 and min(d for _, d, _ in waiting) == tomorrow
    assert all(dt.datetime.fromisoformat(n) == dt.datetime.combine(dt.date.fromisoformat(d), dt.time(), TZ)
               for _, d, n in waiting)


AUTO_STYLES = {
    "rfc3834": ("Re: {s}", {"Auto-Submitted": "auto-replied"}),
    "qq-x-autoreply": ("自动回复: {s}", {"X-Autoreply": "yes"}),
    "163-precedence": ("自动回复：{s}", {"Precedence": "auto_reply"}),
    "outlook": ("Automatic reply: {s}", {"X-Auto-Response-Suppress": "All", "In-Reply-To": "{mid}"}),
    "out-of-office": ("Out of Office: {s}", {"References": "{mid}"}),
    "bare-vacation": ("自动回复: {s}", {}),                 # nothing but the subject quoting our reply
}


def test_an_auto_responder_gets_one_reply_and_a_real_answer_still_counts(cfg, dovecot, smtp_server):
    senders = {style: f"teacher{i}@school{i}.cn" for i, style in enumerate(AUTO_STYLES)}
    senders["real"] = "jmzx@163.com"           # a school's address: unknown ones get one plain reply a day
    for style, sender in senders.items():
        dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender=sender, body=report_text(300)))
    once(cfg)
    first = {m.rcpt_tos[0]: parsed(m) for m in smtp_server.wait_for(len(senders))}
    assert set(first) == set(senders.values())
    for style, (subject, headers) in AUTO_STYLES.items():
        ours = first[senders[style]]
        quoted = ours.get_body(("plain",)).get_content()
        hdrs = {k: v.format(mid=ours["Message-ID"]) for k, v in headers.items()}
        dovecot.append(build_mail(subject=subject.format(s=ours["Subject"]), sender=senders[style], headers=hdrs,
                                  body="您好，我正在休假，回来后尽快回复。\n\n" + quoted))
    ours = first[senders["real"]]
    dovecot.append(build_mail(subject=f"回复：{ours['Subject']}", sender=senders["real"], body=report_text(1000),
                              headers={"In-Reply-To": ours["Message-ID"], "References": ours["Message-ID"]},
                              quote_text=ours.get_body(("plain",)).get_content()))
    once(cfg)
    once(cfg)
    later = smtp_server.messages[len(senders):]
    assert [m.rcpt_tos for m in later] == [[senders["real"]]], "only the real answer is answered"
    kinds = dict(rows(cfg, "select sender, group_concat(kind) from messages group by sender"))
    for style in AUTO_STYLES:
        assert kinds[senders[style]] == "report,auto", style
    assert kinds[senders["real"]] == "report,report"


def test_addresses_we_cannot_send_to_are_not_tried(cfg, dovecot, smtp_server):
    """Raw UTF-8 or GBK in an address (no SMTPUTF8 here): suppressed, never a crash mid-send."""
    for i, addr in enumerate(("张三@qq.com".encode(), "\xd5\xc5@qq.com".encode("latin-1"), b"ok@qq.com\x00x")):
        base = build_mail(subject="集美职校一日一报5月15日", sender="PLACEHOLDER@qq.com", body=report_text(300),
                          message_id=f"<addr{i}@x>")
        dovecot.append(base.replace(b"PLACEHOLDER@qq.com", addr, 1))
    dovecot.append(build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com", body=report_text(300)))
    once(cfg)
    assert [m.rcpt_tos for m in smtp_server.wait_for(1)] == [["jmzx@163.com"]]
    states = dict(rows(cfg, "select m.message_id, o.state from outbox o join messages m on m.id = o.message"))
    assert states == {"<addr0@x>": "suppressed", "<addr1@x>": "suppressed", "<addr2@x>": "suppressed",
                      **{mid: "sent" for mid in states if not mid.startswith("<addr")}} and len(states) == 4


@pytest.mark.parametrize("subject, headers, kind", [
    ("自动回复: 【请修改】回复：集美职校一日一报", {}, "auto"),                    # quotes our reply's subject
    ("Automatic reply: 一日一报", {"X-Auto-Response-Suppress": "All"}, "auto"),
    ("自动回复：一日一报", {"In-Reply-To": "<r@163.com>"}, "auto"),
    ("集美职校一日一报5月15日", {"Precedence": "auto_reply"}, "auto"),
    ("自动回复功能培训 集美职校一日一报5月15日", {}, "report"),                # the words alone are not enough
    ("回复：【请修改】回复：集美职校一日一报5月15日", {"In-Reply-To": "<r@163.com>"}, "report"),
    ("集美职校一日一报5月15日", {"X-Auto-Response-Suppress": "OOF, AutoReply"}, "report"),   # Outlook sets it on mail
])
def test_what_counts_as_an_auto_reply(tmp_path, subject, headers, kind):
    from daemon import profile as profiles
    from daemon.judging import roster as rosters
    from daemon.judging.judge import judge_file
    from tests.judging.conftest import ROSTER
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "m.eml").write_bytes(build_mail(subject=subject, sender="jmzx@163.com", headers=headers,
                                                body=report_text(1000, "集美职校")))
    verdict, _ = judge_file(tmp_path / "m.eml", profiles.load("xiamen-2023"), rosters.load(tmp_path / "roster.csv"))
    assert verdict.kind == kind


def test_html_from_schools_is_escaped_in_the_staff_digest(cfg, dovecot, tmp_path):
    when = dt.datetime(2023, 5, 15, 14, 0, tzinfo=TZ)
    dovecot.append(build_mail(subject="一日一报<script>alert(1)</script>", sender="x@evil.example",
                              body=report_text(900, "无名学校"), date=when), date=when)
    once(cfg)
    out = tmp_path / "digest.html"
    r = ribao("digest", "--config", str(cfg), "--date", "2023-05-15", "--out", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


# ------------------------------------------------------------------------------------------ secrets

def test_password_is_in_no_output_and_storage_is_private(cfg, dovecot):
    dovecot.append(build_mail(subject="工商旅游一日一报5月15日", sender="school@qq.com", body=report_text(1000)))
    r = ribao("run", "--once", "-v", "--config", str(cfg))
    assert r.returncode == 0 and dovecot.password not in r.stdout + r.stderr
    for args in (("status",), ("status", "--json")):
        s = ribao(*args, "--config", str(cfg))
        assert s.returncode == 0 and dovecot.password not in s.stdout + s.stderr
    data = cfg.parent / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("ribao.db", "ribao.db-wal", "ribao.db-shm"):
        if (data / name).exists() or name == "ribao.db":
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    for raw in (data / "raw").rglob("*.eml"):
        assert stat.S_IMODE(raw.stat().st_mode) & 0o077 == 0, raw


def test_a_refused_login_logs_no_password(cfg, dovecot):
    wrong = "wr0ng-Secret-pw-77"
    (cfg.parent / "imap-password").write_text(wrong + "\n")
    for extra, env in (((), {}), (("-v",), {"RIBAO_DEBUG": "1"})):      # Dovecot delays each refusal 2 s
        r = ribao("run", "--once", *extra, "--config", str(cfg), env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "refused" in r.stderr and wrong not in r.stderr + r.stdout
    s = ribao("status", "--config", str(cfg))
    assert s.returncode == 0 and "refused" in s.stdout and wrong not in s.stdout


def test_passwords_come_only_from_the_config_or_its_file(tmp_path, dovecot):
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot)
    text = cfg.read_text()
    (cfg.parent / "imap-password").unlink()
    r = ribao("run", "--once", "--config", str(cfg), env={"RIBAO_PASSWORD": dovecot.password,
                                                          "IMAP_PASSWORD": dovecot.password})
    assert r.returncode == 2 and "password_file" in r.stderr and dovecot.password not in r.stderr
    cfg.write_text(text.replace('password_file = "imap-password"', f'password = "{dovecot.password}"'))
    dovecot.append(build_mail(subject="工商旅游一日一报5月15日", sender="school@qq.com", body=report_text(1000)))
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0 and dovecot.password not in r.stderr + r.stdout
