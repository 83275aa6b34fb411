"""One day as the bureau sees it: for every roster school, what its latest report for the day says.

The digest, the week's workbook, `pending` and the reminders all read the store through here, so a
figure means the same thing everywhere. Status is one of ON_TIME, LATE, MISSING, ACCEPTED (staff
accepted the report by hand) or NOT_DUE (nothing yet, but the deadline has not passed).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from daemon.judging.roster import Roster
from daemon.model import KNOWN_HOW
from daemon.profile import Profile
from daemon.reports.combine import Combined, Mail, combine
from daemon.store import reads
from daemon.store.db import Store

ON_TIME, LATE, MISSING, ACCEPTED, NOT_DUE = "on_time", "late", "missing", "accepted", "not_due"
STATUS_ZH = {ON_TIME: "按时报送", LATE: "逾期报送", MISSING: "未报送", ACCEPTED: "人工认可", NOT_DUE: "未到截止"}
_EXPIRY = re.compile(r"链接([^（）()链]{1,40}?)到期")   # rows stored before defects had facts (schema v4)


def parse_time(value) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class SchoolDay:
    school: str
    status: str
    message: dict | None = None              # the day's latest mail (messages row)
    defects: list[dict] = field(default_factory=list)     # open defects of the combined day
    earlier: int = 0                         # how many mails came before the latest
    fixed: list[dict] = field(default_factory=list)       # defects a later mail cured
    photos: list[dict] = field(default_factory=list)      # current photo materials, stored_path absolute
    links: list[dict] = field(default_factory=list)       # cloud links: {file, expires, text}
    messages: list[int] = field(default_factory=list)     # every mail of the day, in arrival order
    combined: Combined | None = None

    @property
    def status_zh(self) -> str:
        return STATUS_ZH[self.status]

    @property
    def reported(self) -> bool:
        return self.status in (ON_TIME, LATE, ACCEPTED)

    @property
    def errors(self) -> list[dict]:
        return [d for d in self.defects if d["severity"] == "error"]

    @property
    def needs_fix(self) -> bool:
        """An error still open on the combined day (staff acceptance closes it)."""
        return self.status != ACCEPTED and bool(self.errors)

    def count(self, key: str) -> int:
        """text_chars, photos, videos of the combined day."""
        c = self.combined
        if c is None:
            return 0
        return {"text_chars": c.text_chars, "photos": c.photos, "videos": c.videos}.get(key, 0)

    def as_json(self) -> dict:
        """The row of `ribao digest --json` (contract)."""
        c = self.combined
        return {"school": self.school, "status": self.status, "text_chars": self.count("text_chars"),
                "photos": self.count("photos"), "videos": self.count("videos"),
                "open_defects": c.open_codes if c else [], "fixed_defects": c.fixed_codes if c else [],
                "messages": list(self.messages)}


@dataclass
class Deliverables:
    """A one-off deliverable (summary, statistics table): who has sent it."""
    id: str
    name: str
    due: dt.datetime
    overdue: bool
    sent: list[str]
    missing: list[str]


@dataclass
class Day:
    date: dt.date
    due: dt.datetime | None
    rows: list[SchoolDay]
    unattributed: list[dict]                 # {id, received, sender, subject, why, held?}
    links: list[dict]                        # {school, sender, file, expires, text}
    one_offs: list[Deliverables]

    @property
    def held(self) -> list[dict]:
        """Mail naming a school from an unknown address, waiting for staff (待确认)."""
        return [u for u in self.unattributed if u.get("held")]

    def figures(self) -> dict:
        n = {s: 0 for s in STATUS_ZH}
        for r in self.rows:
            n[r.status] += 1
        return {"roster": len(self.rows), "on_time": n[ON_TIME], "late": n[LATE], "missing": n[MISSING],
                "accepted": n[ACCEPTED], "not_due": n[NOT_DUE], "reported": n[ON_TIME] + n[LATE] + n[ACCEPTED],
                "needs_fix": sum(1 for r in self.rows if r.needs_fix)}


def window(profile: Profile, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Mail that belongs to day D's digest: received after the previous deadline, up to D's."""
    if profile.daily is not None:
        return profile.daily_due(day - dt.timedelta(days=1)), profile.daily_due(day)
    start = dt.datetime.combine(day, dt.time(0, 0), profile.tz)
    return start, start + dt.timedelta(days=1)


def link_info(d: dict) -> dict:
    """A stored attachment.link_only row: its expiry from the defect's facts; only a row stored
    before facts were kept (no facts) has it read out of its sentence."""
    text = d.get("text") or ""
    try:
        facts = json.loads(d["facts"]) if d.get("facts") else None
    except ValueError:
        facts = None
    if isinstance(facts, dict):
        expires = str(facts.get("expires") or "")
    else:
        m = _EXPIRY.search(text)
        expires = m.group(1) if m else ""
    return {"file": d.get("file") or "", "expires": expires, "text": text}


