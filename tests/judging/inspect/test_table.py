"""table.inspect: rows of xlsx / xls / WPS et / csv / ods as plain values; an unopenable table
is table.corrupt, one without a data row is table.empty."""
from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from daemon.judging.inspect import table
from daemon.judging.inspect.sniff import sniff
from daemon.judging.inspect.table import cell, read_rows
from tests.builders.files import make_csv, make_et, make_ods, make_xls, make_xlsx, make_zip_bomb
from tests.builders.media import attachment, context

ROWS = [["学校", "参加人数", "日期", "备注"],
        ["濮阳市第一中学", 300, dt.date(2024, 5, 1), "开幕式"],
        ["濮阳市职业中专", 128, dt.date(2024, 5, 2), "技能展示"]]
EXPECTED = [["学校", "参加人数", "日期", "备注"],
            ["濮阳市第一中学", 300, "2024-05-01", "开幕式"],
            ["濮阳市职业中专", 128, "2024-05-02", "技能展示"]]


@pytest.fixture
def ctx(tmp_path):
    return context("puyang-2023", tmp_path / "work")


def run(path, ctx, name=None):
    att = attachment(path, name)
    return table.inspect(att, sniff(att.path, att.name), ctx)


def codes(result):
    return sorted(d.code for d in result.defects)


@pytest.mark.parametrize("maker, name, fmt", [(make_xlsx, "统计表.xlsx", "xlsx"), (make_xls, "统计表.xls", "xls"),
                                               (make_et, "统计表.et", "et")])
def test_spreadsheets_read(tmp_path, ctx, maker, name, fmt):
    p = maker(tmp_path / name, ROWS)
    res = run(p, ctx)
    assert codes(res) == []
    (m,) = res.materials
    assert (m.type, m.format, m.file, m.rows) == ("table", fmt, name, EXPECTED)
    assert (m.size, m.sha256, m.path, m.in_archive) == (p.stat().st_size, attachment(p).sha256, p, False)


def test_ods_read(tmp_path, ctx):
    p = make_ods(tmp_path / "a.ods", [["学校", "人数"], ["一中", 300]])
    res = table.inspect(attachment(p), "ods", ctx)     # (sniff reads ODS as "odt" for now)
    assert codes(res) == [] and res.materials[0].rows == [["学校", "人数"], ["一中", 300]]
    assert res.materials[0].format == "ods"


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "utf-16"])
def test_csv_read(tmp_path, ctx, encoding):
    rows = [["学校", "人数", "编号"], ["濮阳市第一中学", "300", "007"], ["二中", "3.5", "410105200001011234"]]
    res = run(make_csv(tmp_path / "统计.csv", rows, encoding=encoding), ctx)
    assert codes(res) == []
    assert res.materials[0].rows == [["学校", "人数", "编号"], ["濮阳市第一中学", 300, "007"],
                                     ["二中", 3.5, "410105200001011234"]]


def test_csv_tab_separated(tmp_path, ctx):
    res = run(make_csv(tmp_path / "a.csv", [["学校", "人数"], ["一中", "3"]], delimiter="\t"), ctx)
    assert res.materials[0].rows == [["学校", "人数"], ["一中", 3]]


def test_empty_rows_and_columns_dropped(tmp_path, ctx):
    rows = [[None, None, None, None], [None, "学校", None, "人数"], [None, None, None, None],
            [None, "一中", None, 5], [None, "  二中 ", None, None]]
    res = run(make_xlsx(tmp_path / "a.xlsx", rows), ctx)
    assert res.materials[0].rows == [["学校", "人数"], ["一中", 5], ["二中", ""]]


def test_first_sheet_with_data_rows_wins(tmp_path, ctx):
    p = make_xlsx(tmp_path / "a.xlsx", [], sheets={"模板": [["学校", "人数"]], "数据": [["学校", "人数"], ["一中", 1]]})
    assert run(p, ctx).materials[0].rows == [["学校", "人数"], ["一中", 1]]


