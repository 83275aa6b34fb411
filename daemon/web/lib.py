"""Everything the desk uses from the rest of ribao, imported in this one place (so moving a daemon
module is a one-line fix here)."""
from __future__ import annotations

from daemon import corrections
from daemon.cli.common import Fail
from daemon.cli.run import config_option, open_config, setup_logging
from daemon.corrections import CorrectionError
from daemon.reports.day import (
    ACCEPTED,
    LATE,
    MISSING,
    NOT_DUE,
    ON_TIME,
    STATUS_ZH,
    day_status,
    due_text,
    school_day,
    stored_path,
    window,
)
from daemon.reports.pending import default_day, pending
from daemon.reports.reminders import remind_now
from daemon.reports.workbook import workbook_bytes
from daemon.resources import data_dir
from daemon.store import accounts, reads
from daemon.store.db import Store, now_iso
from daemon.store.thumbs import cache_thumbnail
from daemon.templating import zh_date, zh_time


def service(cfg, prof, ros):
    """The daemon's Service (judge, file, deliver) for one staff action."""
    from daemon.service import Service
    return Service(cfg, prof, ros, recover=False)


__all__ = ["corrections", "Fail", "config_option", "open_config", "setup_logging", "CorrectionError",
           "ACCEPTED", "LATE", "MISSING", "NOT_DUE", "ON_TIME", "STATUS_ZH", "day_status", "due_text",
           "school_day", "stored_path", "window", "default_day", "pending", "remind_now", "cache_thumbnail",
           "workbook_bytes", "data_dir", "accounts", "reads", "Store", "now_iso", "zh_date", "zh_time", "service"]
