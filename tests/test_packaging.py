"""`pip install .` gives a working ribao: a wheel (no source tree) carries the rules, templates and
demo data, and runs `ribao check` and `ribao demo` from another folder, as ops install it."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.builders.mail import build_mail, report_text
from tests.judging.conftest import ROSTER

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_in_pyproject():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "daemon").rglob("__init__.py")}
    assert found <= declared, f"add to pyproject [tool.setuptools] packages: {sorted(found - declared)}"


def run(cmd, cwd, timeout=600):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode in (0, 1), f"{cmd}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


def test_installed_wheel_runs_from_another_folder(tmp_path):
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], cwd=tmp_path)
    wheel = next(dist.glob("ribao-*.whl"))
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=tmp_path)
    site = run([str(venv / "bin" / "python"), "-c", "import daemon; print(daemon.__file__)"], cwd=elsewhere).stdout
    assert str(ROOT) not in site and "site-packages" in site          # the wheel, not the source tree
    shipped = run([str(venv / "bin" / "python"), "-c", "from daemon.resources import data_dir; "
                   "print(sorted(p.name for p in (data_dir('templates') / 'web').glob('*.j2')))"], cwd=elsewhere).stdout
    assert "base.html.j2" in shipped and "board.html.j2" in shipped     # the staff desk's pages ship too

    mail = elsewhere / "report.eml"
    mail.write_bytes(build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(1000)))
    (elsewhere / "roster.csv").write_text(ROSTER, encoding="utf-8")
    out = run([str(venv / "bin" / "ribao"), "check", str(mail), "--json", "--roster", "roster.csv"], cwd=elsewhere)
    v = json.loads(out.stdout)
    assert v["kind"] == "report" and v["school"] == "厦门工商旅游学校" and v["report_date"] == "2023-05-15"
    out = run([str(venv / "bin" / "ribao"), "check", str(mail), "--rules", "puyang-2023"], cwd=elsewhere)
    assert "类型：报送材料" in out.stdout

    out = run([str(venv / "bin" / "ribao"), "demo", "--out", "demo-out"], cwd=elsewhere)
    assert out.returncode == 0 and "judged 38 of 38" in out.stdout
    assert "--config demo-out/config.toml" in out.stdout and "web passwd" in out.stdout     # what to try next
    assert list((elsewhere / "demo-out" / "replies").glob("*.eml"))
    assert (elsewhere / "demo-out" / "reports").is_dir() and any((elsewhere / "demo-out" / "reports").glob("digest-*.html"))
