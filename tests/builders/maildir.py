"""A local Maildir as the embedded default reads it: `drop(md, raw)` puts a mail in new/."""
from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

_n = itertools.count(1)


def new_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def drop(md: Path, raw: bytes, at: dt.datetime | None = None) -> Path:
    """Deliver one mail (arrived `at`: the file's time, as a delivery agent leaves it); mails
    dropped later sort (and get UIDs) later."""
    p = md / "new" / f"1684000000.M{next(_n):07d}P1.ribao-test"
    p.write_bytes(raw)
    if at is not None:
        os.utime(p, (at.timestamp(), at.timestamp()))
    return p
