"""A bureau's notice as data: load `rules/NAME.toml` into a Profile.

Everything that differs from one bureau to the next (the week, deadlines, which day a report
covers, limits, what must be archived or described) lives in the file; the code only reads it.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.defects import override_error
from daemon.resources import data_dir

RULES_DIR = data_dir("rules")
REQUIREMENTS = {"text", "document", "table", "materials"}


class ProfileError(ValueError):
    """A rules file that can't be used; the message names the file and the key."""


@dataclass
class TextRules:
    min_chars: int | None = None
    max_chars: int | None = None
    missing_below: int = 50
    short_severity: str = "error"
    long_severity: str = "warning"
    requirement: str = ""


@dataclass
class PhotoRules:
    formats: list[str] = field(default_factory=list)   # [] = any picture format
    min_width: int | None = None
    min_bytes: int | None = None
    caption: bool = False
    archived: bool = False
    requirement: str = ""


@dataclass
class VideoRules:
    formats: list[str] = field(default_factory=list)
    max_bytes: int | None = None
    min_short_side: int | None = None
    recommended_short_side: int | None = None
    description: bool = False
    requirement: str = ""


@dataclass
class Deliverable:
    id: str
    name: str
    requires: list[str]
    words: list[str]
    recurring: str | None = None          # "daily" or None for one-off
    due: dt.datetime | None = None        # one-off: aware datetime, or None (no deadline)
    due_time: dt.time | None = None       # daily: time of day of the deadline
    due_day_offset: int = 0               # daily: report on day D is due on D + offset
    due_midnight: bool = False            # "24:00": the end of the due day
    before_deadline_covers: str = "same_day"
    min_chars: int | None = None          # a one-off's own minimum text length

    @property
    def is_daily(self) -> bool:
        return self.recurring == "daily"


@dataclass
class Profile:
    id: str
    name: str
    tz: ZoneInfo
    week_start: dt.date
    week_end: dt.date
    report_words: list[str]
    text: TextRules
    photos: PhotoRules
    videos: VideoRules
    deliverables: list[Deliverable]
    issuer: str = ""
    mailbox: str = ""
    source: Path | None = None
    resend_words: list[str] = field(default_factory=list)   # a full resend replaces the day's earlier mail
    defects: dict[str, dict] = field(default_factory=dict)  # code → {severity?, text?}: [defects."CODE"]

    def is_resend(self, subject: str) -> bool:
        low = (subject or "").lower()
        return any(w and w.lower() in low for w in self.resend_words)

    @property
    def timezone(self) -> str:
        return self.tz.key

    @property
    def daily(self) -> Deliverable | None:
        return next((d for d in self.deliverables if d.is_daily), None)

    def deliverable(self, ident: str) -> Deliverable | None:
        return next((d for d in self.deliverables if d.id == ident), None)

    def week_days(self) -> list[dt.date]:
        n = (self.week_end - self.week_start).days + 1
        return [self.week_start + dt.timedelta(days=i) for i in range(n)]

    def in_week(self, day: dt.date) -> bool:
        return self.week_start <= day <= self.week_end

    def daily_due(self, day: dt.date) -> dt.datetime:
        """When the daily report on `day` is due, as an aware datetime."""
        d = self.daily
        if d is None:
            raise ProfileError(f"{self.id}: this notice has no daily report")
        due_day = day + dt.timedelta(days=d.due_day_offset)
        if d.due_midnight:
            return dt.datetime.combine(due_day + dt.timedelta(days=1), dt.time(0, 0), self.tz)
        return dt.datetime.combine(due_day, d.due_time, self.tz)

    def due_of(self, deliverable: Deliverable, day: dt.date | None) -> dt.datetime | None:
        if deliverable.is_daily:
            return self.daily_due(day) if day else None
        return deliverable.due


def _time(text: str, where: str) -> tuple[dt.time, bool]:
    try:
        hh, mm = (int(x) for x in str(text).split(":"))
    except ValueError:
        raise ProfileError(f"{where}: expected a time such as \"12:00\", got {text!r}") from None
    if (hh, mm) == (24, 0):
        return dt.time(0, 0), True
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise ProfileError(f"{where}: {text!r} is not a time of day")
    return dt.time(hh, mm), False


