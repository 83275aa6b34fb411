"""The week's workbook (openpyxl): figures per school, one sheet per day, and the schools'
statistics tables merged into one.

A table whose header differs from the majority is listed on "表头不一致", never merged silently.
Text from schools is written as text (a cell starting with "=" is not a formula) with the
characters Excel refuses removed.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import Counter
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ..profile import Profile
from ..roster import Roster
from ..store import Store
from ..templating import zh_date, zh_stamp, zh_time
from .day import ACCEPTED, LATE, MISSING, NOT_DUE, ON_TIME, Day, day_status, due_text
from .digest import short

HEAD_FILL = PatternFill("solid", fgColor="37474F")
HEAD_FONT = Font(bold=True, color="FFFFFF")
TOTAL_FILL = PatternFill("solid", fgColor="ECEFF1")
THIN = Side(style="thin", color="B0BEC5")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WEEK_COLUMNS = [("学校", "school", 30), ("报送天数", "days", 10), ("按时", ON_TIME, 8), ("逾期", LATE, 8),
                ("未报送", MISSING, 8), ("人工认可", ACCEPTED, 10), ("照片（张）", "photos", 11),
                ("视频（个）", "videos", 11), ("文字（字）", "text_chars", 11), ("未改正问题（项）", "open", 15)]
TOTAL_WORDS = {"合计", "总计", "小计", "共计"}
NOT_SUMMED = re.compile(r"序号|编号|电话|手机|邮编|代码|日期|时间|年份")
_NUM = re.compile(r"^-?\d+(?:\.\d+)?$")


# ------------------------------------------------------------------ figures

def week_figures(profile: Profile, roster: Roster, store: Store, now: dt.datetime | None = None) -> tuple[list[Day], list[dict], dict]:
    """(the week's Days, one figures dict per roster school, the totals)."""
    now = now or dt.datetime.now(profile.tz)
    days = [day_status(profile, roster, store, d, now) for d in profile.week_days()]
    per = []
    for i, school in enumerate(roster.schools):
        f = {"school": school.name, "days": 0, ON_TIME: 0, LATE: 0, MISSING: 0, ACCEPTED: 0, NOT_DUE: 0,
             "photos": 0, "videos": 0, "text_chars": 0, "open": 0}
        for day in days:
            r = day.rows[i]
            f[r.status] += 1
            if r.reported:
                f["days"] += 1
                for k in ("photos", "videos", "text_chars"):
                    f[k] += r.count(k)
                if r.status != ACCEPTED:
                    f["open"] += len(r.errors)
        per.append(f)
    totals = {k: sum(f[k] for f in per) for k in per[0] if k != "school"} if per else {}
    totals["school"] = "合计"
    return days, per, totals


# ------------------------------------------------------------------ cells

def _text(value) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))[:32000]


def put(ws, row: int, col: int, value, *, bold: bool = False, fill=None, wrap: bool = False, fmt: str | None = None):
    """Write one cell; strings stay strings (never formulas)."""
    if isinstance(value, str):
        c = ws.cell(row=row, column=col, value=_text(value))
        c.data_type = "s"
    else:
        c = ws.cell(row=row, column=col, value=value)
    c.border = BORDER
    c.alignment = Alignment(vertical="top", wrap_text=wrap)
    if bold:
        c.font = Font(bold=True)
    if fill is not None:
        c.fill = fill
    if fmt:
        c.number_format = fmt
    return c


def header(ws, row: int, names: list[str], widths: list[int] | None = None) -> None:
    for j, name in enumerate(names, start=1):
        c = put(ws, row, j, name)
        c.fill, c.font = HEAD_FILL, HEAD_FONT
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if widths:
            ws.column_dimensions[get_column_letter(j)].width = widths[j - 1]
    ws.freeze_panes = ws.cell(row=row + 1, column=2)


def title(ws, text: str, sub: str, ncols: int) -> None:
    ws.cell(row=1, column=1, value=_text(text)).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=_text(sub)).font = Font(color="666666")
    if ncols > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncols)
    ws.row_dimensions[1].height = 24


# ------------------------------------------------------------------ statistics tables

def _norm(cell) -> str:
    return re.sub(r"\s+", "", "" if cell is None else str(cell))


