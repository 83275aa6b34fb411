"""Property-based tests (hypothesis) over the MIME and archive parsers.

Why: the corpus covers the attacks we thought of; these cover the inputs nobody thought of.
- any attachments survive parse_file byte for byte, also when their base64 is decoded straight
  from the file (SPAN_BYTES made tiny so every run takes that path), whatever the line wrapping;
- the skeleton's whole-block skip cuts exactly the runs the line-by-line regex cut (any line ends,
  stray CRs, blank lines at block edges, '=' mid-run, EOF without a newline), and the block decoder
  gives today's bytes for cut base64 and the standard library's for base64 with stray '=';
- a good mail cut, flipped or spliced anywhere still parses and is judged, with every file it
  wrote inside the work folder;
- a zip with damaged bytes or any member names never raises and never writes outside;
- find_deliverables, made linear for hostile subjects, still agrees with the old definition.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import email._encoded_words
import email.errors
import hashlib
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon import profile as profiles
from daemon.judging import b64runs, parse
from daemon.judging import roster as rosters
from daemon.judging.inspect import archive
from daemon.judging.judge import find_deliverables, judge_file
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.media import attachment, context
from tests.judging.conftest import ROSTER

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=30)


def _inside(root: Path, p: Path) -> bool:
    return root.resolve() in Path(p).resolve().parents


def _wrapped_b64(data: bytes, width: int, eol: bytes) -> bytes:
    text = base64.b64encode(data)
    width = max(4, width - width % 4)
    return eol.join(text[i:i + width] for i in range(0, len(text), width)) + eol


@contextlib.contextmanager
def _tuned(**sizes):
    """b64runs' sizes (SPAN_BYTES, PIECE, HOLD_BYTES, BLOCK) set for one example: hypothesis runs many
    in one test, so monkeypatch, which undoes at the test's end, won't do."""
    old = {name: getattr(b64runs, name) for name in sizes}
    for name, value in sizes.items():
        setattr(b64runs, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(b64runs, name, value)


def _parsed(raw: bytes) -> list[bytes]:
    """The attachments' bytes parse_file gives for raw."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.eml").write_bytes(raw)
        return [a.path.read_bytes() for a in parse.parse_file(Path(tmp) / "m.eml", Path(tmp) / "w").attachments]


@FAST
@given(st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=4),
       st.integers(min_value=4, max_value=200), st.sampled_from([b"\r\n", b"\n"]), st.booleans())
def test_attachments_survive_byte_for_byte(payloads, width, eol, spans):
    """Hand-wrapped base64 at any width and line ending, with the span path on or off."""
    boundary = b"==b=="
    body = [b"From: a@qq.com", b"Subject: x", b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"', b"",
            b"--" + boundary, b"Content-Type: text/plain; charset=utf-8", b"", "正文".encode()]
    for i, data in enumerate(payloads):
        body += [b"--" + boundary, b"Content-Type: application/octet-stream",
                 b"Content-Transfer-Encoding: base64",
                 b'Content-Disposition: attachment; filename="f%d.bin"' % i, b"", _wrapped_b64(data, width, eol)]
    raw = eol.join(body) + eol + b"--" + boundary + b"--" + eol
    with _tuned(SPAN_BYTES=8 if spans else 1 << 40), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.eml"
        path.write_bytes(raw)
        msg = parse.parse_file(path, Path(tmp) / "w")
        assert [a.path.read_bytes() for a in msg.attachments] == payloads
        assert [a.sha256 for a in msg.attachments] == [hashlib.sha256(p).hexdigest() for p in payloads]
        assert msg.body.strip() == "正文"


