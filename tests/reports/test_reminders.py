"""Reminders before the deadline: once per school per day, never to a school that reported,
never twice; the outbox rows (and the .eml files delivered) are the proof."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy

from daemon import config as configs
from daemon.outgoing.mailout import FolderTransport
from daemon.reports.digest import deliver
from daemon.reports.reminders import enqueue_reminders
from tests.builders.store import DAY, StoreBuilder

SCHOOLS = ["甲职校", "乙职校", "丙职校", "丁职校"]


def setup(tmp_path, **digest):
    b = StoreBuilder(tmp_path, SCHOOLS)
    cfg = configs.load(b.config(reminders=True, **digest))
    return b, cfg


def outbox(b):
    return b.store.db.execute("select kind, dedupe_key, recipient, state from outbox order by id").fetchall()


def test_daily_reminders_once_and_only_to_schools_that_have_not_reported(tmp_path):
    b, cfg = setup(tmp_path)
    b.roster.schools[3].emails = []                       # 丁职校: no address anywhere
    b.report("甲职校", DAY)                                # reported (even late or with defects: not reminded)
    b.report("乙职校", DAY, defects=["text.missing"])
    ten = dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz)     # 5/15's report is due 5/16 12:00
    r = enqueue_reminders(cfg, b.profile, b.roster, b.store, ten)
    assert r["queued"] == ["丙职校"] and sorted(r["reported"]) == ["乙职校", "甲职校"]
    assert r["skipped"] == [("丁职校", "no usable address")]
    assert outbox(b) == [("reminder", "reminder:daily:丙职校:2023-05-15", "s3@school.example", "pending")]
    # a second run the same day (a restart) queues nothing
    again = enqueue_reminders(cfg, b.profile, b.roster, b.store, ten + dt.timedelta(minutes=30))
    assert again["queued"] == [] and again["already"] == ["丙职校"]
    assert len(outbox(b)) == 1
    assert deliver(cfg, b.store, FolderTransport(cfg.smtp))["sent"] == 1
    (eml,) = list((tmp_path / "sent").glob("*.eml"))
    m = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert m["To"] == "s3@school.example" and m["Auto-Submitted"] == "auto-generated"
    assert m["Subject"] == "【提醒】请于5月16日 12:00前报送5月15日的一日一报"
    body = m.get_body(("plain",)).get_content()
    assert body.startswith("丙职校：您好！") and "5月15日活动情况" in body


def test_the_next_day_reminds_for_the_next_report(tmp_path):
    b, cfg = setup(tmp_path)
    for s in SCHOOLS:
        b.report(s, DAY)
    ten = dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz)
    assert enqueue_reminders(cfg, b.profile, b.roster, b.store, ten)["queued"] == []
    b.report("甲职校", DAY + dt.timedelta(days=1))
    r = enqueue_reminders(cfg, b.profile, b.roster, b.store, ten + dt.timedelta(days=1))
    assert r["queued"] == ["乙职校", "丙职校", "丁职校"]
    assert {k for _, k, _, _ in outbox(b)} == {f"reminder:daily:{s}:2023-05-16" for s in SCHOOLS[1:]}


def test_remembered_address_is_used(tmp_path):
    b, cfg = setup(tmp_path)
    for s in b.roster.schools:
        s.emails = []
    b.store.remember_email("office@bing.example", "丙职校")
    r = enqueue_reminders(cfg, b.profile, b.roster, b.store, dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz))
    assert r["queued"] == ["丙职校"] and outbox(b)[0][2] == "office@bing.example"


def test_off_unless_asked(tmp_path):
    b = StoreBuilder(tmp_path, SCHOOLS)
    cfg = configs.load(b.config())                        # reminders default to false
    assert enqueue_reminders(cfg, b.profile, b.roster, b.store,
                             dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz))["queued"] == []
    assert outbox(b) == []


def test_after_the_deadline_and_outside_the_week_nothing(tmp_path):
    b, cfg = setup(tmp_path)
    tz = b.profile.tz
    for when in (dt.datetime(2023, 5, 14, 10, 0, tzinfo=tz),      # the week's first report is due 5/15
                 dt.datetime(2023, 5, 30, 10, 0, tzinfo=tz)):
        assert enqueue_reminders(cfg, b.profile, b.roster, b.store, when)["queued"] == []
    assert outbox(b) == []


def test_one_off_deliverables_reminded_once_days_before(tmp_path):
    b, cfg = setup(tmp_path, reminder_days_before=2)
    b.stats_table("甲职校", [["项目", "数量"], ["开放日", 1]])
    tz = b.profile.tz
    # 5/20 10:00 is more than two days before 5/22 24:00: only the daily reminder
    early = enqueue_reminders(cfg, b.profile, b.roster, b.store, dt.datetime(2023, 5, 20, 10, 0, tzinfo=tz))
    assert {k.split(":")[1] for _, k, _, _ in outbox(b)} == {"daily"} and early["queued"]
    b.store.db.execute("delete from outbox")
    day1 = dt.datetime(2023, 5, 21, 10, 0, tzinfo=tz)
    enqueue_reminders(cfg, b.profile, b.roster, b.store, day1)
    keys = {k for _, k, _, _ in outbox(b)}
    one_off = {k for k in keys if not k.startswith("reminder:daily:")}
    assert one_off == {f"reminder:summary:{s}" for s in SCHOOLS} | {f"reminder:stats_table:{s}" for s in SCHOOLS[1:]}
    enqueue_reminders(cfg, b.profile, b.roster, b.store, day1 + dt.timedelta(days=1))     # 5/22: not again
    assert {k for _, k, _, _ in outbox(b)} == keys


def test_never_to_our_own_address(tmp_path):
    b, cfg = setup(tmp_path)
    cfg = dataclasses.replace(cfg, smtp=dataclasses.replace(cfg.smtp, sender="s1@school.example"))
    r = enqueue_reminders(cfg, b.profile, b.roster, b.store, dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz))
    assert ("甲职校", "no usable address") in r["skipped"]
