"""A config.toml for a test: the real loopback Dovecot and SMTP servers, or the embedded default."""
from __future__ import annotations

from pathlib import Path

from tests.judging.conftest import ROSTER


def write_config(tmp: Path, *, dovecot=None, smtp=None, maildir: Path | None = None, profile="xiamen-2023",
                 extra: str = "", filing_action: str = "copy") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "roster.csv").write_text(ROSTER, encoding="utf-8")
    if dovecot is not None:
        (tmp / "imap-password").write_text(dovecot.password + "\n")
        mailbox = f"""[mailbox]
kind = "imap"
host = "127.0.0.1"
port = {dovecot.port}
security = "none"
username = "{dovecot.user}"
password_file = "imap-password"
folder = "INBOX"
timeout = 10
"""
    else:
        mailbox = f'[mailbox]\nkind = "maildir"\npath = "{maildir}"\n'
    if smtp is not None:
        sender = f"""[smtp]
kind = "smtp"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
from = "xmedu_gjc@163.com"
timeout = 5
"""
    else:
        sender = '[smtp]\nkind = "outbox"\npath = "replies"\nfrom = "xmedu_gjc@163.com"\n'
    text = f"""{mailbox}
{sender}
[rules]
profile = "{profile}"
roster = "roster.csv"

[storage]
path = "data"

[filing]
action = "{filing_action}"

[replies]
retry_seconds = [0, 0, 0]
{extra}
"""
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path
