"""Raw RFC 822 bytes → ParsedMessage: headers decoded, body text, attachments written to disk.

Why the standard `email` package and not mail-parser: mail-parser keeps every attachment as a
base64 string inside its result (several copies of a 60 MB video in memory), decodes RFC 2047
file names only partly (QQ Mail and Foxmail send `filename="=?GBK?B?...?="`, Outlook sends raw
GB2312 bytes), and can't be told to stop at a nesting depth. The standard parser gives us the
parts; each attachment is decoded, written to disk and dropped from memory at once.

The standard parser still keeps every part's encoded text in memory (as a list of lines, then
joined: a 60 MB video cost ~480 MB). So parse_file first copies the mail to a skeleton in which
each long run of base64 lines (over SPAN_BYTES) is replaced by a one-line token naming its byte
range in the original file; a part whose whole body is one token is decoded from the file in 4 MB
blocks straight to disk (pybase64: SIMD, ~6x binascii), hashed on the same buffers. A token
anywhere else is put back as the original text, so the parse is the same as without the skeleton,
only smaller. Deep inside a run whole blocks are skipped by C-speed tests (`_whole_lines`), so no
Python loop walks a large part line by line.
"""
from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import email
import email.policy
import hashlib
import html
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import pybase64

from daemon.judging.inspect.charset import decode_text
from daemon.model import Attachment
from daemon.store import pagecache
from daemon.store.safefs import safe_name

MAX_PARTS = 2000
MAX_NESTING = 3          # message/rfc822 inside message/rfc822 ...
SPAN_BYTES = 256 * 1024  # base64 runs longer than this are decoded from the file, not from memory
_PIECE = 1 << 20         # lines are read at most this long (a longer one comes in pieces)
_HOLD_BYTES = 32 * 1024  # a run is read line by line this far, then a block at a time
_BLOCK = 4 << 20         # base64 decoded this much at a time
_BOM = b"\xef\xbb\xbf"
_B64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")
_B64_LINES = re.compile(rb"(?:[A-Za-z0-9+/=]+\r?\n)+")   # whole base64 lines, matched a block at a time
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_B64 = bytes(sorted(set(range(256)) - set(_ALPHABET)))     # what the decoder drops (CR, LF)


@dataclass
class ParsedMessage:
    message_id: str = ""
    subject: str = ""
    sender: str = ""                 # lower-case address
    sender_name: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    date: dt.datetime | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)   # lower-case name → values
    content_type: str = ""
    bodies: list[str] = field(default_factory=list)   # plain text of each body (forwarded ones too)
    html_only: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the parser had to put up with
    raw_sha256: str = ""             # the whole file's, when parse_file was asked for it

    def header(self, name: str) -> str:
        vals = self.headers.get(name.lower())
        return vals[0] if vals else ""

    @property
    def body(self) -> str:
        return self.bodies[0] if self.bodies else ""


def decode_words(value) -> str:
    """RFC 2047 words, raw 8-bit GBK and RFC 2231 values → str; never raises."""
    if value is None:
        return ""
    if isinstance(value, tuple):          # RFC 2231 (charset, lang, text) from compat32
        return email.utils.collapse_rfc2231_value(value, errors="replace")
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):   # raw 8-bit bytes kept by surrogateescape
        text = decode_text(text.encode("utf-8", "surrogateescape"))
    if "=?" in text:
        try:
            parts = []
            for chunk, cs in decode_header(text):
                if isinstance(chunk, bytes):
                    cs = (cs or "ascii").lower()
                    cs = "gb18030" if cs in ("gb2312", "gbk", "x-gbk", "cp936") else cs
                    try:
                        parts.append(chunk.decode(cs))
                    except (LookupError, UnicodeDecodeError):
                        parts.append(decode_text(chunk))
                else:
                    parts.append(chunk)
            text = "".join(parts)
        except Exception:
            try:
                text = str(make_header(decode_header(text)))
            except Exception:
                pass
    return re.sub(r"[\r\n\t]+", " ", text).strip()


