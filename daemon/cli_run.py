"""`ribao run` and `ribao status`: the service and a look at how it is doing."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from .cli_common import Fail, load_rules
from .config import ConfigError, load as load_config

DEFAULT_CONFIG = "/etc/ribao/config.toml"
_SD_LEVEL = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    """`<3>ribao: …` lines: journald reads the level from the prefix."""

    def format(self, record):
        return f"<{_SD_LEVEL.get(record.levelno, 6)}>{record.name}: {record.getMessage()}"


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        handler.setFormatter(_JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("imapclient").setLevel(logging.WARNING)


def open_config(path: str | None):
    p = path or os.environ.get("RIBAO_CONFIG") or DEFAULT_CONFIG
    try:
        cfg = load_config(p)
    except ConfigError as e:
        raise Fail(str(e)) from None
    prof, ros = load_rules(None, None, cfg)
    ros.authserv_id = cfg.mailbox.authserv_id
    return cfg, prof, ros


config_option = click.option("--config", "config_path", metavar="FILE",
                              help=f"config file (default $RIBAO_CONFIG or {DEFAULT_CONFIG})")


@click.command()
@config_option
@click.option("--once", is_flag=True, help="one poll cycle, then exit (cron-style use and tests)")
@click.option("-v", "--verbose", is_flag=True)
def run(config_path, once, verbose):
    """Poll the mailbox, judge, file and answer every report (the service)."""
    from .mailbox import MailboxError
    setup_logging(verbose)
    cfg, prof, ros = open_config(config_path)
    if once:
        from .service import Service
        svc = Service(cfg, prof, ros)
        try:
            counts = svc.poll_once()
        except MailboxError as e:
            raise Fail(str(e)) from None
        finally:
            svc.close()
        sent = svc.store.db.execute("select count(*) from outbox where state = 'sent'").fetchone()[0]
        click.echo(f"ribao: {counts['new']} new, {counts['judged']} judged, {counts['quarantined']} quarantined, "
                   f"{counts['duplicates']} duplicates; {sent} replies sent in all", err=True)
        return
    from .runner import Runner
    Runner(cfg, prof, ros).run_forever()


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True)
def status(config_path, as_json):
    """The last poll, messages by state, the outbox and the last error."""
    from .store import Store
    cfg, prof, _ = open_config(config_path)
    if not Path(cfg.storage.path, "ribao.db").exists():
        raise Fail(f"no database yet in {cfg.storage.path}: run `ribao run` first")
    store = Store(cfg.storage.path)
    mb = store.mailbox_state(cfg.mailbox.folder)
    out = {
        "profile": prof.id,
        "mailbox": {"folder": cfg.mailbox.folder, "last_poll": mb.get("last_poll"),
                    "uidvalidity": mb.get("uidvalidity"), "last_uid": mb.get("last_uid"),
                    "last_error": mb.get("last_error"), "last_error_at": mb.get("last_error_at")},
        "messages": store.counts(),
        "outbox": dict(store.db.execute("select state, count(*) from outbox group by state").fetchall()),
        "last_error": None,
        "recent": [],
        "held": [{k: r[k] for k in ("id", "received", "sender", "school")} for r in store.held()],
    }
    ev = store.db.execute("select at, text from events where level = 'error' order by id desc limit 1").fetchone()
    if ev:
        out["last_error"] = {"at": ev[0], "text": ev[1]}
    for r in store.db.execute("select id, received, school, report_date, kind, verdict, state from messages "
                              "order by id desc limit 10").fetchall():
        out["recent"].append(dict(zip(("id", "received", "school", "report_date", "kind", "verdict", "state"), r)))
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"规则：{prof.id}")
    click.echo(f"最近一次收信：{mb.get('last_poll') or '（尚未）'}　文件夹：{cfg.mailbox.folder}")
    click.echo("邮件状态：" + ("，".join(f"{k} {v}" for k, v in out["messages"].items()) or "（无）"))
    click.echo("发件箱：" + ("，".join(f"{k} {v}" for k, v in out["outbox"].items()) or "（空）"))
    if mb.get("last_error"):
        click.echo(f"邮箱错误：{mb['last_error']}（{mb.get('last_error_at')}）")
    if out["last_error"]:
        click.echo(f"最近错误：{out['last_error']['text']}（{out['last_error']['at']}）")
    if out["held"]:
        click.echo(f"待确认（学校名称对、发件邮箱未登记，`ribao assign 编号 --school 学校` 确认）：{len(out['held'])} 封")
        for r in out["held"]:
            click.echo(f"  #{r['id']} {(r['received'] or '')[:16]} {r['school']} ← {r['sender'] or '-'}")
    if out["recent"]:
        click.echo("最近的邮件（编号 收到时间 学校 日期 类型 结论 状态）：")
        for r in out["recent"]:
            click.echo(f"  #{r['id']} {(r['received'] or '')[:16]} {r['school'] or '-'} {r['report_date'] or '-'} "
                       f"{r['kind'] or '-'} {r['verdict'] or '-'} {r['state']}")


COMMANDS = [run, status]


@click.command()
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder for the demo mailbox, replies, database and reports")
@click.option("--fresh/--keep", default=True, help="start from an empty folder (default) or keep what is there")
def demo(out_dir: Path, fresh: bool):
    """Run the whole daemon on a seeded demo mailbox (no mail server needed)."""
    import shutil

    from .demo import seed
    from .service import Service
    setup_logging(False)
    logging.getLogger("ribao").setLevel(logging.WARNING)
    if fresh and out_dir.exists():
        shutil.rmtree(out_dir)
    click.echo(f"ribao demo: seeding a week of submissions into {out_dir}/maildir …")
    info = seed(out_dir)
    cfg, prof, ros = open_config(str(info["config"]))
    svc = Service(cfg, prof, ros)
    counts = svc.poll_once()
    svc.close()
    store = svc.store
    click.echo(f"judged {counts['judged']} of {counts['new']} messages "
               f"({counts['quarantined']} quarantined, {counts['duplicates']} duplicates)")
    for state, n in store.counts().items():
        click.echo(f"  {state}: {n}")
    outbox = dict(store.db.execute("select state, count(*) from outbox group by state").fetchall())
    click.echo("replies: " + ", ".join(f"{k} {v}" for k, v in outbox.items()))
    click.echo("")
    click.echo(f"replies to schools (.eml):  {Path(cfg.smtp.path)}")
    click.echo(f"database (SQLite):          {Path(cfg.storage.path) / 'ribao.db'}")
    click.echo(f"attachments by day/school:  {Path(cfg.storage.path) / 'attachments'}")
    click.echo(f"filed mail (Maildir++):     {Path(cfg.mailbox.path)}")
    try:
        from .reports import demo_reports
    except ImportError:
        return
    for label, path in demo_reports(cfg, prof, ros, store):
        click.echo(f"{label:<27} {path}")
    _demo_next_steps(info["config"], store)


def _demo_next_steps(config: Path, store) -> None:
    """What to try next: every other command needs this demo's config, or the staff desk's address."""
    bad = store.db.execute("select report_date from submissions where deliverable = 'daily' and ok = 0 and "
                           "superseded_by is null and report_date is not null order by report_date limit 1").fetchone()
    c = f"--config {config}"
    me = sys.argv[0] if Path(sys.argv[0]).name == "ribao" else "ribao"     # .venv/bin/ribao after make demo
    click.echo("")
    click.echo(f"every other command takes {c}, for example:")
    click.echo(f"  {me} status {c}")
    if bad:
        click.echo(f"  {me} digest --date {bad[0]} --out day.html {c}   # a day with defects to fix")
        click.echo(f"  {me} pending --date {bad[0]} {c}")
    click.echo("or look at it in a browser (the staff desk):")
    click.echo(f"  {me} web passwd admin --role editor {c}")
    click.echo(f"  {me} web {c}   # then open http://127.0.0.1:8080/")


COMMANDS.append(demo)
