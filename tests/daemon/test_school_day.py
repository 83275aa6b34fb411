"""A school's day is everything it sent for that day: multi-mail days through `ribao run --once` on
the embedded default (a Maildir), scored with `ribao digest --date D --json` (the contract), and the
same mails through `ribao check A.eml B.eml … --json`."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.builders.media import make_jpeg
from tests.daemon.conftest import ribao

SCHOOL, ADDR = "厦门工商旅游学校", "school@qq.com"
OTHER, OTHER_ADDR = "厦门信息学校", "xxxx@126.com"
D15 = dt.datetime(2023, 5, 16, 9, 0, tzinfo=TZ)          # before 5/16 12:00: the report on 5/15


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    d = tmp_path_factory.mktemp("jpegs")
    good = [make_jpeg(d / f"g{i}.jpg", 2400, 1600, target_bytes=2_200_000 + i).read_bytes() for i in range(4)]
    narrow = make_jpeg(d / "narrow.jpg", 1280, 960).read_bytes()
    return good, narrow


def mailbox(tmp_path):
    md = new_maildir(tmp_path / "md")
    return write_config(tmp_path / "c", maildir=md), md


def send(md, subject, *, at, body="", photos=(), sender=ADDR):
    raw = build_mail(subject=subject, sender=sender, body=body, date=at, attachments=[(n, d, "image/jpeg") for n, d in photos])
    drop(md, raw, at)
    return raw


def day_json(cfg, day="2023-05-15"):
    r = ribao("digest", "--date", day, "--json", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    return out, {row["school"]: row for row in out["schools"]}


def test_split_mails_replaced_photo_resend_and_neighbouring_days(tmp_path, jpegs):
    good, narrow = jpegs
    cfg, md = mailbox(tmp_path)
    caption = "开幕式.jpg：开幕式现场\n实训.jpg：实训室开放\n展示.jpg：技能展示"
    send(md, f"{SCHOOL}一日一报5月15日（一）文字稿", at=D15, body=report_text(1000))
    send(md, f"{SCHOOL}一日一报5月15日（二）照片", at=D15 + dt.timedelta(minutes=5), body=caption,
         photos=[("开幕式.jpg", narrow), ("实训.jpg", good[0]), ("展示.jpg", good[1])])
    send(md, f"{SCHOOL}一日一报5月15日 替换开幕式照片", at=D15 + dt.timedelta(minutes=30), body=caption,
         photos=[("开幕式.jpg", good[2])])
    send(md, f"{SCHOOL}一日一报5月15日（二）照片", at=D15 + dt.timedelta(minutes=31), body=caption,
         photos=[("实训.jpg", good[0])])                          # the same file again: counts once
    send(md, f"{SCHOOL}一日一报5月16日", at=D15 + dt.timedelta(days=1), body=report_text(900))   # the next day
    # another school: text on time, photos after the deadline; then a full resend
    send(md, f"{OTHER}一日一报5月15日", at=D15, body=report_text(1000), sender=OTHER_ADDR)
    send(md, f"{OTHER}一日一报5月15日 补充照片", at=D15 + dt.timedelta(hours=5), body="实训.jpg：实训室",
         photos=[("实训.jpg", good[3])], sender=OTHER_ADDR)
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr

    out, rows = day_json(cfg)
    assert set(out) == {"date", "deliverable", "due", "schools", "unassigned", "held"}
    assert out["date"] == "2023-05-15" and out["deliverable"] == "daily" and out["due"].startswith("2023-05-16T12:00")
    a = rows[SCHOOL]
    assert set(a) == {"school", "status", "text_chars", "photos", "videos", "open_defects", "fixed_defects", "messages"}
    assert (a["status"], a["text_chars"], a["photos"], a["videos"]) == ("on_time", 1000, 3, 0)
    assert a["open_defects"] == [] and "photo.too_narrow" in a["fixed_defects"] and a["messages"] == [1, 2, 3, 4]
    b = rows[OTHER]
    assert (b["status"], b["photos"], b["text_chars"]) == ("on_time", 1, 1000)   # a late supplement: the day stays on time
    assert rows["厦门市集美职业技术学校"]["status"] == "missing" and rows["厦门市集美职业技术学校"]["messages"] == []
    _, next_day = day_json(cfg, "2023-05-16")
    assert next_day[SCHOOL]["messages"] == [5] and next_day[SCHOOL]["photos"] == 0

    # a full resend replaces everything before it
    send(md, f"{SCHOOL}一日一报5月15日（重新报送）", at=D15 + dt.timedelta(hours=1), body=report_text(950) + "\n" + caption,
         photos=[("开幕式.jpg", good[2])])
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    _, rows = day_json(cfg)
    assert 950 <= rows[SCHOOL]["text_chars"] < 1000           # the resend's text (950 字 and its captions)
    assert (rows[SCHOOL]["photos"], rows[SCHOOL]["messages"]) == (1, [1, 2, 3, 4, 8])

    # the digest, pending and the workbook read the same day
    html = tmp_path / "d.html"
    assert ribao("digest", "--date", "2023-05-15", "--out", str(html), "--config", str(cfg)).returncode == 0
    pend = json.loads(ribao("pending", "--date", "2023-05-15", "--json", "--config", str(cfg)).stdout)
    assert SCHOOL not in {m["school"] for m in pend["missing"]}
    conn = sqlite3.connect(cfg.parent / "data" / "ribao.db")
    assert conn.execute("select count(*) from messages where school = ?", [SCHOOL]).fetchone()[0] == 6


def test_check_several_mails_prints_the_day_after_each(tmp_path, jpegs):
    good, narrow = jpegs
    caption = "实训.jpg：实训室开放"
    paths = []
    for i, (subject, body, photos) in enumerate([
            (f"{SCHOOL}一日一报5月15日（一）文字稿", report_text(1000), []),
            (f"{SCHOOL}一日一报5月15日（二）照片", caption, [("实训.jpg", narrow)]),
            (f"{SCHOOL}一日一报5月15日 替换开幕式照片", caption, [("实训.jpg", good[0])]),
            ("一封无关的邮件", "你好", [])], start=1):
        p = tmp_path / f"{i}.eml"
        p.write_bytes(build_mail(subject=subject, sender=ADDR if i < 4 else "x@example.org", body=body,
                                 date=D15 + dt.timedelta(minutes=i), attachments=[(n, d, "image/jpeg") for n, d in photos]))
        paths.append(str(p))
    roster = tmp_path / "roster.csv"
    from tests.judging.conftest import ROSTER
    roster.write_text(ROSTER, encoding="utf-8")
    r = ribao("check", *paths, "--json", "--roster", str(roster))
    assert r.returncode == 1, r.stderr                      # mail 2 has an error of its own
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0]["day"]["messages"] == [1] and lines[0]["day"]["text_chars"] == 1000
    assert lines[1]["day"]["open_defects"] == ["photo.too_narrow", "photo.too_small"] and lines[1]["day"]["messages"] == [1, 2]
    assert lines[2]["day"]["open_defects"] == [] and lines[2]["day"]["fixed_defects"] == ["photo.too_narrow", "photo.too_small"]
    assert lines[2]["day"]["photos"] == 1 and lines[3]["day"] is None and lines[3]["kind"] == "other"
    r = ribao("check", *paths[:2], "--received", "2023-05-16T09:00:00+08:00")
    assert r.returncode == 2 and "one file" in r.stderr
    one = ribao("check", paths[0], "--json", "--roster", str(roster))
    assert "day" not in json.loads(one.stdout)                 # one file: exactly as before


def _replies(cfg):
    import email
    import email.policy
    out = []
    for p in sorted((cfg.parent / "replies").glob("*.eml")):
        m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        out.append((str(m["To"]), str(m["Subject"]), m.get_body(("plain",)).get_content()))
    return out


def test_replies_speak_of_the_day(tmp_path, jpegs):
    good, narrow = jpegs
    cfg, md = mailbox(tmp_path)
    caption = "开幕式.jpg：开幕式现场\n实训.jpg：实训室开放"
    send(md, f"{SCHOOL}一日一报5月15日（一）文字稿", at=D15, body=report_text(1000))
    send(md, f"回复：回复：{SCHOOL}一日一报5月15日（二）照片", at=D15 + dt.timedelta(minutes=5), body=caption,
         photos=[("开幕式.jpg", narrow), ("实训.jpg", good[0])])
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    send(md, f"{SCHOOL}一日一报5月15日 替换开幕式照片", at=D15 + dt.timedelta(minutes=30), body=caption,
         photos=[("开幕式.jpg", good[1])])
    send(md, f"{SCHOOL}一日一报5月15日 替换开幕式照片", at=D15 + dt.timedelta(minutes=31), body=caption,
         photos=[("开幕式.jpg", good[1])])                  # the same mail again: the day is unchanged
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    rs = _replies(cfg)
    assert len(rs) == 3 and all(to == ADDR for to, _, _ in rs)          # the identical resend gets no second reply
    (_, s1, t1), (_, s2, t2), (_, s3, t3) = rs
    assert s1.startswith("【已收到】") and "文字约1000字，照片0张" in t1
    assert s2 == f"【请修改】回复：{SCHOOL}一日一报5月15日（二）照片"         # never 回复：回复：
    assert "共收到2封邮件：文字约1000字，照片2张" in t2 and "还有以下问题" in t2 and "\n2. " in t2
    assert "已收到的材料无需重发" in t2 and "未收到文字" not in t2        # the text came in the first mail
    assert s3.startswith("【已收到】") and "已改正：照片宽度不足、照片文件太小" in t3 and "共收到3封邮件" in t3
    assert "这一天的材料已齐全" in t3


def test_settle_seconds_answers_split_mails_together_once(tmp_path, jpegs):
    import time
    good, _ = jpegs
    md = new_maildir(tmp_path / "md")
    cfg = write_config(tmp_path / "c", maildir=md)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[replies]\n", "[replies]\nsettle_seconds = 3\n"), encoding="utf-8")
    send(md, f"{SCHOOL}一日一报5月15日（一）文字稿", at=D15, body=report_text(1000))
    send(md, f"{SCHOOL}一日一报5月15日（二）照片", at=D15 + dt.timedelta(minutes=2), body="实训.jpg：实训室开放",
         photos=[("实训.jpg", good[0])])
    started = time.monotonic()
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    if time.monotonic() - started < 3:
        assert _replies(cfg) == []                        # both held for the school's further mail
    time.sleep(max(0.0, 3.5 - (time.monotonic() - started)))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    rs = _replies(cfg)
    assert len(rs) == 1 and "共收到2封邮件：文字约1000字，照片1张" in rs[0][2]
    reasons = sqlite3.connect(cfg.parent / "data" / "ribao.db").execute(
        "select reason from outbox where state = 'suppressed'").fetchall()
    assert len(reasons) == 1 and "speaks of the whole day" in reasons[0][0]


def test_split_mails_over_real_dovecot_and_smtp_speak_of_the_day(setup, jpegs):
    """The same day through IMAP and SMTP: text, then photos in a second mail; the second reply says
    what the bureau holds for the whole day and asks for nothing already sent."""
    import email
    import email.policy
    good, _ = jpegs
    cfg, dovecot, smtp = setup
    dovecot.append(build_mail(subject=f"{SCHOOL}一日一报5月15日（一）文字稿", sender=ADDR, date=D15, body=report_text(1000)),
                   date=D15)
    dovecot.append(build_mail(subject=f"{SCHOOL}一日一报5月15日（二）照片", sender=ADDR, date=D15 + dt.timedelta(minutes=3),
                              body="实训.jpg：实训室开放", attachments=[("实训.jpg", good[0], "image/jpeg")]),
                   date=D15 + dt.timedelta(minutes=3))
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    got = [email.message_from_bytes(m.data, policy=email.policy.default) for m in smtp.wait_for(2)]
    second = next(m for m in got if "照片" in str(m["Subject"]))
    body = second.get_body(("plain",)).get_content()
    assert str(second["Subject"]).startswith("【已收到】") and "共收到2封邮件：文字约1000字，照片1张" in body
    out, rows = day_json(cfg)
    assert rows[SCHOOL]["messages"] == [1, 2] and rows[SCHOOL]["status"] == "on_time"


def test_digest_json_for_a_one_off_deliverable(tmp_path):
    """`--deliverable ID`: the one-off's state per school, "date": null and the notice's due time; the
    latest document replaces the older one."""
    from tests.builders.files import make_docx
    cfg, md = mailbox(tmp_path)
    at = dt.datetime(2023, 5, 21, 10, 0, tzinfo=TZ)
    for i, chars in enumerate((300, 1200)):
        doc = make_docx(tmp_path / f"s{i}.docx", [report_text(chars)]).read_bytes()
        when = at + dt.timedelta(hours=i)
        drop(md, build_mail(subject=f"{SCHOOL}活动周开展情况总结", sender=ADDR, body="见附件", date=when,
                            attachments=[("总结.docx", doc, "application/vnd.openxmlformats-officedocument"
                                                             ".wordprocessingml.document")]), when)
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    r = ribao("digest", "--json", "--deliverable", "summary", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["date"] is None and out["deliverable"] == "summary" and out["due"].startswith("2023-05-23T00:00")
    row = next(s for s in out["schools"] if s["school"] == SCHOOL)
    assert row["status"] == "on_time" and row["messages"] == [1, 2] and row["text_chars"] >= 1200
    assert ribao("digest", "--json", "--deliverable", "nope", "--config", str(cfg)).returncode == 2