@FAST
@given(st.binary(min_size=0, max_size=20_000), st.text(max_size=200), st.booleans())
def test_span_path_equals_the_standard_library(data, text, forwarded):
    """Built by the stdlib as QQ Mail would send it; a text body that is itself long base64 too."""
    inner = build_mail(subject="转发", body=text, attachments=[("附件.bin", data)])
    raw = build_mail(subject="一日一报", body=text, attachments=[("b.bin", data)] + (
        [("fwd.eml", inner, "message/rfc822")] if forwarded else []))
    results = []
    for span in (16, 1 << 40):
        with _tuned(SPAN_BYTES=span), tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.eml"
            path.write_bytes(raw)
            msg = parse.parse_file(path, Path(tmp) / "w")
            results.append(([(a.name, a.path.read_bytes()) for a in msg.attachments], msg.bodies, msg.subject))
    assert results[0] == results[1]


@FAST
@given(st.lists(st.text(alphabet="AZaz09+/=-\n<>\"", max_size=120), min_size=1, max_size=4),
       st.sampled_from(["8bit", "quoted-printable", "7bit"]), st.integers(min_value=1, max_value=40))
def test_tokens_cut_out_of_any_line_are_put_back(texts, cte, piece):
    """Base64-looking runs inside text, long lines read in pieces: the parse must not change."""
    parts = b"".join(b"--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " + cte.encode()
                     + b"\r\nContent-Disposition: attachment; filename=\"t%d.txt\"\r\n\r\n" % i
                     + t.encode().replace(b"\n", b"\r\n") + b"\r\n" for i, t in enumerate(texts))
    raw = b'From: a@qq.com\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts + b"--B--\r\n"
    got = []
    for span, size in ((4, piece), (1 << 40, 1 << 20)):
        with _tuned(SPAN_BYTES=span, PIECE=size):
            got.append(_parsed(raw))
    assert got[0] == got[1] and len(got[0]) == len(texts)


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BREAKS = [b"\n", b"\r\n", b"\r", b"=", b"==", b"\n\n", b"\r\n\r\n", b"\r\r\n", b"-", b" ", b"--b\r\n"]


def _skeleton(raw: bytes, fast: bool) -> tuple[bytes, list]:
    spans = b64runs.Spans(Path("unused"))
    spans.prefix = "T-"
    dst = io.BytesIO()
    real = b64runs.whole_lines
    b64runs.whole_lines = real if fast else (lambda block: 0)    # 0: the regex alone, as before
    try:
        b64runs.skeleton(io.BytesIO(raw), dst, spans)
    finally:
        b64runs.whole_lines = real
    return dst.getvalue(), list(spans.ranges.items())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 9),
       st.lists(st.tuples(st.sampled_from([0, 0, 0, 1, 3]), st.integers(1, 30), st.sampled_from(["\n", "\r\n", "mid-CR"]),
                          st.sampled_from([b"", b"", b"--b\n", b"\n", b"\r\n", b"Content-Type: x\r\n\r\n"])),
                min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_BREAKS)), max_size=4),
       st.booleans(), st.integers(2, 64), st.integers(1, 64), st.integers(1, 64), st.randoms(use_true_random=False))
def test_skipping_whole_blocks_cuts_the_same_runs(width, runs, breaks, no_last_eol, piece, span, hold, rnd):
    """Runs of base64 lines (LF, CRLF, or a CR inside each line; '=' among the letters; mostly of one
    width) with stray bytes spliced in, read in tiny blocks so block edges fall everywhere: the same
    skeleton and spans as the regex alone."""
    def line(w: int, eol: str) -> bytes:
        text = bytes(rnd.choices(_B64 + b"=", k=w))
        if eol == "mid-CR":                        # as long as a CRLF line, the CR in the wrong place
            at = rnd.randrange(w)
            return text[:at] + b"\r" + text[at:] + b"\n"
        return text + eol.encode()
    raw = b"".join(b"".join(line(width + more, eol) for _ in range(count)) + sep for more, count, eol, sep in runs)
    for at, data in breaks:
        at %= len(raw) + 1
        raw = raw[:at] + data + raw[at:]
    if no_last_eol:
        raw = raw.rstrip(b"\r\n")
    with _tuned(SPAN_BYTES=span, PIECE=piece, HOLD_BYTES=hold):
        assert _skeleton(raw, fast=True) == _skeleton(raw, fast=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 9),
       st.lists(st.tuples(st.sampled_from([0, 0, 0, 1, 3]), st.integers(1, 30), st.sampled_from(["\n", "\r\n"]),
                          st.sampled_from([b"", b"--b\n", b"\n", b"Content-Type: x\r\n\r\n"])),
                min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_BREAKS)), max_size=3),
       st.booleans(), st.integers(2, 64), st.integers(1, 64), st.integers(1, 64), st.integers(1, 40),
       st.randoms(use_true_random=False))
