"""`ribao purge --before D` and `[storage] keep_days`: the bytes go, the figures stay."""
from __future__ import annotations

import datetime as dt
import json
import re
import types
from pathlib import Path

from openpyxl import load_workbook

from daemon import config as configs
from daemon import jobs
from daemon import profile as profiles
from tests.servers import free_port
from tests.storage.conftest import Week, du

TABLES = ("messages", "defects", "materials", "submissions", "tables_rows", "school_emails")


def _facts(w: Week) -> dict:
    db = w.db()
    out = {t: db.execute(f"select * from {t} order by 1").fetchall() for t in TABLES}
    out["messages"] = list(db.execute(
        "select id, school, report_date, verdict, ok, state, text_chars, photos, videos, superseded_by, late "
        "from messages order by id"))
    out["materials"] = db.execute("select id, message, file, type, size, sha256, width, height from materials").fetchall()
    out["corrections"] = db.execute("select id, action, message, details from corrections order by id").fetchall()
    return out


def _digest(w: Week, day: str, name: str) -> tuple[str, str]:
    out = w.cfg.parent / f"{name}.html"
    w.run("digest", "--date", day, "--out", str(out))
    strip = lambda s: re.sub(r"统计于 [^。]*。", "", s)          # noqa: E731 - the time it was made
    return strip(out.read_text(encoding="utf-8")), strip(out.with_suffix(".txt").read_text(encoding="utf-8"))


def _book(w: Week, name: str) -> dict:
    out = w.cfg.parent / f"{name}.xlsx"
    w.run("summary", "--out", str(out))
    wb = load_workbook(out, read_only=True)
    return {ws.title: [[c for c in row] for row in ws.iter_rows(min_row=3, values_only=True)] for ws in wb.worksheets}


def test_purge_frees_the_bytes_and_keeps_every_figure(week):
    d = week.data
    db = week.db()
    old = [r[0] for r in db.execute("select raw_path from messages where report_date = '2023-05-14'")]
    assert len(old) == 4 and all(Path(p).exists() for p in old)
    pics = week.info["photos"]
    gone = [pics[k] for k in ("a14", "b14", "c14", "a14bis")]
    shas = {k: __import__("hashlib").sha256(p.read_bytes()).hexdigest() for k, p in pics.items()}
    thumbs = {k: d / "thumbs" / s[:2] / f"{s}.jpg" for k, s in shas.items()}
    assert all(t.exists() for t in thumbs.values())
    expected = (sum(Path(p).stat().st_size for p in old) + sum(p.stat().st_size for p in gone)
                + sum(thumbs[k].stat().st_size for k in ("a14", "b14", "c14", "a14bis")))
    facts, st_before = _facts(week), week.storage()
    html14, text14 = _digest(week, "2023-05-14", "before14")
    html15, text15 = _digest(week, "2023-05-15", "before15")
    book = _book(week, "before")
    pending = week.run("pending", "--date", "2023-05-14", "--json").stdout
    assert "data:image/jpeg" in html14
    used_before = du(d)

    r = week.run("purge", "--before", "2023-05-15")
    assert "purged 4 messages" in r.stdout

    # the bytes are gone: raw mail, the day's folder, blobs only that day used, their thumbnails
    assert not any(Path(p).exists() for p in old)
    assert not (d / "attachments" / "2023-05-14").exists()
    for k in ("a14", "b14", "c14", "a14bis"):
        assert not (d / "blobs" / shas[k][:2] / shas[k]).exists() and not thumbs[k].exists()
    for k in ("shared", "a15", "b15"):                          # still linked from 2023-05-15
        assert (d / "blobs" / shas[k][:2] / shas[k]).exists() and thumbs[k].exists()
    assert all(b.stat().st_nlink > 1 for b in (d / "blobs").rglob("*") if b.is_file())    # no orphan blob
    assert (d / "attachments" / "2023-05-15" / "厦门工商旅游学校" / "开幕式.jpg").exists()
    action, details = week.db().execute("select action, details from corrections order by id desc").fetchone()
    details = json.loads(details)
    assert action == "purge" and details["before"] == "2023-05-15" and details["messages"] == 4
    assert details["freed_bytes"] == expected
    assert details["raw_files"] == 4 and details["blobs_files"] == 4 and details["thumbnails_files"] == 4
    assert used_before - du(d) >= expected
    st = week.storage()
    assert st_before["raw_bytes"] - st["raw_bytes"] == sum(details.get(k, 0) for k in ("raw_bytes",)) > 0
    assert st_before["attachments_bytes"] - st["attachments_bytes"] >= sum(p.stat().st_size for p in gone)

    # every count stays; the digest and the workbook render the same, without photos
    after = _facts(week)
    for t in TABLES:
        assert after[t] == facts[t], t
    assert after["corrections"][:-1] == facts["corrections"]
    h14, t14 = _digest(week, "2023-05-14", "after14")
    assert t14 == text14 and "data:image/jpeg" not in h14
    assert "厦门工商旅游学校" in h14 and "重报" in h14
    assert _digest(week, "2023-05-15", "after15") == (html15, text15)
    assert _book(week, "after") == book
    assert week.run("pending", "--date", "2023-05-14", "--json").stdout == pending
    # a purged message is never judged again (its mail is gone)
    r = week.run("rejudge", "--date", "2023-05-14")
    assert "rejudged 0 messages" in r.stdout
    r = week.run("assign", "1", "--school", "厦门工商旅游学校", ok=False)
    assert r.returncode == 2 and "purged" in r.stderr
    assert _facts(week)["messages"] == facts["messages"]
    assert "nothing to purge" in week.run("purge", "--before", "2023-05-15").stdout
    # the archive of a purged week still has its digests and workbook, and the kept day's files
    out = week.cfg.parent / "after.zip"
    week.run("export", "--week", "--out", str(out))
    import zipfile
    names = zipfile.ZipFile(out).namelist()
    assert not [n for n in names if n.startswith("2023-05-14/")] and "每日汇总/2023-05-14.html" in names
    assert "2023-05-15/厦门工商旅游学校/社区服务.jpg" in names and any(n.endswith(".xlsx") for n in names)


