"""The daily digest for bureau staff: one HTML mail (with a plain-text alternative) per day.

Everything a school wrote (names, subjects, file names) reaches the HTML only through jinja2's
autoescaping, shortened and with control characters removed; nothing from a school reaches a header.
Images are CID parts in the mail and data: URIs in the standalone file (`--out`), so the page needs
no external resource either way.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field

from daemon.defects import title
from daemon.judging.roster import Roster
from daemon.outgoing import outbox
from daemon.outgoing.mailout import build, valid_address
from daemon.outgoing.mailout import transport as make_transport
from daemon.profile import Profile
from daemon.reports import chart
from daemon.reports.day import ACCEPTED, LATE, MISSING, NOT_DUE, ON_TIME, Day, day_status, due_text, week_counts
from daemon.reports.thumbs import Thumbs
from daemon.store import outbox_rows
from daemon.store.db import Store
from daemon.templating import render, zh_date, zh_stamp, zh_time

_WS = re.compile(r"[\s\x00-\x1f\x7f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
STATUS_COLOUR = {ON_TIME: "#2e7d32", LATE: "#ef6c00", MISSING: "#c62828", ACCEPTED: "#1565c0", NOT_DUE: "#757575"}
_ORDER = {MISSING: 0, LATE: 2, ACCEPTED: 3, ON_TIME: 4, NOT_DUE: 5}


def short(text, limit: int = 60) -> str:
    """One line, no control or bidi characters, at most `limit` characters (… when cut)."""
    text = _WS.sub(" ", str(text or "")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Digest:
    day: dt.date
    subject: str
    text: str
    ctx: dict
    images: dict = field(default_factory=dict)      # cid → (bytes, subtype)
    figures: dict = field(default_factory=dict)

    def html(self) -> str:
        """For the mail: images as cid: references."""
        return render("digest.html.j2", src={cid: f"cid:{cid}" for cid in self.images}, **self.ctx)

    def standalone(self) -> str:
        """For a browser: the same page with images as data: URIs."""
        src = {cid: f"data:image/{sub};base64,{base64.b64encode(data).decode()}"
               for cid, (data, sub) in self.images.items()}
        return render("digest.html.j2", src=src, **self.ctx)

    def message(self, sender: str, recipients: list[str]):
        return build(sender=sender, to=", ".join(recipients), subject=self.subject, text=self.text,
                     html=self.html(), auto="auto-generated",
                     images=[(cid, data, sub) for cid, (data, sub) in self.images.items()])


def _row(r, thumbs: list[dict]) -> dict:
    msg = r.message or {}
    return {
        "name": short(r.school, 40), "name_full": short(r.school, 120), "status": r.status,
        "status_zh": r.status_zh, "colour": STATUS_COLOUR[r.status],
        "received_zh": zh_time(msg.get("received")) if msg else "", "text_chars": r.count("text_chars"),
        "photos": r.count("photos"), "videos": r.count("videos"), "reported": r.reported,
        "errors": [short(d["text"], 200) for d in r.defects if d["severity"] == "error"],
        "warnings": [short(d["text"], 200) for d in r.defects if d["severity"] != "error"],
        "needs_fix": r.needs_fix, "earlier": r.earlier, "fixed": [short(_fixed(d), 120) for d in r.fixed],
        "thumbs": [{**t, "alt": short(t["file"], 60)} for t in thumbs],
        "more_photos": max(0, r.count("photos") - len(thumbs)),
    }


def _fixed(d: dict) -> str:
    """A defect a later mail cured, named briefly (its sentence asks for a fix already made)."""
    return f"{title(d['code'])}（{d['file']}）" if d.get("file") else title(d["code"])


def build_digest(profile: Profile, roster: Roster, store: Store, day: dt.date, *,
                 now: dt.datetime | None = None, thumbs: Thumbs | None = None) -> Digest:
    now = now or dt.datetime.now(profile.tz)
    info: Day = day_status(profile, roster, store, day, now)
    fig = info.figures()
    thumbs = thumbs or Thumbs(cache_dir=store.root / "thumbs")
    pics = thumbs.for_rows([r.photos for r in info.rows])
    rows = [_row(r, t) for r, t in zip(info.rows, pics)]
    rows.sort(key=lambda x: (1 if x["needs_fix"] and x["status"] != MISSING else _ORDER[x["status"]]))
    chart_cid = f"chart.{day.isoformat()}@ribao"
    png = chart.week_chart(week_counts(profile, roster, store, day), len(roster.schools))
    thumbs.images[chart_cid] = (png, "png")
    missing = [r["name"] for r in rows if r["status"] == MISSING]
    ctx = dict(
        title=f"{short(profile.name, 60)}一日一报情况", day_zh=zh_date(day),
        weekday="一二三四五六日"[day.weekday()], due_zh=due_text(info.due),
        made_zh=zh_stamp(now), fig=fig, rows=rows, missing=missing, chart_cid=chart_cid, chart_w=chart.WIDTH,
        unattributed=[{"received_zh": zh_time(u["received"]), "sender": short(u["sender"], 60),
                       "subject": short(u["subject"] or "（无主题）", 80), "why": u["why"], "id": u["id"]}
                      for u in info.unattributed],
        links=[{"school": short(x["school"] or x["sender"] or "未识别", 40), "file": short(x["file"] or "超大附件", 60),
                "expires": short(x["expires"], 30)} for x in info.links],
        one_offs=[{"name": d.name, "due_zh": due_text(d.due), "overdue": d.overdue, "sent": len(d.sent),
                   "missing": [short(s, 40) for s in d.missing]} for d in info.one_offs],
        issuer=short(profile.issuer or "教育局", 40), skipped=thumbs.skipped,
    )
    subject = (f"【一日一报汇总】{zh_date(day)}：按时{fig['on_time']}所、逾期{fig['late']}所、"
               f"未报{fig['missing']}所（共{fig['roster']}所）")
    ctx["subject"] = subject
    ctx["storage_low"] = _storage_low(store)
    return Digest(day=day, subject=subject, text=render("digest.txt.j2", **ctx), ctx=ctx,
                  images=thumbs.images, figures=fig)


def _storage_low(store: Store) -> str | None:
    """A sentence for the top of the digest when free space is under two busiest days' intake."""
    from daemon.storage.usage import low_space, warning_zh
    low = low_space(store.root, store.db)
    return warning_zh(low) if low else None


