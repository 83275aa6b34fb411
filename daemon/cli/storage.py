"""`ribao export` and `ribao purge`: hand the week to the bureau's archive, then let it go."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config, setup_logging


def _store(cfg):
    from daemon.store.db import Store
    if not Path(cfg.storage.path, "ribao.db").exists():
        raise Fail(f"no database yet in {cfg.storage.path}: run `ribao run` first")
    return Store(cfg.storage.path)


def _date(flag: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Fail(f"{flag} {value!r} is not a date such as 2023-05-15") from None


@click.command()
@config_option
@click.option("--week", is_flag=True, help="every day of the week and every one-off deliverable (the default)")
@click.option("--date", "day", metavar="YYYY-MM-DD", help="one day's daily reports")
@click.option("--deliverable", metavar="ID", help="one deliverable (daily = every day)")
@click.option("--out", "out", required=True, metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path),
              help="the zip to write (mode 0600)")
def export(config_path, week, day, deliverable, out):
    """The bureau's archive: materials by day and school, digests, the workbook and a manifest."""
    from daemon.storage.export import write_export
    if sum(bool(x) for x in (week, day, deliverable)) > 1:
        raise Fail("give one of --week, --date D or --deliverable ID")
    if out.suffix.lower() != ".zip":
        raise Fail(f"--out {out}: the archive is written as .zip")
    cfg, prof, ros = open_config(config_path)
    store = _store(cfg)
    one_offs = [d.id for d in prof.deliverables if not d.is_daily]
    if day:
        days, dels = [_date("--date", day)], []
        if not prof.week_start <= days[0] <= prof.week_end:
            raise Fail(f"--date {day}: not a day of the week {prof.week_start} to {prof.week_end}")
    elif deliverable:
        d = prof.deliverable(deliverable)
        if d is None:
            raise Fail(f"--deliverable {deliverable!r} unknown; this profile has {', '.join(x.id for x in prof.deliverables)}")
        days, dels = (prof.week_days(), []) if d.is_daily else ([], [d.id])
    else:
        days, dels = (prof.week_days() if prof.daily else []), one_offs
    try:
        res = write_export(prof, ros, store, out, days=days, deliverables=dels)
    except OSError as e:
        raise Fail(f"cannot write {out} ({e.strerror or e})") from None
    click.echo(f"{res['path']}: {res['files']} files, {res['bytes']:,} bytes")


@click.command()
@config_option
@click.option("--before", "before", required=True, metavar="YYYY-MM-DD",
              help="delete the raw mail, attachments and thumbnails of days before this one")
def purge(config_path, before):
    """Delete raw mail, attachments and thumbnails of past days; verdicts and figures stay."""
    from daemon.storage.purge import PurgeRefused
    from daemon.storage.purge import purge as run_purge
    from daemon.storage.usage import human
    setup_logging()
    when = _date("--before", before)
    cfg, _, _ = open_config(config_path)
    store = _store(cfg)
    try:
        t = run_purge(store, when)
    except PurgeRefused as e:
        raise Fail(f"purge refused: {e}") from None
    if not t["messages"]:
        click.echo(f"nothing to purge before {when}")
        return
    click.echo(f"purged {t['messages']} messages before {when}: {t.get('raw_files', 0)} raw mails, "
               f"{t.get('attachments_files', 0)} attachments, {t.get('blobs_files', 0)} blobs, "
               f"{t.get('thumbnails_files', 0)} thumbnails; {human(t['freed_bytes'])} freed")


COMMANDS = [export, purge]
