"""A rules file of its own for a test: a shipped profile with TOML appended (e.g. [defects."CODE"])."""
from __future__ import annotations

import json
from pathlib import Path

from daemon import profile as profiles


def with_defects(tmp: Path, overrides: dict[str, dict], base: str = "xiamen-2023", raw: str = "") -> Path:
    """`base`'s rules file plus a [defects."CODE"] table per entry of `overrides` (and `raw` TOML as is)."""
    text = profiles.resolve(base).read_text(encoding="utf-8")
    for code, rule in overrides.items():
        text += f'\n[defects."{code}"]\n' + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in rule.items())
    path = tmp / f"{base}-own.toml"
    path.write_text(text + raw, encoding="utf-8")
    return path