# ------------------------------------------------------------------ the outbox

def queue(store: Store, *, kind: str, dedupe_key: str, recipient: str, msg, day: str) -> bool:
    """Put one mail in the outbox; False when the same key is already there (sent once, ever)."""
    return outbox_rows.add(store, kind=kind, dedupe_key=dedupe_key, recipient=recipient, subject=str(msg["Subject"]),
                           raw=msg.as_bytes().decode("ascii", "replace"), day=day)


def recipients(cfg) -> list[str]:
    rs = [r.strip() for r in cfg.digest.recipients if r and r.strip()]
    if not rs:
        raise ValueError("[digest] recipients: empty; list the staff addresses, e.g. recipients = [\"staff@bureau.example\"]")
    bad = [r for r in rs if not valid_address(r)]
    if bad:
        raise ValueError(f"[digest] recipients: {bad[0]!r} is not an email address")
    return rs


def keys_for(prefix: str, rs: list[str]) -> list[str]:
    """The first recipient's row carries the plain key ("digest:D"); outbox rows have one
    recipient each, so any further recipient gets its own key."""
    return [prefix if i == 0 else f"{prefix}:{r.lower()}" for i, r in enumerate(rs)]


def enqueue_digest(cfg, profile: Profile, roster: Roster, store: Store, day: dt.date, *,
                   now: dt.datetime | None = None) -> int:
    """Queue day D's digest to every [digest] recipient; returns how many rows were new."""
    rs = recipients(cfg)
    prefix = f"digest:{day.isoformat()}"
    keys = keys_for(prefix, rs)
    have = outbox_rows.keys_like(store, prefix)
    if all(k in have for k in keys):
        return 0
    d = build_digest(profile, roster, store, day, now=now)
    msg = d.message(cfg.smtp.sender, rs)
    return sum(queue(store, kind="digest", dedupe_key=k, recipient=r, msg=msg, day=day.isoformat())
               for k, r in zip(keys, rs))


def deliver(cfg, store: Store, transport=None) -> dict:
    return outbox.deliver(store, transport or make_transport(cfg.smtp), cfg.smtp.sender, cfg.replies.retry_seconds)
