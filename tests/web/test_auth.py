"""Accounts, sessions and login limits without a browser: scrypt hashes (never the password),
roles, disabling, session expiry, the rate limit on a fake clock, and `--listen` addresses."""
from __future__ import annotations

import datetime as dt

import pytest

from daemon.store.db import Store
from daemon.web import auth
from daemon.web.app import parse_listen, safe_next


@pytest.fixture
def db(tmp_path):
    return Store(tmp_path / "data").db


def test_hash_is_scrypt_salted_and_verifies_only_the_password():
    h1, h2 = auth.hash_password("s3cret pass"), auth.hash_password("s3cret pass")
    assert h1.startswith("scrypt$32768$8$1$") and h1 != h2            # a fresh salt each time
    assert "s3cret" not in h1
    assert auth.verify_password("s3cret pass", h1) and auth.verify_password("s3cret pass", h2)
    assert not auth.verify_password("s3cret pasS", h1) and not auth.verify_password("", h1)
    kind, n, r, p, salt, digest = h1.split("$")
    assert not auth.verify_password("s3cret pass", "$".join([kind, n, r, p, salt, digest[:-4] + "AAA="]))
    assert not auth.verify_password("s3cret pass", "plain")
    assert not auth.verify_password("s3cret pass", f"scrypt${2 ** 30}$8$1${salt}${digest}")   # no memory bomb
    with pytest.raises(auth.AuthError, match="empty password"):
        auth.hash_password("")


def test_new_account_is_a_viewer_an_existing_one_keeps_its_role(db):
    assert auth.set_password(db, "wang", "pw-one-111")["role"] == "viewer"
    assert auth.set_password(db, "li", "pw-two-222", role="editor")["role"] == "editor"
    assert auth.set_password(db, "li", "pw-new-333")["role"] == "editor"
    assert auth.authenticate(db, "li", "pw-two-222") is None
    assert auth.authenticate(db, "li", "pw-new-333")["role"] == "editor"
    assert auth.authenticate(db, "nobody", "pw-new-333") is None
    stored = db.execute("select hash from web_accounts where name = 'li'").fetchone()[0]
    assert "pw-new-333" not in stored
    with pytest.raises(auth.AuthError, match="role"):
        auth.set_password(db, "zhao", "x", role="admin")
    with pytest.raises(auth.AuthError, match="account name"):
        auth.set_password(db, "two words", "x")


def test_roles():
    assert auth.may("viewer", "look") and auth.may("editor", "look") and auth.may("editor", "change")
    assert not auth.may("viewer", "change") and not auth.may(None, "look") and not auth.may("admin", "change")


def test_sessions_end_on_logout_disable_new_password_and_expiry(db):
    auth.set_password(db, "li", "pw-one-111", role="editor")
    token, csrf = auth.new_session(db, "li", hours=12)
    s = auth.session(db, token)
    assert s == {"name": "li", "role": "editor", "csrf": csrf}
    assert db.execute("select count(*) from web_sessions where token_sha256 = ?", [token]).fetchone()[0] == 0
    assert auth.session(db, token + "x") is None and auth.session(db, None) is None
    auth.end_session(db, token)
    assert auth.session(db, token) is None

    token, _ = auth.new_session(db, "li", hours=12)
    auth.set_password(db, "li", None, disable=True)
    assert auth.session(db, token) is None and auth.authenticate(db, "li", "pw-one-111") is None
    auth.set_password(db, "li", "pw-two-222")                   # a new password unlocks it
    assert auth.authenticate(db, "li", "pw-two-222") is not None

    token, _ = auth.new_session(db, "li", hours=12)
    auth.set_password(db, "li", "pw-three-333")
    assert auth.session(db, token) is None                      # a new password ends the old sessions

    token, _ = auth.new_session(db, "li", hours=12)
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).isoformat()
    db.execute("update web_sessions set expires = ?", [past])
    assert auth.session(db, token) is None
    with pytest.raises(auth.AuthError, match="no account"):
        auth.set_password(db, "ghost", None, disable=True)


def test_csrf_comparison():
    assert auth.same_token("abc", "abc")
    assert not auth.same_token("abc", "abd") and not auth.same_token("", "") and not auth.same_token(None, "abc")


def test_rate_limit_on_a_fake_clock():
    now = [1000.0]
    rl = auth.RateLimit(limit=3, window=60, clock=lambda: now[0])
    for _ in range(2):
        rl.failed("name:li")
    assert not rl.blocked("name:li")
    rl.failed("name:li")
    assert rl.blocked("name:li") and rl.wait("name:li") == 61
    assert not rl.blocked("name:wang")                          # another key is not touched
    now[0] += 30
    assert rl.blocked("name:li") and rl.wait("name:li") == 31
    now[0] += 30                                                # the failures leave the window
    assert not rl.blocked("name:li") and rl.wait("name:li") == 0
    for _ in range(3):
        rl.failed("name:li")
    assert rl.blocked("name:li")
    rl.reset("name:li")
    assert not rl.blocked("name:li")


@pytest.mark.parametrize("value, want", [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:8081", ("::1", 8081)),
                                         ("localhost:9000", ("localhost", 9000))])
def test_listen_addresses(value, want):
    assert parse_listen(value) == want


@pytest.mark.parametrize("value", ["8080", "127.0.0.1", "::1:8080", "127.0.0.1:0", "127.0.0.1:70000", "", "a b:80"])
def test_bad_listen_addresses(value):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(value)


@pytest.mark.parametrize("target, want", [("/school?name=x", "/school?name=x"), ("//evil.example/", "/"),
                                          ("https://evil.example/", "/"), ("/\\evil", "/"), (None, "/")])
def test_login_redirects_only_within_the_desk(target, want):
    assert safe_next(target) == want


@pytest.mark.parametrize("name, want", [("开幕式.jpg", "开幕式.jpg"), ("a\r\nSet-Cookie: x=1.jpg", "a__Set-Cookie: x=1.jpg"),
                                        ('say "hi".doc', "say _hi_.doc"), ("..\\..\\boot.ini", "boot.ini"),
                                        ("photos.zip/inner.jpg", "inner.jpg"), ("", "file-1"), ("..", "file-1")])
def test_school_file_names_are_safe_download_names(name, want):
    from daemon.web.views import download_name
    assert download_name(name, "file-1") == want
