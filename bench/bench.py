"""ribao's benchmark: the busiest day against a real loopback Dovecot, an idle 20,000-message
mailbox, and the 2,000-school digest. Run it as `bench/run [--schools N] [--json OUT.json]`.

Not part of the test suite: it prints a table (metric, value, target, pass/fail) and writes the
figures to a JSON file, and exits 0 whatever the figures are (1 only when it could not measure).

Stages, all in one run:
  day      a generated busiest day: N schools, each one report with 8-12 photos of 2-6 MB, a .docx and,
           for a third of them, a 20-60 MB mp4; a sprinkling of defects (late, short text, small,
           narrow, uncaptioned or truncated photos, a low-resolution video, an unknown sender, a resend).
           Photos and videos come from a pool and are reused under per-message names, so the mailbox
           stays at ~70 MB per school instead of unique gigabytes.
  (a)      the floor: every message downloaded raw (UID FETCH BODY.PEEK[] one by one) by a plain client.
  (b)      `ribao run --once` on the same mailbox: judged, stored, filed, answered over loopback SMTP.
  (c)      one poll cycle on a mailbox of 20,000 already-processed messages with nothing new.
  (d)      the daily digest for 2,000 schools.
  (e)      reply latency: `ribao run` (the service) in IMAP IDLE with poll_seconds = 300; single reports
           appended one at a time, each timed from the APPEND to the reply at the SMTP server.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402

from tests.builders.config import write_config  # noqa: E402
from tests.builders.files import make_docx  # noqa: E402
from tests.builders.mail import TZ, build_mail, report_text  # noqa: E402
from tests.builders.media import _noise  # noqa: E402
from tests.servers.dovecot import MAIL_GID, MAIL_UID, Dovecot  # noqa: E402
from tests.servers.smtp import SmtpServer  # noqa: E402

MB = 1_000_000
MIB = 1024 * 1024
DAY = dt.date(2023, 5, 15)                       # a Monday of the xiamen-2023 week
DUE = dt.datetime(2023, 5, 16, 12, 0, tzinfo=TZ)  # its reports are due the next day at 12:00
RIBAO = [sys.executable, "-m", "daemon"]
TARGETS = {"ratio": 2.0, "rss_mb": 150.0, "idle_poll_s": 0.5, "digest_2000_s": 10.0, "reply_latency_s": 5.0,
           "reply_during_load_s": 60.0}
CAPTIONS = ["开幕式合影", "实训室开放日", "学生技能展示", "家长体验烹饪", "社区居民参观", "非遗手工体验", "汽修专业展示",
            "茶艺表演", "校企合作签约", "学生志愿服务", "电商直播实训", "机器人社团展示", "职业体验课堂", "优秀毕业生分享"]
CLIENTS = [("qq", "qq.com"), ("163", "163.com"), ("foxmail", "foxmail.com"), ("outlook", "outlook.com")]
DEFECTS = ["late", "short_text", "small_photo", "narrow_photo", "no_caption", "truncated_photo", "low_res_video",
           "unknown_sender", "resend"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def school_name(i: int) -> str:
    return f"厦门市第{i + 1}职业技术学校"


# ====================================================================== media pool

class Pool:
    """Distinct photos and videos made once, kept on disk with their base64 text (76-char lines, LF),
    so a message is written by copying pool files around its MIME headers."""

    def __init__(self, root: Path, seed: int = 7):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.photos: list[dict] = []       # {path, b64, size, b64_size, b64_lf}
        self.videos: list[dict] = []
        self.bad: dict[str, dict] = {}     # small / narrow / truncated photo, low-res video

    def _entry(self, path: Path) -> dict:
        data = path.read_bytes()
        b64 = base64.encodebytes(data)
        bpath = path.with_suffix(path.suffix + ".b64")
        bpath.write_bytes(b64)
        return {"path": path, "b64": bpath, "size": len(data), "b64_size": len(b64), "b64_lf": b64.count(b"\n")}

    @staticmethod
    def _jpeg(path: Path, width: int, height: int, amp: int = 128, quality: int = 92) -> Path:
        buf = io.BytesIO()
        _noise(width, height, amp).save(buf, "JPEG", quality=quality)
        path.write_bytes(buf.getvalue())
        return path

    def make(self, n_photos: int = 12) -> None:
        # noise JPEGs at amplitude 128 / quality 92 cost ~0.73 byte per pixel: size the picture for the target
        targets = [2.25 * MB + k * (3.6 * MB / max(1, n_photos - 1)) for k in range(n_photos)]
        for k, target in enumerate(targets):
            width = int((target / 0.73 * 1.5) ** 0.5)
            for _ in range(6):
                p = self._jpeg(self.root / f"photo{k:02d}.jpg", max(width, 2100), max(width, 2100) * 2 // 3)
                size = p.stat().st_size
                if 2.1 * MIB <= size <= 6 * MB:
                    break
                width = int(width * (target / size) ** 0.5)
            self.photos.append(self._entry(p))
        for k, mbytes in enumerate((22, 40, 58)):
            self.videos.append(self._entry(self._video(self.root / f"video{k}.mp4", 1280, 720, mbytes)))
        self.bad["small_photo"] = self._entry(self._jpeg(self.root / "small.jpg", 2400, 1600, amp=32))     # ~1.3 MB
        self.bad["narrow_photo"] = self._entry(self._jpeg(self.root / "narrow.jpg", 1600, 1200, amp=128))  # 1600 wide
        whole = self.photos[0]["path"].read_bytes()
        (self.root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
        self.bad["truncated_photo"] = self._entry(self.root / "truncated.jpg")
        self.bad["low_res_video"] = self._entry(self._video(self.root / "lowres.mp4", 640, 360, 21))

    @staticmethod
    def _video(path: Path, width: int, height: int, mbytes: int) -> Path:
        """A valid mp4 whose size is real bitrate: testsrc with temporal noise at 40 Mbit/s (5 MB/s)."""
        seconds = mbytes / 5.0
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
               f"testsrc=size={width}x{height}:rate=25:duration={seconds:.2f},noise=alls=60:allf=t+u",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "40M", "-maxrate", "40M",
               "-bufsize", "20M", "-f", "mp4", "-movflags", "+faststart", str(path)]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        return path


# ====================================================================== the busiest day

def plan_day(n: int, seed: int = 42) -> list[dict]:
    """One dict per message to send: which school, which pool files, which defect."""
    rng = random.Random(seed)
    plans = []
    n_defects = max(1, round(n * 0.15)) if n >= 5 else 0
    defect_of = {}
    for k, i in enumerate(rng.sample(range(n), n_defects)):
        defect_of[i] = DEFECTS[k % len(DEFECTS)]
    for i in range(n):
        client, domain = CLIENTS[i % len(CLIENTS)]
        defect = defect_of.get(i)
        has_video = i % 3 == 0 or defect == "low_res_video"
        minute = rng.randrange(0, 17 * 60)               # 18:00 on the day .. 11:00 the next morning
        received = dt.datetime(2023, 5, 15, 18, 0, tzinfo=TZ) + dt.timedelta(minutes=minute, seconds=rng.randrange(60))
        if defect == "late":
            received = DUE + dt.timedelta(hours=2, minutes=rng.randrange(60))
        plan = {"i": i, "school": school_name(i), "client": client,
                "sender": f"school{i + 1:04d}@{domain}" if defect != "unknown_sender" else f"teacher{i}@126.com",
                "n_photos": rng.randint(8, 12), "video": has_video, "defect": defect, "received": received,
                "photo_seed": rng.random(), "video_pick": rng.randrange(3)}
        plans.append(plan)
        if defect == "resend":      # a first version with a defect, then the corrected one 40 minutes later
            first = dict(plan, defect="short_text", received=received - dt.timedelta(minutes=40), resent=True)
            plans.insert(len(plans) - 1, first)
    return plans


def roster_csv(n: int) -> str:
    lines = ["school,aliases,emails"]
    for i in range(n):
        lines.append(f"{school_name(i)},第{i + 1}职校,school{i + 1:04d}@{CLIENTS[i % len(CLIENTS)][1]}")
    return "\n".join(lines) + "\n"


def write_message(plan: dict, pool: Pool, docs: Path, out) -> tuple[int, int]:
    """Write one report email to the open binary file `out` (LF line ends, as build_mail makes them);
    returns (bytes, LF count). Big attachments are stand-in markers in build_mail's output, swapped
    for the pool's base64 text while writing."""
    rng = random.Random(plan["photo_seed"])
    school, defect = plan["school"], plan["defect"]
    picks = rng.sample(range(len(pool.photos)), plan["n_photos"])
    files: list[tuple[str, dict, str]] = []
    captions = rng.sample(CAPTIONS, min(len(CAPTIONS), plan["n_photos"]))
    for k, pick in enumerate(picks):
        name = f"{captions[k % len(captions)]}{k + 1}.jpg"
        entry = pool.photos[pick]
        if k == 0 and defect in ("small_photo", "narrow_photo", "truncated_photo"):
            entry = pool.bad[defect]
        if k == 0 and defect == "no_caption":
            name = "IMG_20230515_101532.jpg"
        files.append((name, entry, "image/jpeg"))
    if plan["video"]:
        entry = pool.bad["low_res_video"] if defect == "low_res_video" else pool.videos[plan["video_pick"]]
        files.append((f"{school}活动视频.mp4", entry, "video/mp4"))
    chars = 300 if defect == "short_text" else 1000
    doc = make_docx(docs / f"{plan['i']}-{chars}.docx", [report_text(chars, school)])
    markers = {}
    atts = []
    for name, entry, ctype in files:
        marker = os.urandom(57)                  # base64: exactly one 76-character line
        markers[base64.encodebytes(marker)] = entry
        atts.append((name, marker, ctype))
    atts.append((f"{school}5月15日活动情况.docx", doc.read_bytes(),
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
    raw = build_mail(subject=f"【一日一报】{school}5月15日活动情况", client=plan["client"], sender=plan["sender"],
                     sender_name=f"{school}办公室", body=f"各位领导：\n\n附件是{school}5月15日职业教育活动周活动情况"
                     f"（文字稿一份、照片{plan['n_photos']}张{'、视频一个' if plan['video'] else ''}），请查收。\n\n{school}",
                     attachments=atts, date=plan["received"],
                     message_id=f"<bench-{plan['i']}-{'a' if plan.get('resent') else 'b'}@{plan['sender'].split('@')[1]}>")
    size = lfs = 0
    pos = 0
    spots = sorted((raw.index(m), m) for m in markers)
    for at, m in spots:
        head = raw[pos:at]
        out.write(head)
        size += len(head)
        lfs += head.count(b"\n")
        entry = markers[m]
        with open(entry["b64"], "rb") as src:
            shutil.copyfileobj(src, out, 4 * MIB)
        size += entry["b64_size"]
        lfs += entry["b64_lf"]
        pos = at + len(m)
    tail = raw[pos:]
    out.write(tail)
    return size + len(tail), lfs + tail.count(b"\n")


def fill_maildir(dovecot: Dovecot, messages, prefix: str = "bench") -> None:
    """Write messages straight into the stopped Dovecot's INBOX Maildir (cur/, S= and W= sizes in the
    name, INTERNALDATE = mtime); Dovecot indexes them at the first SELECT. `messages` yields
    (writer(fileobj) -> (size, lf_count), received datetime)."""
    md = dovecot.maildir
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(exist_ok=True)
        os.chown(md / sub, MAIL_UID, MAIL_GID)
    pid = os.getpid()
    for k, (writer, received) in enumerate(messages):
        tmp = md / "tmp" / f"{prefix}-{k}"
        with open(tmp, "wb", buffering=4 * MIB) as fh:
            size, lfs = writer(fh)
        stamp = received.timestamp()
        os.utime(tmp, (stamp, stamp))
        os.chown(tmp, MAIL_UID, MAIL_GID)
        os.rename(tmp, md / "cur" / f"{int(stamp)}.M{k}P{pid}.{prefix},S={size},W={size + lfs}:2,")


def append_all(dovecot: Dovecot, messages) -> None:
    """The same through IMAP APPEND (slower: imaplib rewrites every line end of a 150 MB literal)."""
    with dovecot.client() as c:
        for writer, received in messages:
            buf = io.BytesIO()
            writer(buf)
            c.append("INBOX", buf.getvalue(), msg_time=received)
            del buf


# ====================================================================== (a) the floor

def raw_fetch(dovecot: Dovecot, *, imapclient_default: bool = False, limit: int | None = None) -> dict:
    """UID FETCH BODY.PEEK[] of each message in turn, bytes discarded.

    imapclient sets imaplib's debug level to 5 (routing it to a logger), and imaplib then formats
    `%r` of every response, literal included, whatever the logger's level: two extra copies and
    ~1 s per 150 MB. The floor turns that off (`_imap.debug = 0`); imapclient_default=True keeps it."""
    t0 = time.perf_counter()
    c = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=120)
    if not imapclient_default:
        c._imap.debug = 0
    c.login(dovecot.user, dovecot.password)
    c.select_folder("INBOX", readonly=True)
    uids = c.search("ALL")[:limit]
    total, largest = 0, 0
    for uid in uids:
        body = c.fetch([uid], [b"BODY.PEEK[]"])[uid][b"BODY[]"]
        total += len(body)
        largest = max(largest, len(body))
        del body
    c.logout()
    return {"seconds": time.perf_counter() - t0, "messages": len(uids), "bytes": total, "largest": largest}


# ====================================================================== (b) ribao run --once

class RssWatch(threading.Thread):
    """Samples VmHWM of a process and of its children (the forked judges) every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.parent_kb, self.child_kb, self.done = pid, 0, 0, False

    @staticmethod
    def _hwm(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _children(self) -> list[int]:
        out = []
        try:
            for tid in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{tid}/children") as fh:
                    out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
        return out

    def run(self) -> None:
        while not self.done:
            self.parent_kb = max(self.parent_kb, self._hwm(self.pid))
            for c in self._children():
                self.child_kb = max(self.child_kb, self._hwm(c))
            time.sleep(0.05)


_LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    req = json.loads(line)
    with open(req["stderr"], "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(req["cmd"], cwd=req["cwd"], env=req["env"], stdout=subprocess.DEVNULL, stderr=err)
        print(json.dumps({"pid": p.pid}), flush=True)
        _, status, ru = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({"seconds": seconds, "returncode": p.returncode, "maxrss_kb": ru.ru_maxrss,
                      "user_s": ru.ru_utime, "sys_s": ru.ru_stime}), flush=True)
"""


class Launcher:
    """A small process, started before the bench grows, that starts ribao and reaps it with wait4.

    Started straight from the bench, ribao's rusage would not be its own: the kernel carries the
    hiwater RSS of the image an exec replaces into the new program's ru_maxrss, and with vfork (what
    subprocess uses) that image is the bench itself — hundreds of MB after it has fetched a 150 MB
    message. The launcher stays ~10 MB, so `maxrss` is ribao's and its children's."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, cmd: list[str], *, cwd: Path, env: dict, stderr: Path, on_start=None) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, "cwd": str(cwd), "env": env, "stderr": str(stderr)}) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        if on_start:
            on_start(pid)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the launcher died")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


class MidRunReport(threading.Thread):
    """(f) A small report appended while `ribao run --once` works through the busiest day: once a quarter
    of the day is done, one text-only report is APPENDed, timed until its reply reaches the SMTP server."""

    MID = "<during-load@qq.com>"

    def __init__(self, dov: Dovecot, smtp: SmtpServer, cfg: Path, n: int):
        super().__init__(daemon=True)
        self.dov, self.smtp, self.db, self.n = dov, smtp, cfg.parent / "data" / "ribao.db", n
        self.seconds: float | None = None
        self.append_s = 0.0                  # the APPEND itself (Dovecot fsyncs; under ribao's writes it waits)
        self.done_before = 0
        self.finished = threading.Event()

    def _done(self) -> int:
        with contextlib.suppress(sqlite3.Error):
            db = sqlite3.connect(self.db, timeout=1)
            try:
                return db.execute("select count(*) from messages where state = 'done'").fetchone()[0]
            finally:
                db.close()
        return 0

    def run(self) -> None:
        while not self.finished.is_set() and self._done() < max(1, self.n // 4):
            time.sleep(0.1)
        if self.finished.is_set():
            return
        self.done_before = self._done()
        # from a school with nothing of its own still waiting (the roster has one more school than the day
        # has senders): a school's second mail is answered after its first, by design, however small
        i = self.n
        raw = build_mail(subject=f"【一日一报】{school_name(i)}5月16日活动情况",
                         sender=f"school{i + 1:04d}@{CLIENTS[i % len(CLIENTS)][1]}",
                         body=report_text(1000, school_name(i)), message_id=self.MID,
                         date=dt.datetime(2023, 5, 16, 19, 0, tzinfo=TZ))
        t0 = time.perf_counter()
        self.dov.append(raw, date=dt.datetime(2023, 5, 16, 19, 0, tzinfo=TZ))
        self.append_s = time.perf_counter() - t0
        t0 = time.perf_counter()             # from the moment the mail is in the mailbox
        while not self.finished.wait(0.05):
            if any(self.MID.encode() in m.data for m in self.smtp.messages):
                self.seconds = time.perf_counter() - t0
                return


def run_ribao(launcher: Launcher, cfg: Path, log_path: Path, during: threading.Thread | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    watch: list[RssWatch] = []

    def started(pid: int) -> None:
        watch.append(RssWatch(pid))
        watch[0].start()
        if during is not None:
            during.start()

    r = launcher.run([*RIBAO, "run", "--once", "--config", str(cfg)], cwd=ROOT, env=env, stderr=log_path,
                     on_start=started)
    watch[0].done = True
    return {"seconds": r["seconds"], "returncode": r["returncode"], "maxrss_mb": r["maxrss_kb"] / 1024,
            "parent_hwm_mb": watch[0].parent_kb / 1024, "child_hwm_mb": watch[0].child_kb / 1024,
            "user_s": r["user_s"], "sys_s": r["sys_s"]}


def disk_floor(base: Path, data: Path) -> dict:
    """(g) What writing the bytes ribao keeps costs on this disk by itself: the size of its raw/ and of
    its attachments (each blob once), after a sync so earlier writes don't count, written as ribao
    writes them: files of the day's message sizes in plain 1 MB writes without fsync, each sent to disk
    when closed and its pages dropped two files later (daemon/store/pagecache.py). The floor of (b) is
    at least max(a, g)."""
    from daemon.store import pagecache
    sizes = sorted(p.stat().st_size for p in (data / "raw").rglob("*") if p.is_file())
    kept = du(data / "raw") + du(data / "blobs")
    os.sync()
    piece = os.urandom(MIB)
    folder = base / "disk-floor"
    folder.mkdir(exist_ok=True)
    t0, left, n = time.perf_counter(), kept, 0
    while left > 0:
        size = min(left, sizes[n % len(sizes)] if sizes else left)
        path = folder / f"{n}.bin"
        with open(path, "wb", buffering=0) as fh:
            todo = size
            while todo > 0:
                todo -= fh.write(piece[:min(MIB, todo)])
            pagecache.write_back(fh.fileno())
        pagecache.judged([], [path])
        left, n = left - size, n + 1
    seconds = time.perf_counter() - t0
    shutil.rmtree(folder)
    return {"seconds": seconds, "bytes": kept}


def ribao_outcome(cfg: Path) -> dict:
    db = sqlite3.connect(cfg.parent / "data" / "ribao.db")
    out = {"states": dict(db.execute("select state, count(*) from messages group by state").fetchall()),
           "verdicts": dict(db.execute("select coalesce(verdict, '-'), count(*) from messages group by verdict").fetchall()),
           "defects": dict(db.execute("select code, count(*) from defects group by code order by 2 desc").fetchall()),
           "outbox": dict(db.execute("select state, count(*) from outbox group by state").fetchall()),
           "filed": db.execute("select count(*) from messages where filed_to is not null").fetchone()[0]}
    db.close()
    return out


# ====================================================================== (c) the idle poll

def tiny_message(k: int):
    def write(fh) -> tuple[int, int]:
        i = k % 2000
        raw = (f"From: school{i + 1:04d}@qq.com\nTo: xmedu_gjc@163.com\nSubject: =?utf-8?B?"
               f"{base64.b64encode(f'【一日一报】{school_name(i)}活动情况'.encode()).decode()}?=\n"
               f"Date: Mon, 15 May 2023 20:00:00 +0800\nMessage-ID: <idle-{k}@qq.com>\nMIME-Version: 1.0\n"
               f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
               f"{base64.encodebytes(report_text(200).encode()).decode()}").encode()
        fh.write(raw)
        return len(raw), raw.count(b"\n")
    return write


def mark_processed(cfg_path: Path, uidvalidity: int, uids: list[int]) -> None:
    """What `ribao run --once` would have left after taking every message: a done row and a sent reply
    each, and the folder's last UID. Written directly: judging 20,000 messages one fork each takes too long."""
    from daemon import config as configs
    from daemon.store.db import Store, now_iso
    cfg = configs.load(cfg_path)
    store = Store(cfg.storage.path)
    now = now_iso()
    c = store.db.conn
    c.execute("BEGIN")
    c.executemany(
        "insert into messages (id, message_id, uid, uidvalidity, folder, sender, subject, school, report_date, kind, "
        "verdict, ok, state, raw_path, raw_sha256, size, received, created_at, updated_at, attempts, late) "
        "values (?, ?, ?, ?, 'INBOX', ?, '一日一报', ?, '2023-05-15', 'report', 'ok', 1, 'done', ?, ?, 600, "
        "'2023-05-15T20:00:00+08:00', ?, ?, 1, 0)",
        [(u, f"<idle-{k}@qq.com>", u, uidvalidity, f"school{k % 2000 + 1:04d}@qq.com", school_name(k % 2000),
          f"/nonexistent/{u}.eml", hashlib.sha256(str(u).encode()).hexdigest(), now, now) for k, u in enumerate(uids)])
    c.executemany(
        "insert into outbox (message, kind, dedupe_key, recipient, subject, raw, state, attempts, created_at, sent_at, day) "
        "values (?, 'reply', ?, ?, '回复：一日一报', 'x', 'sent', 1, ?, ?, '2023-05-15')",
        [(u, f"reply:{u}", f"school{k % 2000 + 1:04d}@qq.com", now, now) for k, u in enumerate(uids)])
    c.execute("COMMIT")
    store.set_mailbox_state("INBOX", uidvalidity=uidvalidity, last_uid=max(uids), last_poll=now)
    store.db.conn.close()


def idle_poll(cfg_path: Path, polls: int = 7) -> dict:
    from daemon import config as configs
    from daemon import profile as profiles
    from daemon.judging import roster as rosters
    from daemon.service import Service
    cfg = configs.load(cfg_path)
    svc = Service(cfg, profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster))
    times, commands = [], []
    try:
        for k in range(polls):
            sent = []
            if svc.source is not None and svc.source._c is not None:
                imap = svc.source._c._imap
                orig = imap._command
                imap._command = lambda name, *a, _o=orig: (sent.append(name), _o(name, *a))[1]
            t0 = time.perf_counter()
            counts = svc.poll_once()
            times.append(time.perf_counter() - t0)
            if k > 0:
                commands.append(sent)
                del svc.source._c._imap._command
            if counts["new"]:
                raise RuntimeError(f"the idle mailbox was not idle: {counts}")
    finally:
        svc.close()
    return {"first_s": times[0], "steady_s": statistics.median(times[1:]), "steady_all": times[1:],
            "commands_per_poll": commands[-1] if commands else []}