def day_mails(store: Store, profile: Profile, school: str, deliverable: str, day: dt.date | None) -> list[Mail]:
    """Every report mail of `school` for `deliverable` (on `day` for the recurring one), arrival order."""
    rows = reads.day_mails(store, school, deliverable, day.isoformat() if day else "")
    return [Mail(row=r, defects=store.defects_of(r["id"]), materials=store.materials_of(r["id"]),
                 resend=profile.is_resend(r.get("subject") or "")) for r in rows]


def school_day(profile: Profile, store: Store, school: str, day: dt.date | None, now: dt.datetime | None = None,
               deliverable=None) -> SchoolDay:
    """One school's day (or one-off deliverable when `deliverable` is given and not recurring)."""
    d = deliverable or profile.daily
    mails = day_mails(store, profile, school, d.id, day if d.is_daily else None)
    if not mails:
        due = profile.daily_due(day) if d.is_daily else d.due
        now = now or dt.datetime.now(profile.tz)
        return SchoolDay(school, NOT_DUE if due is not None and now < due else MISSING)
    c = combine(mails, text_floor=profile.text.missing_below or 50)
    status = ACCEPTED if c.accepted else (LATE if c.late else ON_TIME)
    latest = c.live[-1]
    row = SchoolDay(school, status, message=latest.row, defects=c.open, earlier=len(mails) - 1, fixed=c.fixed,
                    messages=[m.id for m in mails], combined=c)
    for mat, _ in c.files.values():
        p = stored_path(store, mat.get("stored_path")) if mat["type"] == "photo" else None
        if p is not None:
            row.photos.append({**mat, "path": p})
    row.links = [link_info(x) for x in c.open if x["code"] == "attachment.link_only"]
    return row


def verdict_day(profile: Profile, store: Store, v) -> SchoolDay | None:
    """The school's day a stored verdict joined (what its reply speaks of), or None for mail that
    joins no day (auto-replies, unrelated or held mail, no school, no deliverable)."""
    if v.kind != "report" or not v.school or v.held or not v.deliverables:
        return None
    d = profile.deliverable(v.recurring or v.deliverables[0])
    day = dt.date.fromisoformat(v.report_date) if v.recurring and v.report_date else None
    if d is None or (d.is_daily and day is None):
        return None
    return school_day(profile, store, v.school, day, deliverable=d)


def unattributed(profile: Profile, store: Store, day: dt.date) -> list[dict]:
    """Reports tied to no school or to a day outside the week, and mail that could not be judged,
    received in the day's window."""
    start, end = window(profile, day)
    rows = reads.needing_staff(store)
    out = []
    for r in rows:
        t = parse_time(r["received"])
        if t is not None and t.tzinfo is None:
            t = t.replace(tzinfo=profile.tz)
        about_day = r["report_date"] == day.isoformat() and (r["school_how"] or "") not in KNOWN_HOW and r["school"]
        if not about_day and (t is None or not (start < t <= end)):
            continue
        if r["state"] == "quarantined":
            why = "无法自动检查（已隔离），请人工查看"
        elif r["school"] is None:
            why = "未能识别是哪所学校"
        elif (r["school_how"] or "") not in KNOWN_HOW:
            why = f"待确认：邮件写明是{r['school']}，但发件邮箱未登记；确认后请 ribao assign {r['id']} --school {r['school']}"
            r["held"] = True
        else:
            why = "报送日期不在活动周内"
        out.append({**r, "why": why})
    return out


def day_json(profile: Profile, roster: Roster, store: Store, deliverable, day: dt.date | None,
             now: dt.datetime | None = None) -> dict:
    """`ribao digest --json` (contract): the day state of every roster school, and the mail staff
    must look at: `unassigned` (tied to no school, or not judged) and `held` (a school named from
    an unknown address)."""
    now = now or dt.datetime.now(profile.tz)
    d = deliverable
    when = day if d.is_daily else None
    due = profile.daily_due(day) if d.is_daily else d.due
    rows = [school_day(profile, store, s.name, when, now, deliverable=d).as_json() for s in roster.schools]
    if d.is_daily:
        odd = unattributed(profile, store, day)
        unassigned = [u["id"] for u in odd if not u.get("held") and (u["school"] is None or u["state"] == "quarantined")]
        held = [u["id"] for u in odd if u.get("held")]
    else:
        unassigned, held = [], []
        for r in reads.judged_reports(store):
            if d.id not in json.loads(r["deliverables"] or "[]"):
                continue
            if r["school"] is None:
                unassigned.append(r["id"])
            elif (r["school_how"] or "") not in KNOWN_HOW:
                held.append(r["id"])
    return {"date": when.isoformat() if when else None, "deliverable": d.id,
            "due": due.isoformat() if due else None, "schools": rows, "unassigned": unassigned, "held": held}


