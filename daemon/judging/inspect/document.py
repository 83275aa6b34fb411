"""Documents (docx, doc, wps, pdf, txt, rtf, odt): the text, so the report's length can be judged.

A document that can't be read is not the school's fault alone (an odd WPS version, a scanned
PDF), so it is a warning asking for .docx or the text in the mail body, never an error here; the
message-level text checks decide whether the report as a whole is long enough.
"""
from __future__ import annotations

import codecs
import logging
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

from daemon.defects import defect
from daemon.judging.inspect import Context, FileTimeout
from daemon.judging.inspect.archive import MAX_XML_PART, zip_guard
from daemon.judging.inspect.budget import tool_options
from daemon.judging.inspect.charset import read_text_file
from daemon.judging.textcount import count_chars
from daemon.model import Attachment, Inspection, Material
from daemon.store.hashing import sha256_file as _sha256

KIND = "document"
# pypdf, python-docx, lxml and the RTF reader can't be interrupted: they run where they can be killed.
# Plain text is read at C speed within a size cap, and antiword/catdoc are tools with their own timeout.
FORK = {"pdf", "docx", "odt", "rtf"}
FORMATS = {"docx", "doc", "wps", "pdf", "txt", "rtf", "odt"}


def sniff(head: bytes, suffix: str, path) -> str | None:
    """Word, WPS, PDF and RTF documents by their first bytes (an OLE file is a .doc unless its name
    says WPS; tables were told apart before)."""
    if head[:8] == bytes.fromhex("d0cf11e0a1b11ae1"):
        return "wps" if suffix == "wps" else "doc"
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:5] == b"{\\rtf":
        return "rtf"
    return None
MAX_PDF_PAGES = 200
MAX_PDF_CHARS = 2_000_000  # a report is a few thousand characters; pages past this are not read
TOOL_SECONDS = 30.0
MAX_XML_BYTES = MAX_XML_PART

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"

logging.getLogger("pypdf").setLevel(logging.ERROR)


class Unreadable(Exception):
    """The document's text could not be had; the message says why (for logs, not schools)."""


# ---------------------------------------------------------------- docx / odt (XML in a zip)


def _safe_parser():
    from lxml import etree
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _read_member(path: Path, member: str) -> bytes:
    reason = zip_guard(path)
    if reason:
        raise Unreadable(f"zip guard: {reason}")
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            if info.file_size > MAX_XML_BYTES:
                raise Unreadable(f"{member} too large")
            return zf.read(info)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise Unreadable(str(e)) from None


def _paragraph_texts(root, para_tags: set[str], piece: dict[str, str | None], skip: str | None) -> list[str]:
    """Text of every paragraph, in document order; a paragraph nested in another (a text box)
    counts on its own, not twice. `piece` maps tags to their text (None: the element's .text)."""
    out = []
    for p in root.iter(*para_tags):
        parts = []
        for el in p.iter(*piece):
            anc = el.getparent()
            while anc is not None and anc is not p and anc.tag not in para_tags and anc.tag != skip:
                anc = anc.getparent()
            if anc is not p:
                continue
            parts.append((el.text or "") if piece[el.tag] is None else piece[el.tag])
        inside_fallback = any(a.tag == skip for a in p.iterancestors()) if skip else False
        if not inside_fallback:
            out.append("".join(parts))
    return out


def _docx_text(path: Path) -> str:
    reason = zip_guard(path)
    if reason:
        raise Unreadable(f"zip guard: {reason}")
    try:
        import docx
        body = docx.Document(str(path)).element.body
    except Exception:
        # .docm/.dotx and odd producers: python-docx refuses the content type, the XML is fine
        from docx.oxml.parser import parse_xml
        try:
            body = parse_xml(_read_member(path, "word/document.xml"))
        except Unreadable:
            raise
        except Exception as e:
            raise Unreadable(f"docx: {e}") from None
    piece = {f"{W}t": None, f"{W}tab": "\t", f"{W}br": "\n", f"{W}cr": "\n"}
    return "\n".join(_paragraph_texts(body, {f"{W}p"}, piece, MC_FALLBACK))


