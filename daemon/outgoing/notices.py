"""Notices to a school about what staff decided: its day accepted by hand (ribao accept, the desk).

Once per school-day, whoever accepts it and however often: the outbox's unique key sees to it."""
from __future__ import annotations

import json

from daemon.model import KNOWN_HOW
from daemon.outgoing.mailout import build, valid_address
from daemon.store import outbox_rows
from daemon.templating import render, zh_date


def queue_accepted(store, cfg, profile, row: dict) -> bool:
    """Queue "accepted by staff" to the school's own address; False when already told or no address."""
    recipient = (row.get("sender") or "").strip().lower()
    if row.get("school_how") not in KNOWN_HOW or not valid_address(recipient):
        return False
    names = {d.id: d.name for d in profile.deliverables}
    delivs = json.loads(row.get("deliverables") or "[]")
    what = "、".join(names.get(d, d) for d in delivs) or "报送材料"
    day = row.get("report_date")
    what = f"{zh_date(day)}的{what}" if day else what
    key = f"accepted:{row['school']}:{'+'.join(delivs)}:{day or ''}"
    if outbox_rows.has(store, key):
        return False
    text = render("accepted.txt.j2", school=row["school"], what=what, reason=row.get("accepted_reason") or "",
                  issuer=profile.issuer)
    msg = build(sender=cfg.smtp.sender, to=recipient, subject=f"【已认可】{what}", text=text)
    return outbox_rows.add(store, kind="notice", dedupe_key=key, recipient=recipient, subject=str(msg["Subject"]),
                           raw=msg.as_bytes().decode("ascii", "replace"), day=(row.get("received") or "")[:10])