# ====================================================================== (e) reply latency under IDLE

def reply_latency(base: Path, smtp: SmtpServer, servers: list, reports: int = 3) -> dict:
    """Median seconds from APPEND to the reply at the SMTP server, the service idle with a 300 s poll."""
    dov = Dovecot(base / "dovecot-reply")
    servers.append(dov)
    dov.start()
    cfg = write_config(base / "reply", dovecot=dov, smtp=smtp, extra="[schedule]\npoll_seconds = 300\n")
    err = open(base / "reply-run.log", "w")
    proc = subprocess.Popen([*RIBAO, "run", "--config", str(cfg)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    db_path = cfg.parent / "data" / "ribao.db"
    try:
        deadline = time.monotonic() + 60
        while True:                 # idle: the first poll done and the IDLE connection up
            row = None
            if db_path.exists():
                with contextlib.suppress(sqlite3.Error):
                    db = sqlite3.connect(db_path)
                    row = db.execute("select last_poll, idle from mailbox_state").fetchone()
                    db.close()
            if row and row[0] and row[1] == 1:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ribao run never went idle:\n{(base / 'reply-run.log').read_text()[-2000:]}")
            time.sleep(0.2)
        smtp.clear()
        times = []
        for k in range(reports):
            raw = build_mail(subject=f"【一日一报】厦门工商旅游学校5月{15 + k}日活动情况", sender="school@qq.com",
                             body=report_text(1000), message_id=f"<latency-{k}@qq.com>")
            t0 = time.perf_counter()
            dov.append(raw)
            smtp.wait_for(k + 1, timeout=400)
            times.append(time.perf_counter() - t0)
            time.sleep(1.0)         # the daemon back in IDLE before the next one
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
        dov.kill()
        servers.remove(dov)
        shutil.rmtree(dov.base_dir, ignore_errors=True)
    return {"median_s": statistics.median(times), "all": times}


# ====================================================================== (d) the digest

def digest_bench(root: Path, schools: int = 2000, photo_kind: str = "small") -> dict:
    from daemon.model import Material
    from daemon.reports.digest import build_digest
    from tests.builders.store import StoreBuilder, make_photo
    t0 = time.perf_counter()
    b = StoreBuilder(root, schools)
    root.mkdir(parents=True, exist_ok=True)
    if photo_kind == "real":         # what schools send: >= 2 MB, 2400 px wide, full of detail
        photo = Pool._jpeg(root / "shared.jpg", 2400, 1600, amp=128)
    else:                            # a small, smooth 2400x1600 JPEG (~250 KB): cheap to decode
        photo = make_photo(root / "shared.jpg", 2400, 1600, seed=1)
    data = photo.read_bytes()
    rng = random.Random(5)
    codes = ["photo.too_small", "photo.no_caption", "photo.too_narrow", "text.missing", "video.below_recommended"]
    status = {"missing": 0, "late": 0, "defects": 0, "on_time": 0}
    b.store.db.conn.execute("PRAGMA synchronous=OFF")
    # The daemon makes each photo's thumbnail when it judges the photo (daemon/judging/isolate.py), so the
    # digest only reads cached thumbnails. Make one here, time it, and lay a copy under each hash.
    from daemon.store.thumbs import cache_path, thumbnail
    tt = time.perf_counter()
    thumb = thumbnail(photo)[0]
    thumb_s = time.perf_counter() - tt
    for i, s in enumerate(b.roster.names):
        r = rng.random()
        if r < 0.05:
            status["missing"] += 1
            continue
        # one photo per school: the same file on disk under a school-unique hash, so the digest makes one
        # thumbnail per school (as with real, distinct photos) while the store's blob is a hard link
        sha = hashlib.sha256(f"{s}-{i}".encode()).hexdigest()
        blob = b.store.root / "blobs" / sha[:2] / sha
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            os.link(photo, blob)
        tp = cache_path(b.store.root / "thumbs", sha)
        tp.parent.mkdir(parents=True, exist_ok=True)
        tp.write_bytes(thumb)
        mat = Material(file=f"{CAPTIONS[i % len(CAPTIONS)]}.jpg", type="photo", size=len(data), sha256=sha,
                       width=2400, height=1600, caption=CAPTIONS[i % len(CAPTIONS)], format="jpeg", path=photo)
        late = r < 0.15
        defects = [rng.choice(codes)] if 0.15 <= r < 0.30 else []
        status["late" if late else "defects" if defects else "on_time"] += 1
        b.report(s, DAY, late=late, defects=defects, photos=[mat], videos=int(i % 3 == 0))
    fill_s = time.perf_counter() - t0
    now = DUE + dt.timedelta(minutes=30)
    t1 = time.perf_counter()
    d = build_digest(b.profile, b.roster, b.store, DAY, now=now)
    t2 = time.perf_counter()
    html = d.standalone()                       # what `ribao digest --out FILE.html` does after build_digest
    (root / "digest.html").write_text(html, encoding="utf-8")
    (root / "digest.txt").write_text(d.text, encoding="utf-8")
    t3 = time.perf_counter()
    return {"seconds": t3 - t1, "build_s": t2 - t1, "standalone_s": t3 - t2, "fill_s": fill_s,
            "thumbnail_at_judging_s": thumb_s,
            "html_mb": len(html.encode()) / MB, "figures": d.figures, "images": len(d.images), "planned": status,
            "store": b}


# ====================================================================== profiling

def profile_call(fn, *args, top: int = 18, **kw) -> str:
    prof = cProfile.Profile()
    prof.enable()
    try:
        fn(*args, **kw)
    finally:
        prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def profile_judge(raw_path: Path, cfg_path: Path, work: Path) -> str:
    """judge_file on one message in-process (what the forked child does), under cProfile."""
    from daemon import config as configs
    from daemon import profile as profiles
    from daemon.judging import roster as rosters
    from daemon.judging.judge import judge_file
    cfg = configs.load(cfg_path)
    prof, ros = profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster)
    wd = work / "profile-judge"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    t0 = time.perf_counter()
    out = profile_call(judge_file, raw_path, prof, ros, workdir=wd)
    out = f"judge_file({raw_path.name}, {raw_path.stat().st_size / MB:.0f} MB) took {time.perf_counter() - t0:.2f} s " \
          f"under cProfile\n" + out
    shutil.rmtree(wd, ignore_errors=True)
    return out


def profile_parent(dovecot: Dovecot, smtp: SmtpServer, roster: str, work: Path) -> str:
    """Service.poll_once in-process on a fresh store (the judge children are forked and not profiled:
    their share shows as the parent's wait in _judge_isolated)."""
    from daemon import config as configs
    from daemon import profile as profiles
    from daemon.judging import roster as rosters
    from daemon.service import Service
    cfg_path = write_config(work / "profile-parent", dovecot=dovecot, smtp=smtp)
    (cfg_path.parent / "roster.csv").write_text(roster, encoding="utf-8")
    cfg = configs.load(cfg_path)
    svc = Service(cfg, profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster))
    try:
        return profile_call(svc.poll_once, top=25)
    finally:
        svc.close()


