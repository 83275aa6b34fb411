"""Small builders for archives, documents and tables, so that almost no binary blob is committed.

Zip, 7z, docx, xlsx, xls (xlwt, a test dependency), csv, odt/ods and pdf are made by libraries or
written out by hand here. RAR (no free tool writes it) is written by hand too: stored members
only, RAR4 or RAR5, which is enough for every reader. Word 97 .doc is hand-made as well (see
make_doc): a compound file with one text piece, the smallest thing antiword and catdoc accept.
"""
from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

# ---------------------------------------------------------------- zip


class _RawNameInfo(zipfile.ZipInfo):
    """A ZipInfo whose name is written as given bytes, without the UTF-8 flag (as Chinese
    Windows' built-in zip and WinRAR do with GBK names)."""

    raw_name: bytes = b""

    def _encodeFilenameFlags(self):
        return self.raw_name, self.flag_bits & ~0x800


def _data(value) -> bytes:
    return Path(value).read_bytes() if isinstance(value, Path) else bytes(value)


def make_zip(path, members: dict, *, gbk_names: bool = False, encrypt: bool = False,
             symlink_member: tuple[str, str] | None = None,
             compression: int = zipfile.ZIP_DEFLATED, raw_names: str | None = None) -> Path:
    """members: {archive name: bytes | Path}. A name ending in "/" is a directory entry.
    gbk_names writes names as GB18030 bytes without the UTF-8 flag (Chinese Windows, WinRAR);
    raw_names="utf-8" writes UTF-8 bytes without the flag (macOS Archive Utility, old 7-Zip).
    symlink_member: (name, target) adds a Unix symlink entry."""
    path = Path(path)
    raw_names = "gb18030" if gbk_names else raw_names
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, value in members.items():
            if raw_names:
                raw = name.encode(raw_names)
                info = _RawNameInfo(raw.decode("cp437"), date_time=(2024, 5, 1, 8, 0, 0))
                info.raw_name = raw
            else:
                info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 8, 0, 0))
            info.create_system = 0      # MS-DOS, as Windows tools write
            if name.endswith("/"):
                info.external_attr = 0x10
                zf.writestr(info, b"")
            else:
                info.compress_type = compression
                info.external_attr = 0x20
                zf.writestr(info, _data(value))
        if symlink_member:
            name, target = symlink_member
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 8, 0, 0))
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target.encode())
    if encrypt:
        _set_zip_flag(path, 0x1)
    return path


