"""An upgrade opens yesterday's database and carries on: the state c30e0cd's `ribao demo` wrote is
migrated at start-up (a copy kept as ribao.db.pre-vN), and `ribao status`, `ribao digest` and a poll
work on it with nothing judged or answered again."""
from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from daemon.store import schema
from daemon.store.db import Store
from tests.builders.config import write_config
from tests.builders.mail import build_mail, report_text
from tests.builders.maildir import drop, new_maildir
from tests.daemon.conftest import ribao

FIXTURE = Path(__file__).parent / "fixtures" / "c30e0cd-demo.sql.gz"
UIDVALIDITY, NEXT_UID = 1796028403, 39


def restore(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    conn.executescript(gzip.decompress(FIXTURE.read_bytes()).decode("utf-8"))
    conn.close()


@pytest.fixture
def old_state(tmp_path):
    md = new_maildir(tmp_path / "md")
    (md / "ribao-uidlist").write_text(json.dumps({"uidvalidity": UIDVALIDITY, "next": NEXT_UID, "keys": {}}))
    cfg = write_config(tmp_path / "c", maildir=md)
    restore(cfg.parent / "data" / "ribao.db")
    return cfg, md


def rows(cfg, sql, args=()):
    conn = sqlite3.connect(cfg.parent / "data" / "ribao.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_c30e0cd_demo_state_opens_and_carries_on(old_state):
    cfg, md = old_state
    before = rows(cfg, "select id, state, judged_at, verdict from messages order by id")
    outbox_before = rows(cfg, "select id, state, dedupe_key from outbox order by id")
    assert len(before) == 38 and rows(cfg, "pragma user_version") == [(0,)]

    st = ribao("status", "--json", "--config", str(cfg))
    assert st.returncode == 0, st.stderr
    assert json.loads(st.stdout)["messages"] == {"done": 38}
    assert rows(cfg, "pragma user_version") == [(schema.LATEST,)]
    backup = cfg.parent / "data" / f"ribao.db.pre-v{schema.LATEST}"
    assert backup.exists() and (backup.stat().st_mode & 0o777) == 0o600
    assert sqlite3.connect(backup).execute("select count(*) from messages").fetchone() == (38,)

    d = ribao("digest", "--date", "2023-05-15", "--out", str(cfg.parent / "d.html"), "--config", str(cfg))
    assert d.returncode == 0, d.stderr
    assert "厦门工商旅游学校" in (cfg.parent / "d.html").read_text(encoding="utf-8")

    drop(md, build_mail(subject="一日一报5月16日", sender="gslx@qq.com", body=report_text(1000)))
    r = ribao("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert rows(cfg, "select id, state, judged_at, verdict from messages where id <= 38 order by id") == before
    assert rows(cfg, "select id, state, dedupe_key from outbox where id <= ?", [len(outbox_before)]) == outbox_before
    new = rows(cfg, "select id, uid, state, school from messages where id > 38")
    assert new == [(39, NEXT_UID, "done", "厦门工商旅游学校")]
    assert len(list((cfg.parent / "replies").glob("*.eml"))) == 1      # only the new mail is answered


def test_every_migration_step_from_each_version(tmp_path):
    """A database at each schema version reaches the latest with its rows kept."""
    for start in range(1, schema.LATEST + 1):
        db = tmp_path / f"v{start}" / "ribao.db"
        restore(db)
        conn = sqlite3.connect(db)
        import sqlite_utils
        sdb = sqlite_utils.Database(conn)
        for n in range(2, start + 1):             # bring the c30e0cd copy up to `start` first
            schema.MIGRATIONS[n](sdb)
        conn.execute(f"pragma user_version = {start}")
        conn.commit()
        conn.close()
        store = Store(db.parent)
        assert store.db.execute("pragma user_version").fetchone()[0] == schema.LATEST
        assert store.counts() == {"done": 38}
        assert (db.parent / f"ribao.db.pre-v{schema.LATEST}").exists() == (start < schema.LATEST)
        assert {"web_accounts", "web_sessions"} <= set(store.db.table_names())     # v3: the staff desk


def test_a_newer_database_is_refused_in_one_line(tmp_path):
    Store(tmp_path / "data")
    conn = sqlite3.connect(tmp_path / "data" / "ribao.db")
    conn.execute(f"pragma user_version = {schema.LATEST + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(schema.SchemaError, match="newer than this ribao"):
        Store(tmp_path / "data")