def one_offs(profile: Profile, roster: Roster, store: Store, as_of: dt.datetime, ahead_days: int = 3) -> list[Deliverables]:
    """One-off deliverables due within `ahead_days` after `as_of`, and those already overdue."""
    out = []
    for d in profile.deliverables:
        if d.is_daily or d.due is None:
            continue
        overdue = d.due <= as_of
        if not overdue and d.due > as_of + dt.timedelta(days=ahead_days):
            continue
        have = reads.schools_with(store, d.id)
        names = roster.names
        out.append(Deliverables(d.id, d.name, d.due, overdue, [s for s in names if s in have],
                                [s for s in names if s not in have]))
    return out


def day_status(profile: Profile, roster: Roster, store: Store, day: dt.date, now: dt.datetime | None = None) -> Day:
    """Everything about day D: one SchoolDay per roster school, in roster order."""
    now = now or dt.datetime.now(profile.tz)
    rows = [school_day(profile, store, s.name, day, now) for s in roster.schools]
    odd = unattributed(profile, store, day)
    links = [{"school": r.school, "sender": (r.message or {}).get("sender") or "", **lk} for r in rows for lk in r.links]
    for u in odd:
        for d in store.defects_of(u["id"]):
            if d["code"] == "attachment.link_only":
                links.append({"school": u["school"] or "", "sender": u["sender"] or "", **link_info(d)})
    due = profile.daily_due(day) if profile.daily else None
    as_of = due or dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), profile.tz)
    return Day(day, due, rows, odd, links, one_offs(profile, roster, store, as_of))


def last_seen(store: Store, school: str) -> dict | None:
    """The last mail seen from a school (any kind): {received, subject}."""
    return reads.last_seen(store, school)


def daily_reported(store: Store, school: str, day: dt.date) -> bool:
    """Any daily report for (school, day), whatever its verdict."""
    return reads.has_dated_report(store, school, day.isoformat())


def held_waiting(store: Store, school: str, day: dt.date | None = None) -> bool:
    """A mail naming `school` (for `day`) from an unknown address waits for staff to confirm it."""
    return any(r["school"] == school and (day is None or r["report_date"] in (None, day.isoformat()))
               for r in store.held())


def sent_deliverable(store: Store, school: str, deliverable: str) -> bool:
    return reads.has_deliverable(store, school, deliverable)


def stored_path(store: Store, rel: str | None) -> Path | None:
    """A stored file's absolute path, never outside the storage root."""
    if not rel:
        return None
    root = store.root.resolve()
    p = (root / rel).resolve()
    return p if p.is_relative_to(root) else None


def days_so_far(profile: Profile, day: dt.date) -> list[dt.date]:
    return [d for d in profile.week_days() if d <= day]


def upcoming_day(profile: Profile, now: dt.datetime) -> dt.date | None:
    """The week day whose daily deadline comes next within a day of `now` (what reminders are for)."""
    if profile.daily is None:
        return None
    for d in profile.week_days():
        due = profile.daily_due(d)
        if now < due <= now + dt.timedelta(days=1):
            return d
    return None


def last_due_day(profile: Profile, now: dt.datetime) -> dt.date | None:
    """The week day whose daily deadline passed most recently (what the digest is for)."""
    if profile.daily is None:
        return None
    past = [d for d in profile.week_days() if profile.daily_due(d) <= now]
    return past[-1] if past else None


def week_counts(profile: Profile, roster: Roster, store: Store, upto: dt.date) -> list[dict]:
    """Per week day up to `upto`: {date, on_time, late, accepted} of roster schools (the rule of
    school_day: the day's first mail decides lateness; acceptance wins), in one query, for the chart."""
    names = set(roster.names)
    daily = profile.daily.id if profile.daily else ""
    days: dict[tuple[str, str], list] = {}
    for school, rdate, late, accepted in reads.first_mails(store, daily):
        if school in names:
            first = days.setdefault((school, rdate), [late, False])
            first[1] = first[1] or bool(accepted)
    out = []
    for d in days_so_far(profile, upto):
        c = {"date": d, ON_TIME: 0, LATE: 0, ACCEPTED: 0}
        for (school, rdate), (late, accepted) in days.items():
            if rdate == d.isoformat():
                c[ACCEPTED if accepted else (LATE if late else ON_TIME)] += 1
        out.append(c)
    return out


def due_text(due: dt.datetime | None) -> str:
    """A deadline in words; midnight reads as the end of the day before ("5月22日 24:00")."""
    if due is None:
        return ""
    if due.time() == dt.time(0, 0):
        d = due - dt.timedelta(days=1)
        return f"{d.month}月{d.day}日 24:00"
    return f"{due.month}月{due.day}日 {due:%H:%M}"
