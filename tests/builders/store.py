"""Fill a Store with judged reports directly (Store.add_received + Store.save_verdict), without
mail or judging: the reports' tests say exactly which school sent what, when, with which defects.

Photos are real small JPEGs on disk, so the store keeps them under attachments/ and the digest can
make thumbnails of them.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
from pathlib import Path

from PIL import Image

from daemon import profile as profiles
from daemon.defects import defect as catalogued
from daemon.judging.roster import Roster, School
from daemon.model import ERROR, WARNING, Defect, Material, Verdict
from daemon.store.db import Store

TEXTS = {
    "text.missing": (ERROR, "邮件中没有找到文字稿件，请补充活动概况和特色工作的文字介绍（800-1500字）。"),
    "photo.too_narrow": (ERROR, "照片“{file}”宽1280像素，低于通知要求的2000像素，请发送原图。"),
    "photo.too_small": (ERROR, "照片“{file}”只有0.4M，低于通知要求的单张2M，请发送原图。"),
    "photo.no_caption": (ERROR, "照片“{file}”没有文字说明，请为每张照片配文字说明。"),
    "video.below_recommended": (WARNING, "视频“{file}”分辨率低于建议的1280×720。"),
    "date.outside_week": (ERROR, "报送的日期不在活动周内，请核对后重新报送。"),
}


def defect(code: str, file: str | None = None, severity: str | None = None, text: str | None = None) -> Defect:
    if code == "attachment.link_only" and text is None:     # as checks/links.py makes it: with its facts
        return catalogued(code, file, form="expires", severity=severity, name=file or "超大附件", expires="5月30日")
    sev, msg = TEXTS.get(code, (ERROR, f"{code}：请修改。"))
    return Defect(code, severity or sev, file, text or msg.format(file=file or ""))


def make_photo(path: Path, width: int = 800, height: int = 600, seed: int = 0, orientation: int | None = None,
               noise: int = 40, grain: int = 1) -> Path:
    """A JPEG: a coloured gradient with some noise (so each seed differs), optional EXIF orientation.
    A coarse `grain` keeps detail after downscaling, as a real photo's does (realistic thumbnail sizes)."""
    rnd = random.Random(seed)
    base = (rnd.randrange(40, 220), rnd.randrange(40, 220), rnd.randrange(40, 220))
    img = Image.new("RGB", (width, height), base)
    grad = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(img, Image.new("RGB", (width, height), (250, 250, 250)), grad)
    if noise:
        table = bytes(128 - noise // 2 + (i * noise >> 8) for i in range(256))
        nw, nh = max(1, width // grain), max(1, height // grain)
        raw = rnd.randbytes(nw * nh * 3).translate(table)
        img = Image.blend(img, Image.frombytes("RGB", (nw, nh), raw).resize((width, height)), 0.25)
    kwargs = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=85, **kwargs)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class StoreBuilder:
    """`b = StoreBuilder(tmp_path, ["甲校", "乙校"])`; `b.report("甲校", day, ...)` → message id."""

    def __init__(self, root: Path, schools: list[str] | int = 5, profile: str = "xiamen-2023"):
        self.root = Path(root)
        self.profile = profiles.load(profile)
        self.store = Store(self.root / "data")
        if isinstance(schools, int):
            schools = [f"测试学校{i + 1:03d}" for i in range(schools)]
        self.roster = Roster([School(name=n, emails=[f"s{i + 1}@school.example"]) for i, n in enumerate(schools)])
        self.media = self.root / "media"
        self._uid = 0
        self._seed = 0

    # ------------------------------------------------------------ files
    def photo(self, name: str | None = None, **kw) -> Material:
        self._seed += 1
        name = name or f"活动照片{self._seed}.jpg"
        p = make_photo(self.media / f"{self._seed}-{hashlib.md5(name.encode()).hexdigest()[:8]}.jpg",
                       seed=kw.pop("seed", self._seed), **kw)
        with Image.open(p) as im:
            w, h = im.size
        return Material(file=name, type="photo", size=p.stat().st_size, sha256=_sha(p), width=w, height=h,
                        caption=name.rsplit(".", 1)[0], format="jpeg", path=p)

    def video(self, name: str | None = None) -> Material:
        """A video as the judge records it (no file on disk: the reports never open videos)."""
        self._seed += 1
        name = name or f"活动视频{self._seed}.mp4"
        return Material(file=name, type="video", size=30_000_000, sha256=hashlib.sha256(name.encode()).hexdigest(),
                        width=1280, height=720, duration=60.0, format="mp4")

    def when(self, day: dt.date, *, late: bool = False) -> dt.datetime:
        due = self.profile.daily_due(day)
        return due + dt.timedelta(hours=3) if late else due - dt.timedelta(hours=2, minutes=30)

    # ------------------------------------------------------------ messages
    def _message(self, received: dt.datetime, verdict: Verdict) -> int:
        self._uid += 1
        raw = self.root / "raw" / f"{self._uid}.eml"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(b"Subject: test\r\n\r\nbody\r\n")
        ident = self.store.add_received(uid=self._uid, uidvalidity=1, folder="INBOX", raw_path=raw,
                                        raw_sha256=_sha(raw) + str(self._uid), size=raw.stat().st_size,
                                        message_id=f"<m{self._uid}@school.example>", received=received.isoformat())
        self.store.save_verdict(ident, verdict)
        self.store.set_state(ident, "done")
        return ident

    def how(self, school: str | None, sender: str) -> str:
        """How the judge found the school: by its own address, else by its name in the subject (held)."""
        s = self.roster.get(school) if school else None
        return "sender" if s and sender in s.emails else ("subject" if s else "")

    def sender_of(self, school: str | None) -> str:
        s = self.roster.get(school) if school else None
        return s.emails[0] if s and s.emails else "someone@elsewhere.example"

    def report(self, school: str | None, day: dt.date | None, *, at: dt.datetime | None = None, late: bool | None = None,
               defects=(), text_chars: int = 1000, photos=0, videos: int = 0, subject: str | None = None,
               sender: str | None = None, deliverables=("daily",), items=()) -> int:
        """A judged report; `photos` is a count (made here) or a list of Materials; defects are codes
        or Defects. Lateness follows the profile's deadline unless `late` says otherwise."""
        received = at or self.when(day, late=bool(late))
        if late is None:
            late = day is not None and "daily" in deliverables and received > self.profile.daily_due(day)
        photo_items = [self.photo() for _ in range(photos)] if isinstance(photos, int) else list(photos)
        photo_items += [self.video() for _ in range(videos)]
        ds = [defect(d) if isinstance(d, str) else d for d in defects]
        if late:
            ds.append(Defect("submission.late", WARNING, None, "已逾期；材料已收下，今后请按时报送。"))
        zh = f"{day.month}月{day.day}日" if day else ""
        sender = sender or self.sender_of(school)
        v = Verdict(kind="report", school=school, report_date=day.isoformat() if day else None, late=bool(late),
                    defects=ds, materials={"text_chars": text_chars, "photos": len(photo_items) - videos, "videos": videos},
                    deliverables=list(deliverables), message_id="", sender=sender, school_how=self.how(school, sender),
                    recurring="daily" if "daily" in deliverables else None,
                    subject=subject if subject is not None else f"【一日一报】{school or ''}{zh}活动情况",
                    received=received.isoformat(), items=[*photo_items, *items],
                    due=self.profile.daily_due(day).isoformat() if day and "daily" in deliverables else None)
        return self._message(received, v)

    def accept(self, ident: int, by: str = "staff", reason: str = "材料已人工核对") -> None:
        self.store.db["messages"].update(ident, {"accepted_by": by, "accepted_reason": reason,
                                                 "accepted_at": dt.datetime.now().astimezone().isoformat()})

    def stats_table(self, school: str, rows: list[list], *, at: dt.datetime | None = None,
                    file: str = "情况统计表.xlsx") -> int:
        """A one-off statistics-table report carrying `rows` (header first)."""
        at = at or dt.datetime.combine(self.profile.week_end + dt.timedelta(days=1), dt.time(10, 0), self.profile.tz)
        table = Material(file=file, type="table", rows=rows, format="xlsx")
        return self.report(school, None, at=at, late=False, deliverables=("stats_table",), items=[table],
                           subject=f"{school}情况统计表", text_chars=0)

    def other(self, *, at: dt.datetime, subject: str, sender: str, kind: str = "report", school: str | None = None,
              day: dt.date | None = None, defects=()) -> int:
        """A message tied to no school (or no day): it goes to the digest's "to look at" list."""
        v = Verdict(kind=kind, school=school, report_date=day.isoformat() if day else None, late=False,
                    defects=[defect(d) if isinstance(d, str) else d for d in defects],
                    materials={"text_chars": 900, "photos": 0, "videos": 0},
                    deliverables=["daily"] if kind == "report" else [], sender=sender, subject=subject,
                    received=at.isoformat(), school_how=self.how(school, sender),
                    recurring="daily" if kind == "report" else None)
        return self._message(at, v)

    def quarantined(self, *, at: dt.datetime, reason: str = "the judging process died") -> int:
        self._uid += 1
        ident = self.store.add_received(uid=self._uid, uidvalidity=1, folder="INBOX", raw_path=self.root / "x.eml",
                                        raw_sha256=f"q{self._uid}", size=1, message_id=f"<q{self._uid}@x>",
                                        received=at.isoformat())
        self.store.set_state(ident, "quarantined", reason=reason)
        return ident

    # ------------------------------------------------------------ config for the CLI
    def config(self, **digest) -> Path:
        """config.toml + roster.csv under root: maildir in, .eml files out (FolderTransport)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["school", "aliases", "emails"])
        for s in self.roster.schools:
            w.writerow([s.name, "", ";".join(s.emails)])
        (self.root / "roster.csv").write_text(buf.getvalue(), encoding="utf-8")
        recips = digest.pop("recipients", ["staff@bureau.example"])
        extra = "".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n" for k, v in digest.items())
        text = (f'[mailbox]\nkind = "maildir"\npath = "maildir"\n\n[smtp]\nkind = "outbox"\npath = "sent"\n'
                f'from = "bureau@bureau.example"\n\n[rules]\nprofile = "{self.profile.id}"\nroster = "roster.csv"\n\n'
                f'[storage]\npath = "data"\n\n[schedule]\ndigest_time = "12:30"\nreminder_time = "10:00"\n\n'
                f'[digest]\nrecipients = {json.dumps(list(recips))}\n{extra}')
        path = self.root / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path


# ---------------------------------------------------------------- a day with every case

DAY = dt.date(2023, 5, 15)
SCHOOLS = ["厦门工商旅游学校", "厦门市集美职业技术学校", "厦门信息学校", "厦门市同安职业技术学校",
           "厦门海洋职业技术学院", "厦门市翔安职业技术学校"]


def scenario(root: Path, schools: list[str] = SCHOOLS) -> tuple[StoreBuilder, dict]:
    """Reports for DAY (2023-05-15) in every state, and what each school's row must say.

    expected[school] = {status, text_chars, photos, videos, open (codes), fixed (codes), earlier}
    """
    a, b, c, d, e, f = schools[:6]
    bld = StoreBuilder(root, schools)
    exp = {}
    bld.report(a, DAY, photos=3, videos=1, text_chars=1200)
    exp[a] = dict(status="on_time", text_chars=1200, photos=3, videos=1, open=[], fixed=[], earlier=0)
    bld.report(b, DAY, late=True, photos=1, text_chars=900)
    exp[b] = dict(status="late", text_chars=900, photos=1, videos=0, open=[], fixed=[], earlier=0)
    bld.report(c, DAY, photos=2, text_chars=10, defects=["text.missing", defect("photo.too_narrow", "开幕式.jpg")],
               at=bld.when(DAY) - dt.timedelta(hours=6))
    bld.report(c, DAY, photos=2, text_chars=1100, defects=[defect("photo.too_narrow", "开幕式.jpg")])
    # the day is both mails: the second's text replaces the first's, the photos add up
    exp[c] = dict(status="on_time", text_chars=1100, photos=4, videos=0, open=["photo.too_narrow"],
                  fixed=["text.missing"], earlier=1)
    exp[d] = dict(status="missing", text_chars=0, photos=0, videos=0, open=[], fixed=[], earlier=0)
    ident = bld.report(e, DAY, photos=1, text_chars=20, defects=["text.missing"])
    bld.accept(ident)
    exp[e] = dict(status="accepted", text_chars=20, photos=1, videos=0, open=["text.missing"], fixed=[], earlier=0)
    bld.report(f, DAY, photos=0, videos=0, text_chars=1000, defects=[defect("attachment.link_only", "技能展示.mp4")])
    exp[f] = dict(status="on_time", text_chars=1000, photos=0, videos=0, open=["attachment.link_only"], fixed=[],
                  earlier=0)
    # the day before, for the chart and the week
    bld.report(a, DAY - dt.timedelta(days=1), photos=1)
    bld.report(b, DAY - dt.timedelta(days=1), photos=1, late=True)
    # mail that staff must look at, received in DAY's window (after 5/15 12:00, up to 5/16 12:00)
    t = bld.when(DAY)
    bld.other(at=t, subject="职教周一日一报（无署名）", sender="teacher@elsewhere.example")
    bld.other(at=t + dt.timedelta(minutes=5), subject="一日一报 5月25日", sender=bld.sender_of(a), school=a,
              day=dt.date(2023, 5, 25), defects=["date.outside_week"])
    bld.quarantined(at=t + dt.timedelta(minutes=10))
    return bld, exp
