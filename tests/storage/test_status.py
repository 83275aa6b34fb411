"""`ribao status` says how much storage is used, by what, how much is left and for how long;
the digest and the log say so when it runs short."""
from __future__ import annotations

import datetime as dt
import logging

from daemon import config as configs
from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.reports.digest import build_digest
from daemon.storage import purge, usage
from daemon.store.db import Store
from tests.builders.config import write_config
from tests.builders.maildir import new_maildir
from tests.storage.conftest import du

KEYS = {"path", "used_bytes", "free_bytes", "raw_bytes", "attachments_bytes", "database_bytes", "days_left"}


def test_status_storage_figures_match_du(week):
    s = week.storage()
    assert set(s) == KEYS and s["path"] == str(week.data)
    d = week.data
    assert s["raw_bytes"] == du(d / "raw") > 0
    assert s["attachments_bytes"] == du(d / "attachments", d / "blobs") > 0
    db_files = sorted(d.glob("ribao.db*"))
    assert s["used_bytes"] - s["database_bytes"] == du(d) - du(*db_files)   # the WAL comes and goes with connections
    assert s["database_bytes"] > 0
    # every school's file is a hard link to its blob, and the photo all schools sent is one blob
    # linked into four folders: each counted once (seven photos' bytes, not seventeen)
    every = [p for top in ("attachments", "blobs") for p in [d / top, *(d / top).rglob("*")]]
    naive = sum(p.lstat().st_size for p in every)
    links = [p for p in (d / "attachments").rglob("*") if p.is_file()]
    assert len(links) == 10 and naive - s["attachments_bytes"] == sum(p.stat().st_size for p in links)
    assert s["attachments_bytes"] - sum(p.lstat().st_size for p in every if p.is_dir()) == \
        sum(p.stat().st_size for p in week.info["photos"].values())
    # all of it arrived today: a rate, so a number of days
    assert s["days_left"] is not None and s["days_left"] > 0
    assert abs(s["days_left"] - s["free_bytes"] / usage.intake_rate(week.db())) < 0.2 * s["days_left"] + 1
    plain = week.run("status").stdout
    assert f"存储：{d}" in plain and "原始邮件" in plain and "附件" in plain and "约可用" in plain


def test_days_left_is_null_before_any_intake(tmp_path):
    cfg = write_config(tmp_path / "c", maildir=new_maildir(tmp_path / "md"))
    from tests.daemon.conftest import ribao
    assert ribao("run", "--once", "--config", str(cfg)).returncode == 0
    import json
    s = json.loads(ribao("status", "--json", "--config", str(cfg)).stdout)["storage"]
    assert set(s) == KEYS and s["days_left"] is None and s["raw_bytes"] == du(cfg.parent / "data" / "raw")
    assert "无法估算" in ribao("status", "--config", str(cfg)).stdout


def test_low_space_tops_the_digest_and_warns_the_log_once_a_day(week, monkeypatch, caplog):
    cfg = configs.load(week.cfg)
    prof, ros = profiles.load(cfg.rules.profile), rosters.load(cfg.rules.roster)
    store = Store(cfg.storage.path)
    day = dt.date(2023, 5, 14)
    fine = build_digest(prof, ros, store, day)
    assert fine.ctx["storage_low"] is None and "存储空间不足" not in fine.standalone() + fine.text
    busiest = max(usage.daily_intake(store.db).values())
    monkeypatch.setattr(usage, "free_bytes", lambda root: busiest)          # one busiest day left
    low = build_digest(prof, ros, store, day)
    html = low.standalone()
    assert "存储空间不足" in low.ctx["storage_low"]
    body = html[html.index("<body"):]
    assert body.index("存储空间不足") < body.index("<table")               # at the very top
    assert low.text.lstrip().startswith("【存储空间不足")
    with caplog.at_level(logging.WARNING, logger="ribao.storage"):
        purge.daily(cfg, store, dt.date(2026, 1, 1))
        purge.daily(cfg, store, dt.date(2026, 1, 1))
        assert sum("under two busiest days" in r.getMessage() for r in caplog.records) == 1
        purge.daily(cfg, store, dt.date(2026, 1, 2))
        assert sum("under two busiest days" in r.getMessage() for r in caplog.records) == 2
    monkeypatch.setattr(usage, "free_bytes", lambda root: 3 * busiest)
    assert build_digest(prof, ros, store, day).ctx["storage_low"] is None
