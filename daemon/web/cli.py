"""`ribao web [--config FILE] [--listen HOST:PORT]` and `ribao web passwd NAME [--role viewer|editor]
[--disable] [--config FILE]`."""
from __future__ import annotations

import getpass
import sys

import click

# the CLI layer only: the desk itself (lib.py and all it imports) loads when `ribao web` runs
from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config, setup_logging


@click.group(invoke_without_command=True)
@config_option
@click.option("--listen", metavar="HOST:PORT", help="address to listen on (default [web] listen, 127.0.0.1:8080; [::1]:PORT accepted)")
@click.pass_context
def web(ctx, config_path, listen):
    """The staff desk: the week's reports in a browser, with corrections (see `ribao web passwd`)."""
    if ctx.invoked_subcommand is not None:
        return
    from daemon.web.app import create_app, parse_listen, serve
    from daemon.web.lib import Store, accounts
    setup_logging()
    cfg, prof, ros = open_config(config_path)
    try:
        host, port = parse_listen(listen or cfg.web.listen)
    except ValueError as e:
        raise Fail(str(e) if listen else str(e).replace("--listen", "[web] listen", 1)) from None
    app = create_app(cfg, prof, ros)
    if not accounts.any_enabled(Store(cfg.storage.path).db):
        click.echo("ribao web: no account yet; make one with `ribao web passwd NAME --role editor`", err=True)
    try:
        serve(app, host, port)
    except OSError as e:
        raise Fail(f"cannot listen on {host}:{port} ({e.strerror or e}): choose another --listen") from None


def _read_password(name: str) -> str:
    if sys.stdin.isatty():
        # getpass writes the prompt once echo is off (and typed-ahead input flushed): nothing shows
        first = getpass.getpass(f"{name} 的新密码：")
        if not first:
            raise Fail("empty password refused")
        if getpass.getpass("再输入一次：") != first:
            raise Fail("the two passwords differ; nothing changed")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@web.command()
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "editor"]), help="new accounts are viewers unless this says otherwise")
@click.option("--disable", is_flag=True, help="lock the account (and end its sessions); a new password unlocks it")
@config_option
def passwd(name, role, disable, config_path):
    """Set a desk account's password (asked twice on a terminal, else one line from standard input)."""
    from daemon.web import auth
    from daemon.web.lib import Store
    cfg, _, _ = open_config(config_path)
    db = Store(cfg.storage.path).db
    try:
        name = auth.check_name(name)
        password = None if disable else _read_password(name)
        if not disable and not password:
            raise Fail("empty password refused")
        out = auth.set_password(db, name, password, role=role, disable=disable)
    except auth.AuthError as e:
        raise Fail(str(e)) from None
    if disable:
        click.echo(f"{out['name']}: disabled ({out['role']}); its sessions are ended")
        return
    if len(password) < 10:
        click.echo("ribao web: that password is short; 10 characters or more are safer", err=True)
    click.echo(f"{out['name']}: {'created' if out['created'] else 'password changed'} ({out['role']})")


COMMANDS = [web]
