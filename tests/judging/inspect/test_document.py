"""document.inspect: the text of docx / doc / wps / pdf / txt / rtf / odt, counted as Word counts;
what can't be read is a warning asking for .docx or the text in the mail."""
from __future__ import annotations

import codecs
import shutil
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.judging.inspect import document
from daemon.judging.inspect.charset import decode_text, read_text_file
from daemon.judging.inspect.document import Unreadable, extract_text, rtf_to_text
from daemon.judging.inspect.sniff import sniff
from daemon.judging.textcount import count_chars
from tests.builders.files import make_doc, make_docx, make_odt, make_pdf, make_rtf, make_wps, rewrite_zip_member
from tests.builders.media import attachment, context, make_jpeg

REPORT = ["濮阳市第一中学职业教育活动周日报", "今天上午，我校举行了开幕式，2024年5月1日共有300名学生参加。",
          "WPS Office 与 Word 均可打开本文档。"]


@pytest.fixture
def ctx(tmp_path):
    return context("puyang-2023", tmp_path / "work")


def run(path, ctx, name=None):
    att = attachment(path, name)
    return document.inspect(att, sniff(att.path, att.name), ctx)


def codes(result):
    return sorted(d.code for d in result.defects)


def assert_reads(res, fmt, expected_lines):
    assert codes(res) == []
    (m,) = res.materials
    assert (m.type, m.format) == ("document", fmt)
    for line in expected_lines:
        assert line in m.text
    assert m.text_chars == count_chars(m.text) > 0
    return m


def test_tools_are_installed():
    for tool in ("antiword", "catdoc"):
        assert shutil.which(tool), f"{tool} is missing: install it (Debian package {tool})"


# ---------------------------------------------------------------- docx


def test_docx_paragraphs_and_tables(tmp_path, ctx):
    p = make_docx(tmp_path / "日报.docx", REPORT, tables=[[["项目", "人数"], ["开幕式", "300"]]],
                  images=[make_jpeg(tmp_path / "x.jpg", 64, 48)])
    res = run(p, ctx)
    m = assert_reads(res, "docx", REPORT + ["项目", "开幕式", "300"])
    assert m.text_chars == count_chars("\n".join(REPORT)) + count_chars("项目 人数 开幕式 300")
    assert (m.file, m.size, m.sha256, m.in_archive, m.path) == ("日报.docx", p.stat().st_size,
                                                                attachment(p).sha256, False, p)


