"""Load: a week's mailbox of 5,000 reports from 200 schools in a bounded footprint, and one 60 MB
mail judged without holding copies of it in memory.

Peak RSS is read by a wrapper process around `ribao` (tests/hostile/conftest.ribao_measured): the
largest of ribao and its forked judging children, nothing else. Bounded means: nine times more
mail than the first run does not make the second run's peak grow; and the 60 MB mail costs the
judging child less than a fraction of one copy of it.
"""
from __future__ import annotations

import hashlib
import sqlite3

from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.builders.media import make_video
from tests.hostile.conftest import fill_maildir, ribao_measured, rows

SCHOOLS = 200
MB = 1024 * 1024


def roster(n: int) -> str:
    return "school,aliases,emails\n" + "".join(f"第{i}职业学校,{i}职校,s{i}@school{i}.cn\n" for i in range(n))


def mails(start: int, stop: int) -> list[bytes]:
    out = []
    for k in range(start, stop):
        i, day = k % SCHOOLS, 14 + (k // SCHOOLS) % 7
        out.append(build_mail(subject=f"第{i}职业学校一日一报5月{day}日", sender=f"s{i}@school{i}.cn",
                              body=report_text(900 + k % 300, f"第{i}职业学校"), message_id=f"<load{k}@x>"))
    return out


def test_5000_messages_from_200_schools_in_a_bounded_footprint(tmp_path, dovecot, smtp_server):
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)
    # no filing: 1,400 new folders cost Dovecot more than ribao (filing is tested in tests/daemon)
    cfg.write_text(cfg.read_text().replace("[filing]\n", "[filing]\nenabled = false\n"), encoding="utf-8")
    (cfg.parent / "roster.csv").write_text(roster(SCHOOLS), encoding="utf-8")
    fill_maildir(dovecot, mails(0, 500))
    first = ribao_measured("run", "--once", "--config", str(cfg), tmp=tmp_path, timeout=300)
    assert first["rc"] == 0, first["err"][-2000:]
    fill_maildir(dovecot, mails(500, 5000))
    second = ribao_measured("run", "--once", "--config", str(cfg), tmp=tmp_path, timeout=600)
    assert second["rc"] == 0, second["err"][-2000:]

    with sqlite3.connect(cfg.parent / "data" / "ribao.db") as db:
        n, distinct, schools = db.execute("select count(*), count(distinct message_id), count(distinct school) "
                                          "from messages where state = 'done' and verdict = 'ok'").fetchone()
        states = dict(db.execute("select state, count(*) from messages group by state"))
        sent = db.execute("select count(*) from outbox where state = 'sent'").fetchone()[0]
    assert (n, distinct, schools) == (5000, 5000, SCHOOLS), states
    assert sent == 500                             # [replies] max_per_day: the rest wait for the next days
    assert second["maxrss_mb"] < first["maxrss_mb"] + 25, (first["maxrss_mb"], second["maxrss_mb"])
    assert second["maxrss_mb"] < 200
    print(f"\n5,000 messages / {SCHOOLS} schools: peak RSS {first['maxrss_mb']:.0f} MB for the first 500, "
          f"{second['maxrss_mb']:.0f} MB for the next 4,500")


def test_a_60_mb_message_is_not_held_in_memory(tmp_path, dovecot, smtp_server):
    video = make_video(tmp_path / "v.mp4", width=1280, height=720, seconds=1, pad_to_bytes=44 * MB)
    raw = build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(1000) + "\n视频：开放日活动视频",
                     attachments=[("开放日活动视频.mp4", video, "video/mp4")], message_id="<big60@x>")
    size_mb = len(raw) / MB
    assert 58 < size_mb < 64
    small = tmp_path / "small.eml"             # the same mail with the video unpadded: ffprobe alone is ~50 MB
    small.write_bytes(build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(1000) + "\n视频：开放日",
                                 attachments=[("开放日.mp4", make_video(tmp_path / "s.mp4", width=1280, height=720,
                                                                        seconds=1), "video/mp4")]))
    big = tmp_path / "big.eml"
    big.write_bytes(raw)
    fill_maildir(dovecot, [raw])
    del raw
    cfg = write_config(tmp_path / "ribao", dovecot=dovecot, smtp=smtp_server)

    check_small = ribao_measured("check", str(small), "--json", tmp=tmp_path)
    check_big = ribao_measured("check", str(big), "--json", tmp=tmp_path)
    for check in (check_small, check_big):
        assert check["rc"] in (0, 1) and '"videos": 1' in check["out"] and "video.corrupt" not in check["out"], check
    run = ribao_measured("run", "--once", "--config", str(cfg), tmp=tmp_path)
    assert run["rc"] == 0, run["err"][-2000:]

    [(state, videos)] = rows(cfg, "select state, videos from messages")
    assert (state, videos) == ("done", 1)
    [(stored,)] = rows(cfg, "select stored_path from materials where type = 'video'")
    kept = (cfg.parent / "data" / stored).read_bytes()
    assert hashlib.sha256(kept).digest() == hashlib.sha256(video.read_bytes()).digest()
    del kept
    # judging (parse, decode, ffprobe) a 60 MB mail costs less than a third of it more than a small one
    assert check_big["maxrss_mb"] < check_small["maxrss_mb"] + size_mb / 3, (check_small, check_big)
    # fetching over IMAP: imapclient hands over the whole literal as one bytes object, written to the spool
    assert run["maxrss_mb"] < check_small["maxrss_mb"] + 1.5 * size_mb
    print(f"\n{size_mb:.0f} MB mail: peak RSS `ribao check` {check_big['maxrss_mb']:.0f} MB "
          f"(same mail with a 0.1 MB video: {check_small['maxrss_mb']:.0f} MB), `ribao run --once` over IMAP {run['maxrss_mb']:.0f} MB")
