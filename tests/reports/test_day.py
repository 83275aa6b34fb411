"""day_status: each roster school's row for a day, checked against the reports the builder stored."""
from __future__ import annotations

import datetime as dt

from daemon.reports.day import (
    ACCEPTED,
    LATE,
    MISSING,
    NOT_DUE,
    ON_TIME,
    day_status,
    due_text,
    last_due_day,
    upcoming_day,
    week_counts,
)
from tests.builders.store import DAY, scenario


def test_rows_match_what_was_stored(tmp_path):
    b, exp = scenario(tmp_path)
    day = day_status(b.profile, b.roster, b.store, DAY)
    assert [r.school for r in day.rows] == b.roster.names
    for r in day.rows:
        e = exp[r.school]
        assert r.status == e["status"], r.school
        assert (r.count("text_chars"), r.count("photos"), r.count("videos")) == (e["text_chars"], e["photos"], e["videos"])
        assert sorted(d["code"] for d in r.defects) == sorted(e["open"]), r.school
        assert [d["code"] for d in r.fixed] == e["fixed"]
        assert r.earlier == e["earlier"]
        assert len(r.photos) == e["photos"] and all(p["path"].is_file() for p in r.photos)
        assert all(p["path"].is_relative_to(b.store.root.resolve()) for p in r.photos)


def test_figures_follow_the_rows(tmp_path):
    b, exp = scenario(tmp_path)
    fig = day_status(b.profile, b.roster, b.store, DAY).figures()
    statuses = [e["status"] for e in exp.values()]
    assert fig["roster"] == len(b.roster.schools)
    assert fig["on_time"] == statuses.count(ON_TIME)
    assert fig["late"] == statuses.count(LATE)
    assert fig["missing"] == statuses.count(MISSING)
    assert fig["accepted"] == statuses.count(ACCEPTED)
    assert fig["reported"] == len(statuses) - statuses.count(MISSING)
    # an error still open, not accepted by staff: only the school whose resend still has a narrow photo
    needs_fix = [s for s, e in exp.items() if e["status"] != ACCEPTED and
                 any(c in ("text.missing", "photo.too_narrow") for c in e["open"])]
    assert fig["needs_fix"] == len(needs_fix) == 1


def test_unattributed_and_cloud_links(tmp_path):
    b, exp = scenario(tmp_path)
    day = day_status(b.profile, b.roster, b.store, DAY)
    whys = sorted(u["why"] for u in day.unattributed)
    assert whys == sorted(["未能识别是哪所学校", "报送日期不在活动周内", "无法自动检查（已隔离），请人工查看"])
    (link,) = day.links
    linked = [s for s, e in exp.items() if "attachment.link_only" in e["open"]]
    assert link["school"] == linked[0] and link["file"] == "技能展示.mp4" and link["expires"] == "5月30日"
    # the window is the day's: the day before sees none of these
    assert day_status(b.profile, b.roster, b.store, DAY - dt.timedelta(days=1)).unattributed == []


def test_before_the_deadline_nothing_is_missing_yet(tmp_path):
    b, exp = scenario(tmp_path)
    before = b.profile.daily_due(DAY) - dt.timedelta(minutes=1)
    day = day_status(b.profile, b.roster, b.store, DAY, now=before)
    assert {r.school: r.status for r in day.rows if not r.reported} == \
        {s: NOT_DUE for s, e in exp.items() if e["status"] == MISSING}


def test_one_off_deliverables_due_soon(tmp_path):
    b, _ = scenario(tmp_path)
    first = b.roster.names[0]
    b.stats_table(first, [["项目", "数量"], ["开放日", 3]])
    last = b.profile.week_end
    day = day_status(b.profile, b.roster, b.store, last)          # as of 5/21 12:00: due 5/22 within 3 days
    by_id = {d.id: d for d in day.one_offs}
    assert set(by_id) == {"summary", "stats_table"}
    assert by_id["stats_table"].sent == [first] and first not in by_id["stats_table"].missing
    assert by_id["summary"].sent == [] and by_id["summary"].missing == b.roster.names
    assert not by_id["summary"].overdue
    assert day_status(b.profile, b.roster, b.store, DAY).one_offs == []      # 5/16: a week away


def test_week_counts_agree_with_day_status(tmp_path):
    b, _ = scenario(tmp_path)
    counts = week_counts(b.profile, b.roster, b.store, DAY)
    assert [c["date"] for c in counts] == [DAY - dt.timedelta(days=1), DAY]
    for c in counts:
        fig = day_status(b.profile, b.roster, b.store, c["date"]).figures()
        assert (c[ON_TIME], c[LATE], c[ACCEPTED]) == (fig["on_time"], fig["late"], fig["accepted"])


def test_which_day_a_deadline_is_for(tmp_path):
    b, _ = scenario(tmp_path)
    p, tz = b.profile, b.profile.tz
    assert upcoming_day(p, dt.datetime(2023, 5, 16, 10, 0, tzinfo=tz)) == dt.date(2023, 5, 15)
    assert upcoming_day(p, dt.datetime(2023, 5, 14, 10, 0, tzinfo=tz)) is None       # 5/13 is not in the week
    assert last_due_day(p, dt.datetime(2023, 5, 16, 12, 30, tzinfo=tz)) == dt.date(2023, 5, 15)
    assert last_due_day(p, dt.datetime(2023, 5, 15, 11, 0, tzinfo=tz)) is None
    assert due_text(p.deliverable("summary").due) == "5月22日 24:00"
