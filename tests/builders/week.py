"""A small week in a Maildir for storage tests: reports with photos from three schools over two
days, one photo sent by every school (one blob, many links), a resend that replaces a report,
and a file name Windows refuses. `run --once` over it gives a database and storage made by the
daemon itself."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.builders.store import make_photo

SCHOOLS = {"厦门工商旅游学校": "gslx@163.com", "厦门市集美职业技术学校": "jmzx@163.com", "厦门信息学校": "xxxx@126.com"}


def photos(folder: Path) -> dict[str, Path]:
    """Distinct JPEGs (a few hundred KB each) by name; `shared` is the one every school sends."""
    return {name: make_photo(folder / f"{name}.jpg", 1200, 900, seed=i, noise=120, grain=1)
            for i, name in enumerate(["shared", "a14", "b14", "c14", "a14bis", "a15", "b15"])}


def report(school: str, day: dt.date, files: list[tuple[str, Path]], at: dt.datetime) -> bytes:
    return build_mail(subject=f"{school}一日一报{day.month}月{day.day}日", sender=SCHOOLS[school], date=at,
                      body=report_text(1000, school) + "\n" + "\n".join(f"{n}：活动照片" for n, _ in files),
                      attachments=[(n, p, "image/jpeg") for n, p in files])


def drop_week(md: Path, pics: dict[str, Path]) -> dict:
    """Reports for 2023-05-14 (received the next morning) and 2023-05-15; returns what was sent."""
    d14, d15 = dt.date(2023, 5, 14), dt.date(2023, 5, 15)
    at14, at15 = dt.datetime(2023, 5, 15, 9, 0, tzinfo=TZ), dt.datetime(2023, 5, 16, 9, 0, tzinfo=TZ)
    a, b, c = SCHOOLS
    mails = [
        (a, d14, [("开幕式.jpg", pics["shared"]), ("实训体验.jpg", pics["a14"])], at14),
        (b, d14, [("开幕式.jpg", pics["shared"]), ("CON.jpg", pics["b14"])], at14 + dt.timedelta(minutes=5)),
        (c, d14, [("开幕式.jpg", pics["shared"]), ('技能:展示?"一".jpg', pics["c14"])], at14 + dt.timedelta(minutes=10)),
        (a, d14, [("开幕式.jpg", pics["shared"]), ("实训体验（重报）.jpg", pics["a14bis"])], at14 + dt.timedelta(hours=1)),
        (a, d15, [("开幕式.jpg", pics["shared"]), ("社区服务.jpg", pics["a15"])], at15),
        (b, d15, [("茶艺.jpg", pics["b15"])], at15 + dt.timedelta(minutes=5)),
    ]
    for school, day, files, at in mails:
        drop(md, report(school, day, files, at), at)
    return {"mails": mails}


def week_maildir(path: Path) -> tuple[Path, dict]:
    md = new_maildir(path / "md")
    pics = photos(path / "pics")
    return md, {"photos": pics, **drop_week(md, pics)}