class _HTMLText(HTMLParser):
    """HTML → text lines; drops scripts, styles and <blockquote> (quoted mail)."""

    SKIP = {"script", "style", "head", "title", "blockquote"}
    BREAK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    p = _HTMLText()
    try:
        p.feed(markup)
        p.close()
    except Exception:
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = "".join(p.out).replace("\xa0", " ")
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def _span_bytes(spans: "_Spans", span: tuple[int, int]) -> bytes:
    out: list[bytes] = []
    spans.decode(span, out.append)
    return b"".join(out)


def _payload_text(part: Message, data: bytes | None = None) -> str:
    if data is None:
        data = part.get_payload(decode=True) or b""
    cs = (part.get_content_charset() or "").lower()
    if cs in ("gb2312", "gbk", "x-gbk", "cp936", "gb_2312-80"):
        cs = "gb18030"
    if cs:
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def _raw8bit_fixed(part: Message) -> Message:
    """Old Outlook and some phones put raw GBK bytes in Content-Disposition / Content-Type;
    compat32 would turn them into U+FFFD. Decode the bytes ourselves into a stand-in header set."""
    raw = [(k, v) for k, v in part._headers if k.lower() in ("content-disposition", "content-type")]
    if not any(isinstance(v, str) and any("\udc80" <= ch <= "\udcff" for ch in v) for _, v in raw):
        return part
    fixed = Message()
    for k, v in raw:
        fixed[k] = decode_text(str(v).encode("utf-8", "surrogateescape"))
    return fixed


def _filename(part: Message) -> str:
    src = _raw8bit_fixed(part)
    name = src.get_filename()
    if not name:
        name = src.get_param("name", header="content-type")
    return decode_words(name) if name else ""


def _disposition(part: Message) -> str:
    return str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()


def _is_attachment(part: Message) -> bool:
    disp = _disposition(part)
    return disp == "attachment" or bool(_filename(part))


class _Spans:
    """The long base64 runs cut out of a mail by `_skeleton`: token → (start, end) in `path`. Given a
    work folder, the skeleton also decodes each run as it reads it (`ready`, see _Run), so a part's
    file is not read and decoded a second time."""

    def __init__(self, path: Path, workdir: Path | None = None, known=None):
        self.path = path
        self.prefix = f"ribao-span-{uuid.uuid4().hex}-"
        self.ranges: dict[str, tuple[int, int]] = {}
        self.workdir, self.known = workdir, known
        self.ready: dict[tuple[int, int], _Decoded] = {}

    def run(self) -> _Run | None:
        """A decoder for the run the skeleton is in, when decoding on the way is wanted."""
        return _Run(self.workdir / f".run-{len(self.ranges)}-{uuid.uuid4().hex[:8]}") if self.workdir else None

    def discard(self) -> None:
        """Remove what was decoded for runs no part took as its body (a token put back as text)."""
        for done in self.ready.values():
            if done.path and not done.kept:
                done.path.unlink(missing_ok=True)
        self.ready.clear()

    def claim(self, part: Message) -> tuple[int, int] | None:
        """The range to decode when the part's whole body is one base64 run; otherwise any
        token in the body is put back as the original text and None is returned."""
        payload = part._payload
        if not isinstance(payload, str) or self.prefix not in payload:
            return None
        token = payload.strip()
        if token in self.ranges and str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
            return self.ranges[token]
        part._payload = re.sub(re.escape(self.prefix) + r"\d{8}", self._original, payload)
        return None

    def _original(self, m: re.Match) -> str:
        start, end = self.ranges.get(m.group(0), (0, 0))
        with open(self.path, "rb") as fh:
            fh.seek(start)
            text = fh.read(end - start).decode("ascii", "surrogateescape")
        return text.replace("\r\n", "\n").replace("\r", "\n")     # as the parser's universal newlines did

    def decode(self, span: tuple[int, int], sink) -> None:
        """Base64 from the file's byte range to sink(bytes), a block at a time (see _B64Stream)."""
        pos, end = span
        stream = _B64Stream(sink)
        with open(self.path, "rb") as fh:
            fh.seek(pos)
            while pos < end and not stream.done:
                chunk = fh.read(min(_BLOCK, end - pos))
                if not chunk:
                    break
                stream.feed(chunk)
                pos += len(chunk)
        stream.close()


