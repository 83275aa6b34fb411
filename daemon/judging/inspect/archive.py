"""Archives (zip, rar, 7z): judge the listing first, then unpack member by member, streaming.

Nothing is extracted until the whole listing has passed: no absolute or `..` paths, no links or
devices, not too many members, sizes and ratios within Limits, not nested too deep. Headers can
lie, so every member is then copied in chunks with its bytes counted against what it declared.
On disk a member gets only a safe_name()d base name in a fresh folder under ctx.workdir; its
folder path inside the archive lives on in the display name (`照片.zip/照片/合影.jpg`).
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from daemon.defects import defect
from daemon.judging.inspect import Context, FileTimeout, Limits
from daemon.judging.inspect.budget import tool_options
from daemon.judging.inspect.charset import decode_name
from daemon.model import ERROR, WARNING, Attachment, Defect, Inspection, Material
from daemon.store.hashing import sha256_file as _sha256
from daemon.store.safefs import is_full, safe_join, safe_name

KIND = "archive"
FORK = {"zip", "rar", "7z"}        # unpacked in a child that is killed at the file's time budget
FORMATS = {"zip", "rar", "7z", "gzip"}


def sniff(head: bytes, suffix: str, path) -> str | None:
    """Archives by their first bytes. A zip may be an office file (docx, xlsx, odt, ods): the
    central directory's names tell, read without opening any member; a broken zip is what its name says."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        kind = _ooxml_kind(path)
        if kind is None:
            kind = {"docx": "docx", "xlsx": "xlsx", "xlsm": "xlsx", "odt": "odt", "ods": "ods"}.get(suffix, "zip")
        return kind
    if head[:6] == b"Rar!\x1a\x07":
        return "rar"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    return None


