"""config.toml → typed sections. A wrong or missing key is one clear line naming the key.

Every key is documented in config.example.toml; tests/test_config.py keeps the two in step.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """One plain line: which key, what is wrong, how to fix it."""


@dataclass
class MailboxConfig:
    kind: str = "imap"                  # imap | maildir
    host: str = ""
    port: int = 993
    security: str = "tls"               # tls | starttls | none (none: loopback only)
    username: str = ""
    password: str = field(default="", repr=False)
    password_file: str = ""
    folder: str = "INBOX"
    path: str = ""                      # maildir: the Maildir directory
    idle: bool = True                   # use IMAP IDLE where the server offers it
    timeout: float = 60.0               # seconds for connect and each command
    client_id: str = "ribao"            # sent with the IMAP ID command (NetEase 163/126 need it)
    ca_file: str = ""                   # a CA bundle for a private server's certificate
    verify_tls: bool = True
    authserv_id: str = ""               # our server's name in Authentication-Results ("" = not checked)


@dataclass
class SmtpConfig:
    kind: str = "smtp"                  # smtp | outbox (writes .eml files into `path`)
    host: str = ""
    port: int = 465
    security: str = "tls"
    username: str = ""
    password: str = field(default="", repr=False)
    password_file: str = ""
    sender: str = ""                    # the From: of replies (TOML key `from`)
    path: str = ""                      # outbox: the folder replies are written to
    timeout: float = 60.0
    ca_file: str = ""
    verify_tls: bool = True


@dataclass
class RulesConfig:
    profile: str = ""                   # "" = the one named in rules/DEFAULT
    roster: str = ""


@dataclass
class StorageConfig:
    path: str = "/var/lib/ribao"        # database ribao.db and attachments/ live here
    keep_days: int = 0                  # > 0: daily, `ribao purge` days older than this (0 = off)


@dataclass
class ScheduleConfig:
    poll_seconds: int = 60
    timezone: str = "Asia/Shanghai"
    digest_time: str = ""               # "12:30": the daily digest after the deadline ("" = off)
    reminder_time: str = ""             # "10:00": reminders before the deadline ("" = off)
    summary_after_week: bool = True     # the week's workbook the day after the week


@dataclass
class FilingConfig:
    enabled: bool = True
    action: str = "copy"                # copy | move
    report_folder: str = "一日一报/{date}/{school}"
    deliverable_folder: str = "报送材料/{deliverable}/{school}"
    unknown_folder: str = ""            # reports tied to no school ("" = leave in place)
    auto_folder: str = ""               # auto-replies and bounces ("" = leave in place)
    other_folder: str = ""              # everything else ("" = leave in place)
    quarantine_folder: str = ""


@dataclass
class RepliesConfig:
    enabled: bool = True
    max_per_sender_per_day: int = 5
    max_per_day: int = 500              # all known senders together
    max_unknown_per_day: int = 50       # one fixed reply per unknown address a day, this many in all
    retry_seconds: list = field(default_factory=lambda: [60, 300, 900, 3600])
    receipts: bool = True               # also answer reports that are fine
    ignore_senders: list = field(default_factory=list)
    settle_seconds: int = 0             # hold a reply this long for the same school's further mail (0 = off)


@dataclass
class DigestConfig:
    recipients: list = field(default_factory=list)
    reminders: bool = False             # opt-in: remind schools that have not reported
    reminder_days_before: int = 2       # one-off deliverables: remind this many days before


@dataclass
class LimitsConfig:
    file_seconds: float = 20.0          # one file's parsing, unpacking or probing
    message_seconds: float = 60.0       # the whole message
    memory_mb: int = 1024               # address space of the judging process (RLIMIT_AS)


@dataclass
class WebConfig:
    listen: str = "127.0.0.1:8080"      # the staff desk (`ribao web`); HOST:PORT or [::1]:PORT
    secure_cookies: bool = False        # true when the desk is reached through TLS (a reverse proxy)
    session_hours: int = 12             # a login lasts this long


@dataclass
class Config:
    mailbox: MailboxConfig
    smtp: SmtpConfig
    rules: RulesConfig
    storage: StorageConfig
    schedule: ScheduleConfig
    filing: FilingConfig
    replies: RepliesConfig
    digest: DigestConfig
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    source: Path | None = None


SECTIONS = {
    "mailbox": MailboxConfig, "smtp": SmtpConfig, "rules": RulesConfig, "storage": StorageConfig,
    "schedule": ScheduleConfig, "filing": FilingConfig, "replies": RepliesConfig, "digest": DigestConfig,
    "limits": LimitsConfig,
    "web": WebConfig,
}
REQUIRED = {
    ("mailbox", "imap"): ["host", "username"],
    ("mailbox", "maildir"): ["path"],
    ("smtp", "smtp"): ["host", "from"],
    ("smtp", "outbox"): ["path", "from"],
}
CHOICES = {
    ("mailbox", "kind"): ("imap", "maildir"), ("smtp", "kind"): ("smtp", "outbox"),
    ("mailbox", "security"): ("tls", "starttls", "none"), ("smtp", "security"): ("tls", "starttls", "none"),
    ("filing", "action"): ("copy", "move"),
}


_SECRET_WORDS = ("password", "secret", "token")


def _shown(key: str, value) -> str:
    """A wrong value as the error message may echo it: a secret's value never is, only its type."""
    if not any(w in key.lower() for w in _SECRET_WORDS):
        return repr(value)
    kind = ("a boolean" if isinstance(value, bool) else "a number" if isinstance(value, (int, float))
            else "a list" if isinstance(value, list) else "a table" if isinstance(value, dict)
            else "a date or time" if not isinstance(value, str) else "a string")
    return f"{kind} (its value is not shown)"