# ====================================================================== the run

def disk_free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def du(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--schools", type=int, default=200, help="schools in the busiest day (default 200)")
    ap.add_argument("--json", dest="json_out", metavar="OUT.json", help="write the figures to this file")
    ap.add_argument("--idle-messages", type=int, default=20000, help="messages in the idle mailbox (default 20000)")
    ap.add_argument("--digest-schools", type=int, default=2000, help="schools in the digest (default 2000)")
    ap.add_argument("--digest-photo", choices=("small", "real"), default="small",
                    help="each school's photo in the digest store: a small smooth JPEG (default) or a real-sized 2.8 MB one")
    ap.add_argument("--only", default="day,idle,digest,reply",
                    help="stages to run: day (a+b), idle (c), digest (d), reply (e)")
    ap.add_argument("--fill", choices=("maildir", "append"), default="maildir",
                    help="write the day's mail into Dovecot's Maildir while it is stopped (fast, default) or APPEND it")
    ap.add_argument("--profile", action="store_true",
                    help="afterwards, cProfile judge_file on the largest message and the daemon's poll (a second pass)")
    ap.add_argument("--work", metavar="DIR", help="working folder (default: a new one under /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the working folder (mailboxes, stores, logs)")
    args = ap.parse_args(argv)
    stages = set(args.only.split(","))

    base = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ribao-bench-", dir="/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)              # Dovecot's unprivileged users traverse it
    figures: dict = {"schools": args.schools, "nproc": os.cpu_count(),
                     "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
                     "python": platform.python_version(), "started": dt.datetime.now().isoformat(timespec="seconds")}
    notes: list[str] = []
    servers: list = []
    launcher = Launcher()          # first, while the bench is small (see Launcher)
    t_start = time.perf_counter()
    log(f"working folder {base} ({disk_free(base) / 1024**3:.0f} GB free); {os.cpu_count()} cores, "
        f"{figures['ram_gb']} GB RAM")
    try:
        smtp = SmtpServer().start()
        servers.append(smtp)
        if "day" in stages:
            day_stage(args, base, figures, notes, smtp, servers, launcher)
        if "idle" in stages:
            idle_stage(args, base, figures, notes, smtp, servers, launcher)
        if "digest" in stages:
            log(f"(d) filling a store with {args.digest_schools} schools' reports for {DAY} …")
            d = digest_bench(base / "digest", args.digest_schools, args.digest_photo)
            figures["digest_2000_s" if args.digest_schools == 2000 else f"digest_{args.digest_schools}_s"] = round(d["seconds"], 3)
            figures["digest"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()
                                 if k not in ("store", "seconds")}
            figures["digest"]["photo"] = args.digest_photo
            log(f"(d) digest for {args.digest_schools} schools: {d['seconds']:.2f} s (build {d['build_s']:.2f} s, "
                f"standalone HTML {d['standalone_s']:.2f} s, {d['html_mb']:.1f} MB, {d['images']} images); "
                f"store filled in {d['fill_s']:.0f} s")
            if args.profile:
                from daemon.reports.digest import build_digest
                print(profile_call(build_digest, d["store"].profile, d["store"].roster, d["store"].store, DAY,
                                   now=DUE + dt.timedelta(minutes=30), top=20))
        if "reply" in stages:
            log("(e) `ribao run` in IDLE with poll_seconds = 300: 3 single reports, APPEND to reply …")
            lat = reply_latency(base, smtp, servers)
            figures["reply_latency_s"] = round(lat["median_s"], 2)
            figures["reply_latency_all_s"] = [round(t, 2) for t in lat["all"]]
            log(f"(e) reply latency: median {lat['median_s']:.2f} s of {', '.join(f'{t:.2f}' for t in lat['all'])} s")
    except Exception as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        import traceback
        traceback.print_exc()
        return 1
    finally:
        launcher.close()
        for s in servers:
            try:
                s.kill() if isinstance(s, Dovecot) else s.stop()
            except Exception:
                pass
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    figures["bench_wall_s"] = round(time.perf_counter() - t_start, 1)
    figures["notes"] = notes
    table(figures)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")
        log(f"figures written to {args.json_out}")
    return 0


