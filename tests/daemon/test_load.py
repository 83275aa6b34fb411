"""Mail keeps flowing under load: `ribao run` (the service, IDLE, a poll interval far longer than the
test) works through a queue of large mails that are slow to judge, and a small report that arrives
meanwhile is answered before that queue is done, while each school's mail (two teachers of one
school included) is still answered in the order it came. The workers that judge are the daemon's
pool (daemon/judging/pool.py)."""
from __future__ import annotations

import hashlib
import mmap
import os
import re
import sqlite3
from pathlib import Path

from tests.builders.config import write_config
from tests.builders.files import make_slow_pdf
from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import Running
from tests.store.test_pagecache import resident

# (the first line lands in [replies]: seven replies to one school in a day are over the default five)
SLOW = "max_per_sender_per_day = 20\n\n[schedule]\npoll_seconds = 300\n\n[limits]\nfile_seconds = 1\nmessage_seconds = 20\n"
SENDERS = {"school@qq.com": "厦门工商旅游学校", "jmzx@163.com": "厦门市集美职业技术学校"}   # large mail


def large(sender: str, day: int, pdf: bytes) -> bytes:
    """Over 2 MB (so small mail may pass it) and about a second to judge (a PDF at its file budget)."""
    school = SENDERS[sender]
    return build_mail(subject=f"【一日一报】{school}5月{day}日活动情况", sender=sender, body=report_text(1000, school),
                      message_id=f"<{sender.split('@')[0]}-{day}@x>",
                      attachments=[("活动总结.pdf", pdf, "application/pdf"), ("资料.bin", os.urandom(2_500_000))])


def replied_to(smtp) -> list[str]:
    return [re.sub(r"\s+", "", m.message["In-Reply-To"] or "") for m in smtp.messages]


def test_a_small_report_is_answered_while_large_mail_is_still_judged(tmp_path, dovecot, smtp_server):
    pdf = make_slow_pdf(tmp_path / "slow.pdf").read_bytes()
    days = (14, 15, 16, 17, 18, 19)
    for day in days:
        for sender in SENDERS:
            dovecot.append(large(sender, day, pdf))
    # small, from the other teacher of 工商旅游 (gslx@163.com is that school's too): after its school's mail
    dovecot.append(build_mail(subject="【一日一报】厦门工商旅游学校5月20日活动情况", sender="gslx@163.com",
                              body=report_text(1000), message_id="<gslx-20@x>"))
    n_large = len(days) * len(SENDERS)
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server, extra=SLOW)
    with Running(cfg) as daemon:
        smtp_server.wait_for(1, timeout=120)              # the day's queue is being worked through
        dovecot.append(build_mail(subject="【一日一报】厦门信息学校5月18日活动情况", sender="xxxx@126.com",
                                  body=report_text(1000, "信息学校"), message_id="<small@x>"))
        smtp_server.wait_for(n_large + 2, timeout=300)
        log = daemon.log()
        assert daemon.stop() == 0
    order = replied_to(smtp_server)
    assert sorted(order) == sorted(["<small@x>", "<gslx-20@x>"] + [f"<{s.split('@')[0]}-{d}@x>" for s in SENDERS
                                                                    for d in days])
    # small mail first: without it, the report would wait behind every large mail (last of all)
    assert order.index("<small@x>") < n_large - 2, order
    for sender in SENDERS:                                # each school's mail answered in arrival order
        mine = [o for o in order if o.startswith(f"<{sender.split('@')[0]}-")]
        assert mine == [f"<{sender.split('@')[0]}-{d}@x>" for d in days], order
    assert order.index("<gslx-20@x>") > order.index("<school-19@x>"), order    # the same school: after
    assert "Traceback" not in log and "quarantined" not in log
    # large mail came in without its hash (the daemon's loop keeps up with the download): the workers
    # took it, and every raw copy is the stored hash's bytes
    db = sqlite3.connect(cfg.parent / "data" / "ribao.db")
    kept = db.execute("select raw_path, raw_sha256 from messages").fetchall()
    db.close()
    assert len(kept) == n_large + 2
    # the raw mail left the page cache once judged (daemon/store/pagecache.py; read before the hashes
    # below read it back in): without that every byte the daemon wrote would still be cached
    raw = [Path(p) for p, _ in kept if Path(p).stat().st_size > 2_000_000]
    assert sum(resident(p) for p in raw) * mmap.PAGESIZE < sum(p.stat().st_size for p in raw) / 2
    assert all(hashlib.sha256(Path(p).read_bytes()).hexdigest() == sha for p, sha in kept)
