"""The desk's answers without a browser (Flask's test client): cookies marked Secure when the desk
sits behind TLS, the headers that keep a page from running anything, and one-line refusals."""
from __future__ import annotations

import re

from daemon import config as configs
from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.store.db import Store
from daemon.web import auth
from daemon.web.app import create_app
from tests.builders.config import write_config
from tests.builders.maildir import new_maildir


def _app(tmp_path, extra=""):
    cfg = configs.load(write_config(tmp_path / "c", maildir=new_maildir(tmp_path / "md"), extra=extra))
    auth.set_password(Store(cfg.storage.path).db, "li", "pw-for-li-1", role="editor")
    return create_app(cfg, profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster)).test_client()


def _login(client):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"csrf": token, "name": "li", "password": "pw-for-li-1", "next": "/"})


def test_cookies_are_secure_behind_tls(tmp_path):
    r = _login(_app(tmp_path, extra="[web]\nsecure_cookies = true\n"))
    assert r.status_code == 303
    cookie = next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("ribao_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_plain_http_cookies_and_page_headers(tmp_path):
    client = _app(tmp_path)
    r = _login(client)
    cookie = next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("ribao_session="))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    r = client.get("/?date=2023-05-15")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"
    assert "<script" not in r.get_data(as_text=True)
    assert client.get("/school?name=不存在的学校&date=2023-05-15").status_code == 404
    assert client.get("/?date=5月15日").status_code == 400
    r = client.post("/accept", data={"csrf": "", "message": "1", "reason": "x"})
    assert r.status_code == 403 and "安全校验码" in r.get_data(as_text=True)


def test_wrong_login_form_token_is_refused(tmp_path):
    client = _app(tmp_path)
    client.get("/login")
    r = client.post("/login", data={"csrf": "made-up-token-000000", "name": "li", "password": "pw-for-li-1"})
    assert r.status_code == 403
    assert not any(v.startswith("ribao_session=") for v in r.headers.getlist("Set-Cookie"))
