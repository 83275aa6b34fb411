"""The staff commands on the embedded default (a Maildir, replies as .eml files), as the issue tried
them: `ribao assign 38 --school 厦门信息学校` on the demo's state files the mail and answers at once;
accept and rejudge work there too, each recorded with the OS user."""
from __future__ import annotations

import sqlite3

from tests.daemon.conftest import ribao


def test_staff_commands_on_the_demo_state(tmp_path):
    out = tmp_path / "demo"
    r = ribao("demo", "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    cfg = str(out / "config.toml")
    db = lambda: sqlite3.connect(out / "data" / "ribao.db")          # noqa: E731
    assert db().execute("select kind, school from messages where id = 38").fetchone() == ("report", None)
    replies = len(list((out / "replies").glob("*.eml")))

    r = ribao("assign", "38", "--school", "厦门信息学校", "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("#38 → 厦门信息学校")
    assert len(list((out / "replies").glob("*.eml"))) == replies + 1          # answered at once, by the command
    school, how, filed = db().execute("select school, school_how, filed_to from messages where id = 38").fetchone()
    assert (school, how) == ("厦门信息学校", "staff") and filed and "厦门信息学校" in filed
    assert any((out / "maildir").glob(".一日一报*"))                           # filed into the Maildir's folders

    r = ribao("accept", "38", "--reason", "电话确认", "--config", cfg)
    assert r.returncode == 0 and "the school was told" in r.stdout, r.stderr
    assert ribao("accept", "38", "--reason", "再次确认", "--config", cfg).returncode == 0
    notices = sorted((out / "replies").glob("*.eml"))[replies + 1:]
    assert len(notices) == 1                                                   # told once, however often accepted
    import email
    import email.policy
    notice = email.message_from_bytes(notices[0].read_bytes(), policy=email.policy.default)
    assert str(notice["Subject"]).startswith("【已认可】") and "电话确认" in notice.get_body(("plain",)).get_content()
    r = ribao("rejudge", "--config", cfg)
    assert r.returncode == 0 and "0 verdicts changed, 0 replies sent" in r.stdout, r.stdout + r.stderr
    assert len(list((out / "replies").glob("*.eml"))) == replies + 2
    actions = [a for (a,) in db().execute("select action from corrections order by id")]
    assert actions == ["assign", "accept", "accept", "rejudge"]
    assert all(by for (by,) in db().execute("select by from corrections"))
    r = ribao("accept", "99", "--reason", "x", "--config", cfg)
    assert r.returncode == 2 and "no message #99" in r.stderr