def test_runs_decoded_on_the_way_equal_the_file_decoded(width, runs, breaks, no_last_eol, piece, span, hold, block, rnd):
    """What the skeleton decodes while it reads a run (block by block, a '=' or a stray byte anywhere,
    lines of any width) is what decoding the span from the file gives, byte for byte; and the file's
    hash taken on the same read is its sha256."""
    raw = b"".join(b"".join(bytes(rnd.choices(_B64 + b"=" * (rnd.random() < 0.1), k=width * 4 + more)) + eol.encode()
                            for _ in range(count)) + sep for more, count, eol, sep in runs)
    for at, data in breaks:
        at %= len(raw) + 1
        raw = raw[:at] + data + raw[at:]
    if no_last_eol:
        raw = raw.rstrip(b"\r\n")
    with _tuned(SPAN_BYTES=span, PIECE=piece, HOLD_BYTES=hold, BLOCK=block), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.eml"
        path.write_bytes(raw)
        spans, sha = b64runs.Spans(path, Path(tmp)), hashlib.sha256()
        with open(path, "rb") as src:
            b64runs.skeleton(src, io.BytesIO(), spans, sha)
        assert sha.hexdigest() == hashlib.sha256(raw).hexdigest()
        for rng, done in spans.ready.items():
            assert done.path.read_bytes() == _decode_now(path, rng)
            assert done.sha256 == hashlib.sha256(done.path.read_bytes()).hexdigest()


@FAST
@given(st.binary(max_size=3000), st.integers(1, 30), st.sampled_from([b"\n", b"\r\n"]),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_BREAKS + [b"\x00", b"\xff", b"_", b"--"])), max_size=4))
def test_block_decoding_never_takes_more_than_the_check(data, groups, eol, breaks):
    """_decoded_lines (the skeleton's one-pass path) takes a block only where _whole_lines would, and
    gives what the standard library decodes from it."""
    block = _wrap(base64.b64encode(data), groups * 4, eol)
    for at, extra in breaks:
        at %= len(block) + 1
        block = block[:at] + extra + block[at:]
    n, out = b64runs.decoded_lines(block)
    if n:
        assert n == b64runs.whole_lines(block)
        assert out == binascii.a2b_base64(block[:n].translate(None, b"\r\n"))


def _decode_before(path: Path, span: tuple[int, int]) -> bytes:
    """_Spans.decode before the block decoder (binascii, 1 MB at a time): the oracle for cut base64."""
    out, (start, end), carry = [], span, b""
    with open(path, "rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(1 << 20, left))
            left -= len(chunk)
            data = carry + chunk.translate(None, b"\r\n")
            cut = len(data) - len(data) % 4
            carry = data[cut:]
            out.append(binascii.a2b_base64(data[:cut]))
            if b"=" in data[:cut]:
                return b"".join(out)
    if len(carry) > 1:
        out.append(binascii.a2b_base64(carry + b"=" * (4 - len(carry))))
    return b"".join(out)


def _decode_now(path: Path, span: tuple[int, int]) -> bytes:
    out: list[bytes] = []
    b64runs.Spans(path).decode(span, out.append)
    return b"".join(out)


def _wrap(text: bytes, width: int, eol: bytes) -> bytes:
    return b"".join(text[i:i + width] + eol for i in range(0, len(text), width))


@FAST
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3), st.integers(min_value=0, max_value=2000),
       st.integers(1, 90), st.sampled_from([b"\n", b"\r\n"]), st.integers(1, 80), st.booleans())
