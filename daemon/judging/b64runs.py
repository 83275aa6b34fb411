"""The long base64 runs of a mail: cut out of it, and decoded, as it is read once.

The standard parser keeps every part's encoded text in memory (as a list of lines, then joined: a
60 MB video cost ~480 MB). So parse_file first copies the mail to a skeleton (`skeleton`) in which
each long run of base64 lines (over SPAN_BYTES) is replaced by a one-line token naming its byte
range in the original file. A token anywhere but as a base64 part's whole body is put back as the
original text, so the parse is the same as without the skeleton, only smaller.

Deep inside a run whole blocks are taken by C-speed tests (`line_grid`), so no Python loop walks a
large part line by line, and each block is decoded as it is read (pybase64: SIMD, ~6x binascii;
`decoded_lines` checks it by the decoded length, `whole_lines` the general way) and hashed on the
same buffers (`Run`): the file is read once, the file's own hash taken on that read. A run the
skeleton could not decode on the way is decoded from the file when its part is written (`Spans.decode`).
"""
from __future__ import annotations

import binascii
import contextlib
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pybase64

from daemon.store import pagecache

SPAN_BYTES = 256 * 1024  # base64 runs longer than this are decoded from the file, not from memory
PIECE = 1 << 20          # lines are read at most this long (a longer one comes in pieces)
HOLD_BYTES = 32 * 1024   # a run is read line by line this far, then a block at a time
BLOCK = 4 << 20          # base64 decoded from the file this much at a time
DECODED_HELD = 12 * 1024**2   # a run's decoded bytes held in memory this far (see Run)
B64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")
B64_LINES = re.compile(rb"(?:[A-Za-z0-9+/=]+\r?\n)+")   # whole base64 lines, matched a block at a time
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
NOT_B64 = bytes(sorted(set(range(256)) - set(ALPHABET)))     # what the decoder drops (CR, LF)


class Spans:
    """The long base64 runs cut out of a mail by `skeleton`: token → (start, end) in `path`. Given a
    work folder, the skeleton also decodes each run as it reads it (`ready`, see Run), so a part's
    file is not read and decoded a second time."""

    def __init__(self, path: Path, workdir: Path | None = None, known=None):
        self.path = path
        self.prefix = f"ribao-span-{uuid.uuid4().hex}-"
        self.ranges: dict[str, tuple[int, int]] = {}
        self.workdir, self.known = workdir, known
        self.ready: dict[tuple[int, int], Decoded] = {}

    def run(self) -> Run | None:
        """A decoder for the run the skeleton is in, when decoding on the way is wanted."""
        return Run(self.workdir / f".run-{len(self.ranges)}-{uuid.uuid4().hex[:8]}") if self.workdir else None

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
        """Base64 from the file's byte range to sink(bytes), a block at a time (see B64Stream)."""
        pos, end = span
        stream = B64Stream(sink)
        with open(self.path, "rb") as fh:
            fh.seek(pos)
            while pos < end and not stream.done:
                chunk = fh.read(min(BLOCK, end - pos))
                if not chunk:
                    break
                stream.feed(chunk)
                pos += len(chunk)
        stream.close()


class B64Stream:
    """Base64 text → sink(bytes) as it comes, in pieces of any size: the bytes the standard library's
    decoder gives for the whole text (email's decode_b: line ends and any '=' not completing a group
    ignored, stops at the first padding that does), except that a last group of one character is
    dropped and one of two or three is decoded as if padded. Whole lines before any '=' go through
    pybase64 (SIMD), which skips the line ends itself; the rest through b64_block."""

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
            if nl < 0 and len(self.pending) + end < BLOCK:
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
            if eq < 0 and (decoded or not whole) and end - start < BLOCK:
                self.pending = data[start:end]     # a line not ended yet: waits for the rest
                return
        self._general(data[start:end])

    def _general(self, data: bytes) -> None:
        carry = b64_block(self.carry + data.translate(None, NOT_B64), self.sink)
        self.done, self.carry = carry is None, carry or b""

    def close(self) -> None:
        if self.pending and not self.done:
            pending, self.pending = self.pending, b""
            self._general(pending)
        if not self.done and len(self.carry) - self.carry.count(b"=") >= 2:
            self.sink(binascii.a2b_base64(self.carry + b"=="))
        self.done, self.carry = True, b""


@dataclass
class Decoded:
    """A run decoded on the way: its hash and size, and where its bytes are (`kept`: the store's file
    with those bytes, nothing written)."""
    sha256: str
    size: int
    path: Path | None
    kept: bool = False


