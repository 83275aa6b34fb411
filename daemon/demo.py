"""`ribao demo`: the embedded default. Seeds a Maildir with a week of realistic submissions from a
handful of schools (good reports and every common defect), runs the daemon over it with replies
written as .eml files, and says where everything is. No mail server needed."""
from __future__ import annotations

import datetime as dt
import io
import mailbox
import os
import random
import subprocess
import uuid
import zipfile
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path

from daemon.resources import data_dir

DEMO_DIR = data_dir("demo")


def _schools() -> list[tuple[str, str, str]]:
    import csv
    with open(DEMO_DIR / "roster.csv", encoding="utf-8") as fh:
        return [(r["school"], r["aliases"], r["emails"]) for r in csv.DictReader(fh)]


def _settings() -> dict:
    import tomllib
    return tomllib.loads((DEMO_DIR / "settings.toml").read_text(encoding="utf-8"))
PARA = ("本校围绕“技能：让生活更美好”主题，开展校园开放日、职业体验和志愿服务活动，邀请家长、社区居民和初中学生"
        "走进实训室，体验烹饪、茶艺、汽修、电子商务等专业技能。")


def _text(chars: int) -> str:
    out = ""
    while len(out) < chars:
        out += PARA
    return out[:chars]


def _jpeg(width: int, height: int, quality: int = 95) -> bytes:
    from PIL import Image
    rnd = random.Random(width * 7 + height)
    noise = Image.frombytes("L", (width, height * 2 // 3), rnd.randbytes(width * (height * 2 // 3)))
    img = Image.new("RGB", (width, height), (90, 140, 200))      # sky above, a noisy crowd below
    img.paste(Image.merge("RGB", [noise, noise, noise]), (0, height - height * 2 // 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _video(path: Path, width: int, height: int, fmt: str = "mp4") -> bytes:
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=10",
           "-t", "1", "-pix_fmt", "yuv420p", "-f", fmt, str(path)]
    subprocess.run(cmd, check=True, timeout=60)
    return path.read_bytes()


class _GbkName(zipfile.ZipInfo):
    """Writes the member name as GBK bytes without the UTF-8 flag, as Chinese Windows does."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def _zip_gbk(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = _GbkName(name, (2024, 5, 15, 9, 0, 0))
            info.create_system = 0
            zf.writestr(info, data)
    return buf.getvalue()


def _mail(*, school, addr, subject, body, files=(), when, extra=None) -> bytes:
    msg = MIMEMultipart("mixed")
    alt = MIMEText(body, "plain", "gb18030")
    msg.attach(alt)
    for name, data, ctype in files:
        p = MIMEBase(*ctype.split("/"))
        p.set_payload(data)
        encode_base64(p)
        p.add_header("Content-Disposition", "attachment", filename=("gb18030", "", name))
        msg.attach(p)
    msg["From"] = f"{Header(school, 'gb18030').encode()} <{addr}>"
    msg["To"] = _settings()["bureau"]
    msg["Subject"] = Header(subject, "gb18030").encode()
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@{addr.split('@')[1]}>"
    for k, v in (extra or {}).items():
        msg[k] = v
    return msg.as_bytes()


def seed(out: Path) -> dict:
    """Write config.toml, roster.csv and a Maildir with the week's mail under `out`."""
    from daemon import profile as profiles
    settings = _settings()
    prof = profiles.load(settings["profile"])
    tz = prof.tz
    SCHOOLS = _schools()
    out.mkdir(parents=True, exist_ok=True)
    (out / "roster.csv").write_bytes((DEMO_DIR / "roster.csv").read_bytes())
    (out / "config.toml").write_text(f"""# ribao demo: the embedded default (no mail server)
[mailbox]
kind = "maildir"
path = "maildir"

[smtp]
kind = "outbox"
path = "replies"
from = "{settings['bureau']}"

[rules]
profile = "{prof.id}"
roster = "roster.csv"

[storage]
path = "data"

[schedule]
poll_seconds = 60
timezone = "Asia/Shanghai"
digest_time = "12:30"

[digest]
recipients = ["{settings['staff']}"]
reminders = true
""", encoding="utf-8")
    md_path = out / "maildir"
    md = mailbox.Maildir(str(md_path), create=True)
    tmp = out / "tmp-media"
    tmp.mkdir(exist_ok=True)
    good = [_jpeg(2400, 1600), _jpeg(2400, 1602)]
    narrow = _jpeg(1280, 853, quality=80)
    mp4 = _video(tmp / "v.mp4", 1280, 720)
    low = _video(tmp / "low.mp4", 320, 240)
    mov = _video(tmp / "v.mov", 1280, 720, fmt="mov")
    week = prof.week_days()
    n = 0

    def put(raw: bytes, when: dt.datetime) -> None:
        """Deliver in order: names of one width sort as they were written (mailbox.Maildir.add's
        unpadded microseconds don't), so message numbers are the same on every run."""
        nonlocal n
        path = Path(md._path) / "new" / f"{1684000000 + n:010d}.M{n:06d}P0Q0.ribao-demo"
        tmp_file = path.with_name("." + path.name)
        tmp_file.write_bytes(raw)
        tmp_file.replace(path)
        ts = when.timestamp()
        os.utime(path, (ts, ts))
        n += 1

    for i, day in enumerate(week):
        morning = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9, 30), tz)
        zh = f"{day.month}月{day.day}日"
        for k, (school, alias, addr) in enumerate(SCHOOLS):
            if k == 4 and i % 3 == 2:
                continue                                        # a school that misses days
            when = morning + dt.timedelta(minutes=17 * k)
            photos = [(f"{zh}校园开放日家长体验烹饪实训.jpg", good[0], "image/jpeg"),
                      (f"{zh}志愿服务进社区.jpg", good[1], "image/jpeg")]
            body, files, subject = _text(1000), photos, f"【一日一报】{school}{zh}活动情况"
            if k == 1 and i == 0:
                files = [("IMG_20230514_101010.jpg", good[0], "image/jpeg"), ("开幕式.jpg", narrow, "image/jpeg")]
            if k == 2 and i == 1:
                body = _text(300)
            if k == 3 and i == 2:
                files = photos + [("职业体验.mov", mov, "video/quicktime"), ("技能展示.mp4", low, "video/mp4")]
            if k == 0 and i == 3:
                files = photos + [("技能展示短片.mp4", mp4, "video/mp4")]
            if k == 2 and i == 4:
                files = [("照片.zip", _zip_gbk({"照片/茶艺展示.jpg": good[0], "照片/汽修体验.jpg": good[1]}),
                          "application/zip")]
            if k == 1 and i == 5:
                when = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(15, 5), tz)   # after 12:00
            put(_mail(school=school, addr=addr, subject=subject, body=body, files=files, when=when), when)
            if k == 2 and i == 1:                                # corrected and resent an hour later
                when2 = when + dt.timedelta(hours=1)
                put(_mail(school=school, addr=addr, subject="回复：" + subject, body=_text(1100) +
                          "\n\n------------------ 原始邮件 ------------------\n发件人：教育局\n" + _text(300),
                          files=photos, when=when2), when2)
    when = dt.datetime.combine(week[2], dt.time(11, 0), tz)
    put(_mail(school="自动回复", addr="gslx@qq.com", subject="自动回复：已收到", body="您好，邮件已收到。",
              when=when, extra={"Auto-Submitted": "auto-replied"}), when)
    put(_mail(school="系统退信", addr="MAILER-DAEMON@163.com", subject="系统退信", body="Delivery failed", when=when), when)
    put(_mail(school="某培训机构", addr="ad@example.com", subject="暑期培训招生合作", body="诚邀合作", when=when), when)
    put(_mail(school="某老师", addr="teacher@example.com", subject="职教周一日一报",
              body=_text(900), files=[("活动照片1.jpg", good[0], "image/jpeg")], when=when), when)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return {"messages": n, "config": out / "config.toml"}
