"""The staff desk in a real browser over a database the daemon made: a clerk logs in, ties an
unknown teacher's mail to a school (the day turns reported, the reply goes out once), accepts a
day, confirms a held mail, reminds the schools that have not sent; refusals; phone and desk widths."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

import openpyxl

from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.builders.media import make_jpeg
from tests.web.conftest import ARTEFACTS, EDITOR, VIEWER, login, no_overflow, run_daemon

AT = dt.datetime(2023, 5, 15, 10, 0, tzinfo=TZ)
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">厦门信息学校一日一报5月15日'
LONG_SENDER = "a.very.long.address.without.any.place.to.break.it.at.all.really@teachers-of-a-long-named-school.example.com"


def mails(tmp_path) -> list[bytes]:
    """A day as the desk should show it: a good report with a photo, a short one (defects), an
    unknown teacher's report, a held mail with markup in its subject, and an unrelated one."""
    photo = make_jpeg(tmp_path / "开幕式.jpg", 2400, 1600, target_bytes=2_200_000)
    return [
        build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", sender="gslx@163.com", date=AT,
                   body=report_text(1000), attachments=[("开幕式.jpg", photo, "image/jpeg")]),
        build_mail(subject="集美职校一日一报5月15日", sender="jmzx@163.com", date=AT, body=report_text(300)),
        build_mail(subject="一日一报5月15日", sender="newteacher@example.com", date=AT,
                   body=report_text(1000, school="本校")),
        build_mail(subject=HOSTILE, sender=LONG_SENDER, date=AT, body=report_text(1000, school="厦门信息学校")),
        build_mail(subject="暑期培训招生合作", sender="ad@example.com", date=AT, body="您好，诚邀合作。"),
    ]


def maildir_state(tmp_path):
    md = new_maildir(tmp_path / "md")
    cfg = write_config(tmp_path / "c", maildir=md)
    for i, raw in enumerate(mails(tmp_path)):
        drop(md, raw, AT + dt.timedelta(minutes=i))
    run_daemon(cfg)
    return cfg


def ident_of(desk, subject_like: str) -> int:
    return desk.rows("select id from messages where subject like ?", [subject_like])[0][0]


def replies_for(desk, ident: int) -> list[tuple]:
    return desk.rows("select state, recipient from outbox where message = ? and kind = 'reply' and state in "
                     "('pending', 'sending', 'sent') order by id", [ident])


