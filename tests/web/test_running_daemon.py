"""A daemon that keeps running sees what staff change meanwhile (at the desk or with `ribao assign` /
`ribao forget`): an address tied to a school counts from the next cycle on, a forgotten one no longer."""
from __future__ import annotations

import datetime as dt

from tests.builders.config import write_config
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.daemon.conftest import ribao, service


def test_a_running_service_picks_up_assign_and_forget(tmp_path):
    md = new_maildir(tmp_path / "md")
    cfg = write_config(tmp_path / "c", maildir=md)
    svc = service(cfg)                                        # started once, like `ribao run`
    at = dt.datetime(2023, 5, 15, 9, 0, tzinfo=TZ)
    drop(md, build_mail(subject="厦门信息学校一日一报5月14日", sender="teacher.wang@163.com", date=at,
                        body=report_text(1000)), at)
    svc.poll_once()
    first = svc.store.db.execute("select id, school_how from messages").fetchone()
    assert first[1] == "subject"                               # held: the address is unknown
    assert ribao("assign", str(first[0]), "--school", "厦门信息学校", "--config", str(cfg)).returncode == 0

    drop(md, build_mail(subject="一日一报5月15日", sender="teacher.wang@163.com", date=at + dt.timedelta(days=1),
                        body=report_text(1000, school="本校")), at + dt.timedelta(days=1))
    svc.poll_once()
    assert svc.store.db.execute("select school, school_how from messages order by id desc").fetchone() == (
        "厦门信息学校", "sender")

    assert ribao("forget", "teacher.wang@163.com", "--config", str(cfg)).returncode == 0
    drop(md, build_mail(subject="厦门信息学校一日一报5月16日", sender="teacher.wang@163.com", date=at + dt.timedelta(days=2),
                        body=report_text(1000)), at + dt.timedelta(days=2))
    svc.poll_once()
    svc.close()
    assert svc.store.db.execute("select school_how from messages order by id desc").fetchone()[0] == "subject"