def _set_zip_flag(path: Path, bit: int) -> None:
    """Set a general-purpose flag bit in every local and central header (the ZipCrypto bit is
    all a reader needs to see to call the archive encrypted)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        infos, start = zf.infolist(), zf.start_dir
    for info in infos:
        off = info.header_offset + 6
        data[off:off + 2] = struct.pack("<H", struct.unpack_from("<H", data, off)[0] | bit)
    pos = start
    while data[pos:pos + 4] == b"PK\x01\x02":
        off = pos + 8
        data[off:off + 2] = struct.pack("<H", struct.unpack_from("<H", data, off)[0] | bit)
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + n + m + k
    path.write_bytes(bytes(data))


def make_zip_bomb(path, size: int = 1 << 30, name: str = "zeros.bin") -> Path:
    """One member of `size` zero bytes, deflated while streaming (1 GiB → ~1 MB on disk)."""
    path = Path(path)
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 8, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            left = size
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


def make_zip_slip(path, name: str = "../../evil.txt") -> Path:
    return make_zip(path, {"ok.txt": b"fine", name: b"evil"})


def make_zip_with_declared_size(path, name: str, data: bytes, declared: int) -> Path:
    """A stored zip whose headers claim `declared` bytes for a member that holds `data`."""
    path = make_zip(path, {name: data}, compression=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info, start = zf.infolist()[0], zf.start_dir
    struct.pack_into("<I", raw, info.header_offset + 22, declared)
    struct.pack_into("<I", raw, start + 24, declared)
    path.write_bytes(bytes(raw))
    return path


def nest_zips(path, depth: int, inner_name: str = "a.txt") -> Path:
    """A zip holding a zip holding ... `depth` archives in all, the innermost with a text file."""
    path = Path(path)
    blob, name = b"hello", inner_name
    for level in range(depth, 0, -1):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(name, blob)
        blob, name = buf.getvalue(), f"level{level}.zip"
    path.write_bytes(blob)
    return path


# ---------------------------------------------------------------- 7z


def make_7z(path, members: dict, *, password: str | None = None, header_encryption: bool = False,
            allow_bad_names: bool = False) -> Path:
    """members: {name: bytes | Path}; a name ending in "/" is a directory. allow_bad_names lets
    `../x` and `/x` through (py7zr refuses them in its public writestr)."""
    import tempfile

    import py7zr
    path = Path(path)
    with py7zr.SevenZipFile(path, "w", password=password, header_encryption=header_encryption) as zf, \
            tempfile.TemporaryDirectory() as empty:
        for name, value in members.items():
            if name.endswith("/"):
                zf.write(empty, name.rstrip("/"))
            elif allow_bad_names:
                zf._writestr(_data(value), name)
            else:
                zf.writestr(_data(value), name)
    return path


# ---------------------------------------------------------------- rar (stored members, by hand)

_DOS_TIME = ((2024 - 1980) << 25) | (5 << 21) | (1 << 16) | (8 << 11)


def _rar4_block(kind: int, flags: int, body: bytes, data: bytes = b"") -> bytes:
    head = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head + data


def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _rar5_block(kind: int, fields: bytes, *, extra: bytes = b"", data: bytes | None = None) -> bytes:
    hflags = (0x01 if extra else 0) | (0x02 if data is not None else 0)
    body = _vint(kind) + _vint(hflags)
    if extra:
        body += _vint(len(extra))
    if data is not None:
        body += _vint(len(data))
    body += fields + extra
    head = _vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(head)) + head + (data or b"")


def make_rar(path, members: dict, *, rar5: bool = False, encrypted: bool = False,
             symlink_member: tuple[str, str] | None = None, gbk_names: bool = False) -> Path:
    """A RAR archive of stored (uncompressed) members. members: {name: bytes | Path}; a name
    ending in "/" is a directory. encrypted marks each member as password-protected (its data is
    left as is: readers refuse such members before reading them). gbk_names (RAR4 only) writes
    names as GBK bytes without the Unicode flag, as WinRAR 2.x did."""
    entries = [(n, _data(v) if not n.endswith("/") else b"", "dir" if n.endswith("/") else "file")
               for n, v in members.items()]
    if symlink_member:
        entries.append((symlink_member[0], symlink_member[1].encode(), "link"))
    out = bytearray()
    if rar5:
        out += b"Rar!\x1a\x07\x01\x00" + _rar5_block(1, _vint(0))
        for name, data, kind in entries:
            raw = name.rstrip("/").encode()
            fflags = 0x01 if kind == "dir" else 0x06
            fields = _vint(fflags) + _vint(len(data) if kind == "file" else 0) + _vint(0x10 if kind == "dir" else 0x20)
            if fflags & 0x02:
                fields += struct.pack("<I", 1714550400)
            if fflags & 0x04:
                fields += struct.pack("<I", zlib.crc32(data if kind == "file" else b""))
            fields += _vint(0) + _vint(1 if kind == "link" else 0) + _vint(len(raw)) + raw
            extra = b""
            if kind == "link":
                rec = _vint(5) + _vint(1) + _vint(0) + _vint(len(data)) + data
                extra += _vint(len(rec)) + rec
                data = b""
            if encrypted and kind == "file":
                rec = _vint(1) + _vint(0) + _vint(0) + bytes([15]) + bytes(16) + bytes(16)
                extra += _vint(len(rec)) + rec
            out += _rar5_block(2, fields, extra=extra, data=data)
        out += _rar5_block(5, _vint(0))
    else:
        out += b"Rar!\x1a\x07\x00" + _rar4_block(0x73, 0, bytes(6))
        for name, data, kind in entries:
            raw = name.rstrip("/").replace("/", "\\").encode("gb18030" if gbk_names else "utf-8")
            flags = 0x8000 | (0x200 if not raw.isascii() and not gbk_names else 0)
            host, attr = 2, 0x20
            if kind == "dir":
                flags |= 0xE0
                attr = 0x10
            elif kind == "link":
                host, attr = 3, 0o120777
            if encrypted and kind == "file":
                flags |= 0x04
            body = struct.pack("<IIBIIBBHI", len(data), len(data), host, zlib.crc32(data), _DOS_TIME,
                               29, 0x30, len(raw), attr) + raw
            out += _rar4_block(0x74, flags, body, data)
        out += _rar4_block(0x7B, 0x4000, b"")
    path = Path(path)
    path.write_bytes(bytes(out))
    return path


# ---------------------------------------------------------------- documents


def make_docx(path, paragraphs: list[str], *, tables: list[list[list[str]]] | None = None,
              images: list | None = None) -> Path:
    import docx
    doc = docx.Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    for table in tables or []:
        t = doc.add_table(rows=len(table), cols=max(len(r) for r in table))
        for i, row in enumerate(table):
            for j, value in enumerate(row):
                t.cell(i, j).text = value
    for image in images or []:
        doc.add_picture(str(image))
    doc.save(str(path))
    return Path(path)


def rewrite_zip_member(path, member: str, data: bytes) -> Path:
    """Replace one member of a zip (docx/xlsx) by `data`, keeping the others."""
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        items = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, blob in items:
            zf.writestr(info, data if info.filename == member else blob)
    return path


def make_pdf(path, lines: list[str], *, pages: int = 1) -> Path:
    """A minimal PDF (Helvetica, ASCII text) with correct xref offsets, `lines` on every page."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({esc(x)}) '" for x in lines) + " ET"
    objs = {1: "<< /Type /Catalog /Pages 2 0 R >>",
            3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            4: f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream"}
    kids = []
    for i in range(pages):
        objs[5 + i] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] " \
                      "/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
        kids.append(f"{5 + i} 0 R")
    objs[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = len(out)
        out += f"{num} 0 obj\n{objs[num]}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for num in sorted(objs):
        out += f"{offsets[num]:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    Path(path).write_bytes(bytes(out))
    return Path(path)


def make_slow_pdf(path, *, pages: int = 200, stream_bytes: int = 7_000_000) -> Path:
    """A small PDF (~60 KB) whose `pages` all share one Flate-compressed content stream of
    `stream_bytes` of text operators: pypdf re-reads it for every page (a quarter of an hour)."""
    unit = "(" + "x" * 2000 + ") Tj "          # long strings: few tokens, much text to decode
    ops = "BT /F1 12 Tf 72 720 Td " + unit * (stream_bytes // len(unit)) + "ET"
    packed = zlib.compress(ops.encode("latin-1"), 9)
    objs: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"}
    kids = []
    for i in range(pages):
        objs[5 + i] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>")
        kids.append(f"{5 + i} 0 R")
    objs[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objs[num] + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for num in sorted(objs):
        out += f"{offsets[num]:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    Path(path).write_bytes(bytes(out))
    return Path(path)


def _zip_with_big_member(path, small: dict, name: str, head: bytes, unit: bytes, size: int, tail: bytes) -> Path:
    """A zip of `small` members plus `name` = head + unit*n + tail (about `size` bytes), streamed
    into the zip so the test never holds it whole."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for member, data in small.items():
            zf.writestr(member, data)
        with zf.open(name, "w", force_zip64=True) as fh:
            fh.write(head)
            block = unit * max(1, (1 << 20) // len(unit))
            for _ in range(max(1, size // len(block))):
                fh.write(block)
            fh.write(tail)
    return Path(path)


def make_docx_of_empty_paragraphs(path, xml_bytes: int = 190_000_000) -> Path:
    """A docx of ~2 MB whose document.xml unpacks to `xml_bytes` of empty paragraphs (parsed whole,
    190 MB of them took 4.25 GB)."""
    template = Path(path).with_suffix(".template.docx")
    make_docx(template, ["x"])
    with zipfile.ZipFile(template) as zf:
        small = {i.filename: zf.read(i) for i in zf.infolist() if i.filename != "word/document.xml"}
    template.unlink()
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    return _zip_with_big_member(path, small, "word/document.xml",
                                f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}><w:body>'.encode(),
                                b"<w:p/>", xml_bytes, b"</w:body></w:document>")


def make_xlsx_of_shared_strings(path, xml_bytes: int = 190_000_000) -> Path:
    """An xlsx whose sharedStrings.xml unpacks to `xml_bytes` of strings (openpyxl keeps them all)."""
    template = Path(path).with_suffix(".template.xlsx")
    make_xlsx(template, [["学校", "人数"], ["a", 1]])
    with zipfile.ZipFile(template) as zf:
        small = {i.filename: zf.read(i) for i in zf.infolist() if i.filename != "xl/sharedStrings.xml"}
    template.unlink()
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    return _zip_with_big_member(path, small, "xl/sharedStrings.xml",
                                f'<?xml version="1.0" encoding="UTF-8"?><sst {ns}>'.encode(),
                                b"<si><t>xxxxxxxxxxxxxxxx</t></si>", xml_bytes, b"</sst>")


def make_rtf(path, text: str) -> Path:
    """RTF as Word writes Chinese: \\uN? escapes, with a GBK font table and an info group."""
    body = "".join("\\par\n" if ch == "\n" else ch if ord(ch) < 128 and ch not in "\\{}" else
                   f"\\u{ord(ch) if ord(ch) < 32768 else ord(ch) - 65536}?" for ch in text)
    rtf = ("{\\rtf1\\ansi\\ansicpg936\\deff0{\\fonttbl{\\f0\\fnil\\fcharset134 \\'cb\\'ce\\'cc\\'e5;}}"
           "{\\info{\\title ignored title}}{\\*\\generator Hand 1.0;}\\f0\\fs24 " + body + "\\par}")
    Path(path).write_text(rtf, encoding="ascii")
    return Path(path)


def _odf(path, mimetype: str, body: str) -> Path:
    content = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.2">'
               f'<office:body>{body}</office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    return Path(path)


def _xml(s) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_odt(path, paragraphs: list[str]) -> Path:
    body = "".join(f"<text:p>{_xml(p)}</text:p>" for p in paragraphs)
    return _odf(path, "application/vnd.oasis.opendocument.text", f"<office:text>{body}</office:text>")


def make_ods(path, rows: list[list]) -> Path:
    def cell(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{_xml(v)}</text:p></table:table-cell>'
    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows)
    return _odf(path, "application/vnd.oasis.opendocument.spreadsheet",
                f'<office:spreadsheet><table:table table:name="Sheet1">{body}</table:table></office:spreadsheet>')


# ---------------------------------------------------------------- tables


def make_xlsx(path, rows: list[list], *, sheets: dict[str, list[list]] | None = None) -> Path:
    """rows go to the first sheet; `sheets` adds more {title: rows} after it."""
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row in rows:
        ws.append(row)
    for title, more in (sheets or {}).items():
        extra = wb.create_sheet(title)
        for row in more:
            extra.append(row)
    wb.save(str(path))
    return Path(path)


def make_xls(path, rows: list[list]) -> Path:
    """A BIFF8 .xls through xlwt (a test-only dependency: no reader here can write BIFF)."""
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if isinstance(value, (dt.date, dt.datetime)):
                ws.write(i, j, value, date_style)
            else:
                ws.write(i, j, value)
    wb.save(str(path))
    return Path(path)


def make_et(path, rows: list[list]) -> Path:
    """WPS's .et: the same BIFF compound file as .xls under another extension."""
    return make_xls(path, rows)


def make_csv(path, rows: list[list], encoding: str = "gbk", delimiter: str = ",") -> Path:
    import csv
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    Path(path).write_bytes(buf.getvalue().encode(encoding))
    return Path(path)


# ---------------------------------------------------------------- Word 97 .doc (by hand)

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _cfb(streams: list[tuple[str, bytes]]) -> bytes:
    """A version-3 compound file (512-byte sectors) holding `streams` in the root storage.
    Every stream is padded to 4096 bytes so that no mini stream is needed."""
    padded = [(name, data + bytes(-len(data) % 512 if len(data) >= 4096 else 4096 - len(data)))
              for name, data in streams]
    fat = [_FATSECT, _END]                       # sector 0: the FAT, sector 1: the directory
    starts = []
    for _, data in padded:
        first, count = len(fat), len(data) // 512
        starts.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [_END]
    assert len(fat) <= 128, "builder keeps to one FAT sector"
    fat += [_FREE] * (128 - len(fat))

    def entry(name: str, kind: int, start: int, size: int, left=_NOSTREAM, right=_NOSTREAM, child=_NOSTREAM):
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBB3I", len(raw), kind, 1, left, right, child)
                + bytes(16 + 4 + 16) + struct.pack("<IQ", start, size))

    # a one-sided binary tree under the root: stream i has stream i+1 as its right sibling
    dirs = entry("Root Entry", 5, _END, 0, child=1)
    for i, ((name, _), (_, data), start) in enumerate(zip(streams, padded, starts)):
        nxt = i + 2 if i + 1 < len(streams) else _NOSTREAM
        dirs += entry(name, 2, start, len(data), right=nxt)
    dirs = dirs.ljust(512 * -(-len(dirs) // 512), b"\0")
    # empty directory slots must point nowhere
    for off in range(128 * (len(streams) + 1), len(dirs), 128):
        dirs = dirs[:off + 0x44] + struct.pack("<3I", _NOSTREAM, _NOSTREAM, _NOSTREAM) + dirs[off + 0x50:]
    assert len(dirs) == 512, "builder keeps to one directory sector"
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
              + struct.pack("<I", 0) + struct.pack("<108I", *[_FREE] * 108))
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + dirs + b"".join(d for _, d in padded)


def make_doc(path, paragraphs: list[str]) -> Path:
    """A Word 97 .doc: a FIB, the text as one UTF-16 piece, a piece table in 1Table.

    Hand-made after [MS-DOC]/[MS-CFB] because no installed tool writes .doc; antiword and
    catdoc read it. Paragraphs end with CR as Word stores them."""
    text = "".join(p + "\r" for p in paragraphs).encode("utf-16-le")
    ccp = len(text) // 2
    fc_text = 0x800
    fib = bytearray(fc_text)
    struct.pack_into("<HH", fib, 0x00, 0xA5EC, 0x00C1)            # wIdent, nFib (Word 97)
    struct.pack_into("<H", fib, 0x0A, 1 << 9 | 1 << 12)            # fWhichTblStm: 1Table, fExtChar
    struct.pack_into("<II", fib, 0x18, fc_text, fc_text + len(text))  # fcMin, fcMac
    struct.pack_into("<H", fib, 0x20, 14)                          # csw
    struct.pack_into("<H", fib, 0x3E, 22)                          # cslw
    struct.pack_into("<I", fib, 0x40, fc_text + len(text))         # cbMac
    struct.pack_into("<I", fib, 0x4C, ccp)                         # ccpText
    struct.pack_into("<H", fib, 0x98, 93)                          # cbRgFcLcb
    clx = b"\x02" + struct.pack("<I", 16) + struct.pack("<II", 0, ccp) + struct.pack("<HIH", 0, fc_text, 0)
    struct.pack_into("<II", fib, 0x1A2, 0, len(clx))               # fcClx, lcbClx
    word = bytes(fib) + text
    Path(path).write_bytes(_cfb([("WordDocument", word), ("1Table", clx)]))
    return Path(path)


def make_wps(path, paragraphs: list[str]) -> Path:
    """WPS Office's .wps text document: the same Word 97 compound file."""
    return make_doc(path, paragraphs)
