"""The desk's Flask application: who is asking, what they may do, and safe responses.

Every request but the login form needs a live session; every POST needs the session's CSRF token,
and every POST but logout needs an editor. Pages are rendered by our own jinja2 environment with
autoescaping always on (nothing a school sent is ever markup) and a Content-Security-Policy that
allows no script at all. waitress serves it (threads); SQLite in WAL mode lets the daemon write
meanwhile. Staff actions that judge, file or send run one at a time (ACTION_LOCK).
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import threading
from urllib.parse import quote

import jinja2
from flask import Flask, g, redirect, request

from daemon.web import auth
from daemon.web.lib import Store, data_dir, reads, zh_date, zh_time

log = logging.getLogger("ribao.web")
SESSION_COOKIE, LOGIN_COOKIE = "ribao_session", "ribao_login"
PUBLIC = {"login", "favicon"}
ACTION_LOCK = threading.Lock()


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates") / "web")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["zh_time"] = zh_time
    env.filters["zh_date"] = zh_date
    env.filters["hm"] = lambda v: (str(v)[11:16] if v else "")
    return env


class Desk:
    """What every view needs: the config, rules and roster, one Store per thread, the login limits."""

    def __init__(self, cfg, prof, ros):
        self.cfg, self.prof, self.ros = cfg, prof, ros
        self.env = templates()
        self.local = threading.local()
        self.by_name = auth.RateLimit(limit=5, window=900)
        self.by_addr = auth.RateLimit(limit=30, window=900)
        Store(cfg.storage.path)          # migrate (or refuse a newer database) before serving

    @property
    def store(self) -> Store:
        s = getattr(self.local, "store", None)
        if s is None:
            s = self.local.store = Store(self.cfg.storage.path)
        return s

    def cookie(self, resp, name: str, value: str, max_age: int | None) -> None:
        resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                        secure=self.cfg.web.secure_cookies)


def safe_next(target: str | None) -> str:
    """Only a path on this desk: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or re.search(r"[\x00-\x1f]", target):
        return "/"
    return target


def page(name: str, status: int = 200, **ctx):
    """Render templates/web/<name> with the layout's context (user, CSRF token, health, nonce)."""
    desk: Desk = g.desk
    ctx.setdefault("notice", None)
    html = desk.env.get_template(name).render(user=g.get("user"), csrf=(g.get("user") or {}).get("csrf", ""),
                                              nonce=g.nonce, health=health(desk) if g.get("user") else None,
                                              profile=desk.prof, **ctx)
    return html, status, {"Content-Type": "text/html; charset=utf-8"}


def refuse(status: int, text: str):
    return page("refused.html.j2", status=status, text=text)


def health(desk: Desk) -> dict:
    """The line at the foot of every page: last poll, last error, the outbox."""
    st = desk.store
    mb = st.mailbox_state(desk.cfg.mailbox.folder)
    err = ({"at": mb.get("last_error_at"), "text": mb.get("last_error")} if mb.get("last_error")
           else reads.last_error_event(st))
    return {"last_poll": mb.get("last_poll"), "error": err, "outbox": reads.outbox_counts(st), "held": len(st.held())}


def create_app(cfg, prof, ros) -> Flask:
    app = Flask("daemon.web", static_folder=None, template_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    desk = Desk(cfg, prof, ros)
    app.extensions["ribao"] = desk

    @app.before_request
    def who():
        g.desk, g.nonce = desk, secrets.token_urlsafe(12)
        g.user = auth.session(desk.store.db, request.cookies.get(SESSION_COOKIE))
        if request.endpoint in PUBLIC:
            return None
        if g.user is None:
            if request.method in ("GET", "HEAD"):
                return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/"), 303)
            return refuse(401, "请先登录。")
        if request.method == "POST":
            if not auth.same_token(request.form.get("csrf"), g.user["csrf"]):
                return refuse(403, "表单已失效或来源不明（缺少安全校验码），请刷新页面后重试。")
            if request.endpoint != "logout" and not auth.may(g.user["role"], "change"):
                return refuse(403, "只读账号只能查看，不能修改。如需修改权限请联系管理员。")
        return None

    @app.after_request
    def harden(resp):
        nonce = g.get("nonce", "")
        resp.headers["Content-Security-Policy"] = (f"default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; "
                                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(404)
    def not_found(_):
        g.setdefault("nonce", secrets.token_urlsafe(12))
        g.setdefault("desk", desk)
        return refuse(404, "没有这个页面或这条记录。")

    @app.errorhandler(400)
    def bad_request(_):
        return refuse(400, "请求内容不完整或格式不对，请返回重试。")

    @app.errorhandler(413)
    def too_large(_):
        return refuse(413, "提交的内容过长。")

    from daemon.web import views
    views.register(app, desk)
    return app


def parse_listen(value: str) -> tuple[str, int]:
    """'127.0.0.1:8080', 'localhost:8080' or '[::1]:8080' → (host, port); ValueError with the fix."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.\-]+):(\d{1,5})", (value or "").strip())
    if not m or not (0 < int(m.group(2) or m.group(4)) < 65536):
        raise ValueError(f"--listen {value!r}: expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080")
    return (m.group(1) or m.group(3)), int(m.group(2) or m.group(4))


def _stop(signum, frame) -> None:
    """SIGTERM (systemctl stop): let a staff action in hand finish (it judges, files and sends), then go."""
    with ACTION_LOCK:
        log.info("staff desk stopped")
        os._exit(0)


def serve(app: Flask, host: str, port: int) -> None:
    import waitress
    signal.signal(signal.SIGTERM, _stop)
    log.info("staff desk on http://%s:%s/", f"[{host}]" if ":" in host else host, port)
    # a reverse proxy on this machine (README: nginx with TLS) says who the client is in X-Forwarded-For,
    # so the login limit per address counts staff one by one, not the proxy as one; from anyone else
    # these headers are dropped
    waitress.serve(app, host=host, port=port, threads=4, ident="ribao", channel_timeout=120,
                   trusted_proxy="127.0.0.1", trusted_proxy_count=1,
                   trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"}, clear_untrusted_proxy_headers=True)
