"""Everything the desk uses from the rest of ribao, imported in this one place (so moving a daemon
module is a one-line fix here)."""
from __future__ import annotations

from .. import corrections
from ..cli_common import Fail
from ..cli_run import config_option, open_config, setup_logging
from ..corrections import CorrectionError
from ..reports.day import (ACCEPTED, LATE, MISSING, NOT_DUE, ON_TIME, STATUS_ZH, day_status, due_text,
                           school_day, stored_path, window)
from ..reports.pending import default_day, pending
from ..reports.reminders import remind_now
from ..reports.thumbs import cache_thumbnail
from ..reports.workbook import workbook_bytes
from ..resources import data_dir
from ..store import Store, now_iso
from ..templating import zh_date, zh_time


def service(cfg, prof, ros):
    """The daemon's Service (judge, file, deliver) for one staff action."""
    from ..service import Service
    return Service(cfg, prof, ros)


__all__ = ["corrections", "Fail", "config_option", "open_config", "setup_logging", "CorrectionError",
           "ACCEPTED", "LATE", "MISSING", "NOT_DUE", "ON_TIME", "STATUS_ZH", "day_status", "due_text",
           "school_day", "stored_path", "window", "default_day", "pending", "remind_now", "cache_thumbnail",
           "workbook_bytes", "data_dir", "Store", "now_iso", "zh_date", "zh_time", "service"]
