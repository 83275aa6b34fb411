"""Staff corrections: `ribao assign`, `ribao accept`, `ribao rejudge`.

Each is recorded with the time and the OS user (table `corrections`). A correction never makes a
school get the same answer twice: replies are keyed by their content (see replies.content_key).
"""
from __future__ import annotations

import datetime as dt
import json

import click

from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config, setup_logging


def _service(config_path):
    from daemon.service import Service
    cfg, prof, ros = open_config(config_path)
    return Service(cfg, prof, ros), prof, ros


def _message(svc, ident: int) -> dict:
    row = svc.store.get(ident)
    if row is None:
        raise Fail(f"no message #{ident}: `ribao status` lists message numbers")
    return row


@click.command()
@click.argument("message_id", type=int)
@click.option("--school", required=True, help="the school's name as the roster writes it")
@click.option("--date", "day", help="the day the report covers (YYYY-MM-DD)")
@click.option("--deliverable", help="a deliverable id of the profile (daily, summary, ...)")
@config_option
def assign(message_id, school, day, deliverable, config_path):
    """Tie a message to a school (its sender is remembered), judge it again, answer once."""
    setup_logging()
    svc, prof, ros = _service(config_path)
    row = _message(svc, message_id)
    if not row.get("raw_path"):
        raise Fail(f"message #{message_id} was purged (`ribao purge`): its mail is gone, it can't be judged again")
    if ros.get(school) is None:
        raise Fail(f"{school!r} is not on the roster; names: {', '.join(ros.names[:10])}…")
    over = {"school": school}
    if day:
        try:
            over["date"] = dt.date.fromisoformat(day)
        except ValueError:
            raise Fail(f"--date {day!r} is not a date such as 2023-05-15") from None
    if deliverable:
        if prof.deliverable(deliverable) is None:
            raise Fail(f"--deliverable {deliverable!r} unknown; this profile has {', '.join(d.id for d in prof.deliverables)}")
        over["deliverable"] = deliverable
    if row.get("sender"):
        svc.store.remember_email(row["sender"], school)
        svc.roster.extra_emails[row["sender"]] = school
    svc.store.correction("assign", message_id, {"school": school, "date": day, "deliverable": deliverable})
    svc.store.db["messages"].update(message_id, {"overrides": json.dumps({"school": school, "date": day,
                                                                           "deliverable": deliverable})})
    svc.judge(message_id, overrides=over)
    svc.finish(message_id)
    svc.deliver()
    svc.close()
    new = svc.store.get(message_id)
    click.echo(f"#{message_id} → {new['school']} {new['report_date'] or ''} {new['verdict']}")


@click.command()
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="why the report is accepted despite its defects")
@config_option
def accept(message_id, reason, config_path):
    """Accept a report despite its defects (shown as accepted by staff in the digest and workbook)."""
    from daemon.store.db import _os_user, now_iso
    svc, _, _ = _service(config_path)
    _message(svc, message_id)
    svc.store.db["messages"].update(message_id, {"accepted_by": _os_user(), "accepted_reason": reason,
                                                 "accepted_at": now_iso()})
    svc.store.correction("accept", message_id, {"reason": reason})
    click.echo(f"#{message_id} accepted by {_os_user()}: {reason}")


@click.command()
@click.option("--date", "day", help="only reports on this day (YYYY-MM-DD)")
@config_option
def rejudge(day, config_path):
    """Judge stored messages again (after a rules file changed); answer only what changed."""
    setup_logging()
    svc, _, _ = _service(config_path)
    where, args = "state in ('done','judged') and kind = 'report' and raw_path is not null", []   # not purged
    if day:
        where += " and report_date = ?"
        args.append(day)
    rows = list(svc.store.db["messages"].rows_where(where, args, order_by="id"))
    changed = 0
    for row in rows:
        before = (row["verdict"], sorted(d["code"] for d in svc.store.defects_of(row["id"])))
        over = None
        if row.get("overrides"):
            saved = json.loads(row["overrides"])
            over = {k: v for k, v in saved.items() if v}
            if over.get("date"):
                over["date"] = dt.date.fromisoformat(over["date"])
        svc.judge(row["id"], overrides=over)
        svc.store.set_state(row["id"], "done")
        after_row = svc.store.get(row["id"])
        after = (after_row["verdict"], sorted(d["code"] for d in svc.store.defects_of(row["id"])))
        changed += before != after
    svc.store.correction("rejudge", None, {"date": day, "messages": len(rows), "changed": changed})
    counts = svc.deliver()
    svc.close()
    click.echo(f"rejudged {len(rows)} messages: {changed} verdicts changed, {counts['sent']} replies sent")


@click.command()
@click.argument("address")
@config_option
def forget(address, config_path):
    """Forget an address staff tied to a school (undoes what `ribao assign` remembered)."""
    svc, _, _ = _service(config_path)
    school = svc.store.forget_email(address)
    if school is None:
        known = ", ".join(sorted(svc.store.school_emails())[:10]) or "none"
        raise Fail(f"{address!r} is not a remembered address (remembered: {known}); "
                   "roster addresses are changed in the roster file")
    svc.roster.extra_emails.pop(address.strip().lower(), None)
    svc.store.correction("forget", None, {"email": address.strip().lower(), "school": school})
    click.echo(f"{address.strip().lower()} is no longer tied to {school}: its next mail is held for staff")


COMMANDS = [assign, accept, rejudge, forget]
