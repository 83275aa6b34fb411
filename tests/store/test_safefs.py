"""safe_name / safe_join: whatever a school's mail client or zip tool calls a file, it lands
inside its folder under a name any file system takes."""
from __future__ import annotations

import errno
import re
import sqlite3
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.store.safefs import is_full, safe_join, safe_name

RESERVED = set('<>:"|?*/\\')


@pytest.mark.parametrize("name, expected", [
    ("开幕式合影.jpg", "开幕式合影.jpg"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\老师\\照片.JPG", "照片.JPG"),
    (".bashrc", "file.bashrc"),
    (".DS_Store", "DS_Store"),
    ("...", "file"),
    ("", "file"),
    ("a<b>:c?.txt", "abc.txt"),
    ("  多个   空格\t名.docx", "多个 空格 名.docx"),
    ("con.txt", "file_con.txt"),
    ("a\x00b\x1f.txt", "ab.txt"),
    ("\u202egpj.exe", "gpj.exe"),
    ("?.jpg", "file.jpg"),
    ("报告.", "报告"),
])
def test_examples(name, expected):
    assert safe_name(name) == expected


def test_long_chinese_name_is_cut_by_bytes_keeping_the_extension():
    out = safe_name("照" * 300 + ".jpeg")
    assert out.endswith(".jpeg") and out.startswith("照")
    assert len(out.encode()) <= 200


def test_long_ascii_name_is_cut_to_max_len():
    out = safe_name("x" * 300 + ".jpg", max_len=50)
    assert len(out) == 50 and out.endswith(".jpg")


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
@settings(max_examples=400)
def test_safe_name_properties(name, max_len):
    out = safe_name(name, max_len)
    assert out and out not in (".", "..")
    assert not out.startswith((".", " ")) and not out.endswith((" ", "."))
    assert not RESERVED & set(out)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in out)
    assert not re.search(r"\s\s", out)
    assert len(out.encode()) <= 200 and len(out) <= max(max_len, 12)
    assert safe_name(out, max_len) == out               # idempotent


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
       st.sampled_from(["jpg", "JPG", "docx", "mp4", "xlsx", "7z"]))
def test_simple_extension_survives(stem, ext):
    assert safe_name(f"{stem}.{ext}").endswith(f".{ext}")


def test_safe_join_inside(tmp_path):
    assert safe_join(tmp_path, "a", "b.txt") == (tmp_path / "a" / "b.txt").resolve()


@pytest.mark.parametrize("parts", [("..",), ("../x",), ("a", "..", "..", "x"), ("/etc/passwd",), (".",), ("",)])
def test_safe_join_refuses_escapes(tmp_path, parts):
    with pytest.raises(ValueError):
        safe_join(tmp_path / "root", *parts)


def test_safe_join_refuses_symlink_out(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError):
        safe_join(root, "link", "x")


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_safe_join_never_escapes(parts):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "root"
        root.mkdir()
        try:
            out = safe_join(root, *parts)
        except ValueError:
            return
        assert root.resolve() in out.parents


@given(st.text(max_size=80))
def test_safe_name_always_joins(name):
    with tempfile.TemporaryDirectory() as d:
        out = safe_join(Path(d), safe_name(name))
        assert out.parent == Path(d).resolve()


@pytest.mark.parametrize("e, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("database is locked"), False),
    (ValueError("disk is full"), False),
])
def test_is_full_knows_a_full_disk_from_the_os_and_from_sqlite(e, full):
    assert is_full(e) is full