def _due(value, tz: ZoneInfo, where: str) -> dt.datetime:
    """A notice's date alone ("5月22日前") is due at the end of that day: read leniently."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(0, 0), tz)
    text = str(value).strip()
    try:
        if " " in text or "T" in text:
            day_s, time_s = text.replace("T", " ").split(" ", 1)
            t, midnight = _time(time_s, where)
            day = dt.date.fromisoformat(day_s)
            if midnight:
                day += dt.timedelta(days=1)
            return dt.datetime.combine(day, t, tz)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ProfileError(f"{where}: expected a date such as \"2023-05-22\" or \"2024-05-10 18:00\", got {text!r}") from None
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tz)


def _section(data: dict, cls, key: str, src: str):
    raw = data.get(key, {}) or {}
    known = set(cls.__dataclass_fields__)
    for k in raw:
        if k not in known:
            raise ProfileError(f"{src}: unknown key [{key}] {k}; known keys: {', '.join(sorted(known))}")
    return cls(**raw)


def _defect_rules(data: dict, src: str) -> dict[str, dict]:
    """[defects."CODE"] tables: a bureau's own severity or wording for a catalogued code."""
    raw = data.get("defects", {}) or {}
    if not isinstance(raw, dict):
        raise ProfileError(f'{src}: defects must be tables such as [defects."text.too_long"]')
    for code, rule in raw.items():
        why = override_error(code, rule)
        if why:
            raise ProfileError(f'{src}: [defects."{code}"] {why}')
    return {code: dict(rule) for code, rule in raw.items()}


def resolve(name_or_path: str | Path) -> Path:
    """A profile by name (looked up in rules/) or by path to a .toml file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ProfileError(f"rules file {p} not found")
        return p
    cand = RULES_DIR / f"{name_or_path}.toml"
    if not cand.exists():
        names = ", ".join(sorted(x.stem for x in RULES_DIR.glob("*.toml")))
        raise ProfileError(f"no rules profile named {name_or_path!r}; available: {names} (or give a path to a .toml file)")
    return cand


def load(name_or_path: str | Path) -> Profile:
    path = resolve(name_or_path)
    src = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{src}: cannot read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{src}: not valid TOML ({e})") from None
    for key in ("id", "week_start", "week_end"):
        if key not in data:
            raise ProfileError(f"{src}: missing key {key}")
    try:
        tz = ZoneInfo(data.get("timezone", "Asia/Shanghai"))
    except Exception:
        raise ProfileError(f"{src}: unknown timezone {data.get('timezone')!r}") from None
    delivs = []
    for i, raw in enumerate(data.get("deliverables", [])):
        where = f"{src}: deliverables[{i}]"
        raw = dict(raw)
        for k in ("id", "name", "requires", "words"):
            if k not in raw:
                raise ProfileError(f"{where}: missing key {k}")
        bad = set(raw["requires"]) - REQUIREMENTS
        if bad:
            raise ProfileError(f"{where}: requires {sorted(bad)} unknown; use {sorted(REQUIREMENTS)}")
        d = Deliverable(id=raw["id"], name=raw["name"], requires=list(raw["requires"]),
                        words=list(raw["words"]), recurring=raw.get("recurring"),
                        due_day_offset=int(raw.get("due_day_offset", 0)),
                        before_deadline_covers=raw.get("before_deadline_covers", "same_day"),
                        min_chars=raw.get("min_chars"))
        if d.recurring not in (None, "daily"):
            raise ProfileError(f"{where}: recurring must be \"daily\" or absent")
        if d.before_deadline_covers not in ("same_day", "previous_day"):
            raise ProfileError(f"{where}: before_deadline_covers must be \"same_day\" or \"previous_day\"")
        if d.is_daily:
            d.due_time, d.due_midnight = _time(raw.get("due_time", "24:00"), f"{where}.due_time")
        elif raw.get("due") is not None:
            d.due = _due(raw["due"], tz, f"{where}.due")
        delivs.append(d)
    ids = [d.id for d in delivs]
    if len(ids) != len(set(ids)):
        raise ProfileError(f"{src}: deliverable ids must be unique, got {ids}")
    return Profile(
        id=data["id"], name=data.get("name", data["id"]), tz=tz,
        week_start=data["week_start"], week_end=data["week_end"],
        report_words=list(data.get("report_words", [])),
        resend_words=list(data.get("resend_words", [])),
        text=_section(data, TextRules, "text", src),
        photos=_section(data, PhotoRules, "photos", src),
        videos=_section(data, VideoRules, "videos", src),
        deliverables=delivs, issuer=data.get("issuer", ""), mailbox=data.get("mailbox", ""),
        source=path, defects=_defect_rules(data, src),
    )


def default_name() -> str:
    """The profile used when none is named: the one line of rules/DEFAULT."""
    try:
        return (RULES_DIR / "DEFAULT").read_text(encoding="utf-8").strip()
    except OSError:
        return available()[0]


def available() -> list[str]:
    return sorted(p.stem for p in RULES_DIR.glob("*.toml"))
