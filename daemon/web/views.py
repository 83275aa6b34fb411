"""The desk's pages: login, the day board, a school's day, the mail lists, 未提交名单, downloads.

Reads go through the same report functions as the digest (reports/day.py), so the board and the
digest agree. The changes staff make are in actions.py.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import logging
import re
import secrets
import unicodedata
from pathlib import Path

from flask import abort, make_response, redirect, request, send_file
from werkzeug.exceptions import BadRequest

from daemon.web import actions, auth, lib
from daemon.web.app import LOGIN_COOKIE, SESSION_COOKIE, page, refuse, safe_next

log = logging.getLogger("ribao.web")
FILTERS = {"missing": "未报送", "defects": "有待改正问题", "late": "逾期"}
TABS = {"held": "待确认", "unknown": "未识别", "other": "其他邮件"}


def _day(value: str | None, desk) -> dt.date:
    prof = desk.prof
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise BadRequest("date") from None
    d = lib.default_day(prof, dt.datetime.now(prof.tz))
    return d if prof.week_start <= d <= prof.week_end else prof.week_start


def _notice() -> str | None:
    n = actions.NOTICES.get(request.args.get("done", ""))
    return n


def download_name(name: str | None, fallback: str) -> str:
    """A school's file name, safe in a Content-Disposition header: no path, quotes or control characters."""
    base = re.sub(r'[\x00-\x1f\x7f"\\;]', "_", Path((name or "").replace("\\", "/")).name).strip(" .")[:120]
    return base or fallback


def reply_text(raw: str | None) -> str:
    """The plain-text part of a reply we queued (our own mail, shown escaped all the same)."""
    if not raw:
        return ""
    try:
        msg = email.message_from_bytes(raw.encode("ascii", "replace"), policy=email.policy.default)
        body = msg.get_body(("plain",))
        return body.get_content() if body is not None else ""
    except Exception:             # noqa: BLE001 - a reply we can't read back is shown as nothing
        return ""


