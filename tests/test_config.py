"""A wrong or missing config key is one clear line naming the key."""
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import ConfigError, from_dict, load

BASE = {"mailbox": {"kind": "maildir", "path": "m"}, "smtp": {"kind": "outbox", "path": "o", "from": "a@b.cn"}}


def err(data) -> str:
    with pytest.raises(ConfigError) as e:
        from_dict(data, base=__import__("pathlib").Path("/tmp"))
    assert "\n" not in str(e.value)
    return str(e.value)


def test_minimal_config(tmp_path):
    cfg = from_dict(BASE, tmp_path)
    assert cfg.mailbox.path == str(tmp_path / "m") and cfg.smtp.sender == "a@b.cn"


@pytest.mark.parametrize("patch, needle", [
    ({"mailbox": {"kind": "imap", "hots": "x"}}, "[mailbox] hots: unknown key"),
    ({"mailbox": {"kind": "imap", "username": "u"}}, "[mailbox] host: missing"),
    ({"mailbox": {"kind": "imap", "host": "imap.163.com", "username": "u", "security": "ssl"}}, "[mailbox] security: must be one of"),
    ({"mailbox": {"kind": "imap", "host": "imap.163.com", "username": "u", "security": "none"}}, "loopback"),
    ({"smtp": {"kind": "smtp", "host": "h"}}, "[smtp] from: missing"),
    ({"schedule": {"poll_seconds": "60"}}, "[schedule] poll_seconds: expected a number"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, "[schedule] timezone"),
    ({"replies": {"enabled": "yes"}}, "[replies] enabled: expected true or false"),
    ({"mail": {}}, "[mail]: unknown section"),
    ({"limits": {"file_seconds": 90}}, "[limits] file_seconds: must be at least 1 and at most message_seconds"),
    ({"limits": {"message_seconds": "60"}}, "[limits] message_seconds: expected a number"),
    ({"limits": {"memory_mb": 64}}, "[limits] memory_mb: must be at least 256"),
    ({"limits": {"file_sec": 5}}, "[limits] file_sec: unknown key"),
])
def test_errors_name_the_key(patch, needle):
    data = {**BASE, **patch}
    assert needle in err(data)


def test_limits_defaults_and_values(tmp_path):
    cfg = from_dict(BASE, tmp_path)
    assert (cfg.limits.file_seconds, cfg.limits.message_seconds, cfg.limits.memory_mb) == (20, 60, 1024)
    cfg = from_dict({**BASE, "limits": {"file_seconds": 5, "message_seconds": 30}}, tmp_path)
    assert (cfg.limits.file_seconds, cfg.limits.message_seconds) == (5, 30)


def test_missing_section():
    assert "[smtp]: missing section" in err({"mailbox": BASE["mailbox"]})


def test_password_file(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    data = {**BASE, "mailbox": {"kind": "imap", "host": "imap.163.com", "username": "u", "password_file": "pw"}}
    cfg = from_dict(data, tmp_path)
    assert cfg.mailbox.password == "s3cret" and "s3cret" not in repr(cfg.mailbox)


def test_unreadable_password_file(tmp_path):
    data = {**BASE, "mailbox": {"kind": "imap", "host": "imap.163.com", "username": "u", "password_file": "nope"}}
    with pytest.raises(ConfigError, match=r"\[mailbox\] password_file: cannot read"):
        from_dict(data, tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "none.toml")


def test_bad_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[mailbox\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(p)


@pytest.mark.parametrize("section", ["mailbox", "smtp"])
@pytest.mark.parametrize("written, secret", [("123456", "123456"), ("20230515.5", "20230515.5"), ("true", "true"),
                                             ("2023-05-15", "2023-05-15"), ("[918273]", "918273"),
                                             ("q7w8e9r", "q7w8e9r")])
def test_a_password_written_without_quotes_is_never_echoed(tmp_path, section, written, secret):
    """`password = 123456` is a number to TOML: the error names the key and the fix, not the value."""
    mailbox = '[mailbox]\nkind = "imap"\nhost = "imap.163.com"\nusername = "u"\n'
    smtp = '[smtp]\nkind = "smtp"\nhost = "smtp.163.com"\nfrom = "a@b.cn"\n'
    text = (mailbox + f"password = {written}\n" + smtp if section == "mailbox"
            else mailbox + smtp + f"password = {written}\n")
    p = tmp_path / "config.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load(p)
    message = str(e.value)
    assert secret not in message and "\n" not in message
    if written != "q7w8e9r":       # a bare word is not TOML at all: the parser's own line and column
        assert message.startswith(f"[{section}] password: expected a string in quotes, got ")
        assert "(its value is not shown)" in message
    r = subprocess.run([sys.executable, "-m", "daemon", "status", "--config", str(p)], capture_output=True,
                       text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert r.returncode == 2 and secret not in r.stderr + r.stdout and r.stderr.startswith("ribao: ")