def test_block_decoding_of_cut_base64_is_as_before(pieces, cut, width, eol, block, ragged):
    """Well-formed base64 (several padded pieces back to back: decoding stops at the first padding),
    cut anywhere, wrapped at any width (a ragged last line or not), decoded in blocks of any size."""
    text = b"".join(base64.b64encode(p) for p in pieces)[:cut]
    raw = _wrap(text, width, eol)
    if ragged:
        raw = raw.rstrip(b"\r\n")
    with _tuned(BLOCK=block), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "span"
        path.write_bytes(raw)
        assert _decode_now(path, (0, len(raw))) == _decode_before(path, (0, len(raw)))


def _stdlib_b64(body: bytes) -> bytes:
    """What email's compat32 get_payload(decode=True) makes of a base64 body; where it gives up (one
    letter past the last whole group: it returns the text itself) the span decoder drops that letter."""
    joined = b"".join(body.splitlines())
    value, defects = email._encoded_words.decode_b(joined)
    if any(isinstance(d, email.errors.InvalidBase64LengthDefect) for d in defects):
        value, _ = email._encoded_words.decode_b(joined.rstrip(b"=")[:-1])
    return value


@FAST
@given(st.binary(max_size=600), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([b"=", b"==", b"==="])),
                                         min_size=1, max_size=4),
       st.integers(min_value=0, max_value=900), st.integers(1, 80), st.sampled_from([b"\n", b"\r\n"]),
       st.integers(1, 80))
def test_block_decoding_of_stray_padding_is_the_standard_librarys(data, strays, cut, width, eol, block):
    """'=' anywhere in the base64 (the decoder before raised binascii.Error on most of these, and the
    whole mail failed): parse_file from the file gives what the standard library's parse gives."""
    text = base64.b64encode(data)
    for at, pad in strays:
        at %= len(text) + 1
        text = text[:at] + pad + text[at:]
    text = text[:cut] or b"QQ"
    body = _wrap(text, width, eol)
    raw = (b'From: a@qq.com\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
           b'Content-Disposition: attachment; filename="f.bin"\r\n\r\n' + body + b"--B--\r\n")
    got = []
    for span, size in ((0, block), (1 << 40, 4 << 20)):     # 0: any run, however short, is a span
        with _tuned(SPAN_BYTES=span, BLOCK=size):
            got.append(_parsed(raw))
    spanned, plain = got
    assert spanned == [_stdlib_b64(body)]
    joined = b"".join(body.splitlines())
    assert plain == [_stdlib_b64(body)] or plain == [joined]      # the stdlib gave up: the text itself


_GOOD = build_mail(subject="【一日一报】厦门工商旅游学校5月15日活动情况", body=report_text(900),
                   attachments=[("照片.zip", b"PK\x03\x04" + bytes(200), "application/zip"),
                                ("说明.txt", "活动说明".encode("gbk"), "text/plain")])
_PROFILE = profiles.load("xiamen-2023")


def _roster(tmp: Path):
    (tmp / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return rosters.load(tmp / "roster.csv")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(_GOOD)), st.binary(max_size=40),
                          st.integers(min_value=0, max_value=60)), max_size=6),
       st.one_of(st.none(), st.integers(min_value=0, max_value=len(_GOOD))), st.booleans())
def test_a_damaged_mail_is_still_judged(edits, cut, spans):
    """Splice random bytes in (replacing up to 60), then maybe cut the mail short."""
    raw = bytearray(_GOOD)
    for at, data, drop in edits:
        raw[at:at + drop] = data
    if cut is not None:
        del raw[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "m.eml").write_bytes(bytes(raw))
        with _tuned(SPAN_BYTES=8 if spans else b64runs.SPAN_BYTES):
            verdict, msg = judge_file(tmp / "m.eml", _PROFILE, _roster(tmp), workdir=tmp / "w",
                                      received=dt.datetime(2023, 5, 16, 9, tzinfo=TZ))
        assert verdict.kind in ("report", "auto", "other")
        for a in msg.attachments:
            assert _inside(tmp / "w", a.path)
        for m in verdict.items:
            assert m.path is None or _inside(tmp / "w", m.path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes_are_judged(raw):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "m.eml").write_bytes(raw)
        verdict, _ = judge_file(tmp / "m.eml", _PROFILE, _roster(tmp), workdir=tmp / "w")
        assert verdict.kind in ("report", "auto", "other")


