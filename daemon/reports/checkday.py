"""`ribao check A.eml B.eml …`: several mails judged in order as one mailbox would receive them,
each followed by the school's day as the digest would show it after that mail.

The verdicts go into a throw-away store (a temporary folder), so the day is computed by the very
function the daemon, the digest and the workbook use (reports/day.py), not by a copy of it.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from daemon.model import Verdict
from daemon.profile import Profile
from daemon.store.db import Store


class CheckDay:
    def __init__(self, profile: Profile):
        self.profile = profile
        self.tmp = Path(tempfile.mkdtemp(prefix="ribao-check-"))
        self.store = Store(self.tmp)
        self.position: dict[int, int] = {}        # message row → 1-based file position

    def __enter__(self) -> "CheckDay":
        return self

    def __exit__(self, *exc) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, pos: int, path: Path, v: Verdict) -> dict | None:
        """Record mail number `pos`; the school's day row after it (messages as positions), or None
        for auto-replies, unrelated mail and mail tied to no school."""
        from daemon.reports.day import verdict_day
        ident = self.store.add_received(uid=pos, uidvalidity=1, folder="check", raw_path=path, raw_sha256=f"check-{pos}",
                                        size=path.stat().st_size, message_id=v.message_id or "",
                                        received=v.received or dt.datetime.now(self.profile.tz).isoformat())
        self.position[ident] = pos
        self.store.save_verdict(ident, v)
        day = verdict_day(self.profile, self.store, v)
        if day is None:
            return None
        row = day.as_json()
        row["messages"] = [self.position[m] for m in row["messages"]]
        return row
