"""Staff corrections: `ribao assign`, `ribao accept`, `ribao rejudge`, `ribao forget`.

Thin wrappers over daemon/corrections.py (the staff desk calls the same functions). Each is
recorded with the time and the OS user (table `corrections`).
"""
from __future__ import annotations

import click

from daemon import corrections
from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config, setup_logging


def _service(config_path):
    from daemon.service import Service
    cfg, prof, ros = open_config(config_path)
    return Service(cfg, prof, ros, recover=False), prof, ros


@click.command()
@click.argument("message_id", type=int)
@click.option("--school", required=True, help="the school's name as the roster writes it")
@click.option("--date", "day", help="the day the report covers (YYYY-MM-DD)")
@click.option("--deliverable", help="a deliverable id of the profile (daily, summary, ...)")
@config_option
def assign(message_id, school, day, deliverable, config_path):
    """Tie a message to a school (its sender is remembered), judge it again, answer once."""
    setup_logging()
    svc, _, _ = _service(config_path)
    try:
        new = corrections.assign(svc, message_id, school, day, deliverable)
    except corrections.CorrectionError as e:
        raise Fail(str(e)) from None
    finally:
        svc.close()
    click.echo(f"#{message_id} → {new['school']} {new['report_date'] or ''} {new['verdict']}")


@click.command()
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="why the report is accepted despite its defects")
@config_option
def accept(message_id, reason, config_path):
    """Accept a report despite its defects (shown as accepted by staff in the digest and workbook)."""
    from daemon.reports.digest import deliver
    from daemon.store.db import Store, _os_user
    cfg, prof, _ = open_config(config_path)
    store = Store(cfg.storage.path)
    try:
        corrections.accept(store, message_id, reason, by=_os_user(), cfg=cfg, profile=prof)
    except corrections.CorrectionError as e:
        raise Fail(str(e)) from None
    sent = deliver(cfg, store)["sent"]
    click.echo(f"#{message_id} accepted by {_os_user()}: {reason}" + ("; the school was told" if sent else ""))


@click.command()
@click.option("--date", "day", help="only reports on this day (YYYY-MM-DD)")
@config_option
def rejudge(day, config_path):
    """Judge stored messages again (after a rules file changed); answer only what changed."""
    setup_logging()
    svc, _, _ = _service(config_path)
    try:
        n = corrections.rejudge(svc, day)
    except corrections.CorrectionError as e:
        raise Fail(str(e)) from None
    finally:
        svc.close()
    click.echo(f"rejudged {n['messages']} messages: {n['changed']} verdicts changed, {n['sent']} replies sent")


@click.command()
@click.argument("address")
@config_option
def forget(address, config_path):
    """Forget an address staff tied to a school (undoes what `ribao assign` remembered)."""
    svc, _, _ = _service(config_path)
    try:
        school = corrections.forget(svc.store, svc.roster, address)
    except corrections.CorrectionError as e:
        raise Fail(str(e)) from None
    click.echo(f"{address.strip().lower()} is no longer tied to {school}: its next mail is held for staff")


COMMANDS = [assign, accept, rejudge, forget]