def test_purge_refused_while_a_reply_to_that_day_is_unsent(tmp_path):
    w = Week(tmp_path, smtp=types.SimpleNamespace(port=free_port()))       # nobody listens: replies wait
    w.run("run", "--once")
    assert w.db().execute("select count(*) from outbox where state = 'pending'").fetchone()[0] == 6
    raws = [r[0] for r in w.db().execute("select raw_path from messages")]
    r = w.run("purge", "--before", "2023-05-15", ok=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unsent" in r.stderr and "ribao run" in r.stderr
    assert all(Path(p).exists() for p in raws)
    assert w.db().execute("select count(*) from corrections where action = 'purge'").fetchone()[0] == 0

    # the replies go out (the outbox written as files now), then the purge may go ahead
    text = w.cfg.read_text(encoding="utf-8")
    text = re.sub(r"\[smtp\].*?(?=\n\[rules\])", '[smtp]\nkind = "outbox"\npath = "replies"\nfrom = "xmedu_gjc@163.com"\n',
                  text, flags=re.S)
    w.cfg.write_text(text, encoding="utf-8")
    db = w.db()
    db.execute("update outbox set next_try = null")
    db.commit()
    w.run("run", "--once")
    assert w.db().execute("select count(*) from outbox where state in ('pending', 'sending')").fetchone()[0] == 0
    # a message of those days still being judged (a crash mid-judging) holds it back too
    db = w.db()
    db.execute("update messages set state = 'received' where id = 2")
    db.commit()
    r = w.run("purge", "--before", "2023-05-15", ok=False)
    assert r.returncode == 2 and "#2" in r.stderr and "being judged" in r.stderr
    db.execute("update messages set state = 'done' where id = 2")
    db.commit()
    assert "purged 4 messages" in w.run("purge", "--before", "2023-05-15").stdout


def test_keep_days_purges_daily_from_the_scheduler(week):
    text = week.cfg.read_text(encoding="utf-8").replace('[storage]\npath = "data"', '[storage]\npath = "data"\nkeep_days = 3')
    week.cfg.write_text(text, encoding="utf-8")
    cfg = configs.load(week.cfg)
    prof = profiles.load(cfg.rules.profile)
    service = types.SimpleNamespace(store=None, transport=None)
    stray_old = week.data / "raw" / "2020-01-01" / "1-1-cut-short.eml"       # a fetch cut short long ago
    stray_today = week.data / "raw" / dt.date.today().isoformat() / "1-2-being-recorded.eml"
    for p in (stray_old, stray_today):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"Subject: x\r\n\r\nx\r\n")
    jobs.storage_job(cfg, prof, service, now=dt.datetime(2023, 5, 18, 3, 0, tzinfo=prof.tz))   # keeps 15th onwards
    db = week.db()
    assert db.execute("select count(*) from messages where raw_path is null").fetchone()[0] == 4
    assert json.loads(db.execute("select details from corrections where action = 'purge'").fetchone()[0])["before"] == "2023-05-15"
    assert not (week.data / "attachments" / "2023-05-14").exists()
    assert (week.data / "attachments" / "2023-05-15").exists()
    assert not stray_old.exists() and stray_today.exists()               # today's folder is the poll's


def test_keep_days_is_checked():
    from daemon.config import ConfigError, from_dict
    base = {"mailbox": {"kind": "maildir", "path": "m"}, "smtp": {"kind": "outbox", "path": "o", "from": "a@b.cn"}}
    assert from_dict(base, Path("/tmp")).storage.keep_days == 0
    for bad in (-1, "7", 1.5):
        try:
            from_dict({**base, "storage": {"keep_days": bad}}, Path("/tmp"))
        except ConfigError as e:
            assert "[storage] keep_days" in str(e)
        else:
            raise AssertionError(bad)


def test_a_file_judged_while_a_purge_removes_its_blob_is_still_kept(tmp_path, monkeypatch):
    """keep_days runs beside the poll: a blob removed between the check and the link costs a copy, not the file."""
    import hashlib
    import os
    import shutil

    from daemon.store import db as stores
    from tests.builders.store import make_photo
    s = stores.Store(tmp_path / "data")
    work = make_photo(s.root / "work" / "7" / "开幕式.jpg")
    sha = hashlib.sha256(work.read_bytes()).hexdigest()
    blob = s.root / "blobs" / sha[:2] / sha
    blob.parent.mkdir(parents=True)
    shutil.copyfile(work, blob)                          # an older day's identical photo

    def purged_meanwhile(src, dst):
        os.unlink(blob)
        raise FileNotFoundError(2, "No such file or directory", str(src))
    monkeypatch.setattr(stores.os, "link", purged_meanwhile)
    m = types.SimpleNamespace(sha256=sha, path=str(work), file="开幕式.jpg")
    v = types.SimpleNamespace(report_date="2023-05-16", received="2023-05-17T09:00:00+08:00", school="厦门信息学校")
    rel = s._keep_file(m, v)
    assert rel and (s.root / rel).read_bytes() == work.read_bytes()