def day_stage(args, base: Path, figures: dict, notes: list, smtp: SmtpServer, servers: list,
              launcher: Launcher) -> None:
    n = args.schools
    # ~70 MB of mail per school on average; Dovecot keeps it, ribao keeps a raw copy (+ spool, blobs)
    need = int(n * 75 * MB * 2.3 + 3 * 1024**3)
    free = disk_free(base)
    if free < need:
        raise RuntimeError(f"{n} schools need about {need / 1024**3:.0f} GB of disk, {free / 1024**3:.0f} GB free: "
                           f"use --schools {max(1, int(n * free / need))}")
    t0 = time.perf_counter()
    log("making the media pool (12 photos of 2-6 MB, 3 videos of 22/40/58 MB, defective ones) …")
    pool = Pool(base / "media")
    pool.make()
    photos = ", ".join(f"{e['size'] / MB:.1f}" for e in pool.photos)
    videos = ", ".join(f"{e['size'] / MB:.0f}" for e in pool.videos)
    log(f"pool ready in {time.perf_counter() - t0:.0f} s: photos {photos} MB; videos {videos} MB")
    dov = Dovecot(base / "dovecot-day")
    servers.append(dov)
    plans = plan_day(n)
    docs = base / "docs"
    docs.mkdir()
    t0 = time.perf_counter()
    log(f"writing {len(plans)} messages for {n} schools into the mailbox ({args.fill}) …")
    msgs = ((lambda fh, p=p: write_message(p, pool, docs, fh), p["received"]) for p in plans)
    if args.fill == "maildir":
        fill_maildir(dov, msgs)
        dov.start()
    else:
        dov.start()
        append_all(dov, msgs)
    with dov.client() as c:          # let Dovecot index the new Maildir before anything is timed
        c.select_folder("INBOX", readonly=True)
    # the mailbox is on the server's disk before anything is timed: without this, the kernel flushes the
    # gigabytes just written during (a) and (b) (this machine's disk takes ~10 s per GB to absorb them)
    ts = time.perf_counter()
    os.sync()
    log(f"mailbox synced to disk in {time.perf_counter() - ts:.0f} s")
    mailbox_bytes = du(dov.maildir)
    gen_s = time.perf_counter() - t0
    defects = {}
    for p in plans:
        if p["defect"]:
            defects[p["defect"]] = defects.get(p["defect"], 0) + 1
    log(f"mailbox: {len(plans)} messages, {mailbox_bytes / MB:,.0f} MB on disk, written in {gen_s:.0f} s; "
        f"defects planted: {defects}")
    figures["mailbox_mb"] = round(mailbox_bytes / MB, 1)
    figures["planted_defects"] = defects
    figures["generate_s"] = round(gen_s, 1)

    log("(a) raw download of every message over IMAP (plain client loop, imaplib debug off) …")
    a = raw_fetch(dov)
    log(f"(a) {a['messages']} messages, {a['bytes'] / MB:,.0f} MB in {a['seconds']:.1f} s "
        f"({a['bytes'] / MB / a['seconds']:.0f} MB/s); largest {a['largest'] / MB:.1f} MB")
    figures.update(raw_fetch_s=round(a["seconds"], 3), messages=a["messages"], megabytes=round(a["bytes"] / MB, 1),
                   largest_message_mb=round(a["largest"] / MB, 1))
    d = raw_fetch(dov, imapclient_default=True, limit=10)
    rate = d["bytes"] / MB / d["seconds"]
    log(f"(a') the same with imapclient's defaults (imaplib debug=5), first {d['messages']} messages: {rate:.0f} MB/s "
        f"(all of them would take ~{a['bytes'] / MB / rate:.0f} s)")
    figures.update(raw_fetch_imapclient_default_mb_s=round(rate, 1),
                   raw_fetch_imapclient_default_est_s=round(a["bytes"] / MB / rate, 1))

    cfg = write_config(base / "ribao", dovecot=dov, smtp=smtp)
    roster = roster_csv(n + 1)          # one school more, silent all day: (f)'s sender
    (cfg.parent / "roster.csv").write_text(roster, encoding="utf-8")
    smtp.clear()
    os.sync()
    log("(b) ribao run --once on the same mailbox (and (f): one small report appended a quarter of the way in) …")
    probe = MidRunReport(dov, smtp, cfg, n)
    b = run_ribao(launcher, cfg, base / "ribao-run.log", during=probe)
    probe.finished.set()
    probe.join(5)
    if probe.seconds is None:
        notes.append("(f) the report appended mid-run was not answered during the run")
    else:
        log(f"(f) a report appended after {probe.done_before} of {n} were done: answered {probe.seconds:.1f} s after "
            f"it was in the mailbox (the APPEND itself took {probe.append_s:.1f} s)")
    figures["reply_during_load_s"] = None if probe.seconds is None else round(probe.seconds, 2)
    figures["during_load_append_s"] = round(probe.append_s, 2)
    if b["returncode"] != 0:
        tail = (base / "ribao-run.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ribao run --once exited with {b['returncode']}:\n{tail}")
    outcome = ribao_outcome(cfg)
    sent = outcome["outbox"].get("sent", 0)
    try:
        got = len(smtp.wait_for(sent, timeout=10))
    except AssertionError as e:
        got = len(smtp.messages)
        notes.append(f"SMTP: {e}")
    log(f"(b) {b['seconds']:.1f} s, exit {b['returncode']}; peak RSS {b['maxrss_mb']:.0f} MB "
        f"(daemon {b['parent_hwm_mb']:.0f} MB, judging children {b['child_hwm_mb']:.0f} MB); "
        f"CPU user {b['user_s']:.0f} s + sys {b['sys_s']:.0f} s")
    log(f"(b) messages by state {outcome['states']}, verdicts {outcome['verdicts']}, filed {outcome['filed']}, "
        f"outbox {outcome['outbox']}, SMTP server got {got}")
    log(f"(b) defects found: {outcome['defects']}")
    figures.update(ribao_s=round(b["seconds"], 3), ratio=round(b["seconds"] / a["seconds"], 2),
                   messages_per_s=round(a["messages"] / b["seconds"], 2),
                   mb_per_s=round(a["bytes"] / MB / b["seconds"], 1), peak_rss_mb=round(b["maxrss_mb"], 1),
                   peak_rss_daemon_mb=round(b["parent_hwm_mb"], 1), peak_rss_judge_mb=round(b["child_hwm_mb"], 1),
                   ribao_cpu_s=round(b["user_s"] + b["sys_s"], 1), replies_received=got,
                   ribao_outcome=outcome)
    if outcome["states"].get("done", 0) + outcome["states"].get("duplicate", 0) != a["messages"] + (probe.seconds is not None):
        notes.append(f"not every message ended done: {outcome['states']}")

    disk = disk_floor(base, cfg.parent / "data")
    log(f"(g) the disk floor: writing the {disk['bytes'] / MB:,.0f} MB ribao keeps of the day (raw mail and attachments) "
        f"as ribao writes them (each file sent to disk and its pages dropped) took {disk['seconds']:.1f} s ({disk['bytes'] / MB / disk['seconds']:.0f} MB/s)")
    figures.update(disk_floor_s=round(disk["seconds"], 2), kept_mb=round(disk["bytes"] / MB, 1),
                   ratio_to_floor=round(b["seconds"] / max(a["seconds"], disk["seconds"]), 2))

    if args.profile:
        biggest = max((p for p in (base / "ribao" / "data" / "raw").rglob("*.eml")), key=lambda p: p.stat().st_size)
        print(profile_judge(biggest, cfg, base))
        log("profiling the daemon's poll on a fresh store (second pass) …")
        print(profile_parent(dov, smtp, roster, base))
    dov.kill()
    servers.remove(dov)
    if not args.keep:                    # --keep: the store stays for bench/storage.py
        shutil.rmtree(base / "ribao" / "data", ignore_errors=True)      # gigabytes of raw copies
    shutil.rmtree(dov.base_dir, ignore_errors=True)