def _odt_text(path: Path) -> str:
    from lxml import etree
    try:
        root = etree.fromstring(_read_member(path, "content.xml"), _safe_parser())
    except etree.XMLSyntaxError as e:
        raise Unreadable(f"odt: {e}") from None
    paras = (f"{TEXT_NS}p", f"{TEXT_NS}h")
    special = {f"{TEXT_NS}tab": "\t", f"{TEXT_NS}line-break": "\n"}

    def walk(el, parts):
        parts.append(el.text or "")
        for child in el:
            if child.tag == f"{TEXT_NS}s":
                parts.append(" " * int(child.get(f"{TEXT_NS}c", "1") or 1))
            elif child.tag in special:
                parts.append(special[child.tag])
            elif child.tag not in paras:     # a note's own paragraphs are listed on their own
                walk(child, parts)
            parts.append(child.tail or "")
        return parts

    return "\n".join("".join(walk(p, [])) for p in root.iter(*paras))


# ---------------------------------------------------------------- doc / wps (tools)


def _run(cmd: list[str], deadline: float) -> str | None:
    """The tool's output, or None if it failed; FileTimeout once `deadline` (monotonic) is passed."""
    exe = shutil.which(cmd[0])
    if not exe:
        return None
    for _ in range(5):       # antiword now and then (1 in 6 here) dies of SIGSEGV on a file it reads fine the next time
        seconds = deadline - time.monotonic()
        if seconds <= 0:
            raise FileTimeout()
        try:
            done = subprocess.run([exe, *cmd[1:]], stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=seconds, **tool_options())
        except subprocess.TimeoutExpired:
            raise FileTimeout() from None
        except OSError:
            return None
        if done.returncode >= 0:
            break
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def _word_binary_text(path: Path, seconds: float = TOOL_SECONDS) -> str:
    deadline = time.monotonic() + seconds
    for cmd in (["antiword", "-m", "UTF-8.txt", "-w", "0", str(path)],
                ["catdoc", "-d", "utf-8", "-w", str(path)]):
        text = _run(cmd, deadline)
        if text is not None and text.strip():
            return re.sub(r"\[pic\]", "", text)
    raise Unreadable("antiword and catdoc both failed")


# ---------------------------------------------------------------- pdf


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("pdf: password")
        pages, chars = [], 0
        for i, page in enumerate(reader.pages):
            if i >= MAX_PDF_PAGES or chars > MAX_PDF_CHARS:
                break
            try:
                pages.append((page.extract_text() or "")[:MAX_PDF_CHARS])
            except Exception:
                pages.append("")
            chars += len(pages[-1])
        return "\n".join(pages)
    except Unreadable:
        raise
    except Exception as e:                 # pypdf raises anything on a broken file
        raise Unreadable(f"pdf: {type(e).__name__}: {e}") from None


# ---------------------------------------------------------------- rtf

_RTF_TOKEN = re.compile(rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+", re.S)
_RTF_SKIP = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header", b"footer",
             b"headerl", b"headerr", b"headerf", b"footerl", b"footerr", b"footerf", b"listtable",
             b"listoverridetable", b"rsidtbl", b"generator", b"themedata", b"colorschememapping",
             b"latentstyles", b"datastore", b"xmlnstbl", b"fldinst", b"filetbl", b"revtbl", b"pgdsctbl"}
_RTF_BREAK = {b"par": "\n", b"line": "\n", b"row": "\n", b"cell": "\t", b"tab": "\t", b"sect": "\n",
              b"emdash": "—", b"endash": "–", b"lquote": "‘", b"rquote": "’", b"ldblquote": "“", b"rdblquote": "”"}


