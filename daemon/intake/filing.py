"""Where a judged mail is filed: a folder name from the config's templates.

`一日一报/{date}/{school}` → `一日一报/2023-05-15/<school>`. Each part is cleaned so a
school's name can't add levels or reach outside the tree."""
from __future__ import annotations

import json
import re

_BAD = re.compile(r"[\x00-\x1f\x7f/\\%*]+")


def _part(value: str) -> str:
    value = _BAD.sub("_", str(value or "")).strip().strip(".") or "_"
    return value[:80]


def folder_for(row: dict, cfg) -> str | None:
    """The folder for a stored message row, or None to leave it where it is."""
    if not cfg.enabled:
        return None
    kind, state = row.get("kind"), row.get("state")
    if state == "quarantined":
        template = cfg.quarantine_folder
    elif kind == "auto":
        template = cfg.auto_folder
    elif kind == "other":
        template = cfg.other_folder
    elif not row.get("school"):
        template = cfg.unknown_folder
    else:
        delivs = json.loads(row.get("deliverables") or "[]")
        if row.get("report_date") or not delivs:       # the recurring report (it has a day)
            template = cfg.report_folder
        else:
            template = cfg.deliverable_folder
    if not template:
        return None
    delivs = json.loads(row.get("deliverables") or "[]")
    values = {"date": row.get("report_date") or (row.get("received") or "")[:10] or "undated",
              "school": row.get("school") or "未识别学校", "deliverable": "+".join(delivs) or "未识别",
              "kind": kind or "", "received": (row.get("received") or "")[:10]}
    parts = []
    for raw in template.split("/"):
        try:
            parts.append(_part(raw.format(**values)))
        except (KeyError, IndexError, ValueError):
            parts.append(_part(raw))
    return "/".join(p for p in parts if p)
