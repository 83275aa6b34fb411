"""Documentation kept honest: the README's defect codes, profiles and the example config match the code."""
import re
import tomllib
from dataclasses import fields
from pathlib import Path

from daemon import config, profile

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def codes_in_code() -> set[str]:
    """Every code the package gives: the first argument of each defect(...) / Refused(...) call
    (archive.py's Refused carries the code to its one defect() call)."""
    found = set()
    for p in (ROOT / "daemon").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        found |= set(re.findall(r'\b(?:defect|Refused|_defect)\(\s*"([a-z0-9_]+\.[a-z0-9_]+)"', text))
    return found


def test_nothing_but_the_catalogue_writes_a_defect_sentence():
    """Checks and inspectors give codes and facts; no Defect(...) is built elsewhere, and no code is
    built from a name at run time (an f-string code would escape the catalogue)."""
    for p in (ROOT / "daemon").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        if p.name not in ("defects.py", "model.py"):
            assert not re.search(r"\bDefect\(", text), f"{p.relative_to(ROOT)} builds a Defect itself"
        assert not re.search(r'\b(?:defect|Refused|_defect)\(\s*f"', text), f"{p.relative_to(ROOT)} builds a code"


def test_every_defect_code_is_documented():
    documented = set(re.findall(r"^\| `([a-z0-9_]+\.[a-z0-9_]+)` \|", README, re.M))
    missing = codes_in_code() - documented
    assert not missing, f"codes used in daemon/ but not in the README table: {sorted(missing)}"
    assert {"photo.not_jpeg", "video.not_mp4", "archive.unsafe", "table.empty"} <= documented


def test_every_profile_is_in_the_readme():
    for name in profile.available():
        assert f"`{name}`" in README


def test_example_config_documents_every_key():
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    for section, cls in config.SECTIONS.items():
        keys = {"from" if f.name == "sender" else f.name for f in fields(cls)}
        assert set(data[section]) == keys, (section, keys ^ set(data[section]))


def test_example_config_loads(tmp_path):
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace('password_file = "/etc/ribao/imap-password"', 'password_file = ""')
    text = text.replace('password_file = "/etc/ribao/smtp-password"', 'password_file = ""')
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    cfg = config.load(p)
    assert cfg.mailbox.host == "imap.163.com" and cfg.smtp.sender == "xmedu_gjc@163.com"


def test_readme_opens_with_the_two_commands():
    head = README.split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "apt-get update" in ci


def _commands(group, prefix="ribao"):
    """(full command name, click command) for every command, sub-groups walked."""
    import click
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, full)
        yield full, cmd


def test_every_command_and_option_is_in_the_readme():
    """As sqlite-utils does: a command or option missing from the README's table fails here."""
    from daemon.cli import cli
    rows = {}
    for line in README.splitlines():
        m = re.match(r"^\| `(ribao [a-z][a-z -]*?)(?: [A-Z\[-].*?)?` \|", line)
        if m:
            rows[m.group(1).strip()] = line
    missing = []
    for full, cmd in _commands(cli):
        row = next((r for name, r in rows.items() if name == full), None)
        if row is None:
            missing.append(f"{full}: no row in the README's commands table")
            continue
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help",) and opt not in row:
                    missing.append(f"{full}: option {opt} not in its README row")
    assert not missing, "\n".join(missing)


def test_defect_catalogue_and_readme_table_agree_both_ways():
    from daemon.defects import CATALOGUE
    rows = {c: (sev, title) for c, sev, title in
            re.findall(r"^\| `([a-z0-9_]+\.[a-z0-9_]+)` \| (error|warning) \| ([^|]+?) \|", README, re.M)}
    assert set(rows) == set(CATALOGUE), (set(rows) ^ set(CATALOGUE))
    assert {c: (e.severity, e.title) for c, e in CATALOGUE.items()} == rows
    assert codes_in_code() == set(CATALOGUE), codes_in_code() ^ set(CATALOGUE)     # none unlisted, none dead
