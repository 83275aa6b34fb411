"""What every command module shares: the one-line failure and loading the rules.

Kept apart from cli.py so a command module can be imported on its own (cli.py imports them all)."""
from __future__ import annotations

import click

from daemon import profile as profiles
from daemon.judging import roster as rosters


class Fail(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"ribao: {self.message}", err=True)


def load_rules(rules: str | None, roster: str | None, cfg=None):
    try:
        prof = profiles.load(rules or (cfg.rules.profile if cfg else "") or profiles.default_name())
        ros = rosters.load(roster or (cfg.rules.roster if cfg else None))
    except (profiles.ProfileError, rosters.RosterError) as e:
        raise Fail(str(e)) from None
    return prof, ros
