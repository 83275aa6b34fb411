"""未提交名单 before and after a school reports, from the library and through `ribao pending`."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from daemon.cli import cli
from daemon.reports.pending import PendingError, pending
from tests.builders.store import DAY, StoreBuilder

SCHOOLS = ["甲职校", "乙职校", "丙职校"]


def test_before_and_after_a_school_reports(tmp_path):
    b = StoreBuilder(tmp_path, SCHOOLS)
    b.report("乙职校", DAY - dt.timedelta(days=1), subject="乙职校5月14日一日一报")
    out = pending(b.profile, b.roster, b.store, day=DAY)
    assert out["deliverable"] == "daily" and out["date"] == "2023-05-15"
    assert out["due"] == b.profile.daily_due(DAY).isoformat()
    assert [m["school"] for m in out["missing"]] == SCHOOLS
    seen = {m["school"]: m for m in out["missing"]}
    assert seen["乙职校"]["last_subject"] == "乙职校5月14日一日一报" and seen["乙职校"]["last_seen"].startswith("2023-05-15T")
    assert seen["甲职校"]["last_seen"] is None
    b.report("乙职校", DAY, late=True, defects=["text.missing"])       # late and faulty, but sent
    out = pending(b.profile, b.roster, b.store, day=DAY)
    assert [m["school"] for m in out["missing"]] == ["甲职校", "丙职校"]


def test_default_day_is_the_one_due_next(tmp_path):
    b = StoreBuilder(tmp_path, SCHOOLS)
    out = pending(b.profile, b.roster, b.store, now=dt.datetime(2023, 5, 16, 10, 0, tzinfo=b.profile.tz))
    assert out["date"] == "2023-05-15"


def test_one_off_deliverable(tmp_path):
    b = StoreBuilder(tmp_path, SCHOOLS)
    b.stats_table("丙职校", [["项目", "数量"], ["开放日", 1]])
    out = pending(b.profile, b.roster, b.store, "stats_table")
    assert out["date"] is None and out["due"] == b.profile.deliverable("stats_table").due.isoformat()
    assert [m["school"] for m in out["missing"]] == ["甲职校", "乙职校"]
    with pytest.raises(PendingError, match="no deliverable 'nope'"):
        pending(b.profile, b.roster, b.store, "nope")


def test_cli_json_and_text(tmp_path):
    b = StoreBuilder(tmp_path, SCHOOLS)
    conf = str(b.config())
    b.report("甲职校", DAY, subject="一日一报\r\n\x1b[31m红字")
    r = CliRunner().invoke(cli, ["pending", "--config", conf, "--date", "2023-05-15", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"deliverable", "date", "due", "missing"} <= set(out)
    assert [m["school"] for m in out["missing"]] == ["乙职校", "丙职校"]
    assert set(out["missing"][0]) >= {"school", "last_seen", "last_subject"}
    b.report("乙职校", DAY - dt.timedelta(days=1), subject="旧\r\n\x1b[31m主题")
    r = CliRunner().invoke(cli, ["pending", "--config", conf, "--date", "2023-05-15"])
    assert r.exit_code == 0 and "2/3所学校尚未报送" in r.output and "\x1b" not in r.output
    r = CliRunner().invoke(cli, ["pending", "--config", conf, "--deliverable", "nope"])
    assert r.exit_code == 2 and "nope" in r.output
    r = CliRunner().invoke(cli, ["pending", "--config", conf, "--date", "5月15日"])
    assert r.exit_code == 2 and "not a date" in r.output