def idle_stage(args, base: Path, figures: dict, notes: list, smtp: SmtpServer, servers: list,
               launcher: Launcher) -> None:
    n = args.idle_messages
    dov = Dovecot(base / "dovecot-idle")
    servers.append(dov)
    t0 = time.perf_counter()
    received = dt.datetime(2023, 5, 15, 20, 0, tzinfo=TZ)
    fill_maildir(dov, ((tiny_message(k), received) for k in range(n)), prefix="idle")
    dov.start()
    t1 = time.perf_counter()
    with dov.client() as c:
        state = c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
    t2 = time.perf_counter()
    uidvalidity = int(state[b"UIDVALIDITY"])
    log(f"(c) idle mailbox: {len(uids)} messages written in {t1 - t0:.1f} s; Dovecot's first SELECT (indexing) "
        f"{t2 - t1:.1f} s")
    cfg = write_config(base / "idle", dovecot=dov, smtp=smtp)
    (cfg.parent / "roster.csv").write_text(roster_csv(2000), encoding="utf-8")
    mark_processed(cfg, uidvalidity, uids)
    notes.append(f"(c): the store was marked processed directly (done rows, sent replies, last_uid={max(uids)}), "
                 f"not by judging {n} messages")
    r = idle_poll(cfg)
    log(f"(c) poll cycle, nothing new, {n} processed messages: first (connect+login+ID+SELECT) {r['first_s'] * 1000:.1f} ms, "
        f"steady state {r['steady_s'] * 1000:.1f} ms (median of {len(r['steady_all'])}); IMAP commands per steady poll: "
        f"{r['commands_per_poll']}")
    c = run_ribao(launcher, cfg, base / "idle-run.log")
    log(f"(c) `ribao run --once` on it as a fresh process (cron style): {c['seconds']:.2f} s, exit {c['returncode']}")
    figures.update(idle_poll_s=round(r["steady_s"], 4), idle_poll_first_s=round(r["first_s"], 4),
                   idle_poll_commands=r["commands_per_poll"], idle_run_once_s=round(c["seconds"], 2),
                   idle_messages=len(uids), idle_dovecot_index_s=round(t2 - t1, 2))
    dov.kill()
    servers.remove(dov)
    shutil.rmtree(dov.base_dir, ignore_errors=True)


