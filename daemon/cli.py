"""`ribao`: a thin click CLI over the library. Errors are one plain line on stderr, exit 2."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from .cli_common import Fail, load_rules
from .schema import SchemaError

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
@click.argument("message", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", "rules", metavar="NAME|PATH", help="rules profile: a name in rules/ or a .toml path (default: rules/DEFAULT)")
@click.option("--roster", metavar="ROSTER.csv", help="CSV with header school,aliases,emails")
@click.option("--received", metavar="ISO-8601", help="when the message arrived (default: its Date header)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--timeout", default=300.0, show_default=True, metavar="SECONDS",
              help="time limit for judging this message")
def check(message: Path, rules, roster, received, as_json, timeout):
    """Judge one report email (.eml) against the notice's rules."""
    from .isolate import judge_isolated
    from .model import ERROR, Defect, Verdict
    when = _iso(received)
    prof, ros = load_rules(rules, roster)
    if not message.exists():
        raise Fail(f"{message}: no such file")
    try:
        with open(message, "rb") as fh:
            head = fh.read(1)
    except OSError as e:
        raise Fail(f"{message}: cannot read ({e.strerror})") from None
    if not head:
        raise Fail(f"{message}: the file is empty, not an email")
    result = judge_isolated(message, prof, ros, received=when, seconds=timeout)
    if result[0] == "ok":
        verdict = result[1]
    else:
        reason = result[1]
        if reason.startswith(("OSError", "PermissionError", "IsADirectoryError", "FileNotFoundError")):
            raise Fail(f"{message}: cannot be read ({reason})")
        verdict = Verdict(kind="report", school=None, report_date=None, late=False, materials={
            "text_chars": 0, "photos": 0, "videos": 0}, defects=[Defect(
                "message.timeout", ERROR, None,
                "邮件未能在规定时间内检查完毕（附件可能已损坏或过大），请检查附件后重新发送，或联系工作人员人工核对。")])
        click.echo(f"ribao: {message}: {reason}", err=True)
    if as_json:
        click.echo(json.dumps(verdict.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(human_summary(verdict, prof))
    sys.exit(0 if verdict.ok else 1)


def human_summary(v, prof) -> str:
    lines = [f"类型：{KIND_ZH.get(v.kind, v.kind)}"]
    if v.kind == "report":
        names = {d.id: d.name for d in prof.deliverables}
        lines.append(f"学校：{v.school or '（未能识别）'}")
        if v.deliverables:
            lines.append("材料：" + "、".join(names.get(d, d) for d in v.deliverables))
        if v.report_date:
            lines.append(f"报送日期：{v.report_date}" + ("（逾期）" if v.late else ""))
        m = v.materials
        lines.append(f"文字：{m['text_chars']}字　照片：{m['photos']}张　视频：{m['videos']}个")
        if v.defects:
            lines.append("问题：")
            for d in v.defects:
                lines.append(f"  [{SEVERITY_ZH.get(d.severity, d.severity)}] {d.code}：{d.message}")
        lines.append("结论：" + ("合格" if v.ok else "需要修改后重新报送"))
    return "\n".join(lines)


def _register_more():
    """Commands that live in their own modules (daemon, staff corrections, reports)."""
    from . import cli_reports, cli_run, cli_staff
    from .web import cli as cli_web
    for mod in (cli_run, cli_staff, cli_reports, cli_web):
        for cmd in mod.COMMANDS:
            cli.add_command(cmd)


_register_more()


def main(argv=None):
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