def test_caps(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "MAX_ROWS", 3)
    monkeypatch.setattr(table, "MAX_COLS", 2)
    rows = [[f"h{j}" for j in range(5)]] + [[i * 10 + j for j in range(5)] for i in range(10)]
    out = read_rows(make_xlsx(tmp_path / "a.xlsx", rows), "xlsx")
    assert out == [["h0", "h1"], [0, 1], [10, 11], [20, 21]]


@pytest.mark.parametrize("rows", [[["学校", "人数"]], [], [[None, None], [None, None]]])
@pytest.mark.parametrize("maker, suffix", [(make_xlsx, "xlsx"), (make_xls, "xls"), (make_csv, "csv")])
def test_header_only_or_empty_is_table_empty(tmp_path, ctx, rows, maker, suffix):
    if maker is make_csv:
        rows = [[v or "" for v in r] for r in rows]
    p = maker(tmp_path / f"a.{suffix}", rows)
    fmt = suffix                          # (an empty .csv sniffs as "empty")
    res = table.inspect(attachment(p), fmt, ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("table.empty", "error")]
    d = res.defects[0]
    assert d.file == p.name and p.name in d.message and "数据" in d.message


@pytest.mark.parametrize("name, data", [("garbage.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50),
                                        ("garbage.xls", bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 600),
                                        ("garbage.et", bytes.fromhex("d0cf11e0a1b11ae1") + b"junk" * 200),
                                        ("garbage.ods", b"PK\x03\x04 nope")])
def test_garbage_is_table_corrupt(tmp_path, ctx, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    res = table.inspect(attachment(p), name.rsplit(".", 1)[1], ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("table.corrupt", "error")]
    assert name in res.defects[0].message and res.materials[0].rows == []


def test_xlsx_missing_workbook_part_is_corrupt(tmp_path, ctx):
    p = make_xlsx(tmp_path / "a.xlsx", ROWS)
    with zipfile.ZipFile(p) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist() if i.filename != "xl/workbook.xml"]
    with zipfile.ZipFile(p, "w") as zf:
        for info, blob in items:
            zf.writestr(info, blob)
    assert codes(table.inspect(attachment(p), "xlsx", ctx)) == ["table.corrupt"]


def test_zip_bomb_named_xlsx_is_not_opened(tmp_path, ctx):
    p = make_zip_bomb(tmp_path / "bomb.xlsx", size=300 * 1024**2, name="xl/worksheets/sheet1.xml")
    assert codes(table.inspect(attachment(p), "xlsx", ctx)) == ["table.corrupt"]


def test_good_table_has_no_defects(tmp_path, ctx):
    assert codes(run(make_xlsx(tmp_path / "a.xlsx", ROWS), ctx)) == []


@pytest.mark.parametrize("value, expected", [(None, ""), (3.0, 3), (2.5, 2.5), (True, "TRUE"), (" a ", "a"),
                                             (dt.datetime(2024, 5, 1), "2024-05-01"),
                                             (dt.datetime(2024, 5, 1, 8, 30), "2024-05-01T08:30:00"),
                                             (dt.time(8, 30), "08:30:00"), (float("nan"), ""), (7, 7)])
def test_cell_values(value, expected):
    assert cell(value) == expected


def test_xlsx_external_entity_is_not_resolved(tmp_path, ctx):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    p = make_xlsx(tmp_path / "a.xlsx", [["学校", "人数"], ["一中", 1]])
    with zipfile.ZipFile(p) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    xml = (f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           + xml.replace("<t>&#19968;&#20013;</t>", "<t>A&xxe;B</t>"))
    from tests.builders.files import rewrite_zip_member
    rewrite_zip_member(p, "xl/worksheets/sheet1.xml", xml.encode())
    res = table.inspect(attachment(p), "xlsx", ctx)
    assert "TOPSECRET" not in repr(res.materials[0].rows)
