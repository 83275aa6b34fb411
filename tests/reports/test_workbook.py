"""The week's workbook read back with openpyxl: figures from the stored reports, one sheet per day,
the schools' statistics tables merged with a totals row, odd headers set apart."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io

import openpyxl

from daemon import config as configs
from daemon.reports.workbook import enqueue_summary, write_workbook
from tests.builders.store import DAY, scenario

HEADER = ["序号", "活动名称", "参与人数", "媒体报道（篇）", "备注"]


def rows_after_header(ws, first: str = "学校"):
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if first in r)
    return list(rows[at]), [list(r) for r in rows[at + 1:] if any(v not in (None, "") for v in r)]


def test_week_sheet_counts_the_stored_reports(tmp_path):
    b, exp = scenario(tmp_path)
    after_week = dt.datetime(2023, 5, 22, 9, 0, tzinfo=b.profile.tz)
    path = tmp_path / "week.xlsx"
    write_workbook(b.profile, b.roster, b.store, path, now=after_week)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:1] == ["情况统计表"]
    assert any("统计于2023年5月22日 09:00" in str(c.value or "") for row in wb["情况统计表"].iter_rows(max_row=3) for c in row)
    assert [f"{d.month}月{d.day}日" for d in b.profile.week_days()] == wb.sheetnames[1:8]
    head, rows = rows_after_header(wb["情况统计表"])
    col = {name: i for i, name in enumerate(head)}
    by_school = {r[col["学校"]]: r for r in rows}
    week = len(b.profile.week_days())
    # what the builder stored: DAY for every school (exp), the day before for the first two
    before = {b.roster.names[0]: "on_time", b.roster.names[1]: "late"}
    for school, e in exp.items():
        r = by_school[school]
        statuses = [e["status"]] + ([before[school]] if school in before else [])
        reported = [s for s in statuses if s != "missing"]
        assert r[col["报送天数"]] == len(reported)
        assert r[col["按时"]] == statuses.count("on_time")
        assert r[col["逾期"]] == statuses.count("late")
        assert r[col["人工认可"]] == statuses.count("accepted")
        assert r[col["未报送"]] == week - len(reported)
        photos_before = 1 if school in before else 0
        assert r[col["照片（张）"]] == (e["photos"] if e["status"] != "missing" else 0) + photos_before
        assert r[col["视频（个）"]] == e["videos"]
        open_errors = [c for c in e["open"] if c in ("text.missing", "photo.too_narrow")] if e["status"] != "accepted" else []
        assert r[col["未改正问题（项）"]] == len(open_errors)
    totals = by_school["合计"]
    for name in ("报送天数", "按时", "逾期", "未报送", "照片（张）", "视频（个）", "文字（字）"):
        assert totals[col[name]] == sum(by_school[s][col[name]] for s in exp), name
    ws = wb["情况统计表"]
    assert ws.freeze_panes is not None and ws.column_dimensions["B"].width >= 20
    # the day's sheet says the same as the digest would
    head, rows = rows_after_header(wb[f"{DAY.month}月{DAY.day}日"])
    day_rows = {r[0]: r for r in rows}
    zh = {"on_time": "按时报送", "late": "逾期报送", "missing": "未报送", "accepted": "人工认可"}
    for school, e in exp.items():
        assert day_rows[school][head.index("状态")] == zh[e["status"]]
        if e["status"] != "missing":
            assert day_rows[school][head.index("字数")] == e["text_chars"]


def test_statistics_tables_are_merged_with_totals(tmp_path):
    b, _ = scenario(tmp_path)
    a, c, d, e = b.roster.names[0], b.roster.names[1], b.roster.names[2], b.roster.names[3]
    b.stats_table(a, [HEADER, [1, "校园开放日", 120, 2, ""], [2, "职业体验", "80", 1, "=HYPERLINK(\"http://x\")"],
                      ["合计", "", 200, 3, ""]])
    b.stats_table(c, [HEADER, [1, "技能展示", 60, 0, "无"]])
    b.stats_table(d, [["序号", "活动名称", "人数"], [1, "开放日", 50]], file="统计表（旧模板）.xlsx")
    # a school that resends: only the latest table counts
    b.stats_table(e, [HEADER, [1, "旧的", 999, 9, ""]], at=dt.datetime(2023, 5, 21, 9, 0, tzinfo=b.profile.tz))
    b.stats_table(e, [HEADER, [1, "新的", 30, 1, ""], [None, None, None, None, None]],
                  at=dt.datetime(2023, 5, 21, 15, 0, tzinfo=b.profile.tz))
    path = tmp_path / "week.xlsx"
    write_workbook(b.profile, b.roster, b.store, path)
    wb = openpyxl.load_workbook(path)
    head, rows = rows_after_header(wb["汇总统计表"])
    assert head == ["学校", *HEADER]
    body, total = rows[:-1], rows[-1]
    assert [r[0] for r in body] == [a, a, c, e]                   # the school's own 合计 line is dropped
    assert [r[2] for r in body] == ["校园开放日", "职业体验", "技能展示", "新的"]
    assert total[0] == "合计"
    assert total[head.index("参与人数")] == 120 + 80 + 60 + 30
    assert total[head.index("媒体报道（篇）")] == 2 + 1 + 0 + 1
    assert total[head.index("序号")] in (None, "")              # numbers, but not a quantity
    formula_cell = body[1][head.index("备注")]
    assert formula_cell == '=HYPERLINK("http://x")'              # kept as text …
    ws = wb["汇总统计表"]
    cell = next(c for row in ws.iter_rows() for c in row if c.value == formula_cell)
    assert cell.data_type == "s"                                 # … never a formula
    odd_head, odd_rows = rows_after_header(wb["表头不一致"])
    assert odd_rows == [[d, "统计表（旧模板）.xlsx", "序号 | 活动名称 | 人数"]]


def test_no_tables_yet_says_so(tmp_path):
    b, _ = scenario(tmp_path)
    path = tmp_path / "w.xlsx"
    write_workbook(b.profile, b.roster, b.store, path)
    wb = openpyxl.load_workbook(path)
    assert wb["汇总统计表"]["A1"].value.startswith("尚未收到") and "表头不一致" not in wb.sheetnames


def test_summary_mail_once_with_figures_and_workbook(tmp_path):
    b, exp = scenario(tmp_path)
    cfg = configs.load(b.config())
    now = dt.datetime(2023, 5, 21, 12, 30, tzinfo=b.profile.tz)
    assert enqueue_summary(cfg, b.profile, b.roster, b.store, now) == 1
    assert enqueue_summary(cfg, b.profile, b.roster, b.store, now) == 0
    (kind, key, raw), = b.store.db.execute("select kind, dedupe_key, raw from outbox").fetchall()
    assert kind == "summary" and key == "summary:xiamen-2023:2023-05-14"
    m = email.message_from_bytes(raw.encode("ascii"), policy=email.policy.default)
    text = m.get_body(("plain",)).get_content()
    for school in exp:
        assert school in text
    on_time = sum(1 for e in exp.values() if e["status"] == "on_time") + 1     # + the day before
    assert f"按时报送{on_time}校次" in text
    assert "统计于2023年5月21日 12:30" in text                         # a stamp read long after carries the year
    (att,) = list(m.iter_attachments())
    assert att.get_filename().endswith(".xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(att.get_content()))
    assert "情况统计表" in wb.sheetnames
    assert "统计于2023年5月21日 12:30" in text                     # stamps carry the year
    assert "统计于2023年5月21日 12:30" in wb["情况统计表"]["A2"].value
