"""`ribao check` as a person or a script runs it: exit codes, JSON, the Chinese summary, errors."""
import json
import subprocess
import sys

from tests.builders.mail import build_mail, report_text
from tests.daemon.conftest import ROOT

RIBAO = [sys.executable, "-m", "daemon"]


def run(*args):
    return subprocess.run([*RIBAO, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_exit_codes_and_json(tmp_path, roster_path, good_jpeg):
    ok = tmp_path / "ok.eml"
    ok.write_bytes(build_mail(subject="工商旅游一日一报5月15日", body=report_text(1000),
                              attachments=[("开幕式合影.jpg", good_jpeg, "image/jpeg")]))
    r = run("check", str(ok), "--roster", str(roster_path), "--received", "2023-05-16T09:00:00+08:00", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"kind", "school", "report_date", "late", "ok", "materials", "defects", "deliverables"}
    assert out["ok"] is True and out["school"] == "厦门工商旅游学校"

    bad = tmp_path / "bad.eml"
    bad.write_bytes(build_mail(subject="工商旅游一日一报5月15日", body=report_text(100)))
    r = run("check", str(bad), "--roster", str(roster_path), "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["defects"][0]["code"] == "text.too_short"


def test_received_override_makes_it_late(tmp_path, roster_path):
    p = tmp_path / "m.eml"
    p.write_bytes(build_mail(subject="工商旅游一日一报5月15日", body=report_text(1000)))
    r = run("check", str(p), "--roster", str(roster_path), "--received", "2023-05-16T12:30:00+08:00", "--json")
    assert json.loads(r.stdout)["late"] is True and r.returncode == 0


def test_human_summary_is_chinese(tmp_path, roster_path):
    p = tmp_path / "m.eml"
    p.write_bytes(build_mail(subject="工商旅游一日一报5月15日", body=report_text(100)))
    r = run("check", str(p), "--roster", str(roster_path))
    assert r.returncode == 1 and "学校：厦门工商旅游学校" in r.stdout and "text.too_short" in r.stdout
    assert "需要修改后重新报送" in r.stdout


def test_wrong_calls_are_one_line_exit_2(tmp_path):
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    cases = [("check", str(tmp_path / "none.eml")), ("check", str(empty)), ("check",),
             ("check", str(empty), "--rules", "no-such-city"), ("check", str(empty), "--received", "yesterday"),
             ("check", str(tmp_path))]
    for args in cases:
        r = run(*args)
        assert r.returncode == 2, args
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("ribao: ") and "Traceback" not in r.stderr, args


def test_garbage_input_still_gets_a_verdict(tmp_path):
    p = tmp_path / "junk.eml"
    p.write_bytes(bytes(range(256)) * 100)
    r = run("check", str(p), "--json")
    assert r.returncode in (0, 1) and json.loads(r.stdout)["kind"] in ("other", "report")


def test_time_limit_gives_a_clear_defect(tmp_path):
    p = tmp_path / "m.eml"
    p.write_bytes(build_mail(subject="一日一报", body=report_text(1000),
                             attachments=[("说明.txt", "活动说明".encode(), "text/plain")]))
    r = run("check", str(p), "--timeout", "0", "--json")
    [d] = [d for d in json.loads(r.stdout)["defects"] if d["code"] == "message.timeout"]
    assert r.returncode in (0, 1) and d["severity"] == "warning" and r.stderr == ""
    assert d["file"] == "说明.txt" and "工作人员将人工核对" in d["message"]


def test_escape_sequences_in_names_are_shown_not_acted_on(tmp_path, roster_path):
    """Attachment names and subjects are quoted in the output: ESC, CSI/OSC (C0 and C1), BEL and a
    right-to-left override must reach the terminal as visible escapes; --json stays the same JSON."""
    from tests.builders.media import make_jpeg
    evil = "\x1b[31m红\x1b]0;pwned\x07\x9b2J照片\u202egpj.exe\r\n结论：合格.jpg"
    p = tmp_path / "evil.eml"
    p.write_bytes(build_mail(subject="工商旅游一日一报5月15日\x1b[2J", body=report_text(1000),
                             attachments=[(evil, make_jpeg(tmp_path / "a.jpg", 640, 480).read_bytes(), "image/jpeg")]))
    human = run("check", str(p), "--roster", str(roster_path))
    assert human.returncode == 1 and "photo.too_narrow" in human.stdout
    for ch in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert ch not in human.stdout + human.stderr, repr(ch)
    assert "\\x1b]0;pwned\\x07\\x9b2J照片\\u202egpj.exe" in human.stdout
    assert [ln for ln in human.stdout.splitlines() if ln.startswith("结论")] == ["结论：需要修改后重新报送"]
    as_json = run("check", str(p), "--roster", str(roster_path), "--json")
    for ch in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert ch not in as_json.stdout, repr(ch)
    files = {d["file"] for d in json.loads(as_json.stdout)["defects"] if d["file"]}
    assert any("\x1b]0;pwned\x07\x9b2J照片\u202egpj.exe" in f for f in files), files
