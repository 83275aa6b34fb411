"""bench/ is not run by the suite (it takes minutes and ~35 GB), but what it imports from the
package must exist: a module moved or renamed breaks the benchmark here, not on the day ops run it."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_daemon_import_of_the_bench_resolves():
    missing = []
    for path in (ROOT / "bench").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("daemon"):
                mod = importlib.import_module(node.module)
                for alias in node.names:
                    if not hasattr(mod, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            missing.append(f"{path.name}:{node.lineno} from {node.module} import {alias.name}")
    assert not missing, missing