class _B64Stream:
    """Base64 text → sink(bytes) as it comes, in pieces of any size: the bytes the standard library's
    decoder gives for the whole text (email's decode_b: line ends and any '=' not completing a group
    ignored, stops at the first padding that does), except that a last group of one character is
    dropped and one of two or three is decoded as if padded. Whole lines before any '=' go through
    pybase64 (SIMD), which skips the line ends itself; the rest through _b64_block."""

    def __init__(self, sink):
        self.sink = sink
        self.carry = b""          # letters of a group not yet whole (the general path)
        self.pending = b""        # the start of a line not yet ended (the fast path)
        self.done = False         # a padding ended the base64: the rest is ignored

    @property
    def clean(self) -> bool:
        """Nothing held back: decoded whole lines may go straight to the sink."""
        return not (self.carry or self.pending or self.done)

    def feed(self, data: bytes, end: int | None = None) -> None:
        """Decode data[:end] (all of it by default) after what came before."""
        end, start = len(data) if end is None else end, 0
        if self.pending and not self.done:
            nl = data.find(b"\n", 0, end)
            if nl < 0 and len(self.pending) + end < _BLOCK:
                self.pending += data[:end]
                return
            start = end if nl < 0 else nl + 1            # the held line, completed, on its own
            line, self.pending = self.pending + data[:start], b""
            self._feed(line, 0, len(line))
        self._feed(data, start, end)

    def _feed(self, data: bytes, start: int, end: int) -> None:
        if self.done or start >= end:
            return
        if not self.carry:
            eq = data.find(b"=", start, end)
            lines = data.rfind(b"\n", start, eq if eq >= 0 else end) + 1    # ≤ start: no whole line
            whole, decoded = lines > start, False
            if whole:
                try:
                    self.sink(pybase64.b64decode(memoryview(data)[start:lines], validate=False))
                    start, decoded = lines, True
                except binascii.Error:      # lines not of whole 4-letter groups
                    pass
            if eq < 0 and (decoded or not whole) and end - start < _BLOCK:
                self.pending = data[start:end]     # a line not ended yet: waits for the rest
                return
        self._general(data[start:end])

    def _general(self, data: bytes) -> None:
        carry = _b64_block(self.carry + data.translate(None, _NOT_B64), self.sink)
        self.done, self.carry = carry is None, carry or b""

    def close(self) -> None:
        if self.pending and not self.done:
            pending, self.pending = self.pending, b""
            self._general(pending)
        if not self.done and len(self.carry) - self.carry.count(b"=") >= 2:
            self.sink(binascii.a2b_base64(self.carry + b"=="))
        self.done, self.carry = True, b""


@dataclass
class _Decoded:
    """A run decoded on the way: its hash and size, and where its bytes are (`kept`: the store's file
    with those bytes, nothing written)."""
    sha256: str
    size: int
    path: Path | None
    kept: bool = False