def register(app, desk) -> None:
    # ---------------------------------------------------------------- login
    @app.route("/login", methods=["GET", "POST"])
    def login():
        want = request.cookies.get(LOGIN_COOKIE)
        nxt = safe_next(request.values.get("next"))
        if request.method == "GET" or not want:
            # keep a token the browser already has: a second tab (or a favicon fetch) must not void the first form
            token = want if want and 20 <= len(want) <= 64 and want.replace("-", "").replace("_", "").isalnum() \
                else secrets.token_urlsafe(24)
            html, status, headers = page("login.html.j2", login_csrf=token, next=nxt, error=None)
            resp = make_response(html, status if request.method == "GET" else 403, headers)
            desk.cookie(resp, LOGIN_COOKIE, token, 3600)
            return resp
        if not auth.same_token(request.form.get("csrf"), want):
            return refuse(403, "登录表单已失效，请刷新页面后重试。")
        name = unicodedata.normalize("NFC", (request.form.get("name") or "").strip())[:64]
        keys = (f"name:{name.casefold()}", f"addr:{request.remote_addr}")
        if desk.by_name.blocked(keys[0]) or desk.by_addr.blocked(keys[1]):
            wait = max(desk.by_name.wait(keys[0]), desk.by_addr.wait(keys[1]))
            return page("login.html.j2", status=429, login_csrf=want, next=nxt,
                        error=f"登录失败次数过多，请{max(1, wait // 60)}分钟后再试。")
        acc = auth.authenticate(desk.store.db, name, request.form.get("password") or "")
        if acc is None:
            desk.by_name.failed(keys[0])
            desk.by_addr.failed(keys[1])
            log.warning("failed login as %r from %s", name[:64], request.remote_addr)
            return page("login.html.j2", status=401, login_csrf=want, next=nxt, error="账号或密码不对，或账号已停用。")
        desk.by_name.reset(keys[0])
        log.info("%s logged in from %s", acc["name"], request.remote_addr)
        token, _ = auth.new_session(desk.store.db, acc["name"], desk.cfg.web.session_hours)
        resp = redirect(nxt, 303)
        desk.cookie(resp, SESSION_COOKIE, token, desk.cfg.web.session_hours * 3600)
        desk.cookie(resp, LOGIN_COOKIE, "", 0)
        return resp

    @app.get("/favicon.ico")
    def favicon():
        return "", 204

    @app.post("/logout")
    def logout():
        auth.end_session(desk.store.db, request.cookies.get(SESSION_COOKIE))
        resp = redirect("/login", 303)
        desk.cookie(resp, SESSION_COOKIE, "", 0)
        return resp

    # ---------------------------------------------------------------- the day board
    @app.get("/")
    def board():
        day = _day(request.args.get("date"), desk)
        info = lib.day_status(desk.prof, desk.ros, desk.store, day)
        show = request.args.get("show", "")
        rows = info.rows
        if show == "missing":
            rows = [r for r in rows if not r.reported]
        elif show == "defects":
            rows = [r for r in rows if r.needs_fix]
        elif show == "late":
            rows = [r for r in rows if r.status == lib.LATE]
        one_offs = []
        for d in desk.prof.deliverables:
            if not d.is_daily:
                p = lib.pending(desk.prof, desk.ros, desk.store, deliverable=d.id)
                one_offs.append({"id": d.id, "name": d.name, "due": p["due_zh"], "missing": len(p["missing"]),
                                 "roster": p["roster"]})
        return page("board.html.j2", day=day, days=desk.prof.week_days(), info=info, fig=info.figures(), rows=rows,
                    show=show, filters=FILTERS, one_offs=one_offs, due=lib.due_text(info.due), notice=_notice())

    # ---------------------------------------------------------------- one school's day
    @app.get("/school")
    def school():
        name, day = request.args.get("name", ""), _day(request.args.get("date"), desk)
        if desk.ros.get(name) is None:
            abort(404)
        st = desk.store
        sd = lib.school_day(desk.prof, st, name, day)
        start, end = lib.window(desk.prof, day)
        mails = lib.reads.school_mails(st, name, day.isoformat(), start.isoformat(), end.isoformat())
        for m in mails:
            m["defects"] = st.defects_of(m["id"])
            m["materials"] = st.materials_of(m["id"])
            m["replies"] = [{**r, "text": reply_text(r["raw"])} for r in lib.reads.replies_to(st, m["id"])]
        return page("school.html.j2", school=name, day=day, days=desk.prof.week_days(), sd=sd, mails=mails,
                    notice=_notice())

    # ---------------------------------------------------------------- files
    def _inside(rel) -> Path:
        p = lib.stored_path(desk.store, rel)
        if p is None or not p.is_file():
            abort(404)
        return p

    @app.get("/raw/<int:ident>")
    def raw(ident: int):
        row = desk.store.get(ident) or abort(404)
        p = _inside(row.get("raw_path"))
        return send_file(p, mimetype="application/octet-stream", as_attachment=True, download_name=f"message-{ident}.eml")

    def _material(mid: int) -> dict:
        return lib.reads.material(desk.store, mid) or abort(404)

    @app.get("/file/<int:mid>")
    def file(mid: int):
        m = _material(mid)
        p = _inside(m.get("stored_path"))
        if m["type"] == "photo" and m.get("format") == "jpeg":
            return send_file(p, mimetype="image/jpeg", download_name=download_name(m["file"], f"photo-{mid}.jpg"))
        return send_file(p, mimetype="application/octet-stream", as_attachment=True,
                         download_name=download_name(m["file"], f"file-{mid}"))

    @app.get("/thumb/<int:mid>")
    def thumb(mid: int):
        m = _material(mid)
        if m["type"] != "photo" or not m.get("sha256"):
            abort(404)
        made = lib.cache_thumbnail(desk.store.root / "thumbs", m["sha256"], _inside(m.get("stored_path")))
        if made is None:
            abort(404)
        resp = send_file(made, mimetype="image/jpeg")
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp

    @app.get("/workbook.xlsx")
    def workbook():
        data, _ = lib.workbook_bytes(desk.prof, desk.ros, desk.store)
        return send_file(io.BytesIO(data), as_attachment=True, download_name=f"{desk.prof.id}-情况统计表.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    # ---------------------------------------------------------------- mail lists and addresses
    @app.get("/mail")
    def mail():
        tab = request.args.get("tab", "held")
        if tab not in TABS:
            abort(404)
        st = desk.store
        if tab == "held":
            rows = lib.reads.mails_by_id(st, [r["id"] for r in st.held()])
        elif tab == "unknown":
            rows = lib.reads.unknown_mails(st, limit=300)
        else:
            rows = lib.reads.other_mails(st, limit=300)
        counts = {"held": len(st.held()), "unknown": lib.reads.unknown_count(st)}
        return page("mail.html.j2", tab=tab, tabs=TABS, rows=rows, counts=counts, schools=desk.ros.names,
                    deliverables=desk.prof.deliverables, notice=_notice())

    @app.get("/addresses")
    def addresses():
        rows = lib.reads.school_email_rows(desk.store)
        return page("addresses.html.j2", rows=rows, notice=_notice())

    # ---------------------------------------------------------------- 未提交名单
    @app.get("/pending")
    def pending():
        d = desk.prof.deliverable(request.args.get("deliverable") or "") or desk.prof.daily or desk.prof.deliverables[0]
        day = _day(request.args.get("date"), desk) if d.is_daily else None
        p = lib.pending(desk.prof, desk.ros, desk.store, deliverable=d.id, day=day)
        return page("pending.html.j2", p=p, d=d, day=day, days=desk.prof.week_days(),
                    deliverables=desk.prof.deliverables, notice=_notice(), result=None)
    actions.register(app, desk)

