"""parse_file over large attachments: whole blocks skipped and decoded at C speed, once, as the skeleton
reads them; the same bytes out.

The property tests (tests/hostile/test_properties.py) prove the block paths equal the line-by-line
ones on small inputs; these check, on attachments of real size, that the block paths are the ones
taken (a regression to per-line work would pass every equality test) and that a stray '=' deep in
a long run, which made the decoder before raise binascii.Error, now decodes as the stdlib does.
"""
from __future__ import annotations

import base64
import hashlib
import os

import pybase64
import pytest

from daemon.judging import b64runs, parse


def _mail(b64_text: bytes, eol: bytes) -> bytes:
    head = (b'From: a@qq.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
            b"--B\nContent-Type: text/plain; charset=utf-8\n\n" + "正文".encode() + b"\n"
            b"--B\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
            b'Content-Disposition: attachment; filename="a.jpg"\n\n')
    return (head + b"\n".join(b64_text[i:i + 76] for i in range(0, len(b64_text), 76))
            + b"\n--B--\n").replace(b"\n", eol)


def _wrapped(data: bytes, width: int, eol: bytes) -> bytes:
    text = base64.b64encode(data)
    return eol.join(text[i:i + width] for i in range(0, len(text), width)) + eol


@pytest.mark.parametrize("width, eol", [(76, b"\n"), (76, b"\r\n"), (73, b"\r\n")])
def test_a_large_attachment_is_skipped_and_decoded_a_block_at_a_time(tmp_path, monkeypatch, width, eol):
    """73-letter lines are no whole 4-letter groups: decoded the general way, the same bytes."""
    data = os.urandom(3_000_000)
    head = (b'From: a@qq.com\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: image/jpeg\n'
            b'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="a.jpg"\n\n').replace(b"\n", eol)
    (tmp_path / "m.eml").write_bytes(head + _wrapped(data, width, eol) + b"--B--" + eol)
    calls = {"blocks": 0, "regex": 0, "simd": 0}
    real_lines, real_decoded, real_regex, real_decode = (b64runs.whole_lines, b64runs.decoded_lines, b64runs.B64_LINES,
                                                         pybase64.b64decode)

    def whole_lines(block):
        n = real_lines(block)
        calls["blocks"] += n > 0
        return n

    def decoded_lines(block):
        n, out = real_decoded(block)
        calls["blocks"] += n > 0
        return n, out

    class Regex:
        def match(self, block):
            calls["regex"] += 1
            return real_regex.match(block)

    def b64decode(text, validate=False):
        out = real_decode(text, validate=validate)
        calls["simd"] += len(out)
        return out

    monkeypatch.setattr(b64runs, "whole_lines", whole_lines)
    monkeypatch.setattr(b64runs, "decoded_lines", decoded_lines)
    monkeypatch.setattr(b64runs, "B64_LINES", Regex())
    monkeypatch.setattr(pybase64, "b64decode", b64decode)
    msg = parse.parse_file(tmp_path / "m.eml", tmp_path / "w")
    [att] = msg.attachments
    assert att.path.read_bytes() == data and att.size == len(data)
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert calls["blocks"] >= 3 and calls["regex"] <= 2           # 4 MB of base64 in 1 MB blocks
    assert len(data) * 0.9 <= calls["simd"] <= len(data)     # decoded once, as the skeleton read it


def test_a_stray_padding_deep_in_a_long_run_decodes_as_the_stdlib_does(tmp_path):
    """'=' where no padding can be (the 2nd letter of a group) is ignored by the stdlib's decoder;
    the decoder before cut its 1 MB chunk there and raised binascii.Error, failing the whole mail."""
    data = os.urandom(600_000)
    text = base64.b64encode(data)
    text = text[:400_001] + b"=" + text[400_001:]
    (tmp_path / "m.eml").write_bytes(_mail(text, b"\r\n"))
    spanned = parse.parse_file(tmp_path / "m.eml", tmp_path / "w").attachments
    assert [a.path.read_bytes() for a in spanned] == [data]
    plain = parse.parse_bytes((tmp_path / "m.eml").read_bytes(), tmp_path / "p").attachments
    assert [a.path.read_bytes() for a in plain] == [data]


def test_a_padding_mid_run_ends_the_file_there_as_the_stdlib_does(tmp_path):
    """Two base64 texts back to back (a mailer that pads each piece): both stop at the first padding."""
    first, second = os.urandom(500_002), os.urandom(400_000)     # 500,002 bytes: the text ends in '=='
    (tmp_path / "m.eml").write_bytes(_mail(base64.b64encode(first) + base64.b64encode(second), b"\n"))
    spanned = parse.parse_file(tmp_path / "m.eml", tmp_path / "w").attachments
    plain = parse.parse_bytes((tmp_path / "m.eml").read_bytes(), tmp_path / "p").attachments
    assert [a.path.read_bytes() for a in spanned] == [a.path.read_bytes() for a in plain] == [first]
