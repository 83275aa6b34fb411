"""`ribao digest`, `ribao summary`, `ribao pending`: the reports for bureau staff."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import click

from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config
from daemon.store.safefs import private_dir, visible, visible_json, write_private


def _store(cfg):
    from daemon.store.db import Store
    if not Path(cfg.storage.path, "ribao.db").exists():
        raise Fail(f"no database yet in {cfg.storage.path}: run `ribao run` first")
    return Store(cfg.storage.path)


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Fail(f"--date {value!r} is not a date such as 2023-05-15") from None


def _deliver(cfg, store) -> str:
    from daemon.outgoing.mailout import SendError
    from daemon.reports.digest import deliver
    try:
        c = deliver(cfg, store)
    except SendError as e:
        raise Fail(str(e)) from None
    return f"sent {c['sent']}, failed {c['failed']}, to retry {c['retry']}"


@click.command()
@config_option
@click.option("--date", "day", metavar="YYYY-MM-DD", help="the activity day (default: the day whose deadline passed last)")
@click.option("--send", is_flag=True, help="mail it to [digest] recipients (once per day)")
@click.option("--out", "out", metavar="FILE.html", type=click.Path(dir_okay=False, path_type=Path),
              help="write a standalone HTML file (and FILE.txt) instead")
@click.option("--json", "as_json", is_flag=True, help="print the day state of every school as JSON")
@click.option("--deliverable", metavar="ID", help="with --json: a one-off deliverable instead of the daily report")
def digest(config_path, day, send, out, as_json, deliverable):
    """The daily digest for bureau staff (HTML with a plain-text alternative)."""
    from daemon.reports.day import day_json, last_due_day
    from daemon.reports.digest import build_digest, enqueue_digest
    cfg, prof, ros = open_config(config_path)
    if deliverable or as_json:
        d = prof.deliverable(deliverable) if deliverable else prof.daily
        if d is None:
            known = ", ".join(x.id for x in prof.deliverables)
            raise Fail(f"profile {prof.id} has no {'deliverable ' + repr(deliverable) if deliverable else 'daily report'}; "
                       f"its deliverables are: {known}")
        if not as_json:
            raise Fail("--deliverable goes with --json (the mailed digest is about the daily report)")
        when = _date(day) if d.is_daily else None
        if d.is_daily and when is None:
            when = last_due_day(prof, dt.datetime.now(prof.tz))
            if when is None:
                raise Fail(f"no week day's deadline has passed yet ({prof.week_start} to {prof.week_end}): give --date")
        click.echo(json.dumps(day_json(prof, ros, _store(cfg), d, when), ensure_ascii=False, indent=2))
        return
    when = _date(day) or last_due_day(prof, dt.datetime.now(prof.tz))
    if when is None:
        raise Fail(f"no week day's deadline has passed yet ({prof.week_start} to {prof.week_end}): give --date")
    if not ros.schools:
        raise Fail("the roster is empty: set [rules] roster to the schools' CSV")
    store = _store(cfg)
    if send:
        try:
            n = enqueue_digest(cfg, prof, ros, store, when)
        except ValueError as e:
            raise Fail(str(e)) from None
        click.echo(f"digest for {when}: {'queued' if n else 'already in the outbox'}; {_deliver(cfg, store)}")
        return
    d = build_digest(prof, ros, store, when)
    if out:
        try:
            private_dir(out.parent)
            write_private(out, d.standalone())
            write_private(out.with_suffix(".txt"), d.text)
        except OSError as e:
            raise Fail(f"cannot write {out} ({e.strerror or e})") from None
        click.echo(str(out))
    else:
        click.echo("\n".join(visible(line) for line in d.text.split("\n")))


@click.command()
@config_option
@click.option("--out", "out", metavar="FILE.xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the workbook (default: reports/ beside the storage folder)")
@click.option("--send", is_flag=True, help="mail the figures and the workbook to [digest] recipients (once)")
def summary(config_path, out, send):
    """The week's workbook: figures per school, each day, the merged statistics tables."""
    from daemon.reports.workbook import enqueue_summary, write_workbook
    cfg, prof, ros = open_config(config_path)
    if not ros.schools:
        raise Fail("the roster is empty: set [rules] roster to the schools' CSV")
    store = _store(cfg)
    path = out or Path(cfg.storage.path).parent / "reports" / f"{prof.id}-week.xlsx"
    if path.suffix.lower() != ".xlsx":
        raise Fail(f"--out {path}: the workbook is written as .xlsx")
    try:
        private_dir(path.parent)
        fig = write_workbook(prof, ros, store, path)
        os.chmod(path, 0o600)            # also when it existed before, written under another umask
    except OSError as e:
        raise Fail(f"cannot write {path} ({e.strerror or e})") from None
    t = fig["totals"]
    click.echo(f"{path}: {len(fig['per_school'])} schools; on time {t.get('on_time', 0)}, late {t.get('late', 0)}, "
               f"missing {t.get('missing', 0)} school-days")
    if send:
        try:
            n = enqueue_summary(cfg, prof, ros, store)
        except ValueError as e:
            raise Fail(str(e)) from None
        click.echo(f"summary: {'queued' if n else 'already in the outbox'}; {_deliver(cfg, store)}")


@click.command()
@config_option
@click.option("--deliverable", metavar="ID", help="a deliverable id from the rules (default: the daily report)")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="daily report: the activity day (default: the one due next)")
@click.option("--json", "as_json", is_flag=True)
def pending(config_path, deliverable, day, as_json):
    """未提交名单: roster schools that have not yet sent it, and the last mail seen from each."""
    from daemon.reports.digest import short
    from daemon.reports.pending import PendingError
    from daemon.reports.pending import pending as find
    cfg, prof, ros = open_config(config_path)
    store = _store(cfg)
    try:
        out = find(prof, ros, store, deliverable, _date(day))
    except PendingError as e:
        raise Fail(str(e)) from None
    if as_json:
        click.echo(visible_json(json.dumps(out, ensure_ascii=False, indent=2)))
        return
    what = out["name"] + (f"（{out['date']}）" if out["date"] else "")
    click.echo(f"{what}，截止 {out['due_zh'] or '（无）'}：{len(out['missing'])}/{out['roster']}所学校尚未报送")
    for m in out["missing"]:
        seen = (f"最近来信 {m['last_seen'][:16].replace('T', ' ')}「{visible(short(m['last_subject'], 60))}」"
                if m["last_seen"] else "从未来信")
        click.echo(f"  {visible(short(m['school'], 60))}　{seen}")


COMMANDS = [digest, summary, pending]
