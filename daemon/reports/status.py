"""`ribao status` as data: the last poll, messages by state, the outbox, errors, mail held for
staff and the latest messages. The CLI prints it (JSON as is, or in Chinese); the desk shows it."""
from __future__ import annotations

import datetime as dt

from daemon.storage.usage import usage
from daemon.store import reads
from daemon.store.db import Store

STATE_ZH = {"received": "待检查", "judged": "已检查待归档", "done": "已处理", "quarantined": "已隔离（需人工查看）",
            "duplicate": "重复邮件"}
OUTBOX_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "suppressed": "按规则未发送",
             "failed": "发送失败", "uncertain": "发送中断（未重发）"}
KIND_ZH = {"report": "报送", "auto": "自动回复", "other": "无关邮件"}
VERDICT_ZH = {"ok": "合格", "defects": "有问题", "none": "—"}


def status(cfg, profile, store: Store) -> dict:
    mb = store.mailbox_state(cfg.mailbox.folder)
    idle = mb.get("idle") if cfg.mailbox.kind == "imap" else None
    return {
        "profile": profile.id,
        "mailbox": {"folder": cfg.mailbox.folder, "last_poll": mb.get("last_poll"),
                    "uidvalidity": mb.get("uidvalidity"), "last_uid": mb.get("last_uid"),
                    "last_error": mb.get("last_error"), "last_error_at": mb.get("last_error_at"),
                    "idle": None if idle is None else bool(idle)},
        "messages": store.counts(),
        "outbox": reads.outbox_counts(store),
        "last_error": reads.last_error_event(store),
        "recent": reads.recent_messages(store),
        "held": [{k: r[k] for k in ("id", "received", "sender", "school")} for r in store.held()],
        "storage": usage(store.root, store.db),
    }


def local(value: str | None, tz) -> str:
    """An ISO time as staff read it: local, with the year, to the minute."""
    if not value:
        return "—"
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if t.tzinfo is not None:
        t = t.astimezone(tz)
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def counts_zh(counts: dict, words: dict) -> str:
    return "，".join(f"{words.get(k, k)} {v}" for k, v in counts.items())
