"""Which school, which day, what kind: issue 2's identification rules through the whole judge."""
import datetime as dt

import pytest

from tests.builders.mail import TZ, bounce, build_mail, report_text
from tests.judging.conftest import codes


def at(day, hh, mm=0):
    return dt.datetime(2023, 5, day, hh, mm, tzinfo=TZ)


def test_good_report_is_ok(judge, good_jpeg):
    r = judge(attachments=[("开幕式合影.jpg", good_jpeg, "image/jpeg")])
    assert r["kind"] == "report" and r["ok"] is True and r["defects"] == []
    assert r["school"] == "厦门工商旅游学校" and r["report_date"] == "2023-05-15"
    assert r["deliverables"] == ["daily"] and r["materials"] == {"text_chars": 1000, "photos": 1, "videos": 0}


@pytest.mark.parametrize("how, kw", [
    ("sender", dict(sender="jmzx@163.com", subject="一日一报 5月15日")),
    ("subject alias", dict(sender="someone@qq.com", subject="集美职校一日一报5月15日")),
    ("body", dict(sender="someone@qq.com", subject="一日一报5月15日", body="厦门市集美职业技术学校\n" + "技能展示" * 300)),
])
def test_school_found_by_sender_then_subject_then_body(judge, how, kw):
    assert judge(**kw)["school"] == "厦门市集美职业技术学校", how


def test_school_by_attachment_name(judge, good_jpeg):
    r = judge(sender="x@qq.com", subject="一日一报5月15日", body="活动情况" * 300,
              attachments=[("信息学校开幕式.jpg", good_jpeg, "image/jpeg")])
    assert r["school"] == "厦门信息学校"


def test_sender_wins_over_subject(judge):
    assert judge(sender="xxxx@126.com", subject="集美职校一日一报5月15日")["school"] == "厦门信息学校"


def test_longest_name_wins(judge):
    assert judge(sender="a@b.cn", subject="厦门工商旅游学校一日一报5月15日")["school"] == "厦门工商旅游学校"


def test_unknown_school(judge):
    r = judge(sender="nobody@example.com", subject="职教周一日一报5月15日", body="活动" * 500)
    assert r["school"] is None and "school.unknown" in codes(r) and r["ok"] is False


@pytest.mark.parametrize("subject", ["5月15日", "5.15", "5-15", "2023.5.15", "2023年5月15日", "2023-05-15", "5/15",
                                     "5 月 15 日", "5月15号"])
def test_explicit_date_forms(judge, subject):
    r = judge(subject=f"工商旅游学校一日一报（{subject}）", received=at(16, 9))
    assert r["report_date"] == "2023-05-15", subject


def test_date_in_body_first_lines_when_subject_has_none(judge):
    r = judge(subject="工商旅游学校一日一报", body="5月17日活动情况\n" + "活动" * 500, received=at(18, 9))
    assert r["report_date"] == "2023-05-17"


def test_subject_date_wins_over_body(judge):
    r = judge(subject="一日一报 5月16日", body="5月17日\n" + "活动" * 500, received=at(17, 9))
    assert r["report_date"] == "2023-05-16"


def test_numbers_that_are_not_dates_are_ignored(judge):
    r = judge(subject="工商旅游 一日一报 800-1500字 12:00前", received=at(16, 9))
    assert r["report_date"] == "2023-05-15"          # implicit: before the deadline → previous day


@pytest.mark.parametrize("profile, received, expect, late", [
    ("xiamen-2023", at(16, 11, 59), "2023-05-15", False),   # 前一日, before 12:00
    ("xiamen-2023", at(16, 12, 1), "2023-05-16", False),    # after the deadline: the same day
    ("puyang-2023", at(16, 15, 59), "2023-05-16", False),   # the same day, before 16:00
    ("puyang-2023", at(16, 16, 1), "2023-05-16", True),     # after 16:00: the same day, late
])
def test_implicit_date_by_profile(judge, profile, received, expect, late):
    r = judge(profile=profile, subject="工商旅游学校一日一报", received=received)
    assert (r["report_date"], r["late"]) == (expect, late)


def test_explicit_date_after_its_deadline_is_late_warning(judge):
    r = judge(subject="工商旅游一日一报5月15日", received=at(16, 12, 30))
    assert r["late"] is True and r["ok"] is True
    late = [d for d in r["defects"] if d["code"] == "submission.late"]
    assert late and late[0]["severity"] == "warning" and "12:00" in late[0]["message"]


def test_deadline_boundary_is_exact(judge):
    assert judge(subject="工商旅游一日一报5月15日", received=at(16, 12, 0))["late"] is False


def test_date_outside_week(judge):
    r = judge(subject="工商旅游一日一报5月22日", received=at(22, 9))
    assert "date.outside_week" in codes(r) and r["ok"] is False


def test_received_defaults_to_date_header(tmp_path, roster_path):
    from daemon import profile
    from daemon.judging import roster
    from daemon.judging.judge import judge_file
    p = tmp_path / "m.eml"
    p.write_bytes(build_mail(subject="工商旅游一日一报", body="活动" * 500, date=at(17, 8)))
    v, _ = judge_file(p, profile.load("xiamen-2023"), roster.load(roster_path))
    assert v.report_date == "2023-05-16"


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"}, {"Auto-Submitted": "auto-generated"}, {"Precedence": "bulk"},
    {"Precedence": "junk"}, {"Precedence": "list"}, {"X-Autoreply": "yes"},
])
def test_auto_replies_get_no_defects(judge, headers):
    r = judge(subject="自动回复：一日一报", body="", headers=headers)
    assert r["kind"] == "auto" and r["defects"] == [] and r["deliverables"] == []


def test_auto_submitted_no_is_not_auto(judge):
    assert judge(headers={"Auto-Submitted": "no"})["kind"] == "report"


def test_bounce_and_mailer_daemon_are_auto(judge):
    assert judge(raw=bounce())["kind"] == "auto"
    assert judge(sender="postmaster@qq.com", subject="退信")["kind"] == "auto"


def test_unrelated_mail_is_other(judge):
    r = judge(sender="ad@example.com", subject="暑期培训招生合作", body="诚邀合作")
    assert r["kind"] == "other" and r["defects"] == [] and r["deliverables"] == []


def test_unknown_sender_about_the_report_is_a_report(judge):
    assert judge(sender="t@example.com", subject="职教周报送材料")["kind"] == "report"


def test_roster_school_mail_is_a_report_even_without_words(judge):
    assert judge(sender="school@qq.com", subject="材料", body="活动" * 450)["kind"] == "report"


def test_a_date_far_into_a_long_first_line_is_not_searched(judge):
    """Only the start of each of the first lines is searched (a 0.7 MB line of "5.15 " was
    quadratic): a date in a title still counts, one 300 characters into a line does not."""
    r = judge(subject="【一日一报】厦门工商旅游学校活动情况", body="5月15日开放日\n" + report_text(1000))
    assert r["report_date"] == "2023-05-15"
    r = judge(subject="【一日一报】厦门工商旅游学校活动情况", body="活" * 300 + "5月17日\n" + report_text(1000))
    assert r["report_date"] != "2023-05-17"
    r = judge(subject="【一日一报】厦门工商旅游学校活动情况", body="5.15 " * 140_000)
    assert r["report_date"] == "2023-05-15"