def _num(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    s = _norm(value).replace(",", "")
    if _NUM.match(s):
        return float(s) if "." in s else int(s)
    return None


def stats_tables(roster: Roster, store: Store) -> list[dict]:
    """Each school's latest statistics table(s): [{school, file, header, rows}] in roster order."""
    order = {n: i for i, n in enumerate(roster.names)}
    subs = store.db.execute("select school, message from submissions where deliverable = 'stats_table' "
                            "and superseded_by is null order by received, id").fetchall()
    latest = {school: mid for school, mid in subs}            # the last one wins
    out = []
    for school in sorted(latest, key=lambda s: (order.get(s, len(order)), s)):
        for file, rows_json in store.db.execute("select file, rows from tables_rows where message = ? order by id",
                                                [latest[school]]).fetchall():
            rows = json.loads(rows_json or "[]")
            if not rows:
                continue
            head = [_norm(c) for c in rows[0]]
            while head and not head[-1]:
                head.pop()
            out.append({"school": school, "file": file or "", "header": head, "rows": rows[1:]})
    return out


def merge_tables(tables: list[dict]) -> tuple[list[str], list[list], list | None, list[dict]]:
    """(header, merged rows with 学校 first, totals row or None, the tables left out)."""
    if not tables:
        return [], [], None, []
    counts = Counter(tuple(t["header"]) for t in tables)
    majority = list(counts.most_common(1)[0][0])
    merged, odd = [], []
    for t in tables:
        if t["header"] != majority:
            odd.append(t)
            continue
        for r in t["rows"]:
            cells = [("" if c is None else c) for c in list(r)[: len(majority)]]
            cells += [""] * (len(majority) - len(cells))
            if not any(_norm(c) for c in cells) or any(_norm(c) in TOTAL_WORDS for c in cells[:2]):
                continue                      # blank lines and the school's own totals row
            merged.append([t["school"], *cells])
    totals = None
    if merged:
        totals = ["合计"] + [""] * len(majority)
        for j, name in enumerate(majority, start=1):
            values = [row[j] for row in merged if _norm(row[j])]
            nums = [_num(v) for v in values]
            if values and all(n is not None for n in nums) and not NOT_SUMMED.search(name):
                for row, n in zip((row for row in merged if _norm(row[j])), nums):
                    row[j] = n
                totals[j] = sum(nums)
    return majority, merged, totals, odd


# ------------------------------------------------------------------ the workbook

def build_workbook(profile: Profile, roster: Roster, store: Store, now: dt.datetime | None = None) -> tuple[Workbook, dict]:
    now = now or dt.datetime.now(profile.tz)
    days, per, totals = week_figures(profile, roster, store, now)
    span = f"{zh_date(profile.week_start)}至{zh_date(profile.week_end)}"
    wb = Workbook()
    ws = wb.active
    ws.title = "情况统计表"
    names = [c[0] for c in WEEK_COLUMNS]
    title(ws, f"{profile.name}一日一报情况统计表", f"活动周{span}；统计于{zh_stamp(now)}；共{len(roster.schools)}所学校",
          len(names) + 1)
    header(ws, 3, ["序号", *names], [6, *[c[2] for c in WEEK_COLUMNS]])
    for i, f in enumerate(per, start=1):
        put(ws, 3 + i, 1, i)
        for j, (_, key, _) in enumerate(WEEK_COLUMNS, start=2):
            put(ws, 3 + i, j, f[key])
    last = 4 + len(per)
    put(ws, last, 1, "", fill=TOTAL_FILL)
    for j, (_, key, _) in enumerate(WEEK_COLUMNS, start=2):
        put(ws, last, j, totals.get(key, 0) if key != "school" else "合计", bold=True, fill=TOTAL_FILL)
    if any(f[NOT_DUE] for f in per):
        ws.cell(row=last + 2, column=2, value="注：尚未到截止时间的日期不计入“未报送”。")
    for day in days:
        _day_sheet(wb, day)
    _stats_sheets(wb, roster, store)
    return wb, {"per_school": per, "totals": totals, "days": days}


def _day_sheet(wb: Workbook, day: Day) -> None:
    ws = wb.create_sheet(f"{day.date.month}月{day.date.day}日")
    cols = [("学校", 30), ("状态", 10), ("收到时间", 14), ("字数", 8), ("照片", 8), ("视频", 8), ("待改问题", 60), ("重报次数", 9)]
    title(ws, f"{zh_date(day.date)}活动报送情况", f"截止时间{due_text(day.due)}" if day.due else "", len(cols))
    header(ws, 3, [c[0] for c in cols], [c[1] for c in cols])
    for i, r in enumerate(day.rows, start=4):
        msg = r.message or {}
        open_ = r.errors if r.status != ACCEPTED else []
        values = [r.school, r.status_zh, zh_time(msg.get("received")) if msg else "",
                  r.count("text_chars") if r.reported else None, r.count("photos") if r.reported else None,
                  r.count("videos") if r.reported else None, "\n".join(d["text"] for d in open_), r.earlier or None]
        for j, v in enumerate(values, start=1):
            put(ws, i, j, "" if v is None else v, wrap=j == 7)


def _stats_sheets(wb: Workbook, roster: Roster, store: Store) -> None:
    ws = wb.create_sheet("汇总统计表")
    tables = stats_tables(roster, store)
    head, merged, totals, odd = merge_tables(tables)
    if not tables:
        ws.cell(row=1, column=1, value="尚未收到各校的情况统计表。")
        return
    header(ws, 1, ["学校", *head], [30] + [max(10, min(30, len(h) * 2 + 2)) for h in head])
    for i, row in enumerate(merged, start=2):
        for j, v in enumerate(row, start=1):
            put(ws, i, j, v)
    if totals:
        for j, v in enumerate(totals, start=1):
            put(ws, 2 + len(merged), j, v, bold=True, fill=TOTAL_FILL)
    if odd:
        ws2 = wb.create_sheet("表头不一致")
        title(ws2, "以下学校的统计表表头与多数学校不同，未并入汇总统计表，请人工核对",
              "多数学校的表头：" + " | ".join(head), 3)
        header(ws2, 3, ["学校", "文件", "表头"], [30, 30, 80])
        for i, t in enumerate(odd, start=4):
            put(ws2, i, 1, t["school"])
            put(ws2, i, 2, t["file"])
            put(ws2, i, 3, " | ".join(t["header"]), wrap=True)


def write_workbook(profile: Profile, roster: Roster, store: Store, path: str | Path,
                   now: dt.datetime | None = None) -> dict:
    """Write the workbook to `path` (atomically); returns the figures."""
    wb, figures = build_workbook(profile, roster, store, now)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)
    return figures


