"""jinja2 environment over templates/: autoescaping for HTML, plain text left as written."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import jinja2

from daemon.resources import data_dir

TEMPLATES = data_dir("templates")


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    e = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                           autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                                               default_for_string=False),
                           trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True,
                           undefined=jinja2.StrictUndefined)
    e.filters["zh_time"] = zh_time
    e.filters["zh_date"] = zh_date
    e.filters["zh_stamp"] = zh_stamp
    return e


def render(name: str, **ctx) -> str:
    return env().get_template(name).render(**ctx)


def zh_time(value) -> str:
    if not value:
        return ""
    d = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return f"{d.month}月{d.day}日 {d:%H:%M}"


def zh_stamp(value) -> str:
    """When a report was made (统计于): with the year, since digests and workbooks are kept for years."""
    if not value:
        return ""
    d = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}"


def zh_date(value) -> str:
    if not value:
        return ""
    d = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{d.month}月{d.day}日"
