"""The store owns its SQL: no module outside daemon/store/ runs a statement, reaches into the
database's tables, or carries SQL in a string. Read with the ast module, so a docstring or comment
that says "select" is no offence, while an f-string fragment of a query is. And a full disk is
recognised in one place only (safefs.is_full)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

DAEMON = Path(__file__).resolve().parent.parent / "daemon"
STORE = DAEMON / "store"

DB_CALLS = {"execute", "executemany", "executescript", "rows_where", "insert_all", "upsert_all"}
SQL = re.compile(r"\bselect\b.+\bfrom\b|\binsert\s+(or\s+\w+\s+)?into\b|\bupdate\s+\[?\w+\]?\s+set\b|"
                 r"\bdelete\s+from\b|\b(create|alter|drop)\s+(table|index|view)\b|\bpragma\s+\w+|"
                 r"\bwhere\b.*(=|<|>|\bis\s+(not\s+)?null\b|\bin\s*\()|\bcoalesce\s*\(|\b(order|group)\s+by\b|"
                 r"\b\w+\s+is\s+(not\s+)?null\b|\b\w+\s*(=|!=|<>|<=|>=|<|>)\s*\?|\b\w+\s+in\s*\(\s*'",
                 re.IGNORECASE | re.DOTALL)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what) of every piece of SQL in a module's source."""
    tree = ast.parse(source)
    docs, out = _docstrings(tree), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            out.append((node.lineno, f".{node.func.attr}(...)"))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "db":
            out.append((node.lineno, ".db[...]"))
        elif isinstance(node, ast.Attribute) and node.attr == "conn" and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "db":
            out.append((node.lineno, ".db.conn"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and SQL.search(node.value):
            out.append((node.lineno, f"SQL in a string: {node.value[:60]!r}"))
    return sorted(out)


def test_no_sql_outside_the_store():
    found = []
    for path in sorted(DAEMON.rglob("*.py")):
        if STORE in path.parents:
            continue
        found += [f"{path.relative_to(DAEMON.parent)}:{line}: {what}"
                  for line, what in offences(path.read_text(encoding="utf-8"))]
    assert not found, "SQL belongs in daemon/store/:\n" + "\n".join(found)


def test_the_store_itself_is_seen_to_hold_sql():
    """The check finds what it looks for: daemon/store/ does hold SQL, in each of these forms."""
    kinds = {what.split("(")[0].split(":")[0] for p in STORE.glob("*.py") for _, what in offences(p.read_text("utf-8"))}
    assert {".execute", ".rows_where", ".db[...]", ".db.conn", "SQL in a string"} <= kinds


def test_what_counts_as_sql():
    bad = '''
def f(store, ids, day):
    """Select the rows from the outbox where state = 'sent' (a docstring may say so)."""
    store.db.execute("select 1")
    store.db["messages"].update(1, {})
    list(store.db["messages"].rows_where("id = ?", [1]))
    store.db.conn.close()
    marks = ",".join("?" * len(ids))
    q = f"delete from outbox where id in ({marks})"
    base = "kind = 'report' and school is null and " + "state in ('judged', 'done')"
    tail = "order by received desc, id desc"
    return "update messages set uid = ?"
'''
    assert {line for line, _ in offences(bad)} == {4, 5, 6, 7, 9, 10, 11, 12}      # not 3, the docstring
    good = '''
"""Select a school from the roster; delete from the queue what was sent; update the digest."""
def g(client, name):
    client.select_folder("INBOX")
    rows.insert(0, name)
    return f"select failed: {name}" + "请选择学校" + "the update of {name} is done"
'''
    assert offences(good) == []


def full_disk_checks(source: str) -> list[int]:
    """Lines that decide for themselves whether an error is a full disk: a comparison with ENOSPC or
    EDQUOT (raising OSError(ENOSPC, ...) is fine), or SQLite's "disk is full" text."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            names = {n.attr for part in [node.left, *node.comparators] for n in ast.walk(part)
                     if isinstance(n, ast.Attribute)}
            if names & {"ENOSPC", "EDQUOT"}:
                out.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "EDQUOT":
            out.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "disk is full" in node.value:
            out.append(node.lineno)
    return sorted(set(out))


def test_one_test_for_a_full_disk():
    found = [f"{p.relative_to(DAEMON.parent)}:{line}" for p in sorted(DAEMON.rglob("*.py")) if p.name != "safefs.py"
             for line in full_disk_checks(p.read_text(encoding="utf-8"))]
    assert not found, "use daemon.store.safefs.is_full:\n" + "\n".join(found)
    assert full_disk_checks((STORE / "safefs.py").read_text(encoding="utf-8"))          # the check sees the one
    assert full_disk_checks("if e.errno in (errno.ENOSPC, errno.EDQUOT):\n    raise\n") == [1]
    assert full_disk_checks("raise OSError(errno.ENOSPC, 'no space')\n") == []


def imported(source: str) -> set[str]:
    """Every module a source imports, at its top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_judging_does_not_import_reports():
    """The judging child makes thumbnails with daemon/store/thumbs.py, not with the digest's code."""
    found = [f"{p.relative_to(DAEMON.parent)}: {m}" for p in sorted((DAEMON / "judging").rglob("*.py"))
             for m in sorted(imported(p.read_text(encoding="utf-8"))) if m.split(".")[:2] == ["daemon", "reports"]]
    assert not found, "\n".join(found)
    assert "daemon.store.thumbs" in imported((DAEMON / "judging" / "isolate.py").read_text(encoding="utf-8"))