def workbook_bytes(profile: Profile, roster: Roster, store: Store, now: dt.datetime | None = None) -> tuple[bytes, dict]:
    wb, figures = build_workbook(profile, roster, store, now)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), figures


# ------------------------------------------------------------------ the summary mail

def summary_body(profile: Profile, figures: dict, now: dt.datetime) -> tuple[str, str, str]:
    """(subject, text, html) of the week's summary mail: the same figures as the first sheet."""
    from html import escape

    t, per = figures["totals"], figures["per_school"]
    subject = f"【活动周汇总】{short(profile.name, 60)}一日一报情况统计（{zh_date(profile.week_start)}至{zh_date(profile.week_end)}）"
    lead = (f"共{len(per)}所学校，活动周{len(figures['days'])}天：按时报送{t.get(ON_TIME, 0)}校次，逾期{t.get(LATE, 0)}校次，"
            f"未报送{t.get(MISSING, 0)}校次，人工认可{t.get(ACCEPTED, 0)}校次；照片{t.get('photos', 0)}张，"
            f"视频{t.get('videos', 0)}个，文字{t.get('text_chars', 0)}字；未改正问题{t.get('open', 0)}项。")
    lines = [f"{profile.name}一日一报情况统计", f"统计于{zh_stamp(now)}。", "", lead, "", "各校情况（报送天数/按时/逾期/未报送/照片/视频/文字）："]
    for f in per:
        lines.append(f"- {short(f['school'], 40)}：{f['days']}/{f[ON_TIME]}/{f[LATE]}/{f[MISSING]}/"
                     f"{f['photos']}/{f['videos']}/{f['text_chars']}")
    lines += ["", "详细情况见附件工作簿（情况统计表、每日情况、汇总统计表）。"]
    cell = 'style="padding:4px 8px;border:1px solid #cfd8dc;"'
    rows = "".join(
        "<tr>" + "".join(f"<td {cell}>{escape(str(short(f[k], 40) if k == 'school' else f[k]))}</td>" for _, k, _ in WEEK_COLUMNS) + "</tr>"
        for f in [*per, t])
    html = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(subject)}</title></head>'
            f'<body style="margin:0;padding:16px;font-family:\'Microsoft YaHei\',sans-serif;font-size:14px;color:#222;">'
            f'<h1 style="font-size:18px;margin:0 0 8px;">{escape(profile.name)}一日一报情况统计</h1>'
            f'<p style="margin:0 0 12px;">{escape(lead)}</p>'
            f'<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;font-size:13px;">'
            f'<tr style="background:#37474f;color:#fff;">' + "".join(f"<th {cell}>{escape(c[0])}</th>" for c in WEEK_COLUMNS) + "</tr>"
            f'{rows}</table><p style="color:#888;font-size:12px;">详细情况见附件工作簿。本邮件由报送系统自动生成。</p></body></html>')
    return subject, "\n".join(lines) + "\n", html


def enqueue_summary(cfg, profile: Profile, roster: Roster, store: Store, now: dt.datetime | None = None) -> int:
    """Queue the week's summary (figures in the body, the workbook attached) to [digest] recipients, once."""
    from ..mailout import build
    from .digest import keys_for, queue, recipients
    now = now or dt.datetime.now(profile.tz)
    rs = recipients(cfg)
    keys = keys_for(f"summary:{profile.id}:{profile.week_start.isoformat()}", rs)
    have = {r[0] for r in store.db.execute("select dedupe_key from outbox where dedupe_key like ?", [keys[0] + "%"])}
    if all(k in have for k in keys):
        return 0
    data, figures = workbook_bytes(profile, roster, store, now)
    subject, text, html = summary_body(profile, figures, now)
    msg = build(sender=cfg.smtp.sender, to=", ".join(rs), subject=subject, text=text, html=html, auto="auto-generated",
                attachments=[(f"{profile.name}情况统计表.xlsx", data,
                              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
    return sum(queue(store, kind="summary", dedupe_key=k, recipient=r, msg=msg, day=now.date().isoformat())
               for k, r in zip(keys, rs))