def csrf_of(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_assign_unknown_mail_turns_the_day_reported_and_replies_once(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    ident = ident_of(desk, "一日一报5月15日")
    assert len(replies_for(desk, ident)) == 1                  # "which school are you?", sent by the daemon
    page = login(browse(1280), desk, then="/?date=2023-05-15")
    row = page.locator("tr.school-row", has_text="厦门信息学校")
    assert row.get_attribute("data-status") == "missing"

    page.click("text=待确认/未识别")
    page.click("a[href='/mail?tab=unknown']")
    card = page.locator(f"#mail-{ident}")
    assert "newteacher@example.com" in card.inner_text()
    card.locator("input[name=school]").fill("厦门信息学校")
    card.locator("form.assign button[type=submit]").click()
    page.wait_for_load_state()
    assert "/school" in page.url and page.locator("#day-status").inner_text() == "按时报送"
    assert "已分配到学校" in page.inner_text(".notice")

    page.goto(desk.url + "/?date=2023-05-15")
    assert page.locator("tr.school-row", has_text="厦门信息学校").get_attribute("data-status") == "on_time"
    sent = replies_for(desk, ident)
    assert len(sent) == 2 and sent[1][1] == "newteacher@example.com"      # one receipt after the assignment
    eml = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
           for p in (cfg.parent / "replies").glob("*.eml")]
    assert sum("newteacher@example.com" in str(m["To"]) for m in eml) == 2    # delivered at once, not later
    assert desk.rows("select school, school_how from messages where id = ?", [ident]) == [("厦门信息学校", "staff")]
    assert desk.rows("select by, action, message from corrections") == [("alice", "assign", ident)]
    assert desk.rows("select email, school, by from school_emails") == [("newteacher@example.com", "厦门信息学校", "alice")]

    # the same assignment again (a double click, a second clerk): the school is not answered twice
    r = page.request.post(desk.url + "/assign", form={"csrf": csrf_of(page), "message": str(ident), "school": "厦门信息学校"})
    assert r.ok
    assert len(replies_for(desk, ident)) == 2
    run_daemon(cfg)                                           # nor by the daemon's next cycle
    assert len(replies_for(desk, ident)) == 2
    assert sum("newteacher@example.com" in p.read_text(errors="replace") for p in (cfg.parent / "replies").glob("*.eml")) == 2


def test_accept_a_day_and_rejudge(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    ident = ident_of(desk, "集美职校%")
    page = login(browse(390), desk, then="/?date=2023-05-15&show=defects")
    assert page.locator("tr.school-row").count() == 1
    page.click("text=厦门市集美职业技术学校")
    assert page.locator("#day-status").inner_text() == "按时报送"
    assert "text.too_short" in page.inner_text("main")
    page.fill("#accept-form input[name=reason]", "电话确认，文字稿另行纸质报送")
    page.click("#accept-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#day-status").inner_text() == "人工认可"
    assert desk.rows("select accepted_by, accepted_reason from messages where id = ?", [ident]) == [
        ("alice", "电话确认，文字稿另行纸质报送")]
    assert desk.rows("select by, action, message from corrections") == [("alice", "accept", ident)]

    before = desk.rows("select count(*) from outbox")[0][0]
    page.click("text=重新检查这一天")
    page.wait_for_load_state()
    assert "已重新检查" in page.inner_text(".notice")
    action, by = desk.rows("select action, by from corrections order by id desc limit 1")[0]
    assert (action, by) == ("rejudge", "alice")
    assert desk.rows("select count(*) from outbox where state in ('pending', 'sent')")[0][0] == \
        desk.rows(f"select count(*) from outbox where id <= {before} and state in ('pending', 'sent')")[0][0]


def test_held_mail_confirmed_addresses_forgotten_reminders_and_workbook(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    held = desk.rows("select id from messages where sender = ?", [LONG_SENDER])[0][0]
    page = login(browse(1280), desk, then="/mail?tab=held")
    card = page.locator(f"#mail-{held}")
    # the subject is shown as the text it is: no script ran, no element came from it
    assert HOSTILE in card.inner_text()
    assert page.evaluate("window.pwned === undefined && document.querySelectorAll('script, img[onerror]').length === 0")
    before = len(replies_for(desk, held))
    card.locator("text=确认是厦门信息学校的报送").click()
    page.wait_for_load_state()
    assert page.locator("#day-status").inner_text() == "按时报送"
    assert page.evaluate("window.pwned === undefined")
    assert len(replies_for(desk, held)) == before + 1               # one receipt, now the school is confirmed

    page.goto(desk.url + "/addresses")
    assert LONG_SENDER in page.inner_text("main")
    page.locator("tr", has_text=LONG_SENDER).locator("button").click()
    page.wait_for_load_state()
    assert desk.rows("select count(*) from school_emails")[0][0] == 0
    assert desk.rows("select action, by from corrections order by id") == [("assign", "alice"), ("forget", "alice")]

    page.goto(desk.url + "/pending?deliverable=summary")
    assert page.locator("#missing-count").inner_text() == "3"
    page.click("text=现在催交")
    page.wait_for_load_state()
    queued = desk.rows("select recipient, state from outbox where kind = 'reminder' order by id")
    assert sorted(r for r, _ in queued) == ["jmzx@163.com", "school@qq.com", "xxxx@126.com"]
    assert {s for _, s in queued} == {"sent"}                  # delivered through the outbox at once
    page.goto(desk.url + "/pending?deliverable=summary")
    page.click("text=现在催交")                               # never twice a day
    page.wait_for_load_state()
    assert "今天已提醒过" in page.inner_text(".notice")
    assert len(desk.rows("select 1 from outbox where kind = 'reminder'")) == 3

    r = page.request.get(desk.url + "/workbook.xlsx")
    assert r.ok and "attachment" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.body()))
    assert "情况统计表" in book.sheetnames
    photo = desk.rows("select id from materials where type = 'photo'")[0][0]
    full = page.request.get(f"{desk.url}/file/{photo}")
    assert full.ok and full.headers["content-type"] == "image/jpeg" and len(full.body()) > 2_000_000
    thumb = page.request.get(f"{desk.url}/thumb/{photo}")
    assert thumb.ok and 0 < len(thumb.body()) < 100_000
    raw = page.request.get(f"{desk.url}/raw/{held}")
    assert raw.ok and b"Message-ID" in raw.body() and raw.headers["content-type"] == "application/octet-stream"


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


def _plain(method: str, url: str, data: bytes | None = None):
    try:
        resp = build_opener(_NoRedirect).open(Request(url, data=data, method=method), timeout=10)
        return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
    except HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def test_refused_without_login_without_csrf_and_for_a_viewer(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    ident = ident_of(desk, "一日一报5月15日")
    for path in ("/", "/school?name=%E5%8E%A6%E9%97%A8%E4%BF%A1%E6%81%AF%E5%AD%A6%E6%A0%A1&date=2023-05-15",
                 "/mail?tab=unknown", f"/raw/{ident}", "/workbook.xlsx", "/pending", "/addresses"):
        status, headers, body = _plain("GET", desk.url + path)
        assert status == 303 and headers["Location"].startswith("/login?next="), path
        assert "newteacher" not in body and "厦门信息学校" not in body
    status, _, _ = _plain("POST", desk.url + "/assign", f"message={ident}&school=x".encode())
    assert status == 401

    page = login(browse(1280), desk, then="/mail?tab=unknown")
    r = page.request.post(desk.url + "/assign", form={"message": str(ident), "school": "厦门信息学校"})
    assert r.status == 403
    r = page.request.post(desk.url + "/assign", form={"csrf": "forged", "message": str(ident), "school": "厦门信息学校"})
    assert r.status == 403
    viewer = login(browse(1280), desk, who=VIEWER, then="/mail?tab=unknown")
    assert viewer.locator("form.assign").count() == 0           # a viewer is not offered the forms
    r = viewer.request.post(desk.url + "/assign", form={"csrf": csrf_of(viewer), "message": str(ident),
                                                        "school": "厦门信息学校"})
    assert r.status == 403 and "只读" in r.text()
    r = viewer.request.post(desk.url + "/accept", form={"csrf": csrf_of(viewer), "message": str(ident), "reason": "x"})
    assert r.status == 403
    assert desk.rows("select school, accepted_by from messages where id = ?", [ident]) == [(None, None)]
    assert desk.rows("select count(*) from corrections")[0][0] == 0

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["ribao_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and not session["secure"]
    # logging out ends the session on the server, not only in the browser
    token = session["value"]
    page.click("text=退出")
    page.wait_for_load_state()
    assert "/login" in page.url
    req = Request(desk.url + "/", headers={"Cookie": f"ribao_session={token}"})
    try:
        status = build_opener(_NoRedirect).open(req, timeout=10).status
    except HTTPError as e:
        status = e.code
    assert status == 303


def test_login_is_rate_limited(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    page = browse(1280)
    page.goto(desk.url + "/login")
    for _ in range(5):
        page.fill("input[name=name]", EDITOR[0])
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "账号或密码不对" in page.inner_text("main")
    page.fill("input[name=name]", EDITOR[0])
    page.fill("input[name=password]", EDITOR[1])               # right, but too late
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "登录失败次数过多" in page.inner_text("main") and "/login" in page.url
    login(browse(1280), desk, who=VIEWER)                      # another account is not locked out


def test_pages_fit_a_phone_and_a_desk_without_horizontal_scrolling(tmp_path, start_desk, browse):
    cfg = maildir_state(tmp_path)
    desk = start_desk(cfg)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    school = "厦门工商旅游学校"
    pages = {"login": "/login", "board": "/?date=2023-05-15", "school": f"/school?name={school}&date=2023-05-15",
             "held": "/mail?tab=held", "unknown": "/mail?tab=unknown", "other": "/mail?tab=other",
             "pending": "/pending?date=2023-05-15", "pending-summary": "/pending?deliverable=summary"}
    for width in (390, 1280):
        page = browse(width)
        page.goto(desk.url + "/login")
        page.screenshot(path=str(ARTEFACTS / f"login-{width}.png"), full_page=True)
        assert no_overflow(page)[0] <= width
        login(page, desk)
        for name, path in pages.items():
            if name == "login":
                continue
            r = page.goto(desk.url + path)
            assert r.status == 200, (path, r.status)
            page.screenshot(path=str(ARTEFACTS / f"{name}-{width}.png"), full_page=True)
            doc, view = no_overflow(page)
            assert view == width and doc <= view, f"{path} at {width} px is {doc} px wide"
        assert (ARTEFACTS / f"school-{width}.png").stat().st_size > 10_000
