"""`ribao demo` (what `make demo` runs): a week of demo mail, every message accounted for."""
import sqlite3

from tests.daemon.conftest import ribao


def test_demo_week_every_message_accounted_for(tmp_path):
    out = tmp_path / "demo"
    r = ribao("demo", "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(out / "data" / "ribao.db")
    states = dict(db.execute("select state, count(*) from messages group by state").fetchall())
    assert set(states) == {"done"} and states["done"] >= 35
    kinds = dict(db.execute("select kind, count(*) from messages group by kind").fetchall())
    assert kinds["auto"] == 2 and kinds["other"] == 1
    # every message answered or deliberately left alone, with the reason on record
    unanswered = db.execute("select count(*) from messages m where not exists "
                            "(select 1 from outbox o where o.message = m.id)").fetchone()[0]
    assert unanswered == 0
    assert db.execute("select count(*) from outbox where state = 'suppressed' and reason is null").fetchone()[0] == 0
    sent = db.execute("select count(*) from outbox where state = 'sent' and kind = 'reply'").fetchone()[0]
    assert sent == len(list((out / "replies").glob("*.eml"))) - db.execute(
        "select count(*) from outbox where state = 'sent' and kind != 'reply'").fetchone()[0]
    dup = db.execute("select count(*) from (select message from outbox where kind = 'reply' and state = 'sent' "
                     "group by message having count(*) > 1)").fetchone()[0]
    assert dup == 0
    codes = {c for (c,) in db.execute("select distinct code from defects")}
    assert {"photo.too_narrow", "photo.no_caption", "text.too_short", "video.not_mp4", "video.below_sd",
            "submission.late", "school.unknown"} <= codes
    # the GBK zip's members came out with their Chinese names
    assert db.execute("select count(*) from materials where file like '照片.zip/照片/%.jpg'").fetchone()[0] == 2
    assert "digest" in r.stdout and (out / "reports").exists()
    assert any(p.suffix == ".html" for p in (out / "reports").iterdir())
    assert any(p.suffix == ".xlsx" for p in (out / "reports").iterdir())