def table(f: dict) -> None:
    rows = []

    def row(metric, value, fmt, target="", ok=None):
        if value is None:
            return
        rows.append((metric, fmt.format(value), target, "" if ok is None else ("pass" if ok else "FAIL")))

    if "raw_fetch_s" in f:
        row("messages", f["messages"], "{:d}")
        row("megabytes", f["megabytes"], "{:,.0f} MB")
        row("largest message", f["largest_message_mb"], "{:.1f} MB")
        row("(a) raw IMAP fetch", f["raw_fetch_s"], "{:.1f} s")
    if "ribao_s" in f:
        row("(b) ribao run --once", f["ribao_s"], "{:.1f} s")
        row("ratio b/a", f["ratio"], "{:.2f}", f"<= {TARGETS['ratio']}", f["ratio"] <= TARGETS["ratio"])
        if "disk_floor_s" in f:
            row("(g) disk floor: write what is kept", f["disk_floor_s"], "{:.1f} s")
            row("    b / max(a, g)", f["ratio_to_floor"], "{:.2f}")
        row("messages per second", f["messages_per_s"], "{:.2f}")
        row("MB per second", f["mb_per_s"], "{:.1f}")
        row("peak RSS (daemon, each worker)", f["peak_rss_mb"], "{:.0f} MB", f"< {TARGETS['rss_mb']:.0f} MB",
            f["peak_rss_mb"] < TARGETS["rss_mb"])
        row("(f) reply to a report mid-run", f.get("reply_during_load_s"), "{:.1f} s",
            f"< {TARGETS['reply_during_load_s']:.0f} s",
            f.get("reply_during_load_s") is not None and f["reply_during_load_s"] < TARGETS["reply_during_load_s"])
    if "idle_poll_s" in f:
        row(f"(c) idle poll, {f['idle_messages']} msgs", f["idle_poll_s"] * 1000, "{:.1f} ms",
            f"< {TARGETS['idle_poll_s'] * 1000:.0f} ms", f["idle_poll_s"] < TARGETS["idle_poll_s"])
        row("    first poll (connect)", f["idle_poll_first_s"] * 1000, "{:.0f} ms")
    if "digest_2000_s" in f:
        row("(d) digest, 2000 schools", f["digest_2000_s"], "{:.2f} s", f"< {TARGETS['digest_2000_s']:.0f} s",
            f["digest_2000_s"] < TARGETS["digest_2000_s"])
    if "reply_latency_s" in f:
        row("(e) reply latency, IDLE, poll 300 s", f["reply_latency_s"], "{:.2f} s",
            f"< {TARGETS['reply_latency_s']:.0f} s", f["reply_latency_s"] < TARGETS["reply_latency_s"])
    w = [max(len(r[i]) for r in rows + [("metric", "value", "target", "")]) for i in range(4)]
    print()
    print(f"{'metric':<{w[0]}}  {'value':>{w[1]}}  {'target':<{w[2]}}  result")
    for r in rows:
        print(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]}")
    print(f"(machine: {f['nproc']} cores, {f['ram_gb']} GB RAM; bench took {f['bench_wall_s']:.0f} s)")
    for note in f.get("notes", []):
        print(f"note: {note}")


if __name__ == "__main__":
    sys.exit(main())
