"""What editors change at the desk: assign, accept, rejudge, forget, remind now.

Every change goes through daemon/corrections.py (as `ribao assign/accept/...` does) and is recorded
with the staff member's account name; app.py has already checked the session, the CSRF token and
the editor role. Actions that judge, file or send run one at a time (ACTION_LOCK). Each answers
with a redirect, so reloading the page never repeats it, except "remind now", which shows what it
queued (a repeat is harmless: never twice a day).
"""
from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from flask import g, redirect, request
from werkzeug.exceptions import BadRequest

from daemon.web import lib
from daemon.web.app import ACTION_LOCK, page, refuse, safe_next

log = logging.getLogger("ribao.web")
NOTICES = {"assign": "已分配到学校，已重新检查；回复已放入发件箱（同样的内容不会重复发送）。",
           "accept": "已认可。", "rejudge": "已重新检查。", "forget": "已忘记这个邮箱。"}


def _q(value: str) -> str:
    return quote(value or "", safe="")


def register(app, desk) -> None:
    def _int(field: str) -> int:
        try:
            return int(request.form.get(field, ""))
        except ValueError:
            raise BadRequest(field) from None

    def _act(fn):
        """Run a staff action (one at a time); a refusal is one line on the page, status 400."""
        try:
            with ACTION_LOCK:
                return fn()
        except lib.CorrectionError as e:
            return refuse(400, f"操作未完成：{e}")

    @app.post("/assign")
    def assign():
        ident = _int("message")
        school, day = request.form.get("school", ""), request.form.get("date") or None

        def go():
            svc = lib.service(desk.cfg, desk.prof, desk.ros)
            try:
                row = lib.corrections.assign(svc, ident, school, day, request.form.get("deliverable") or None,
                                             by=g.user["name"])
            finally:
                svc.close()
            log.info("%s assigned message %s to %s", g.user["name"], ident, row["school"])
            when = row.get("report_date") or ""
            return redirect(f"/school?name={_q(row['school'])}&date={when}&done=assign" if when else "/mail?done=assign", 303)
        return _act(go)

    @app.post("/accept")
    def accept():
        ident = _int("message")

        def go():
            row = lib.corrections.accept(desk.store, ident, request.form.get("reason", ""), by=g.user["name"],
                                         cfg=desk.cfg, profile=desk.prof)
            log.info("%s accepted message %s", g.user["name"], ident)
            return redirect(f"/school?name={_q(row['school'] or '')}&date={row['report_date'] or ''}&done=accept", 303)
        return _act(go)

    @app.post("/rejudge")
    def rejudge():
        day = request.form.get("date") or None
        back = safe_next(request.form.get("back"))

        def go():
            svc = lib.service(desk.cfg, desk.prof, desk.ros)
            try:
                n = lib.corrections.rejudge(svc, day, by=g.user["name"])
                log.info("%s re-judged %s: %s messages, %s changed", g.user["name"], day or "all days", n["messages"], n["changed"])
            finally:
                svc.close()
            return redirect(back + ("&" if "?" in back else "?") + "done=rejudge", 303)
        return _act(go)

    @app.post("/forget")
    def forget():
        def go():
            school = lib.corrections.forget(desk.store, desk.ros, request.form.get("email", ""), by=g.user["name"])
            log.info("%s forgot an address of %s", g.user["name"], school)
            return redirect("/addresses?done=forget", 303)
        return _act(go)

    @app.post("/remind")
    def remind():
        did = request.form.get("deliverable", "")
        day = request.form.get("date") or None

        def go():
            try:
                when = dt.date.fromisoformat(day) if day else None
                result = lib.remind_now(desk.cfg, desk.prof, desk.ros, desk.store, did, when)
            except ValueError as e:
                raise lib.CorrectionError(str(e)) from None
            desk.store.correction("remind", None, {"deliverable": did, "date": day, "queued": result["queued"]},
                                  by=g.user["name"])
            log.info("%s reminded %s schools of %s", g.user["name"], len(result["queued"]), did)
            svc = lib.service(desk.cfg, desk.prof, desk.ros)
            try:
                svc.deliver()
            finally:
                svc.close()
            d = desk.prof.deliverable(did)
            p = lib.pending(desk.prof, desk.ros, desk.store, deliverable=did, day=when if d.is_daily else None)
            return page("pending.html.j2", p=p, d=d, day=when if d.is_daily else None, days=desk.prof.week_days(),
                        deliverables=desk.prof.deliverables, notice=None, result=result)
        return _act(go)

