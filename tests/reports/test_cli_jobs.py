"""`ribao digest` and `ribao summary` from the command line, and the scheduled jobs of `ribao run`."""
from __future__ import annotations

import datetime as dt
import logging

import openpyxl
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner

from daemon import config as configs
from daemon import jobs
from daemon.cli import cli
from daemon.reports import demo_reports
from tests.builders.store import DAY, scenario


def test_digest_out_writes_html_and_text(tmp_path):
    b, exp = scenario(tmp_path)
    conf = str(b.config())
    out = tmp_path / "out" / "d.html"
    r = CliRunner().invoke(cli, ["digest", "--config", conf, "--date", "2023-05-15", "--out", str(out)])
    assert r.exit_code == 0, r.output
    html, text = out.read_text(encoding="utf-8"), out.with_suffix(".txt").read_text(encoding="utf-8")
    assert "data:image/jpeg;base64," in html and "data:image/png;base64," in html and "cid:" not in html
    assert all(s in html and s in text for s in exp)
    r = CliRunner().invoke(cli, ["digest", "--config", conf, "--date", "2023-05-15"])
    assert r.exit_code == 0 and "各校情况" in r.output


def test_digest_send_once(tmp_path):
    b, _ = scenario(tmp_path)
    conf = str(b.config())
    for _ in range(2):
        r = CliRunner().invoke(cli, ["digest", "--config", conf, "--date", "2023-05-15", "--send"])
        assert r.exit_code == 0, r.output
    assert "already in the outbox" in r.output
    assert b.store.db.execute("select dedupe_key, state from outbox").fetchall() == [("digest:2023-05-15", "sent")]
    assert len(list((tmp_path / "sent").glob("*.eml"))) == 1


def test_cli_errors_are_one_line(tmp_path):
    b, _ = scenario(tmp_path)
    conf = str(b.config(recipients=[]))
    r = CliRunner().invoke(cli, ["digest", "--config", conf, "--date", "2023-05-15", "--send"])
    assert r.exit_code == 2 and r.output.strip().count("\n") == 0 and "[digest] recipients" in r.output
    r = CliRunner().invoke(cli, ["summary", "--config", conf, "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and ".xlsx" in r.output
    r = CliRunner().invoke(cli, ["digest", "--config", str(tmp_path / "nope.toml")])
    assert r.exit_code == 2 and "not found" in r.output


def test_summary_writes_the_workbook(tmp_path):
    b, exp = scenario(tmp_path)
    out = tmp_path / "week.xlsx"
    r = CliRunner().invoke(cli, ["summary", "--config", str(b.config()), "--out", str(out), "--send"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    assert {"情况统计表", "汇总统计表"} <= set(wb.sheetnames)
    assert b.store.db.execute("select kind, state from outbox").fetchall() == [("summary", "sent")]


def test_demo_reports(tmp_path):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config())
    got = dict(demo_reports(cfg, b.profile, b.roster, b.store))
    html = got["daily digest (HTML):"]
    assert html.name == f"digest-{DAY.isoformat()}.html" and html.parent == tmp_path / "reports"
    assert html.with_suffix(".txt").exists() and got["week workbook (xlsx):"].exists()


class RecordingTransport:
    def __init__(self):
        self.sent = []

    def send(self, raw, sender, recipients):
        self.sent.append((sender, tuple(recipients)))


class FakeService:
    """What jobs use of the Service: its roster and its transport (they deliver on their own connection)."""

    def __init__(self, cfg, b):
        self.cfg, self.roster, self.store = cfg, b.roster, b.store
        self.transport = RecordingTransport()

    @property
    def delivered(self):
        return len(self.transport.sent)


def test_add_jobs_schedules_what_config_asks(tmp_path):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config(reminders=True))
    sched = BackgroundScheduler(timezone=cfg.schedule.timezone)
    assert jobs.add_jobs(sched, cfg, b.profile, FakeService(cfg, b)) == ["digest", "reminders", "summary", "storage"]
    assert {j.id for j in sched.get_jobs()} == {"digest", "reminders", "summary", "storage"}
    cfg = configs.load(b.config(recipients=[]))
    sched = BackgroundScheduler(timezone=cfg.schedule.timezone)
    assert jobs.add_jobs(sched, cfg, b.profile, FakeService(cfg, b)) == ["storage"]     # warns and purges always


def test_jobs_queue_then_deliver_and_never_raise(tmp_path, caplog):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config(reminders=True))
    svc = FakeService(cfg, b)
    tz = b.profile.tz
    jobs.digest_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 16, 12, 30, tzinfo=tz))
    jobs.digest_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 16, 12, 31, tzinfo=tz))       # again: nothing
    jobs.digest_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 23, 12, 30, tzinfo=tz))       # week long over
    assert [r[0] for r in b.store.db.execute("select dedupe_key from outbox")] == ["digest:2023-05-15"]
    assert svc.delivered == 1
    jobs.reminder_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 16, 10, 0, tzinfo=tz))
    reminders = b.store.db.execute("select count(*) from outbox where kind = 'reminder'").fetchone()[0]
    assert reminders >= 1 and svc.delivered == 1 + reminders
    jobs.summary_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 20, 12, 30, tzinfo=tz))      # not yet
    jobs.summary_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 21, 12, 30, tzinfo=tz))
    kinds = [r[0] for r in b.store.db.execute("select kind from outbox order by id")]
    assert kinds.count("summary") == 1 and kinds.count("reminder") >= 1
    svc.roster = None                                    # a broken job logs, records, and returns
    with caplog.at_level(logging.ERROR, logger="ribao.jobs"):
        jobs.digest_job(cfg, b.profile, svc, now=dt.datetime(2023, 5, 17, 12, 30, tzinfo=tz))
    assert "digest failed" in caplog.text
    assert b.store.db.execute("select count(*) from events where level = 'error' and text like 'digest failed%'").fetchone()[0] == 1