class _Run:
    """The decoded bytes of one long base64 run, taken while the skeleton reads it: hashed on the way,
    held up to _Writer.HOLD_BYTES and written only once known to be new (a larger run is written as it
    comes, and removed when the store turns out to have it)."""

    def __init__(self, path: Path):
        self.path, self.stream = path, _B64Stream(self.add)
        self.sha, self.size, self.held, self.fh = hashlib.sha256(), 0, [], None

    def feed(self, text: bytes, end: int | None = None) -> None:
        self.stream.feed(text, end)

    def add(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        if self.fh is None and self.size <= _Writer.HOLD_BYTES:
            self.held.append(data)
            return
        if self.fh is None:
            self.fh = open(self.path, "wb")
            self.fh.writelines(self.held)
            self.held = []
        self.fh.write(data)

    def finish(self, known) -> _Decoded:
        self.stream.close()
        sha = self.sha.hexdigest()
        kept = known(sha) if known else None
        if kept:
            self.discard()
            return _Decoded(sha, self.size, Path(kept), kept=True)
        try:
            if self.fh is None:
                self.fh = open(self.path, "wb")
                self.fh.writelines(self.held)
                self.held = []
            self.fh.flush()
            pagecache.write_back(self.fh.fileno())
            self.fh.close()
        except BaseException:
            self.discard()
            raise
        return _Decoded(sha, self.size, self.path)

    def discard(self) -> None:
        """Give up the run: nothing of it stays, on disk or open (a full disk frees at once: the worker
        that holds an open file lives on)."""
        self.held = []
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()          # a full disk may refuse the last flush: it is closed all the same
            self.fh = None
        self.path.unlink(missing_ok=True)


def _b64_block(data: bytes, sink) -> bytes | None:
    """Decode data (base64 letters and '=' only) up to its last whole 4-letter group; return the
    rest, or None when a padding ended the base64. Letters before the first '=' go through pybase64;
    from the group holding it on, binascii applies the standard library's rules for '='."""
    eq = data.find(b"=")
    whole = len(data) - len(data) % 4 if eq < 0 else eq - eq % 4
    if whole:
        sink(pybase64.b64decode(memoryview(data)[:whole], validate=True))
    if eq < 0:
        return data[whole:]
    rest = data[whole:]
    letters = len(rest) - rest.count(b"=")
    cut = len(rest)
    for _ in range(letters % 4):                  # leave the last, incomplete group for the next block
        cut = len(rest[:cut].rstrip(b"=")) - 1
    out = binascii.a2b_base64(rest[:cut])         # ends on a whole group: never raises
    sink(out)
    if len(out) < letters // 4 * 3:               # fewer bytes than groups: a padding stopped it
        return None
    return rest[cut:]


def _line_grid(block: bytes) -> tuple[int, int, bytes]:
    """(cut, width, eol): block[:cut] is lines of one width (line end included) and one line ending;
    cut is 0 when it is not."""
    width = block.find(b"\n") + 1                # the first line, its ending included
    cut = block.rfind(b"\n") + 1
    crlf = width >= 2 and block[width - 2:width] == b"\r\n"
    eol = b"\r\n" if crlf else b"\n"
    if width <= len(eol) or cut % width:
        return 0, width, eol
    lines = cut // width
    if block[width - 1:cut:width] != b"\n" * lines or (crlf and block[width - 2:cut:width] != b"\r" * lines):
        return 0, width, eol
    return cut, width, eol


def _whole_lines(block: bytes) -> int:
    """How many bytes at the start of block are whole base64 lines of one width and one line ending
    (the inside of any attachment), by C-speed tests; 0 when that is not so (the regex decides).
    It never says more than _B64_LINES.match would: each line is [A-Za-z0-9+/=]+ then \\r?\\n."""
    cut, width, eol = _line_grid(block)
    if not cut:
        return 0
    rest = block.translate(None, _ALPHABET)      # the line ends, and what else is no base64
    if rest[:rest.rfind(b"\n") + 1] != eol * (cut // width):
        return 0
    return cut


def _decoded_lines(block: bytes) -> tuple[int, bytes | None]:
    """_whole_lines and their decoded bytes in one pass, for the common case (no '=', lines of whole
    4-letter groups): pybase64 skips every byte that is no base64, so the bytes out are exactly 3/4
    of the letters only when every byte but the line ends is one. (0, None) when not sure."""
    cut, width, eol = _line_grid(block)
    letters = cut // width * (width - len(eol)) if cut else 0
    if not cut or letters % 4 or block.find(b"=", 0, cut) >= 0:
        return 0, None
    try:
        out = pybase64.b64decode(memoryview(block)[:cut], validate=False)
    except binascii.Error:
        return 0, None
    return (cut, out) if len(out) == letters // 4 * 3 else (0, None)


def _skeleton(src, dst, spans: _Spans, raw_sha=None) -> None:
    """Copy src to dst, each run of whole base64 lines longer than SPAN_BYTES replaced by one token
    line. A run starts at the start of a line and ends at the end of one (a blank line, a boundary,
    a header, EOF); anything else is copied unchanged, so tokens stand only where the base64 did.
    Copying starts where src stands (past a BOM); offsets stay those of the file. Each byte passes
    once: into `raw_sha` (the file's hash) when given, and a long run's into its decoder (spans.run)."""
    pos, at_line_start = src.tell(), True
    run_start, run_size, held, ending, run = None, 0, [], b"", None
    take = raw_sha.update if raw_sha is not None else (lambda data: None)

    def flush(end: int, eof: bool = False) -> None:
        nonlocal run_start, run_size, held, run
        if run_start is not None:
            if run_size > SPAN_BYTES and (ending or eof):
                token = f"{spans.prefix}{len(spans.ranges):08d}"    # fixed width: digits may follow it
                spans.ranges[token] = (run_start, end - len(ending))
                dst.write(token.encode("ascii") + ending)
                if run is not None:
                    spans.ready[spans.ranges[token]] = run.finish(spans.known)
                    run = None
            elif held is not None:
                dst.writelines(held)
            else:                              # too long to have held: copy it back from the file
                _copy(src, dst, run_start, end)
        if run is not None:
            run.discard()
        run_start, run_size, held, run = None, 0, [], None

    try:
        while True:
            if run_start is not None and held is None:
                # deep in a long run: skip whole base64 lines a block at a time (C speed), not line by line,
                # decoding them on the way
                block = src.read(_PIECE)
                step, out = _decoded_lines(block) if run is not None and run.stream.clean else (0, None)
                if step:
                    run.add(out)
                else:
                    step = _whole_lines(block)
                    if not step:                         # the block where the run ends, or an odd one
                        m = _B64_LINES.match(block)
                        step = m.end() if m else 0
                    if step and run is not None:
                        run.feed(block, step)
                take(memoryview(block)[:step])
                src.seek(pos + step)
                if step:
                    run_size += step
                    ending = b"\r\n" if block.endswith(b"\r\n", 0, step) else b"\n"
                    pos += step
                    at_line_start = True
                    if step == len(block):
                        continue
            line = src.readline(_PIECE)
            if not line:
                break
            take(line)
            body = line.rstrip(b"\r\n")
            if body and (run_start is not None or at_line_start) and _B64_LINE.fullmatch(body):
                if run_start is None:
                    run_start = pos
                run_size += len(line)
                ending = line[len(body):]
                if held is not None:
                    held.append(line)
                    if run_size > min(SPAN_BYTES, _HOLD_BYTES):
                        run = spans.run()
                        if run is not None:
                            run.feed(b"".join(held))
                        held = None
                elif run is not None:
                    run.feed(line)
            else:
                flush(pos)
                dst.write(line)
            pos += len(line)
            at_line_start = line.endswith(b"\n")
        flush(pos, eof=True)
    except BaseException:
        if run is not None:          # a full disk, say: its file is not left behind, nor held open
            run.discard()
        raise


def _copy(src, dst, start: int, end: int) -> None:
    here = src.tell()
    src.seek(start)
    left = end - start
    while left > 0:
        chunk = src.read(min(1 << 20, left))
        if not chunk:
            break
        dst.write(chunk)
        left -= len(chunk)
    src.seek(here)


class _Writer:
    """Writes each attachment to `workdir` under a safe, unique name, unless `known(sha256)` names a
    file the store already keeps with those bytes (a resent photo, a full resend): then the attachment
    is that file, read only, and nothing is written. The hash comes first: an attachment up to
    HOLD_BYTES is decoded once into memory, a larger one is decoded twice when it is new."""

    HOLD_BYTES = 12 * 1024**2

    def __init__(self, workdir: Path, spans: _Spans | None = None, known=None):
        self.workdir = workdir
        self.spans = spans
        self.known = known
        self.n = 0

    def _kept(self, name: str, sha: str, size: int, ctype: str) -> Attachment | None:
        path = self.known(sha) if self.known else None
        self.n += path is not None            # numbered as if written: default names stay the same
        return Attachment(name=name, path=path, size=size, content_type=ctype, sha256=sha) if path else None

    def _path(self, name: str) -> Path:
        self.n += 1
        return self.workdir / f"{self.n:04d}_{safe_name(name)}"

    def write(self, name: str, data: bytes, ctype: str) -> Attachment:
        sha = hashlib.sha256(data).hexdigest()
        if kept := self._kept(name, sha, len(data), ctype):
            return kept
        path = self._path(name)
        path.write_bytes(data)
        return Attachment(name=name, path=path, size=len(data), content_type=ctype, sha256=sha)

    def write_span(self, name: str, span: tuple[int, int], ctype: str) -> Attachment:
        done = self.spans.ready.pop(span, None)
        if done is not None and done.kept:     # decoded while the skeleton read it; the store has it
            if kept := self._kept(name, done.sha256, done.size, ctype):
                return kept                    # (else it was purged since: decoded again below)
        elif done is not None:                 # decoded while the skeleton read it; new bytes
            path = self._path(name)
            os.replace(done.path, path)
            return Attachment(name=name, path=path, size=done.size, content_type=ctype, sha256=done.sha256)
        if self.known is not None:
            held: list[bytes] | None = [] if span[1] - span[0] <= self.HOLD_BYTES * 4 // 3 else None
            sha, size = hashlib.sha256(), 0

            def look(data: bytes) -> None:
                nonlocal size
                sha.update(data)
                size += len(data)
                if held is not None:
                    held.append(data)
            self.spans.decode(span, look)
            if kept := self._kept(name, sha.hexdigest(), size, ctype):
                return kept
            if held is not None:
                path = self._path(name)
                with open(path, "wb") as fh:
                    fh.writelines(held)
                    fh.flush()
                    pagecache.write_back(fh.fileno())
                return Attachment(name=name, path=path, size=size, content_type=ctype, sha256=sha.hexdigest())
        path, sha, size = self._path(name), hashlib.sha256(), 0
        with open(path, "wb") as fh:
            def sink(data: bytes) -> None:
                nonlocal size
                sha.update(data)
                fh.write(data)
                size += len(data)
            self.spans.decode(span, sink)
            fh.flush()
            pagecache.write_back(fh.fileno())
        return Attachment(name=name, path=path, size=size, content_type=ctype, sha256=sha.hexdigest())


def _walk(msg: Message, out: ParsedMessage, writer: _Writer, depth: int, counter: list[int]) -> None:
    """Depth-first over one message's MIME tree: its body to out.bodies, its files to disk;
    forwarded messages (message/rfc822) are opened in turn, down to MAX_NESTING."""
    texts: dict[str, str] = {}

    def visit(part: Message, level: int) -> None:
        counter[0] += 1
        if counter[0] > MAX_PARTS:
            if counter[0] == MAX_PARTS + 1:
                out.problems.append(f"more than {MAX_PARTS} MIME parts; the rest were not read")
            return
        if level > 60:
            out.problems.append("MIME tree nested too deeply")
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or (part.is_multipart() and ctype.startswith("message/")):
            inner = part.get_payload()
            for sub in inner if isinstance(inner, list) else [inner]:
                if not isinstance(sub, Message):
                    continue
                if depth + 1 > MAX_NESTING:
                    out.problems.append("forwarded mail nested too deeply; inner parts not read")
                    continue
                _walk(sub, out, writer, depth + 1, counter)
            part.set_payload(None)
            return
        if part.is_multipart():
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                if isinstance(sub, Message):
                    visit(sub, level + 1)
            return
        span = writer.spans.claim(part) if writer.spans else None
        if ctype in ("text/plain", "text/html") and not _is_attachment(part):
            if ctype not in texts:
                try:
                    texts[ctype] = _payload_text(part, _span_bytes(writer.spans, span) if span else None)
                except Exception:
                    texts[ctype] = ""
            return
        given = _filename(part)
        name = given or _default_name(ctype, writer.n + 1)
        if span:
            att = writer.write_span(name, span, ctype)
            att.named = bool(given)
            att.inline = bool(part.get("Content-ID")) and _disposition(part) != "attachment"
            out.attachments.append(att)
            part.set_payload(None)
            return
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
            out.problems.append(f"attachment {name} could not be decoded")
        att = writer.write(name, data, ctype)
        att.named = bool(given)
        att.inline = bool(part.get("Content-ID")) and _disposition(part) != "attachment"
        out.attachments.append(att)
        part.set_payload(None)          # free the memory now
        del data

    visit(msg, 0)
    plain, markup = texts.get("text/plain"), texts.get("text/html")
    if plain is not None and plain.strip():
        text = plain
    elif markup is not None:
        text = html_to_text(markup)
        out.html_only = out.html_only or depth == 0
    else:
        text = ""
    if depth == 0:
        out.bodies.insert(0, text)      # the mail's own body comes first, forwarded ones after
    elif text.strip():
        out.bodies.append(text)


def _default_name(ctype: str, n: int) -> str:
    ext = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4", "message/rfc822": "eml",
           "application/pdf": "pdf", "text/plain": "txt"}.get(ctype, "bin")
    return f"attachment-{n}.{ext}"


def parse_file(path: Path, workdir: Path, known=None, hash_raw: bool = False) -> ParsedMessage:
    """Parse the mail in `path` with its long base64 runs left in the file (see the top). `known`:
    sha256 → the path of a file already kept with those bytes, or None (see _Writer). `hash_raw`:
    the file's sha256 too, taken on the same read (ParsedMessage.raw_sha256)."""
    workdir.mkdir(parents=True, exist_ok=True)
    spans = _Spans(Path(path), workdir, known)
    raw_sha = hashlib.sha256() if hash_raw else None
    try:
        with open(path, "rb") as src, tempfile.TemporaryFile(dir=workdir) as skel:
            bom = src.read(len(_BOM))
            if bom != _BOM:                 # a UTF-8 BOM (Notepad's .eml) would hide every header
                src.seek(0)
            elif raw_sha is not None:
                raw_sha.update(bom)
            _skeleton(src, skel, spans, raw_sha)
            skel.seek(0)
            msg = email.message_from_binary_file(skel, policy=email.policy.compat32)
        out = parse_message(msg, workdir, spans, known)
    finally:
        spans.discard()
    out.raw_sha256 = raw_sha.hexdigest() if raw_sha is not None else ""
    return out


def parse_bytes(raw: bytes, workdir: Path) -> ParsedMessage:
    raw = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    return parse_message(email.message_from_bytes(raw, policy=email.policy.compat32), workdir)


def parse_message(msg: Message, workdir: Path, spans: _Spans | None = None, known=None) -> ParsedMessage:
    workdir.mkdir(parents=True, exist_ok=True)
    out = ParsedMessage()
    raw: dict[str, list[str]] = {}
    for key, value in msg._headers:      # raw values: 8-bit GBK survives as surrogates, decoded below
        raw.setdefault(key.lower(), []).append(str(value))
        out.headers.setdefault(key.lower(), []).append(decode_words(value) if key.lower() != "message-id" else str(value).strip())
    out.message_id = out.header("message-id").strip()
    out.subject = out.header("subject")
    froms = _addresses(raw.get("from", [])[:1])
    if froms:
        name, addr = froms[0]
        out.sender_name, out.sender = decode_words(name), decode_words(addr).lower()
    rt = _addresses(raw.get("reply-to", [])[:1])
    out.reply_to = decode_words(rt[0][1]).lower() if rt and rt[0][1] else ""
    out.to = [decode_words(a).lower() for _, a in _addresses(raw.get("to", []) + raw.get("cc", [])) if a]
    out.date = _date(out.header("date"))
    out.content_type = msg.get_content_type()
    if msg.defects:
        out.problems.extend(type(d).__name__ for d in msg.defects)
    _walk(msg, out, _Writer(workdir, spans, known), 0, [0])
    return out


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """Address lists parsed BEFORE any RFC 2047 word is decoded: decoded first, a display name
    =?utf-8?B?...?= meaning `x\r\nCc: a@evil.test` became part of the address syntax, and our
    reply went to a@evil.test. Names are decoded afterwards by the caller.

    The email package reads nested comments recursively (a To: of thousands of nested "(" raised
    RecursionError), so comments are flattened to one level first, in one pass."""
    flat = [_flat_comments(re.sub(r"[\r\n]+", " ", v)) for v in values]
    try:
        return getaddresses(flat)
    except (RecursionError, IndexError, ValueError):
        return []


def _flat_comments(value: str) -> str:
    """`a@b.cn (x (y (z)))` → `a@b.cn (x y z)`: the same address and name, no nesting."""
    if value.count("(") < 2:
        return value
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"' and depth == 0:
            quoted = True
        elif ch == "(":
            depth += 1
            if depth > 1:
                continue
        elif ch == ")" and depth:
            depth -= 1
            if depth:
                continue
        out.append(ch)
    if depth:
        out.append(")")
    return "".join(out)


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return d
