"""Raw RFC 822 bytes → ParsedMessage: headers decoded, body text, attachments written to disk.

Why the standard `email` package and not mail-parser: mail-parser keeps every attachment as a
base64 string inside its result (several copies of a 60 MB video in memory), decodes RFC 2047
file names only partly (QQ Mail and Foxmail send `filename="=?GBK?B?...?="`, Outlook sends raw
GB2312 bytes), and can't be told to stop at a nesting depth. The standard parser gives us the
parts; each attachment is decoded, written to disk and dropped from memory at once.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import html
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

from .inspect.charset import decode_text
from .model import Attachment
from .safefs import safe_name

MAX_PARTS = 2000
MAX_NESTING = 3          # message/rfc822 inside message/rfc822 ...


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


def _payload_text(part: Message) -> str:
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
    """Writes each attachment to `workdir` under a safe, unique name."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.n = 0

    def write(self, name: str, data: bytes, ctype: str) -> Attachment:
        self.n += 1
        path = self.workdir / f"{self.n:04d}_{safe_name(name)}"
        path.write_bytes(data)
        return Attachment(name=name, path=path, size=len(data), content_type=ctype,
                          sha256=hashlib.sha256(data).hexdigest())


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
        if ctype in ("text/plain", "text/html") and not _is_attachment(part):
            if ctype not in texts:
                try:
                    texts[ctype] = _payload_text(part)
                except Exception:
                    texts[ctype] = ""
            return
        name = _filename(part) or _default_name(ctype, writer.n + 1)
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
            out.problems.append(f"attachment {name} could not be decoded")
        att = writer.write(name, data, ctype)
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


def parse_file(path: Path, workdir: Path) -> ParsedMessage:
    with open(path, "rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.compat32)
    return parse_message(msg, workdir)


def parse_bytes(raw: bytes, workdir: Path) -> ParsedMessage:
    return parse_message(email.message_from_bytes(raw, policy=email.policy.compat32), workdir)


def parse_message(msg: Message, workdir: Path) -> ParsedMessage:
    workdir.mkdir(parents=True, exist_ok=True)
    out = ParsedMessage()
    for key, value in msg._headers:      # raw values: 8-bit GBK survives as surrogates, decoded below
        out.headers.setdefault(key.lower(), []).append(decode_words(value) if key.lower() != "message-id" else str(value).strip())
    out.message_id = out.header("message-id").strip()
    out.subject = out.header("subject")
    froms = getaddresses([out.header("from")])
    if froms:
        out.sender_name, addr = froms[0]
        out.sender = addr.strip().lower()
    rt = getaddresses([out.header("reply-to")])
    out.reply_to = rt[0][1].strip().lower() if rt and rt[0][1] else ""
    out.to = [a.lower() for _, a in getaddresses(out.headers.get("to", []) + out.headers.get("cc", [])) if a]
    out.date = _date(out.header("date"))
    out.content_type = msg.get_content_type()
    if msg.defects:
        out.problems.extend(type(d).__name__ for d in msg.defects)
    _walk(msg, out, _Writer(workdir), 0, [0])
    return out


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return d
