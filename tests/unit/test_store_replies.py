"""Store, replies and outbox: superseding, reply de-duplication and limits, at-most-once sending."""
from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest

from daemon import outbox, profile, replies
from daemon.config import RepliesConfig
from daemon.mailout import SendError, build, clean_header
from daemon.model import Defect, Verdict
from daemon.store import Store
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
PROF = profile.load("xiamen-2023")


def verdict(school="甲校", day="2023-05-15", received="2023-05-16T09:00:00+08:00", defects=(), sender="a@school.cn", mid=None,
            how="sender"):
    return Verdict(kind="report", school=school, report_date=day, late=False, defects=list(defects),
                   materials={"text_chars": 900, "photos": 1, "videos": 0}, deliverables=["daily"],
                   message_id=mid or f"<{received}{school}@x>", sender=sender, subject="一日一报", received=received,
                   school_how=how, recurring="daily")


def add(store: Store, v: Verdict, uid: int) -> int:
    ident = store.add_received(uid=uid, uidvalidity=1, folder="INBOX", raw_path="/dev/null", raw_sha256=str(uid),
                               size=1, message_id=v.message_id, received=v.received)
    store.save_verdict(ident, v)
    return ident


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "data")


def test_storage_is_private(store):
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.root / "ribao.db").st_mode) == 0o600


def test_resend_supersedes_but_both_stay(store):
    a = add(store, verdict(defects=[Defect("text.too_short", "error", None, "x")]), 1)
    b = add(store, verdict(received="2023-05-16T10:00:00+08:00"), 2)
    assert store.get(a)["superseded_by"] == b and store.get(b)["superseded_by"] is None
    assert store.db.execute("select count(*) from messages").fetchone()[0] == 2


def test_other_day_or_school_does_not_supersede(store):
    a = add(store, verdict(), 1)
    add(store, verdict(day="2023-05-16", received="2023-05-17T09:00:00+08:00"), 2)
    add(store, verdict(school="乙校", received="2023-05-16T09:30:00+08:00"), 3)
    assert store.get(a)["superseded_by"] is None


def test_rejudged_older_report_stays_superseded(store):
    a = add(store, verdict(), 1)
    b = add(store, verdict(received="2023-05-16T10:00:00+08:00"), 2)
    store.save_verdict(a, verdict())            # judged again later (rejudge)
    assert store.get(a)["superseded_by"] == b


def _enqueue(store, v, ident, **cfg):
    c = RepliesConfig(**cfg)
    return replies.enqueue_reply(store, ident, v, PROF, {}, sender="bureau@x.cn", own={"bureau@x.cn"}, cfg=c, tz=TZ)


def test_same_reply_is_never_queued_twice(store):
    bad = [Defect("text.too_short", "error", None, "请补充")]
    a = add(store, verdict(defects=bad), 1)
    b = add(store, verdict(defects=bad, received="2023-05-16T09:10:00+08:00"), 2)
    assert _enqueue(store, store_v := verdict(defects=bad), a) == "queued"
    assert _enqueue(store, store_v, a) == "already queued"                 # a restart
    assert _enqueue(store, verdict(defects=bad, received="2023-05-16T09:10:00+08:00"), b).startswith("suppressed: the same reply")
    fixed = add(store, verdict(received="2023-05-16T09:20:00+08:00"), 3)
    assert _enqueue(store, verdict(received="2023-05-16T09:20:00+08:00"), fixed) == "queued"


def test_limits_per_sender(store):
    out = []
    for i in range(4):
        v = verdict(day=f"2023-05-1{4 + i}", received=f"2023-05-16T0{i}:00:00+08:00")
        out.append(_enqueue(store, v, add(store, v, i + 1), max_per_sender_per_day=2))
    assert out[:2] == ["queued", "queued"] and all(o.startswith("suppressed: limit") for o in out[2:])


def test_no_reply_to_ourselves_or_bad_addresses(store):
    v = verdict(sender="bureau@x.cn")
    assert "ourselves" in _enqueue(store, v, add(store, v, 1))
    v2 = verdict(sender="evil@x.cn\r\nBcc: all@x.cn", received="2023-05-16T09:30:00+08:00")
    assert "no usable reply address" in _enqueue(store, v2, add(store, v2, 2))


def test_reply_headers_cannot_be_injected():
    msg = build(sender="a@x.cn", to="b@x.cn", subject="回复：一日一报\r\nBcc: victim@x.cn", text="x",
                in_reply_to="<a@b>\r\nBcc: v@x.cn", references="<r@x>\nBcc: w@x.cn")
    raw = msg.as_bytes()
    import email
    parsed = email.message_from_bytes(raw)
    assert parsed["Bcc"] is None and b"\nBcc:" not in raw and b"\r\nBcc:" not in raw
    assert "victim" in str(parsed["Subject"])            # still the subject's text, not a header
    assert clean_header("a\r\nb\x00c") == "a b c"


class FlakyTransport:
    def __init__(self, fail_times):
        self.fail, self.sent = fail_times, []

    def send(self, raw, sender, rcpts):
        if self.fail:
            self.fail -= 1
            raise SendError("cannot reach SMTP server 127.0.0.1:1 (connection refused)")
        self.sent.append(rcpts)


def test_outbox_retries_and_sends_once(store):
    v = verdict()
    _enqueue(store, v, add(store, v, 1))
    t = FlakyTransport(fail_times=1)
    assert outbox.deliver(store, t, "bureau@x.cn", [0])["retry"] == 1
    assert outbox.deliver(store, t, "bureau@x.cn", [0])["sent"] == 1
    assert outbox.deliver(store, t, "bureau@x.cn", [0])["sent"] == 0
    assert t.sent == [["a@school.cn"]]


def test_crash_mid_send_is_never_resent(store):
    v = verdict()
    _enqueue(store, v, add(store, v, 1))
    store.db.execute("update outbox set state = 'sending'")      # as a kill -9 during SMTP leaves it
    assert outbox.recover(store) == 1
    t = FlakyTransport(0)
    outbox.deliver(store, t, "bureau@x.cn", [0])
    assert t.sent == [] and store.db.execute("select state from outbox").fetchone()[0] == "uncertain"