def rtf_to_text(data: bytes) -> str:
    """Plain text of an RTF document: skips font tables, pictures and other destinations,
    decodes \\uN and \\'hh (in the \\ansicpg code page, 936 = GBK for Chinese Word)."""
    out: list[str] = []
    pending = bytearray()
    codec, uc, skip_chars = "cp1252", 1, 0
    stack: list[tuple[bool, int]] = []
    skipping = False

    def flush():
        if pending:
            if not skipping:
                out.append(pending.decode(codec, errors="replace"))
            pending.clear()

    for m in _RTF_TOKEN.finditer(data):
        word, arg, hexbyte, symbol, brace, text = m.groups()
        if hexbyte is not None:
            if skip_chars:
                skip_chars -= 1
            else:
                pending.append(int(hexbyte, 16))
            continue
        flush()
        if brace == b"{":
            stack.append((skipping, uc))
        elif brace == b"}":
            skipping, uc = stack.pop() if stack else (skipping, uc)
        elif word is not None:
            skip_chars = 0
            if word in _RTF_SKIP:
                skipping = True
            elif word == b"ansicpg" and arg:
                codec = "gb18030" if int(arg) in (936, 54936) else f"cp{int(arg)}"
                try:
                    codecs.lookup(codec)
                except LookupError:
                    codec = "cp1252"
            elif word == b"uc" and arg:
                uc = int(arg)
            elif word == b"u" and arg:
                if not skipping:
                    out.append(chr(int(arg) % 65536))
                skip_chars = uc
            elif word in _RTF_BREAK and not skipping:
                out.append(_RTF_BREAK[word])
        elif symbol is not None:
            if symbol == b"*":
                skipping = True
            elif symbol in (b"\\", b"{", b"}") and not skipping:
                out.append(symbol.decode())
            elif symbol == b"~" and not skipping:
                out.append("\u00a0")
        elif text is not None:
            if skip_chars:
                take = min(skip_chars, len(text))
                text, skip_chars = text[take:], skip_chars - take
            if not skipping:
                out.append(text.decode(codec, errors="replace"))
    flush()
    return "".join(out)


def _rtf_text(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(50_000_000)
    if not data.startswith(b"{\\rtf"):
        raise Unreadable("not rtf")
    try:
        return rtf_to_text(data)
    except (LookupError, ValueError, IndexError) as e:
        raise Unreadable(f"rtf: {e}") from None


# ---------------------------------------------------------------- the inspector


def extract_text(path: Path | str, fmt: str) -> str:
    """The document's plain text; raises Unreadable when it can't be had."""
    path = Path(path)
    if fmt == "docx":
        text = _docx_text(path)
    elif fmt in ("doc", "wps"):
        text = _word_binary_text(path)
    elif fmt == "pdf":
        text = _pdf_text(path)
    elif fmt == "txt":
        try:
            text = read_text_file(path)
        except OSError as e:
            raise Unreadable(str(e)) from None
    elif fmt == "rtf":
        text = _rtf_text(path)
    elif fmt == "odt":
        text = _odt_text(path)
    else:
        raise Unreadable(f"no reader for {fmt}")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def preload(fmt: str) -> None:
    """Import the reader for `fmt` before the file's child is forked (0.1-0.2 s each time otherwise)."""
    if fmt == "pdf":
        import pypdf  # noqa: F401
    elif fmt == "docx":
        import docx  # noqa: F401


def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection:
    defects = []
    try:
        if fmt in ("doc", "wps"):
            text = _word_binary_text(att.path, ctx.file_left())
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        else:
            text = extract_text(att.path, fmt)
    except Unreadable:
        text = ""
        defects.append(defect("document.unreadable", att.name))
    material = Material(file=att.name, type="document", size=att.size, sha256=att.sha256 or _sha256(att.path),
                        text=text, text_chars=count_chars(text), format=fmt, in_archive=att.in_archive,
                        path=att.path)
    return Inspection(materials=[material], defects=defects)
