"""`ribao`: a thin click CLI over the library. Errors are one plain line on stderr, exit 2."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from daemon.cli.common import Fail, load_rules
from daemon.store.safefs import visible, visible_json
from daemon.store.schema import SchemaError

SEVERITY_ZH = {"error": "错误", "warning": "提醒"}
KIND_ZH = {"report": "报送材料", "auto": "自动回复/退信（不处理）", "other": "与报送无关的邮件"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ribao")
def cli():
    """ribao: judge schools' daily reports (一日一报) against the bureau's notice."""


def _iso(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Fail(f"--received {value!r} is not an ISO-8601 time such as 2023-05-15T10:30:00+08:00") from None


@cli.command()
@click.argument("messages", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", "rules", metavar="NAME|PATH", help="rules profile: a name in rules/ or a .toml path (default: rules/DEFAULT)")
@click.option("--roster", metavar="ROSTER.csv", help="CSV with header school,aliases,emails")
@click.option("--received", metavar="ISO-8601", help="when the message arrived (default: its Date header; one file only)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (one line per mail for several)")
@click.option("--timeout", type=float, default=60.0, show_default=True, metavar="SECONDS",
              help="time budget for each whole message, as [limits] message_seconds (each file: 20 s)")
def check(messages: tuple[Path, ...], rules, roster, received, as_json, timeout):
    """Judge report emails (.eml) against the notice's rules; several are judged in order as one
    mailbox would receive them, each with the school's day after it."""
    if received and len(messages) > 1:
        raise Fail("--received goes with one file; several are each received at their Date header")
    when = _iso(received)
    prof, ros = load_rules(rules, roster)
    for message in messages:
        _readable(message)
    if len(messages) == 1:
        verdict = _judge_one(messages[0], prof, ros, when, timeout)
        if as_json:
            click.echo(visible_json(json.dumps(verdict.as_json(), ensure_ascii=False, indent=2)))
        else:
            click.echo(human_summary(verdict, prof))
        sys.exit(0 if verdict.ok else 1)
    from daemon.reports.checkday import CheckDay
    ok = True
    with CheckDay(prof) as days:
        for i, message in enumerate(messages, start=1):
            verdict = _judge_one(message, prof, ros, None, timeout)
            ok = ok and verdict.ok
            day = days.add(i, message, verdict)
            if as_json:
                click.echo(visible_json(json.dumps({**verdict.as_json(), "day": day}, ensure_ascii=False,
                                                  separators=(",", ":"))))
            else:
                click.echo(f"== {i}. {visible(message.name)}")
                click.echo(human_summary(verdict, prof))
                if day:
                    click.echo(day_summary(day))
    sys.exit(0 if ok else 1)


def _readable(message: Path) -> None:
    if not message.exists():
        raise Fail(f"{message}: no such file")
    try:
        with open(message, "rb") as fh:
            head = fh.read(1)
    except OSError as e:
        raise Fail(f"{message}: cannot read ({e.strerror})") from None
    if not head:
        raise Fail(f"{message}: the file is empty, not an email")


def _judge_one(message: Path, prof, ros, when, timeout):
    from daemon.judging.inspect import Limits
    from daemon.judging.isolate import judge_isolated
    limits = Limits(message_seconds=max(0.0, timeout), file_seconds=min(Limits.file_seconds, max(0.0, timeout)))
    result = judge_isolated(message, prof, ros, received=when, limits=limits)
    if result[0] == "ok":
        return result[1]
    # judging as a whole failed (a crash, a kill): no verdict to print. The daemon quarantines
    # such a mail with this reason; it is never passed off as message.timeout.
    reason = result[1]
    if reason.startswith(("OSError", "PermissionError", "IsADirectoryError", "FileNotFoundError")):
        raise Fail(f"{visible(message)}: cannot be read ({visible(reason)})")
    raise Fail(f"{visible(message)}: could not be judged ({visible(reason)}); the daemon would quarantine it for staff")


STATUS_ZH = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "not_due": "未到截止", "accepted": "人工认可"}


def day_summary(day: dict) -> str:
    lines = [f"当日合计：{STATUS_ZH.get(day['status'], day['status'])}，文字{day['text_chars']}字，"
             f"照片{day['photos']}张，视频{day['videos']}个（第{'、'.join(map(str, day['messages']))}封）"]
    if day["open_defects"]:
        lines.append("  仍需修改：" + "、".join(day["open_defects"]))
    if day["fixed_defects"]:
        lines.append("  已改正：" + "、".join(day["fixed_defects"]))
    return "\n".join(lines)


def human_summary(v, prof) -> str:
    """The verdict for a person at a terminal; every value shown with `visible` (names, subjects and
    messages quote what the sender wrote, escape sequences included)."""
    lines = [f"类型：{visible(KIND_ZH.get(v.kind, v.kind))}"]
    if v.kind == "report":
        names = {d.id: d.name for d in prof.deliverables}
        lines.append(f"学校：{visible(v.school) or '（未能识别）'}")
        if v.deliverables:
            lines.append("材料：" + "、".join(visible(names.get(d, d)) for d in v.deliverables))
        if v.report_date:
            lines.append(f"报送日期：{visible(v.report_date)}" + ("（逾期）" if v.late else ""))
        m = v.materials
        lines.append(f"文字：{m['text_chars']}字　照片：{m['photos']}张　视频：{m['videos']}个")
        if v.defects:
            lines.append("问题：")
            for d in v.defects:
                lines.append(f"  [{visible(SEVERITY_ZH.get(d.severity, d.severity))}] {visible(d.code)}："
                             f"{visible(d.message)}")
        lines.append("结论：" + ("合格" if v.ok else "需要修改后重新报送"))
    return "\n".join(lines)


def _register_more():
    """Commands that live in their own modules (daemon, staff corrections, reports)."""
    from daemon.cli import reports as cli_reports
    from daemon.cli import run as cli_run
    from daemon.cli import staff as cli_staff
    from daemon.cli import storage as cli_storage
    from daemon.web import cli as cli_web
    for mod in (cli_run, cli_staff, cli_reports, cli_storage, cli_web):
        for cmd in mod.COMMANDS:
            cli.add_command(cmd)


_register_more()


def main(argv=None):
    os.umask(0o077)      # what ribao writes (database, mail, replies, reports) is for staff only
    try:
        rv = cli.main(args=argv, prog_name="ribao", standalone_mode=False)
    except click.UsageError as e:
        click.echo(f"ribao: {e.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("ribao: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except SchemaError as e:        # a database from a newer release: say so, don't touch it
        click.echo(f"ribao: {e}", err=True)
        sys.exit(2)
    except Exception as e:          # a bug of ours: still one line, with where to look
        if os.environ.get("RIBAO_DEBUG"):
            raise
        click.echo(f"ribao: internal error: {type(e).__name__}: {e} (set RIBAO_DEBUG=1 for the traceback)", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
