"""Store, replies and outbox: superseding, reply de-duplication and limits, at-most-once sending."""
from __future__ import annotations

import datetime as dt
import os
import re
import stat
import uuid
from zoneinfo import ZoneInfo

import pytest

from daemon import profile
from daemon.config import RepliesConfig
from daemon.judging import roster
from daemon.model import Defect, Verdict
from daemon.outgoing import outbox, replies
from daemon.outgoing.mailout import SendError, build, clean_header
from daemon.store.db import Store

TZ = ZoneInfo("Asia/Shanghai")
PROF = profile.load("xiamen-2023")


def verdict(school="甲校", day="2023-05-15", received="2023-05-16T09:00:00+08:00", defects=(), sender="a@school.cn",
            mid=None, how="sender", subject="一日一报"):
    return Verdict(kind="report", school=school, report_date=day, late=False, defects=list(defects),
                   materials={"text_chars": 900, "photos": 1, "videos": 0}, deliverables=["daily"],
                   message_id=mid or f"<{re.sub(r'[^0-9]', '', received)}.{uuid.uuid4().hex[:6]}@x>", sender=sender, subject=subject, received=received,
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


def _rows(store, *where):
    sql = "select recipient, state, day, next_try, reason, dedupe_key, raw from outbox"
    return [dict(zip(("recipient", "state", "day", "next_try", "reason", "key", "raw"), r))
            for r in store.db.execute(sql + (f" where {where[0]}" if where else "") + " order by id", where[1:])]


def test_over_the_sender_limit_a_known_reply_waits_for_the_next_day(store):
    out = []
    for i in range(5):
        v = verdict(day=f"2023-05-1{i}", received=f"2023-05-16T0{i}:00:00+08:00")
        out.append(_enqueue(store, v, add(store, v, i + 1), max_per_sender_per_day=2))
    assert out[:2] == ["queued", "queued"]
    assert out[2:] == ["queued for 2023-05-17: the day's reply limit was reached"] * 2 + \
        ["queued for 2023-05-18: the day's reply limit was reached"]
    later = _rows(store, "day != '2023-05-16'")
    assert [r["state"] for r in later] == ["pending"] * 3
    # due at the local (Asia/Shanghai) midnight that starts its day, not before
    due = dt.datetime.fromisoformat(later[0]["next_try"])
    assert due == dt.datetime(2023, 5, 17, tzinfo=TZ)
    t = FlakyTransport(0)
    outbox.deliver(store, t, "bureau@x.cn", [0])          # now is long after 2023: all due
    assert len(t.sent) == 5


def test_deferred_reply_is_not_sent_before_its_day(store):
    today = dt.datetime.now(TZ)
    rec = today.replace(microsecond=0).isoformat()
    for i in range(2):
        v = verdict(received=rec, school=f"校{i}", sender=f"s{i}@school.cn")
        _enqueue(store, v, add(store, v, i + 1), max_per_day=1)
    rows = _rows(store)
    assert [r["day"] for r in rows] == [rec[:10], (today + dt.timedelta(days=1)).date().isoformat()]
    down = FlakyTransport(1)                                # the server is down: others wait too, but
    outbox.deliver(store, down, "bureau@x.cn", [60])         # not less than they already had to
    assert _rows(store)[1]["next_try"] == rows[1]["next_try"]
    store.db.execute("update outbox set next_try = null where id = 1")
    t = FlakyTransport(0)
    assert outbox.deliver(store, t, "bureau@x.cn", [0])["sent"] == 1 and t.sent == [["s0@school.cn"]]


def test_max_per_day_counts_known_addresses_only(store):
    for i in range(3):                                      # three strangers first
        v = verdict(sender=f"x{i}@stranger.example", how="", school=None)
        assert _enqueue(store, v, add(store, v, i + 1), max_per_day=2) == "queued"
    for i in range(2):
        v = verdict(sender=f"s{i}@school.cn", school=f"校{i}", received=f"2023-05-16T1{i}:00:00+08:00")
        assert _enqueue(store, v, add(store, v, 10 + i), max_per_day=2) == "queued"


def test_an_unknown_address_gets_one_plain_reply_a_day_from_its_own_budget(store):
    rt = {"reply-to": ["victim@elsewhere.example"]}
    out = []
    for i in range(4):
        v = verdict(sender=f"x{i % 3}@stranger.example", how="subject", subject=f"一日一报 {i} 附件恶意.exe",
                    received=f"2023-05-16T0{i}:00:00+08:00")
        out.append(replies.enqueue_reply(store, add(store, v, i + 1), v, PROF, rt, sender="bureau@x.cn",
                                         own={"bureau@x.cn"}, cfg=RepliesConfig(max_unknown_per_day=2), tz=TZ))
    assert out[:2] == ["queued", "queued"]
    assert out[2] == "suppressed: limit of 2 replies per day to unknown addresses reached"
    assert out[3] == "suppressed: an unknown address gets one reply a day, and this one had it"     # x0 again
    sent = _rows(store, "state = 'pending'")
    assert [r["recipient"] for r in sent] == ["x0@stranger.example", "x1@stranger.example"]
    import email
    for r in sent:
        m = email.message_from_string(r["raw"], policy=email.policy.default)
        body = m.get_content()
        assert str(m["Subject"]) == "【已收到】您的来信" and m["In-Reply-To"] is None
        assert "一日一报" not in body and "恶意" not in body and "甲校" not in body and "登记" in body
    # the next day the same address may be answered again
    v = verdict(sender="x0@stranger.example", how="", received="2023-05-17T08:00:00+08:00")
    assert _enqueue(store, v, add(store, v, 9), max_unknown_per_day=2) == "queued"


def test_reply_to_only_when_it_is_the_same_schools_address(store):
    ros = roster.parse("school,aliases,emails\n甲校,,a@school.cn;office@school.cn\n乙校,,b@other.cn\n")
    cases = [("sender", "office@school.cn", "office@school.cn"), ("sender", "b@other.cn", "a@school.cn"),
             ("sender", "evil@x.example", "a@school.cn"), ("subject", "office@school.cn", "a@school.cn")]
    for i, (how, rt, want) in enumerate(cases):
        v = verdict(how=how, received=f"2023-05-16T0{i}:00:00+08:00")
        replies.enqueue_reply(store, add(store, v, i + 1), v, PROF, {"reply-to": [rt]}, sender="bureau@x.cn",
                              own=set(), cfg=RepliesConfig(), tz=TZ, roster=ros)
        assert _rows(store)[-1]["recipient"] == want, (how, rt)


def test_staff_assigned_mail_gets_one_further_reply(store):
    v = verdict(sender="new@school.cn", how="body")
    ident = add(store, v, 1)
    assert _enqueue(store, v, ident) == "queued"                        # the plain reply to a stranger
    v2 = verdict(sender="new@school.cn", how="body", received=v.received)
    v2.message_id = v.message_id
    assert _enqueue(store, v2, ident) == "already queued"
    call = dict(sender="bureau@x.cn", own=set(), cfg=RepliesConfig(), tz=TZ, staff_assigned=True)
    assert replies.enqueue_reply(store, ident, v2, PROF, {}, **call) == "queued"
    assert replies.enqueue_reply(store, ident, v2, PROF, {}, **call) == "already queued"
    rows = _rows(store, "state = 'pending'")
    assert [r["key"].split(":")[0] for r in rows] == ["stranger", "reply"]
    import email
    body = email.message_from_string(rows[1]["raw"], policy=email.policy.default).get_body(("plain",)).get_content()
    assert body.startswith("甲校：您好")


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


def test_staff_commands_leave_a_row_being_sent_alone(tmp_path):
    """`ribao assign`/`rejudge` and the desk run beside a live daemon: only the daemon's own start
    turns a `sending` row into `uncertain`."""
    from daemon import config as configs
    from daemon.service import Service
    from tests.builders.config import write_config
    from tests.builders.maildir import new_maildir
    cfg = configs.load(write_config(tmp_path / "c", maildir=new_maildir(tmp_path / "md")))
    store = Store(cfg.storage.path)
    store.db["outbox"].insert({"kind": "reply", "dedupe_key": "k", "recipient": "a@b.cn", "state": "sending", "day": "x"})
    Service(cfg, PROF, _roster(), recover=False)
    assert store.db.execute("select state from outbox").fetchone()[0] == "sending"
    Service(cfg, PROF, _roster())
    assert store.db.execute("select state from outbox").fetchone()[0] == "uncertain"


def _roster():
    from daemon.judging.roster import Roster
    return Roster()