def _ooxml_kind(path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()[:2000]
    except Exception:
        return None
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "mimetype" in names and "content.xml" in names:
        try:
            with zipfile.ZipFile(path) as zf:
                mime = zf.read("mimetype")[:100]
        except Exception:
            mime = b""
        if b"spreadsheet" in mime:
            return "ods"
        if b"text" in mime:
            return "odt"
    return "zip"
SMALL = 1 << 20                    # ratios are judged only above this many unpacked bytes
MAX_XML_PART = 20 * 1024**2        # an XML part of a docx/xlsx/odt/ods, unpacked
CHUNK = 1 << 16
JUNK = {".ds_store", "thumbs.db", "desktop.ini"}
RAR_DIRECT = True                  # stored RAR members are read by rarfile itself; tests turn it off
RAR_TOOLS = ("7z", "unar", "bsdtar")
log = logging.getLogger(__name__)


class Refused(Exception):
    """Stops the whole archive with one defect."""

    def __init__(self, code: str, reason: str = "", severity: str = ERROR):
        super().__init__(reason)
        self.code, self.reason, self.severity = code, reason, severity


class DiskFull(Refused):
    """No space left while unpacking: the disk's fault, not the archive's. inspect() raises it on as
    OSError(ENOSPC) so the daemon keeps the message for later instead of calling the archive corrupt."""

    def __init__(self, e: OSError):
        super().__init__("archive.corrupt", str(e))


class MemberBroken(Exception):
    """One member could not be read (CRC error, truncated, unknown method)."""

    def __init__(self, unsupported: bool = False):
        super().__init__()
        self.unsupported = unsupported


@dataclass
class Member:
    name: str                      # path inside the archive, "/"-separated, as the school sees it
    size: int                      # declared unpacked size
    packed: int | None             # declared packed size (None: unknown, e.g. solid 7z)
    kind: str = "file"             # file | dir | link | special
    encrypted: bool = False
    ref: Any = None                # the backend's own handle


# ---------------------------------------------------------------- judging the listing


def _q(name: str) -> str:
    """A member name fit to quote in a Chinese sentence: no control characters, not too long."""
    name = _display(name)
    return name if len(name) <= 60 else name[:28] + "…" + name[-28:]


def unsafe_reason(members: list[Member], archive_size: int, limits: Limits) -> str | None:
    """Why this listing must not be unpacked, in Chinese, or None."""
    if len(members) > limits.max_members:
        return f"包含的文件超过 {limits.max_members} 个"
    total = 0
    for m in members:
        parts = m.name.replace("\\", "/").split("/")
        if m.name.startswith(("/", "\\")):
            return f"含有绝对路径“{_q(m.name)}”"
        if re.match(r"^[A-Za-z]:", m.name):
            return f"含有带盘符的路径“{_q(m.name)}”"
        if ".." in parts:
            return f"含有指向上级目录的路径“{_q(m.name)}”"
        if m.kind in ("link", "special"):
            return f"含有链接或特殊文件“{_q(m.name)}”"
        if m.size > SMALL and m.packed is not None and m.size > limits.max_ratio * max(m.packed, 1):
            return f"中的“{_q(m.name)}”压缩比异常（疑似“压缩炸弹”）"
        total += m.size
    if total > limits.max_unpacked_bytes:
        return f"解压后总大小超过 {limits.max_unpacked_bytes // 1024**2} MB"
    if total > SMALL and total > limits.max_ratio * max(archive_size, 1):
        return "整体压缩比异常（疑似“压缩炸弹”）"
    return None


def zip_guard(path: Path, *, max_members: int = 10000, max_unpacked: int = 200 * 1024**2,
              max_ratio: int = 200, max_xml: int = MAX_XML_PART) -> str | None:
    """For zip-based documents (docx, xlsx, odt, ods): why not to open it, or None.

    Their readers parse each XML part whole into a tree of ~20 times its size (a 1.9 MB .docx of
    190 MB of empty paragraphs took 4.25 GB), so a part over `max_xml` unpacked is refused before
    any parsing. zipfile never reads past a member's declared size, so the declared size is the cap."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            members = [Member(i.filename, i.file_size, i.compress_size) for i in infos]
            big = next((i for i in infos if i.file_size > max_xml and _xml_like(zf, i)), None)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zlib.error) as e:
        return f"不是有效的压缩结构（{e}）"
    if big is not None:
        return f"中的“{_q(big.filename)}”解压后超过 {max_xml // 1024**2} MB"
    return unsafe_reason(members, Path(path).stat().st_size,
                         Limits(max_members=max_members, max_unpacked_bytes=max_unpacked, max_ratio=max_ratio))


def _xml_like(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a member may be parsed as XML: by its name, or (a content-type override can make
    any part XML) by its first bytes. Pictures and embedded videos start otherwise."""
    if info.filename.lower().endswith((".xml", ".rels", ".vml")):
        return True
    with zf.open(info) as fh:
        head = fh.read(4096)
    head = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    return not head or head.startswith(b"<")


def _is_junk(name: str) -> bool:
    parts = [p for p in name.split("/") if p]
    if not parts:
        return True
    base = parts[-1]
    return "__MACOSX" in parts or base.lower() in JUNK or base.startswith("._")


def _display(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/"))
    while name.startswith("./"):
        name = name[2:]
    return name


# ---------------------------------------------------------------- writing one member


class Sink:
    """One member on its way to disk: counted, hashed, cut off at its declared size."""

    def __init__(self, path: Path, limit: int, budget: "Budget"):
        self.path, self.limit, self.budget = path, limit, budget
        self.count = 0
        self.sha = hashlib.sha256()
        self.fh = open(path, "wb")

    def write(self, data: bytes) -> int:
        self.count += len(data)
        if self.count > self.limit:
            raise Refused("archive.unsafe", "实际解压出的内容比声明的大小更大")
        self.budget.spend(len(data))
        self.sha.update(data)
        try:
            self.fh.write(data)
        except OSError as e:
            raise (DiskFull(e) if is_full(e) else e) from None
        return len(data)

    def reset(self) -> None:
        self.budget.spent -= self.count
        self.count, self.sha = 0, hashlib.sha256()
        self.fh.seek(0)
        self.fh.truncate()

    def close(self) -> None:
        if not self.fh.closed:
            try:
                self.fh.close()          # the last buffered bytes are written here
            except OSError as e:
                raise (DiskFull(e) if is_full(e) else e) from None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class Budget:
    def __init__(self, limit: int, deadline: float):
        self.limit, self.deadline, self.spent = limit, deadline, 0

    def spend(self, n: int) -> None:
        self.spent += n
        if self.spent > self.limit:
            raise Refused("archive.unsafe", "解压后总大小超过限制")
        if time.monotonic() > self.deadline:
            raise FileTimeout()


def copy_stream(src, sink: Sink) -> None:
    for chunk in iter(lambda: src.read(CHUNK), b""):
        sink.write(chunk)


# ---------------------------------------------------------------- zip


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """The real name: zipfile reads names without the UTF-8 flag as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    extra = info.extra
    while len(extra) >= 4:             # Info-ZIP Unicode Path field (0x7075), when present
        kind, size = int.from_bytes(extra[:2], "little"), int.from_bytes(extra[2:4], "little")
        body, extra = extra[4:4 + size], extra[4 + size:]
        if kind == 0x7075 and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                break
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return decode_name(raw.split(b"\x00", 1)[0])


def _zip_kind(info: zipfile.ZipInfo) -> str:
    ftype = stat.S_IFMT(info.external_attr >> 16)
    if info.filename.endswith("/") or ftype == stat.S_IFDIR:
        return "dir"
    if ftype == stat.S_IFLNK:
        return "link"
    if ftype and ftype != stat.S_IFREG:
        return "special"
    return "file"


class ZipBackend:
    def __init__(self, path: Path, ctx: Context):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, ValueError, OSError):
            raise Refused("archive.corrupt") from None

    def members(self) -> list[Member]:
        return [Member(zip_member_name(i), i.file_size, i.compress_size, _zip_kind(i),
                       bool(i.flag_bits & 0x1) or i.compress_type == 99, i) for i in self.zf.infolist()]

    def extract(self, members: list[Member], open_sink: Callable[[Member], Sink]) -> None:
        for m in members:
            sink = open_sink(m)
            try:
                with self.zf.open(m.ref) as src:
                    copy_stream(src, sink)
            except NotImplementedError:
                raise MemberBroken(unsupported=True) from None
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, zlib.error):
                raise MemberBroken() from None
            finally:
                sink.close()

    def close(self) -> None:
        self.zf.close()


# ---------------------------------------------------------------- rar


class RarBackend:
    def __init__(self, path: Path, ctx: Context):
        import rarfile
        self.rarfile, self.path, self.ctx = rarfile, path, ctx
        try:
            self.rf = rarfile.RarFile(str(path), errors="strict")   # a cut header is an error
        except (rarfile.PasswordRequired, rarfile.NoCrypto):
            raise Refused("archive.encrypted") from None
        except rarfile.NeedFirstVolume:
            raise Refused("archive.unsupported", "是分卷压缩包的一部分") from None
        except (rarfile.Error, OSError, EOFError, ValueError):
            raise Refused("archive.corrupt") from None

    def members(self) -> list[Member]:
        out = []
        for i in self.rf.infolist():
            name = i.filename
            if i.flags & 0x200 == 0 and isinstance(i.orig_filename, bytes) and not i.orig_filename.isascii():
                name = decode_name(i.orig_filename).replace("\\", "/") + ("/" if i.is_dir() else "")
            kind = "dir" if i.is_dir() else "link" if (i.is_symlink() or i.file_redir) else "file"
            mode = getattr(i, "mode", None)
            if kind == "file" and i.host_os == self.rarfile.RAR_OS_UNIX and isinstance(mode, int) \
                    and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "special"
            out.append(Member(name, i.file_size, i.compress_size, kind, i.needs_password(), i))
        return out

    def extract(self, members: list[Member], open_sink: Callable[[Member], Sink]) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="rar-", dir=self.ctx.workdir))
        try:
            link = tmp / "archive.rar"      # alone in its folder: tools must not guess volumes
            os.symlink(Path(self.path).resolve(), link)
            for m in members:
                sink = open_sink(m)
                try:
                    if RAR_DIRECT and m.ref.compress_type == 0x30 and not m.encrypted:
                        try:
                            with self.rf.open(m.ref) as src:
                                copy_stream(src, sink)
                        except (self.rarfile.Error, OSError, EOFError, ValueError):
                            raise MemberBroken() from None
                    else:
                        self._tool_copy(link, m.ref.filename.rstrip("/"), m.size, sink)
                finally:
                    sink.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _tool_copy(self, archive: Path, name: str, size: int, sink: Sink) -> None:
        tried = False
        for tool in RAR_TOOLS:
            exe = shutil.which(tool)
            if not exe:
                continue
            tried = True
            cmd = {"7z": [exe, "e", "-so", "-bd", "-bb0", "-p", "--", str(archive), name],
                   "unar": [exe, "-q", "-o", "-", "-p", "", "--", str(archive), name],
                   "bsdtar": [exe, "-x", "--to-stdout", "-f", str(archive), "--", name]}[tool]
            if run_to_sink(cmd, sink, self.ctx.file_left()) and sink.count == size:
                return
            sink.reset()
        raise MemberBroken(unsupported=not tried)

    def close(self) -> None:
        self.rf.close()


def run_to_sink(cmd: list[str], sink: Sink, seconds: float) -> bool:
    """Run a tool whose stdout is the member; True if it exited 0. A tool still running after
    `seconds` is killed and the file's time budget is spent (FileTimeout)."""
    if seconds <= 0:
        raise FileTimeout()
    killed = threading.Event()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, **tool_options())

        def kill():
            killed.set()
            proc.kill()
        timer = threading.Timer(seconds, kill)
        timer.start()
        try:
            copy_stream(proc.stdout, sink)
        except BaseException:
            proc.kill()
            raise
        finally:
            timer.cancel()
            proc.stdout.close()
            rc = proc.wait()
    if killed.is_set():
        raise FileTimeout()
    return rc == 0


# ---------------------------------------------------------------- 7z


class SevenZipBackend:
    def __init__(self, path: Path, ctx: Context):
        import py7zr
        self.py7zr = py7zr
        self.fh = open(path, "rb")         # a file object also keeps py7zr single-threaded
        try:
            self.zf = py7zr.SevenZipFile(self.fh)
        except py7zr.exceptions.PasswordRequired:
            self.fh.close()
            raise Refused("archive.encrypted") from None
        except py7zr.exceptions.UnsupportedCompressionMethodError as e:
            self.fh.close()
            raise Refused("archive.unsupported", str(e)) from None
        except Exception:             # py7zr raises a zoo of types on bad headers
            self.fh.close()
            raise Refused("archive.corrupt") from None

    def members(self) -> list[Member]:
        locked = self.zf.needs_password()
        return [Member(i.filename + ("/" if i.is_directory else ""), i.uncompressed or 0, i.compressed,
                       "dir" if i.is_directory else "link" if i.is_symlink else "file", locked, i)
                for i in self.zf.list()]

    def extract(self, members: list[Member], open_sink: Callable[[Member], Sink]) -> None:
        import py7zr.io
        wanted = {m.ref.filename: m for m in members}
        sinks: list[Sink] = []

        class Writer(py7zr.io.Py7zIO):
            def __init__(self, sink):
                self.sink = sink

            def write(self, s):
                return self.sink.write(bytes(s))

            def read(self, size=None):
                return b""

            def seek(self, offset, whence=0):
                return 0

            def flush(self):
                pass

            def size(self):
                return self.sink.count

            def close(self):
                self.sink.close()

        class Factory(py7zr.io.WriterFactory):
            def create(self, filename):
                member = wanted.get(filename)
                if member is None:
                    raise Refused("archive.unsafe", f"解压出了清单以外的文件“{_q(filename)}”")
                sink = open_sink(member)
                sinks.append(sink)
                return Writer(sink)

        try:
            self.zf.extract(targets=list(wanted), factory=Factory())
        except Refused:
            raise
        except self.py7zr.exceptions.UnsupportedCompressionMethodError:
            raise MemberBroken(unsupported=True) from None
        except Exception:
            raise MemberBroken() from None
        finally:
            for s in sinks:
                s.close()

    def close(self) -> None:
        self.zf.close()
        self.fh.close()


# ---------------------------------------------------------------- the inspector

_BACKENDS = {"zip": ZipBackend, "rar": RarBackend, "7z": SevenZipBackend}


def _defect(code: str, name: str, reason: str = "", severity: str = ERROR) -> Defect:
    """The catalogue's sentence for `code`: `reason` is why it is unsafe or unsupported, or which
    members are damaged (its own wording where it has one)."""
    if code == "archive.unsafe":
        return defect(code, name, severity=severity, reason=reason)
    if not reason or code == "archive.encrypted":
        return defect(code, name, severity=severity)
    if code == "archive.corrupt":
        return defect(code, name, form="members", severity=severity, members=reason)
    return defect(code, name, form="reason", severity=severity, reason=reason)


def preload(fmt: str) -> None:
    """Import the reader for `fmt` before the file's child is forked (0.1 s each time otherwise)."""
    if fmt == "7z":
        import py7zr  # noqa: F401
    elif fmt == "rar":
        import rarfile  # noqa: F401


def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection:
    material = Material(file=att.name, type="archive", format=fmt, size=att.size,
                        sha256=att.sha256 or _sha256(att.path), in_archive=att.in_archive, path=att.path)
    result = Inspection(materials=[material])

    def defect(code: str, reason: str = "", severity: str = ERROR) -> Inspection:
        result.defects.append(_defect(code, att.name, reason, severity))
        return result

    if att.depth + 1 > ctx.limits.max_depth:
        return defect("archive.unsafe", "里又套了多层压缩包")
    if fmt not in _BACKENDS:
        return defect("archive.unsupported", {"gzip": "gz/tar.gz"}.get(fmt, fmt))
    backend = None
    try:
        backend = _BACKENDS[fmt](att.path, ctx)
        members = backend.members()
        if any(m.encrypted for m in members):
            return defect("archive.encrypted")
        reason = unsafe_reason(members, att.size, ctx.limits)
        if reason:
            return defect("archive.unsafe", reason)
        files = [m for m in members if m.kind == "file" and not _is_junk(_display(m.name))]
        return _unpack(att, backend, files, ctx, result, defect)
    except DiskFull as e:
        raise OSError(errno.ENOSPC, f"no space left unpacking {att.name}: {e.reason}") from None
    except Refused as r:
        return defect(r.code, r.reason, r.severity)
    except Exception as e:                 # a hostile file can break a library anywhere
        log.warning("archive %s: %s: %s", att.name, type(e).__name__, e)
        return defect("archive.corrupt")
    finally:
        if backend is not None:
            backend.close()


def _unpack(att, backend, files, ctx, result, defect) -> Inspection:
    outdir = safe_join(ctx.workdir, f"{safe_name(att.basename, 60)}-{uuid.uuid4().hex[:8]}")
    outdir.mkdir(parents=True)
    budget = Budget(ctx.limits.max_unpacked_bytes, time.monotonic() + ctx.file_left())
    done: dict[int, tuple[Member, Sink]] = {}
    used: set[str] = set()

    def open_sink(m: Member) -> Sink:
        base = safe_name(_display(m.name))
        stem, dot, ext = base.rpartition(".") if "." in base else (base, "", "")
        n = 1
        while base.lower() in used:
            n += 1
            base = f"{stem} ({n}){dot}{ext}" if dot else f"{stem} ({n})"
        used.add(base.lower())
        sink = Sink(safe_join(outdir, base), m.size, budget)
        done[id(m)] = (m, sink)
        return sink

    broken, unsupported = [], []
    try:
        if isinstance(backend, SevenZipBackend):
            try:
                backend.extract(files, open_sink)
            except MemberBroken as e:
                (unsupported if e.unsupported else broken).append(att.name)
                for _, sink in done.values():
                    sink.discard()
                done.clear()
        else:
            for m in files:
                try:
                    backend.extract([m], open_sink)
                except MemberBroken as e:
                    (unsupported if e.unsupported else broken).append(_q(m.name))
                    if id(m) in done:
                        done.pop(id(m))[1].discard()
    except BaseException:
        shutil.rmtree(outdir, ignore_errors=True)
        raise
    for m, sink in done.values():
        if not sink.path.exists():
            continue
        result.children.append(Attachment(
            name=f"{att.name}/{_display(m.name)}", path=sink.path, size=sink.count,
            depth=att.depth + 1, in_archive=True, sha256=sink.sha.hexdigest()))
    if broken:
        defect("archive.corrupt", "" if broken == [att.name] else "”“".join(broken[:3]))
    if unsupported:
        defect("archive.unsupported", "压缩方式不受支持", WARNING if result.children else ERROR)
    return result