def _build(section: str, cls, raw: dict, base: Path):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        attr = "sender" if (section, key) == ("smtp", "from") else key
        if attr not in fields or (section, key) == ("smtp", "sender"):
            known = sorted("from" if k == "sender" else k for k in fields)
            raise ConfigError(f"[{section}] {key}: unknown key; known keys are {', '.join(known)}")
        default = fields[attr].default if fields[attr].default is not dataclasses.MISSING else fields[attr].default_factory()
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"[{section}] {key}: expected true or false, got {_shown(key, value)}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"[{section}] {key}: expected a number, got {_shown(key, value)}")
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"[{section}] {key}: expected a string in quotes, got {_shown(key, value)}")
        if isinstance(default, list) and not isinstance(value, list):
            raise ConfigError(f"[{section}] {key}: expected a list such as [\"a\", \"b\"], got {_shown(key, value)}")
        choice = CHOICES.get((section, key))
        if choice and value not in choice:
            raise ConfigError(f"[{section}] {key}: must be one of {', '.join(choice)}, got {_shown(key, value)}")
        values[attr] = value
    obj = cls(**values)
    for attr in ("path", "roster", "password_file", "ca_file"):
        v = getattr(obj, attr, None)
        if v and not os.path.isabs(v):
            setattr(obj, attr, str((base / v).resolve()))
    return obj


def _password(section: str, obj) -> None:
    if obj.password and obj.password_file:
        raise ConfigError(f"[{section}] password and password_file: give one, not both")
    if obj.password_file:
        try:
            obj.password = Path(obj.password_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"[{section}] password_file: cannot read {obj.password_file} ({e.strerror})") from None


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found (copy config.example.toml and edit it)") from None
    except OSError as e:
        raise ConfigError(f"config file {p}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p}: not valid TOML ({e})") from None
    return from_dict(data, p.resolve().parent, source=p)


def from_dict(data: dict, base: Path, source: Path | None = None) -> Config:
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"[{key}]: unknown section; known sections are {', '.join(SECTIONS)}")
        if not isinstance(data[key], dict):
            raise ConfigError(f"{key}: must be a section [{key}], not a value")
    for needed in ("mailbox", "smtp"):
        if needed not in data:
            raise ConfigError(f"[{needed}]: missing section (see config.example.toml)")
    built = {name: _build(name, cls, data.get(name, {}), base) for name, cls in SECTIONS.items()}
    for (section, kind), keys in REQUIRED.items():
        if getattr(built[section], "kind") == kind:
            for key in keys:
                attr = "sender" if key == "from" else key
                if not getattr(built[section], attr):
                    raise ConfigError(f"[{section}] {key}: missing (required when kind = \"{kind}\")")
    for section in ("mailbox", "smtp"):
        _password(section, built[section])
    if built["mailbox"].kind == "imap" and built["mailbox"].security == "none" and built["mailbox"].host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"[mailbox] security: \"none\" is allowed only for a loopback host, not {built['mailbox'].host!r}; use \"tls\" or \"starttls\"")
    if built["smtp"].kind == "smtp" and built["smtp"].security == "none" and built["smtp"].host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"[smtp] security: \"none\" is allowed only for a loopback host, not {built['smtp'].host!r}; use \"tls\" or \"starttls\"")
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(built["schedule"].timezone)
    except Exception:
        raise ConfigError(f"[schedule] timezone: unknown timezone {built['schedule'].timezone!r} (e.g. \"Asia/Shanghai\")") from None
    if not isinstance(built["storage"].keep_days, int) or built["storage"].keep_days < 0:
        raise ConfigError("[storage] keep_days: must be a whole number of days, 0 (off) or more")
    if built["web"].session_hours < 1:
        raise ConfigError("[web] session_hours: must be at least 1")
    if built["schedule"].poll_seconds < 5:
        raise ConfigError("[schedule] poll_seconds: must be at least 5")
    lim = built["limits"]
    if not 1 <= lim.file_seconds <= lim.message_seconds:
        raise ConfigError(f"[limits] file_seconds: must be at least 1 and at most message_seconds "
                          f"({lim.message_seconds:g}), got {lim.file_seconds:g}")
    if lim.memory_mb < 256:
        raise ConfigError(f"[limits] memory_mb: must be at least 256, got {lim.memory_mb:g}")
    return Config(**built, source=source)
