"""`ribao run` and `ribao status`: the service and a look at how it is doing."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from daemon.cli.common import Fail, load_rules
from daemon.config import ConfigError
from daemon.config import load as load_config
from daemon.store.safefs import visible, visible_json

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
    from daemon.intake import MailboxError
    setup_logging(verbose)
    cfg, prof, ros = open_config(config_path)
    if once:
        from daemon.service import Service
        from daemon.store import outbox_rows
        svc = Service(cfg, prof, ros)
        try:
            counts = svc.poll_once()
        except MailboxError as e:
            raise Fail(str(e)) from None
        finally:
            svc.close()
        sent = outbox_rows.sent_count(svc.store)
        waiting = f", {counts['waiting']} waiting for disk space" if counts.get("waiting") else ""
        click.echo(f"ribao: {counts['new']} new, {counts['judged']} judged, {counts['quarantined']} quarantined, "
                   f"{counts['duplicates']} duplicates{waiting}; {sent} replies sent in all", err=True)
        return
    from daemon.runner import Runner
    Runner(cfg, prof, ros).run_forever()


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True)
def status(config_path, as_json):
    """The last poll, messages by state, the outbox and the last error."""
    from daemon.reports.status import KIND_ZH, OUTBOX_ZH, STATE_ZH, VERDICT_ZH, counts_zh, local
    from daemon.reports.status import status as gather
    from daemon.storage.usage import status_lines
    from daemon.store.db import Store
    cfg, prof, _ = open_config(config_path)
    if not Path(cfg.storage.path, "ribao.db").exists():
        raise Fail(f"no database yet in {cfg.storage.path}: run `ribao run` first")
    out = gather(cfg, prof, Store(cfg.storage.path))
    if as_json:
        click.echo(visible_json(json.dumps(out, ensure_ascii=False, indent=2)))
        return
    tz, mb = prof.tz, out["mailbox"]
    click.echo(f"规则：{prof.id}")
    click.echo(f"最近一次收信：{local(mb['last_poll'], tz) if mb['last_poll'] else '（尚未）'}　文件夹：{cfg.mailbox.folder}")
    if cfg.mailbox.kind == "imap":
        click.echo("新邮件提醒（IMAP IDLE）：" + _idle_words(mb["idle"], cfg))
    click.echo("邮件状态：" + (counts_zh(out["messages"], STATE_ZH) or "（无）"))
    click.echo("发件箱：" + (counts_zh(out["outbox"], OUTBOX_ZH) or "（空）"))
    for line in status_lines(out["storage"]):
        click.echo(line)
    if mb.get("last_error"):
        click.echo(f"邮箱错误：{visible(mb['last_error'])}（{local(mb.get('last_error_at'), tz)}）")
    if out["last_error"]:
        click.echo(f"最近错误：{visible(out['last_error']['text'])}（{local(out['last_error']['at'], tz)}）")
    if out["held"]:
        click.echo(f"待确认（学校名称对、发件邮箱未登记，`ribao assign 编号 --school 学校` 确认）：{len(out['held'])} 封")
        for r in out["held"]:
            click.echo(f"  #{r['id']} {local(r['received'], tz)} {visible(r['school'])} ← {visible(r['sender'] or '—')}")
    if out["recent"]:
        click.echo("最近的邮件（编号 收到时间 学校 日期 类型 结论 状态）：")
        for r in out["recent"]:
            click.echo(f"  #{r['id']} {local(r['received'], tz)} {visible(r['school'] or '—')} {r['report_date'] or '—'} "
                       f"{KIND_ZH.get(r['kind'], r['kind'] or '—')} {VERDICT_ZH.get(r['verdict'], r['verdict'] or '—')} "
                       f"{STATE_ZH.get(r['state'], r['state'])}")


def _idle_words(idle: bool | None, cfg) -> str:
    every = cfg.schedule.poll_seconds
    if idle:
        return "已开启，新邮件几秒内处理"
    if idle is None:
        return f"未知（服务未运行或正在连接），每 {every} 秒收信一次"
    why = "配置中已关闭（[mailbox] idle = false）" if not cfg.mailbox.idle else "邮件服务器不支持"
    return f"{why}，改为每 {every} 秒收信一次"


COMMANDS = [run, status]


@click.command()
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="folder for the demo mailbox, replies, database and reports")
@click.option("--fresh/--keep", default=True, help="start from an empty folder (default) or keep what is there")
def demo(out_dir: Path, fresh: bool):
    """Run the whole daemon on a seeded demo mailbox (no mail server needed)."""
    import shutil

    from daemon.demo import seed
    from daemon.service import Service
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
    from daemon.store.reads import outbox_counts
    click.echo("replies: " + ", ".join(f"{k} {v}" for k, v in outbox_counts(store).items()))
    click.echo("")
    click.echo(f"replies to schools (.eml):  {Path(cfg.smtp.path)}")
    click.echo(f"database (SQLite):          {Path(cfg.storage.path) / 'ribao.db'}")
    click.echo(f"attachments by day/school:  {Path(cfg.storage.path) / 'attachments'}")
    click.echo(f"filed mail (Maildir++):     {Path(cfg.mailbox.path)}")
    from daemon.reports import demo_reports, first_day_to_fix
    for label, path in demo_reports(cfg, prof, ros, store):
        click.echo(f"{label:<27} {path}")
    _demo_next_steps(info["config"], first_day_to_fix(prof, ros, store))


def _demo_next_steps(config: Path, day: str | None) -> None:
    """What to try next: every other command needs this demo's config, or the staff desk's address."""
    c = f"--config {config}"
    me = sys.argv[0] if Path(sys.argv[0]).name == "ribao" else "ribao"     # .venv/bin/ribao after make demo
    click.echo("")
    click.echo(f"every other command takes {c} (or set RIBAO_CONFIG={config}), for example:")
    click.echo(f"  {me} status {c}")
    if day:
        click.echo(f"  {me} digest --date {day} --out day.html {c}   # a day with defects to fix")
        click.echo(f"  {me} digest --date {day} --json {c}")
        click.echo(f"  {me} pending --date {day} {c}")
    click.echo("or look at it in a browser (the staff desk):")
    click.echo(f"  {me} web passwd admin --role editor {c}")
    click.echo(f"  {me} web {c}   # then open http://127.0.0.1:8080/")


COMMANDS.append(demo)
