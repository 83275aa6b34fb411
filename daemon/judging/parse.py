"""Raw RFC 822 bytes → ParsedMessage: headers decoded, body text, attachments written to disk.

Why the standard `email` package and not mail-parser: mail-parser keeps every attachment as a
base64 string inside its result (several copies of a 60 MB video in memory), decodes RFC 2047
file names only partly (QQ Mail and Foxmail send `filename="=?GBK?B?...?="`, Outlook sends raw
GB2312 bytes), and can't be told to stop at a nesting depth. The standard parser gives us the
parts; each attachment is decoded, written to disk and dropped from memory at once.

The standard parser still keeps every part's encoded text in memory, so parse_file first cuts the
long base64 runs out of the mail and decodes them as it reads it once (daemon/judging/b64runs.py);
a part whose whole body is such a run gets its file from there, hashed on the way.
"""
from __future__ import annotations

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

from daemon.judging.b64runs import Decoded, Run, Spans, skeleton
from daemon.judging.inspect.charset import decode_text
from daemon.model import Attachment
from daemon.store.safefs import safe_name

MAX_PARTS = 2000
MAX_NESTING = 3          # message/rfc822 inside message/rfc822 ...
_BOM = b"\xef\xbb\xbf"


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


def _span_bytes(spans: Spans, span: tuple[int, int]) -> bytes:
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


class _Writer:
    """Writes each attachment to `workdir` under a safe, unique name, unless `known(sha256)` names a
    file the store already keeps with those bytes (a resent photo, a full resend): then the attachment
    is that file, read only, and nothing is written. The hash comes first (see b64runs.Run)."""

    def __init__(self, workdir: Path, spans: Spans | None = None, known=None):
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
        """The part's file as the skeleton decoded it on the way, or else (a run it could not decode
        then) decoded from the mail now, the same way."""
        done = self.spans.ready.pop(span, None) or self._decode(span, self.known)
        if done.kept:
            if kept := self._kept(name, done.sha256, done.size, ctype):
                return kept
            done = self._decode(span, None)    # purged since it was looked up: written after all
        path = self._path(name)
        os.replace(done.path, path)
        return Attachment(name=name, path=path, size=done.size, content_type=ctype, sha256=done.sha256)

    def _decode(self, span: tuple[int, int], known) -> Decoded:
        run = self.spans.run() or Run(self.workdir / f".run-{uuid.uuid4().hex}")
        self.spans.decode(span, run.add)
        return run.finish(known)


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
    spans = Spans(Path(path), workdir, known)
    raw_sha = hashlib.sha256() if hash_raw else None
    try:
        with open(path, "rb") as src, tempfile.TemporaryFile(dir=workdir) as skel:
            bom = src.read(len(_BOM))
            if bom != _BOM:                 # a UTF-8 BOM (Notepad's .eml) would hide every header
                src.seek(0)
            elif raw_sha is not None:
                raw_sha.update(bom)
            skeleton(src, skel, spans, raw_sha)
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


def parse_message(msg: Message, workdir: Path, spans: Spans | None = None, known=None) -> ParsedMessage:
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