class Run:
    """The decoded bytes of one long base64 run, taken while the skeleton reads it: hashed on the way,
    held up to DECODED_HELD and written only once known to be new (a larger run is written as it
    comes, and removed when the store turns out to have it)."""

    def __init__(self, path: Path):
        self.path, self.stream = path, B64Stream(self.add)
        self.sha, self.size, self.held, self.fh = hashlib.sha256(), 0, [], None

    def feed(self, text: bytes, end: int | None = None) -> None:
        self.stream.feed(text, end)

    def add(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        if self.fh is None and self.size <= DECODED_HELD:
            self.held.append(data)
            return
        if self.fh is None:
            self.fh = open(self.path, "wb")
            self.fh.writelines(self.held)
            self.held = []
        self.fh.write(data)

    def finish(self, known) -> Decoded:
        self.stream.close()
        sha = self.sha.hexdigest()
        kept = known(sha) if known else None
        if kept:
            self.discard()
            return Decoded(sha, self.size, Path(kept), kept=True)
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
        return Decoded(sha, self.size, self.path)

    def discard(self) -> None:
        """Give up the run: nothing of it stays, on disk or open (a full disk frees at once: the worker
        that holds an open file lives on)."""
        self.held = []
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()          # a full disk may refuse the last flush: it is closed all the same
            self.fh = None
        self.path.unlink(missing_ok=True)


def b64_block(data: bytes, sink) -> bytes | None:
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


def line_grid(block: bytes) -> tuple[int, int, bytes]:
    """(cut, width, eol): block[:cut] is the lines at its start that are of the first line's width
    (line end included) and line ending, found by C-speed tests; cut is 0 when there is none. Only
    their line ends are checked: what lies between is for the caller to check."""
    width = block.find(b"\n") + 1                # the first line, its ending included
    crlf = width >= 2 and block[width - 2:width] == b"\r\n"
    eol = b"\r\n" if crlf else b"\n"
    if width <= len(eol):
        return 0, width, eol
    marks = block[width - 1::width]               # where each line's \n must be
    lines = len(marks) - len(marks.lstrip(b"\n"))
    if crlf:
        crs = block[width - 2::width]
        lines = min(lines, len(crs) - len(crs.lstrip(b"\r")))
    return lines * width, width, eol


def whole_lines(block: bytes) -> int:
    """How many bytes at the start of block are whole base64 lines of one width and one line ending
    (the inside of any attachment), by C-speed tests; 0 when that is not so (the regex decides).
    It never says more than B64_LINES.match would: each line is [A-Za-z0-9+/=]+ then \\r?\\n."""
    cut, width, eol = line_grid(block)
    if not cut or block[:cut].translate(None, ALPHABET) != eol * (cut // width):
        return 0                                # (the translate leaves the line ends, and what else is no base64)
    return cut


def decoded_lines(block: bytes) -> tuple[int, bytes | None]:
    """whole_lines and their decoded bytes in one pass, for the common case (no '=', lines of whole
    4-letter groups): pybase64 skips every byte that is no base64, so the bytes out are exactly 3/4
    of the letters only when every byte but the line ends is one. (0, None) when not sure."""
    cut, width, eol = line_grid(block)
    letters = cut // width * (width - len(eol)) if cut else 0
    if not cut or letters % 4 or block.find(b"=", 0, cut) >= 0:
        return 0, None
    try:
        out = pybase64.b64decode(memoryview(block)[:cut], validate=False)
    except binascii.Error:
        return 0, None
    return (cut, out) if len(out) == letters // 4 * 3 else (0, None)


def skeleton(src, dst, spans: Spans, raw_sha=None) -> None:
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
                copy_range(src, dst, run_start, end)
        if run is not None:
            run.discard()
        run_start, run_size, held, run = None, 0, [], None

    try:
        while True:
            if run_start is not None and held is None:
                # deep in a long run: skip whole base64 lines a block at a time (C speed), not line by line,
                # decoding them on the way
                block = src.read(PIECE)
                step, out = decoded_lines(block) if run is not None and run.stream.clean else (0, None)
                if step:
                    run.add(out)
                else:
                    step = whole_lines(block)
                    if not step:                         # the block where the run ends, or an odd one
                        m = B64_LINES.match(block)
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
            line = src.readline(PIECE)
            if not line:
                break
            take(line)
            body = line.rstrip(b"\r\n")
            if body and (run_start is not None or at_line_start) and B64_LINE.fullmatch(body):
                if run_start is None:
                    run_start = pos
                run_size += len(line)
                ending = line[len(body):]
                if held is not None:
                    held.append(line)
                    if run_size > min(SPAN_BYTES, HOLD_BYTES):
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


def copy_range(src, dst, start: int, end: int) -> None:
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