def test_docx_merged_cells_count_once(tmp_path, ctx):
    import docx
    d = docx.Document()
    t = d.add_table(rows=1, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "合并单元格"
    d.save(str(tmp_path / "m.docx"))
    assert count_chars(extract_text(tmp_path / "m.docx", "docx")) == 5


def test_docx_external_entity_is_not_resolved(tmp_path, ctx):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-学校密码")
    p = make_docx(tmp_path / "xxe.docx", ["正文"])
    with zipfile.ZipFile(p) as zf:
        xml = zf.read("word/document.xml").decode()
    head, body = xml.split("?>", 1)
    evil = (f'{head}?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
            + body.replace("<w:t>正文</w:t>", "<w:t>正文&xxe;</w:t>"))
    rewrite_zip_member(p, "word/document.xml", evil.encode())
    res = run(p, ctx)
    assert "TOPSECRET" not in (res.materials[0].text or "")


def test_docx_with_bomb_member_is_not_loaded(tmp_path, ctx):
    p = make_docx(tmp_path / "bomb.docx", ["正文"])
    with zipfile.ZipFile(p, "a", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("word/media/huge.bin", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 20)
            for _ in range(300):
                fh.write(chunk)
    res = run(p, ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("document.unreadable", "warning")]
    assert res.materials[0].text == "" and res.materials[0].text_chars == 0


def test_docm_content_type_still_read(tmp_path, ctx):
    p = make_docx(tmp_path / "a.docx", ["宏文档的正文"])
    with zipfile.ZipFile(p) as zf:
        ct = zf.read("[Content_Types].xml").decode()
    rewrite_zip_member(p, "[Content_Types].xml", ct.replace(
        "wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml").encode())
    assert "宏文档的正文" in extract_text(p, "docx")


def test_broken_docx_is_unreadable(tmp_path, ctx):
    p = make_docx(tmp_path / "a.docx", ["x"])
    rewrite_zip_member(p, "word/document.xml", b"<not xml")
    res = run(p, ctx)
    assert codes(res) == ["document.unreadable"]
    d = res.defects[0]
    assert d.file == "a.docx" and "a.docx" in d.message and ".docx" in d.message and "邮件正文" in d.message


# ---------------------------------------------------------------- doc / wps


def test_doc_through_antiword(tmp_path, ctx):
    p = make_doc(tmp_path / "日报.doc", REPORT)
    assert sniff(p, p.name) == "doc"
    m = assert_reads(run(p, ctx), "doc", REPORT)
    assert m.text_chars == count_chars("\n".join(REPORT))


def test_wps_through_antiword(tmp_path, ctx):
    p = make_wps(tmp_path / "日报.wps", REPORT)
    assert sniff(p, p.name) == "wps"
    assert_reads(run(p, ctx), "wps", REPORT)


def test_doc_falls_back_to_catdoc(tmp_path, ctx, monkeypatch):
    real = shutil.which
    monkeypatch.setattr(document.shutil, "which", lambda name: None if name == "antiword" else real(name))
    assert_reads(run(make_doc(tmp_path / "a.doc", REPORT), ctx), "doc", REPORT)


def test_garbage_doc_is_unreadable(tmp_path, ctx):
    p = tmp_path / "a.doc"
    p.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00garbage" * 100)
    res = run(p, ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("document.unreadable", "warning")]
    assert res.materials[0].text == ""


# ---------------------------------------------------------------- pdf


def test_pdf_text(tmp_path, ctx):
    m = assert_reads(run(make_pdf(tmp_path / "a.pdf", ["Daily report of Puyang No.1 School", "300 students"]), ctx),
                     "pdf", ["Daily report", "300 students"])
    assert m.text_chars == count_chars("Daily report of Puyang No.1 School 300 students")


def test_pdf_page_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "MAX_PDF_PAGES", 2)
    text = extract_text(make_pdf(tmp_path / "a.pdf", ["PAGE"], pages=5), "pdf")
    assert text.count("PAGE") == 2


@pytest.mark.parametrize("data", [b"%PDF-1.4\n garbage", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n%%EOF"])
def test_broken_pdf_is_unreadable(tmp_path, ctx, data):
    p = tmp_path / "a.pdf"
    p.write_bytes(data)
    assert codes(run(p, ctx)) == ["document.unreadable"]


# ---------------------------------------------------------------- txt, rtf, odt


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "big5"])
def test_txt_encodings(tmp_path, ctx, encoding):
    text = "濮阳市第一中学：今天举行开幕式，共300人参加。" if encoding != "big5" else "濮陽市第一中學：今天舉行開幕式，共300人參加。"
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        data = codecs.BOM_UTF16_LE + data
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    p = tmp_path / "a.txt"
    p.write_bytes(data)
    m = assert_reads(run(p, ctx), "txt", [text])
    assert m.text == text


def test_utf16_without_bom(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("Report 2024: 开幕式 OK".encode("utf-16-le"))
    assert read_text_file(p) == "Report 2024: 开幕式 OK"


def test_read_text_file_limit_cuts_inside_a_character(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("开幕式".encode())                      # 9 bytes
    assert read_text_file(p, limit_bytes=7) == "开幕"


@given(st.binary(max_size=400))
def test_decode_text_never_raises(data):
    assert isinstance(decode_text(data), str)


@given(st.text(st.characters(blacklist_characters="\x00"), max_size=200),   # NUL-only text is binary to us
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "gb18030"]))
def test_decode_text_round_trips(text, encoding):
    data = text.encode(encoding, errors="strict") if all(not 0xD800 <= ord(c) <= 0xDFFF for c in text) else b""
    out = decode_text(data)
    if encoding in ("utf-8-sig", "utf-16", "utf-32", "utf-8") and data:
        assert out == text or (encoding == "utf-8" and "\x00" in text)


def test_rtf(tmp_path, ctx):
    m = assert_reads(run(make_rtf(tmp_path / "a.rtf", "今天举行开幕式。\nSecond line"), ctx), "rtf",
                     ["今天举行开幕式。", "Second line"])
    assert "ignored title" not in m.text and "Hand" not in m.text


def test_rtf_gbk_hex_escapes():
    data = b"{\\rtf1\\ansi\\ansicpg936{\\fonttbl{\\f0 \\'cb\\'ce\\'cc\\'e5;}}\\f0 \\'c4\\'e3\\'ba\\'c3 abc\\par}"
    assert rtf_to_text(data) == "你好 abc\n"


@given(st.binary(max_size=300))
def test_rtf_never_raises(data):
    rtf_to_text(b"{\\rtf1 " + data)


def test_odt(tmp_path, ctx):
    assert_reads(run(make_odt(tmp_path / "a.odt", ["开放日第一段", "第二段"]), ctx), "odt", ["开放日第一段", "第二段"])


def test_extract_text_raises_unreadable(tmp_path):
    p = tmp_path / "a.docx"
    p.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(Unreadable):
        extract_text(p, "docx")


def test_in_archive_is_carried(tmp_path, ctx):
    att = attachment(make_docx(tmp_path / "a.docx", ["正文"]), "x.zip/a.docx", in_archive=True)
    res = document.inspect(att, "docx", ctx)
    assert res.materials[0].in_archive and res.materials[0].file == "x.zip/a.docx"