def _zip(members: dict[str, bytes]) -> bytes:
    with tempfile.TemporaryFile() as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        fh.seek(0)
        return fh.read()


_ZIP = _zip({"照片/合影.jpg": b"\xff\xd8\xff" + bytes(3000), "说明.txt": "说明".encode() * 500,
             "内/层.zip": _zip({"a.txt": b"abc" * 300})})


@FAST
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(_ZIP) - 1), st.integers(0, 255)),
                min_size=1, max_size=8),
       st.one_of(st.none(), st.integers(min_value=0, max_value=len(_ZIP))))
def test_a_damaged_zip_never_raises_nor_writes_outside(flips, cut):
    raw = bytearray(_ZIP)
    for at, value in flips:
        raw[at] = value
    if cut is not None:
        del raw[cut:]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "a.zip").write_bytes(bytes(raw))
        (tmp / "work").mkdir()
        result = archive.inspect(attachment(tmp / "a.zip", "材料.zip"), "zip", context("puyang-2023", tmp / "work"))
        assert result.materials and result.materials[0].type == "archive"
        for child in result.children:
            assert _inside(tmp / "work", child.path)
        assert all(d.code.startswith("archive.") for d in result.defects)


@FAST
@given(st.dictionaries(st.one_of(NAMES, st.sampled_from(["../x", "a/../../y", "/abs", "C:\\w\\z", "./.", "..",
                                                        "a\\..\\..\\b", "x/\u202e/gpj.exe", "长" * 300])),
                       st.binary(max_size=200), min_size=1, max_size=6))
def test_any_member_names_are_refused_or_land_inside(members):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "a.zip").write_bytes(_zip(members))
        (tmp / "work").mkdir()
        result = archive.inspect(attachment(tmp / "a.zip", "a.zip"), "zip", context("puyang-2023", tmp / "work"))
        escapes = any(".." in n.replace("\\", "/").split("/") or n.startswith(("/", "\\")) for n in members)
        if escapes:
            assert "archive.unsafe" in {d.code for d in result.defects}
            assert not result.children
        for child in result.children:
            assert _inside(tmp / "work", child.path)
        shutil.rmtree(tmp / "work")


def _reference_find_deliverables(profile, texts):
    """The definition before it was made linear (quadratic in the number of matches)."""
    for text in texts:
        if not text:
            continue
        low = text.lower()
        matches = []
        for d in profile.deliverables:
            for w in d.words:
                start = low.find(w.lower())
                while start >= 0:
                    matches.append((start, start + len(w), d))
                    start = low.find(w.lower(), start + 1)
        kept = [m for m in matches
                if not any(o[2] is not m[2] and o[0] <= m[0] and m[1] <= o[1] and (o[1] - o[0]) > (m[1] - m[0])
                           for o in matches)]
        found = []
        for _, _, d in sorted(kept, key=lambda m: m[0]):
            if d not in found:
                found.append(d)
        if found:
            return [d for d in profile.deliverables if d in found]
    return []


_PROFILES = [profiles.load(n) for n in ("xiamen-2023", "sichuan-2024", "puyang-2023", "weifang-2017")]
_PIECES = sorted({w for p in _PROFILES for d in p.deliverables for w in d.words} | {"信息", "表", "总", "x", " "})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PROFILES), st.lists(st.lists(st.sampled_from(_PIECES), max_size=8).map("".join),
                                            min_size=1, max_size=3))
def test_find_deliverables_agrees_with_its_definition(profile, texts):
    assert find_deliverables(profile, texts) == _reference_find_deliverables(profile, texts)
