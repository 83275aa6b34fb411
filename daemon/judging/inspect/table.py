"""Tables (xlsx, xls, WPS et, csv, ods): the rows of the first sheet that holds data.

Schools fill the bureau's template in Excel or WPS, or export CSV from a system in GBK. What the
checks need is a header and data rows as plain values; formatting, formulas and other sheets are
not their business. Rows and columns are capped so a runaway sheet costs little.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from daemon.defects import defect
from daemon.judging.inspect import Context
from daemon.judging.inspect.archive import zip_guard
from daemon.judging.inspect.charset import read_text_file
from daemon.model import Attachment, Inspection, Material
from daemon.store.hashing import sha256_file as _sha256

KIND = "table"
# openpyxl, calamine and csv's Sniffer (regexes over 8 KB) can't be interrupted: run where they can be killed
FORK = {"xlsx", "xls", "et", "ods", "csv"}
FORMATS = {"xlsx", "xls", "et", "csv", "ods"}
OLE_SUFFIXES = {"xls": "xls", "xlt": "xls", "et": "et", "ett": "et"}


def sniff(head: bytes, suffix: str, path) -> str | None:
    """An old Excel or WPS table: an OLE file whose name says it is one (the bytes can't tell
    it from a .doc). A .csv is plain text and is told apart by its name at the end of sniffing."""
    if head[:8] == bytes.fromhex("d0cf11e0a1b11ae1") and suffix in OLE_SUFFIXES:
        return OLE_SUFFIXES[suffix]
    return None
MAX_ROWS = 5000                  # data rows kept
MAX_COLS = 200                   # columns kept (after empty ones are dropped)
SCAN_ROWS = 100_000              # raw rows looked at per sheet, empty ones included
SCAN_COLS = 1000
csv.field_size_limit(1_000_000)


class Corrupt(Exception):
    def __init__(self, reason: str = "", password: bool = False):
        super().__init__(reason)
        self.password = password


def cell(value) -> str | int | float:
    """A plain value: str, int or float; dates as ISO strings, integral floats as int."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        if isinstance(value, dt.datetime) and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value).strip()


def clean(raw_rows) -> list[list]:
    """Plain values, fully empty rows and columns dropped, capped to MAX_ROWS+1 × MAX_COLS."""
    rows = []
    for i, raw in enumerate(raw_rows):
        if i >= SCAN_ROWS or len(rows) > MAX_ROWS:
            break
        row = [cell(v) for v in list(raw)[:SCAN_COLS]]
        if any(v != "" for v in row):
            rows.append(row)
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] != "" for r in rows)][:MAX_COLS]
    return [[r[j] for j in keep] for r in rows]


def pick(sheets) -> list[list]:
    """The first sheet with a header and data; else the first with anything (header only)."""
    first = []
    for raw in sheets:
        rows = clean(raw)
        if len(rows) >= 2:
            return rows
        first = first or rows
    return first


def _xlsx_sheets(path: Path):
    reason = zip_guard(path)
    if reason:
        raise Corrupt(reason)
    import openpyxl
    try:
        wb = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as e:                 # openpyxl raises KeyError, ValueError, lxml errors ...
        raise Corrupt(f"{type(e).__name__}: {e}") from None
    try:
        for ws in wb.worksheets:
            if hasattr(ws, "iter_rows"):
                yield ws.iter_rows(values_only=True)
    finally:
        wb.close()


def _calamine_sheets(path: Path, fmt: str):
    if fmt == "ods":
        reason = zip_guard(path)
        if reason:
            raise Corrupt(reason)
    import python_calamine as pc
    with open(path, "rb") as fh:           # from a file object calamine sniffs the format itself
        try:
            wb = pc.CalamineWorkbook.from_filelike(fh)
        except pc.PasswordError:
            raise Corrupt("password", password=True) from None
        except Exception as e:
            raise Corrupt(f"{type(e).__name__}: {e}") from None
        for i in range(len(wb.sheet_names)):
            try:
                sheet = wb.get_sheet_by_index(i)
                yield sheet.iter_rows()
            except Exception:              # chart sheets, broken sheets: skip, not fatal
                continue


_INT = re.compile(r"-?(0|[1-9]\d{0,14})")
_FLOAT = re.compile(r"-?(0|[1-9]\d{0,14})\.\d{1,15}")


def _csv_value(text: str) -> str | int | float:
    """Numbers as numbers, as a spreadsheet would show them; "007" and ID numbers stay text."""
    text = text.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _csv_rows(path: Path):
    text = read_text_file(path)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    yield ([_csv_value(v) for v in row] for row in csv.reader(io.StringIO(text), dialect))


def read_rows(path: Path | str, fmt: str) -> list[list]:
    """[header, *data_rows] of the table, [] if it holds nothing; raises Corrupt."""
    path = Path(path)
    if fmt == "xlsx":
        sheets = _xlsx_sheets(path)
    elif fmt in ("xls", "et", "ods"):
        sheets = _calamine_sheets(path, fmt)
    elif fmt == "csv":
        sheets = _csv_rows(path)
    else:
        raise Corrupt(f"no reader for {fmt}")
    try:
        return pick(sheets)
    except Corrupt:
        raise
    except Exception as e:                 # a sheet that breaks while being read
        raise Corrupt(f"{type(e).__name__}: {e}") from None


def preload(fmt: str) -> None:
    """Import the reader for `fmt` before the file's child is forked (0.1-0.2 s each time otherwise)."""
    if fmt == "xlsx":
        import openpyxl  # noqa: F401
    elif fmt != "csv":
        import python_calamine  # noqa: F401


def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection:
    defects = []
    try:
        rows = read_rows(att.path, fmt)
        if len(rows) < 2:
            defects.append(defect("table.empty", att.name))
    except Corrupt as e:
        rows = []
        defects.append(defect("table.corrupt", att.name, form="password" if e.password else ""))
    material = Material(file=att.name, type="table", size=att.size, sha256=att.sha256 or _sha256(att.path),
                        rows=rows, format=fmt, in_archive=att.in_archive, path=att.path)
    return Inspection(materials=[material], defects=defects)
