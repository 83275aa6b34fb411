"""The hostile corpus, and helpers shared by the hostile-input, fault and load tests.

`hostile_corpus(dir, token)` builds ~40 broken or malicious mails as bytes, each with the defect
codes a judge must report for it (where one is meaningful). Files meant to escape the storage
folder carry `token` in their names, so a test can look for them anywhere on disk afterwards.
"""
from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.builders import files, media
from tests.builders.mail import build_mail, report_text

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "【一日一报】厦门工商旅游学校5月15日活动情况"
SCHOOL = "school@qq.com"


@dataclass
class Case:
    name: str
    raw: bytes
    codes: set[str] = field(default_factory=set)     # must all be among the verdict's defect codes


def _b(text: str) -> str:
    return f"=?utf-8?B?{base64.b64encode(text.encode()).decode()}?="


def _head(name: str, ctype: str | None = "text/plain; charset=utf-8", extra: str = "", subject: str = "",
          date: str = "Mon, 15 May 2023 10:00:00 +0800") -> bytes:
    lines = [f"From: {SCHOOL}", "To: xmedu_gjc@163.com", f"Subject: {subject or _b(SUBJECT)}",
             f"Date: {date}", f"Message-ID: <{name}@hostile.test>", "MIME-Version: 1.0"]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    return ("\r\n".join(lines) + "\r\n" + extra).encode()


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _mail(name: str, **kw) -> bytes:
    kw.setdefault("subject", SUBJECT)
    kw.setdefault("body", report_text(1000))
    kw.setdefault("sender", SCHOOL)
    return build_mail(message_id=f"<{name}@hostile.test>", **kw)


def _docx_with(path: Path, member: str, data: bytes) -> bytes:
    files.make_docx(path, [report_text(900)])
    return files.rewrite_zip_member(path, member, data).read_bytes()


def _docx_xml(body_text: str, doctype: str) -> bytes:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
            f'<w:document xmlns:w="{ns}"><w:body><w:p><w:r><w:t>{body_text}</w:t></w:r></w:p>'
            f'</w:body></w:document>').encode()


def _jpeg_claiming(path: Path, width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header is rewritten to claim width×height."""
    data = bytearray(media.make_jpeg(path, 64, 48).read_bytes())
    i = 2
    while i < len(data):
        marker, size = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xC2:
            data[i + 5:i + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
            return bytes(data)
        i += 2 + size
    raise AssertionError("no SOF marker")


def _nested_rfc822(levels: int) -> bytes:
    inner = _mail("deep-core", attachments=[("核心.txt", "最里面的附件".encode(), "text/plain")])
    for n in range(levels):
        inner = (_head(f"deep-{n}", "message/rfc822") + b"\r\n" + inner)
    return inner


def _nested_multipart(levels: int) -> bytes:
    body = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + report_text(900).encode() + b"\r\n"
    for n in range(levels):
        b = f"b{n}".encode()
        body = (b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"\r\n\r\n--" + b + b"\r\n" + body
                + b"--" + b + b"--\r\n")
    return _head("deep-multipart", None) + body


def hostile_corpus(work: Path, token: str, secret_file: Path) -> list[Case]:
    """~40 hostile mails. `secret_file` is what an XML external entity tries to pull in."""
    work.mkdir(parents=True, exist_ok=True)
    jpeg = media.make_jpeg(work / "good.jpg", 2400, 1600, target_bytes=2_100_000).read_bytes()
    video = media.make_video(work / "v.mp4", width=640, height=480, seconds=1).read_bytes()
    text = report_text(1000)
    c: list[Case] = []
    add = lambda name, raw, *codes: c.append(Case(name, raw, set(codes)))    # noqa: E731

    # ---- MIME structure
    add("boundary-mismatch", _head("boundary-mismatch", 'multipart/mixed; boundary="declared"') +
        b"\r\n--actual\r\nContent-Type: text/plain\r\n\r\nhello\r\n--actual--\r\n")
    add("boundary-unclosed-truncated", _head("boundary-unclosed-truncated", 'multipart/mixed; boundary="X"') +
        b"\r\n--X\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() +
        b"\r\n--X\r\nContent-Type: image/jpeg; name=\"a.jpg\"\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=\"\xe6\xb4\xbb\xe5\x8a\xa8.jpg\"\r\n\r\n" +
        _b64(jpeg)[: len(jpeg)], "photo.corrupt")
    add("multipart-without-boundary", _head("multipart-without-boundary", "multipart/mixed") +
        b"\r\n--zzz\r\nContent-Type: text/plain\r\n\r\nbody\r\n--zzz--\r\n")
    add("no-content-type-base64", _head("no-content-type-base64", None,
                                         "Content-Transfer-Encoding: base64\r\n") + b"\r\n" + _b64(text.encode("gbk")))
    add("png-labelled-jpeg", _mail("png-labelled-jpeg", attachments=[
        ("合影.jpg", media.make_png(work / "p.png", 300, 200).read_bytes(), "image/jpeg")]), "photo.not_jpeg")
    add("text-labelled-mp4", _mail("text-labelled-mp4", attachments=[("视频.mp4", text.encode(), "video/mp4")]))
    add("unknown-charset", _head("unknown-charset", 'text/plain; charset="x-klingon-42"') + b"\r\n" + text.encode("gbk"))
    add("wrong-charset", _head("wrong-charset", 'text/plain; charset="utf-8"') + b"\r\n" + text.encode("gbk"))
    add("huge-subject", _head("huge-subject", subject="一日一报" * 250_000) + b"\r\n" + text.encode())
    add("ten-thousand-headers", _head("ten-thousand-headers", extra="".join(
        f"X-Junk-{i}: {'x' * 50}\r\n" for i in range(10_000))) + b"\r\n" + text.encode())
    parts = b"".join(b"--P\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
                     b"filename=\"f%d.bin\"\r\n\r\nx\r\n" % i for i in range(3000))
    add("three-thousand-parts", _head("three-thousand-parts", 'multipart/mixed; boundary="P"') + b"\r\n--P\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() + b"\r\n" + parts + b"--P--\r\n")
    add("rfc822-nested-60-deep", _nested_rfc822(60))
    add("multipart-nested-300-deep", _nested_multipart(300))
    add("html-bomb", _head("html-bomb", "text/html; charset=utf-8") + b"\r\n" + b"<div>" * 100_000 + b"x")
    add("invalid-base64", _head("invalid-base64", 'multipart/mixed; boundary="Q"') +
        b"\r\n--Q\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() +
        b"\r\n--Q\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=\"x.jpg\"\r\n\r\n!!!!@@@@####\r\nQUJ\r\n--Q--\r\n")
    add("unknown-transfer-encoding", _head("unknown-transfer-encoding", 'multipart/mixed; boundary="Q"') +
        b"\r\n--Q\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() +
        b"\r\n--Q\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: x-uuencode\r\n"
        b"Content-Disposition: attachment; filename=\"y.jpg\"\r\n\r\nbegin 644 y.jpg\r\nend\r\n--Q--\r\n")
    add("binary-garbage", os.urandom(200_000))
    add("empty", b"")
    add("headers-only", _head("headers-only"))
    add("nul-and-8bit-headers", b"From: \xd1\xa7\xd0\xa3\x00 <school@qq.com>\r\nSubject: \xd2\xbb\xc8\xd5\xd2\xbb\xb1\xa8\x00"
        b"\x07\r\nMessage-ID: <nul@hostile.test>\r\nDate: \x00\r\n\r\n" + text.encode("gbk"))
    add("impossible-date", _head("impossible-date", date="Mon, 99 Foo 99999 99:99:99 +9999") + b"\r\n" + text.encode())
    add("rfc2231-garbage", _head("rfc2231-garbage", 'multipart/mixed; boundary="R"') +
        b"\r\n--R\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() +
        b"\r\n--R\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*0*=x-nope''%E4%B8; filename*1*=%ZZ%; filename*5=\"q\"\r\n\r\n"
        + _b64(b"data") + b"--R--\r\n")

    # ---- archives
    add("zip-bomb", _mail("zip-bomb", attachments=[
        ("照片.zip", files.make_zip_bomb(work / "bomb.zip", 256 << 20).read_bytes(), "application/zip")]), "archive.unsafe")
    add("zip-slip", _mail("zip-slip", attachments=[("材料.zip", files.make_zip_slip(
        work / "slip.zip", f"../../../../tmp/{token}-zipslip.txt").read_bytes(), "application/zip")]), "archive.unsafe")
    add("zip-absolute", _mail("zip-absolute", attachments=[("材料.zip", files.make_zip(
        work / "abs.zip", {f"/tmp/{token}-absolute.txt": b"evil"}).read_bytes(), "application/zip")]), "archive.unsafe")
    add("zip-symlink", _mail("zip-symlink", attachments=[("材料.zip", files.make_zip(
        work / "ln.zip", {"ok.txt": b"fine"}, symlink_member=(f"{token}-link", "/etc/passwd")).read_bytes(),
        "application/zip")]), "archive.unsafe")
    add("zip-nested-5", _mail("zip-nested-5", attachments=[
        ("套娃.zip", files.nest_zips(work / "nest.zip", 5).read_bytes(), "application/zip")]), "archive.unsafe")
    add("zip-1500-members", _mail("zip-1500-members", attachments=[("多.zip", files.make_zip(
        work / "many.zip", {f"f{i}.txt": b"x" for i in range(1500)}).read_bytes(), "application/zip")]),
        "archive.unsafe")
    add("zip-encrypted", _mail("zip-encrypted", attachments=[("密.zip", files.make_zip(
        work / "enc.zip", {"a.jpg": jpeg[:1000]}, encrypt=True).read_bytes(), "application/zip")]), "archive.encrypted")
    add("7z-slip", _mail("7z-slip", attachments=[("材料.7z", files.make_7z(
        work / "slip.7z", {f"../../{token}-7z.txt": b"evil"}, allow_bad_names=True).read_bytes(),
        "application/x-7z-compressed")]), "archive.unsafe")

    # ---- pictures and videos
    add("png-bomb", _mail("png-bomb", attachments=[
        ("炸弹.png", media.make_png_header(work / "bomb.png", 60_000, 60_000).read_bytes(), "image/png")]),
        "photo.corrupt")
    add("jpeg-bomb", _mail("jpeg-bomb", attachments=[
        ("巨图.jpg", _jpeg_claiming(work / "small.jpg", 65_000, 65_000), "image/jpeg")]), "photo.corrupt")
    add("jpeg-truncated", _mail("jpeg-truncated", attachments=[
        ("半张.jpg", jpeg[: len(jpeg) // 2], "image/jpeg")]), "photo.corrupt")
    add("mp4-truncated", _mail("mp4-truncated", attachments=[
        ("半段.mp4", video[: int(len(video) * 0.6)], "video/mp4")]), "video.corrupt")
    add("mp4-random-bytes", _mail("mp4-random-bytes", attachments=[
        ("噪声.mp4", os.urandom(300_000), "video/mp4")]), "video.corrupt")

    # ---- Word documents
    xxe = _docx_xml("正文&xxe;", f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')
    add("docx-external-entity", _mail("docx-external-entity", body="详见附件", attachments=[
        ("稿件.docx", _docx_with(work / "xxe.docx", "word/document.xml", xxe),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]))
    laughs = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i else "哈"}">' for i in range(10))
    add("docx-billion-laughs", _mail("docx-billion-laughs", body="详见附件", attachments=[
        ("笑.docx", _docx_with(work / "laugh.docx", "word/document.xml",
                              _docx_xml("&l9;", f"<!DOCTYPE w:document [{laughs}]>")),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]))
    buf = io.BytesIO()
    files.make_docx(work / "big.docx", [report_text(900)])
    with zipfile.ZipFile(work / "big.docx") as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open("word/embeddings/oleObject1.bin", "w", force_zip64=True) as fh:
            for _ in range(100):
                fh.write(bytes(1 << 20))
    add("docx-huge-embedded-object", _mail("docx-huge-embedded-object", body="详见附件", attachments=[
        ("稿件.docx", buf.getvalue(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]),
        "document.unreadable")

    # ---- file names
    add("names-with-path-separators", _mail("names-with-path-separators", attachments=[
        (f"../../../../tmp/{token}-dotdot.txt", b"evil", "text/plain"),
        (f"..\\..\\{token}-backslash.txt", b"evil", "text/plain"),
        (f"/etc/cron.d/{token}-absolute", b"* * * * * root true\n", "application/octet-stream")]))
    add("names-with-control-chars", _mail("names-with-control-chars", attachments=[
        (f"{token}\r\nBcc: victim@example.com\x07\x1b[31m.jpg", jpeg, "image/jpeg")]))
    add("name-1000-chars", _mail("name-1000-chars", attachments=[("长" * 1000 + ".jpg", jpeg, "image/jpeg")]))
    add("name-dots-and-devices", _mail("name-dots-and-devices", attachments=[
        ("..", b"a", "text/plain"), (".", b"b", "text/plain"), ("CON.txt", b"c", "text/plain"),
        ("", b"d", "application/octet-stream")]))
    return c


# ------------------------------------------------------------------------------------------ running

MEASURE = r'''
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
               "maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}, fh)
'''


def ribao_measured(*args, tmp: Path, timeout: float = 300) -> dict:
    """`ribao ARGS` under a wrapper process, so the peak RSS of ribao and its judging children
    (and nothing else this test process ever started) can be read: {rc, out, err, maxrss_mb}."""
    report = tmp / f"measure-{uuid.uuid4().hex[:8]}.json"
    subprocess.run([sys.executable, "-c", MEASURE, str(report), sys.executable, "-m", "daemon", *args],
                   cwd=ROOT, timeout=timeout, check=True)
    return json.loads(report.read_text())


def db(cfg_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(cfg_path.parent / "data" / "ribao.db")


def rows(cfg_path: Path, sql: str, *params) -> list[tuple]:
    with db(cfg_path) as c:
        return c.execute(sql, params).fetchall()


@pytest.fixture
def token() -> str:
    return f"evil{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def secret_file(tmp_path_factory) -> Path:
    """What an XML external entity in a hostile .docx tries to read."""
    p = tmp_path_factory.mktemp("secret") / "secret.txt"
    p.write_text(f"TOP-SECRET-{uuid.uuid4().hex}")
    return p


@pytest.fixture(scope="session")
def corpus_token() -> str:
    return f"evil{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, corpus_token, secret_file) -> list[Case]:
    return hostile_corpus(tmp_path_factory.mktemp("corpus"), corpus_token, secret_file)


# ------------------------------------------------------------------------------------------ Dovecot

def fill_maildir(dovecot, raws: list[bytes]) -> None:
    """Put messages straight into Dovecot's INBOX Maildir (stopped meanwhile): much faster than
    APPEND for thousands, and takes what APPEND refuses (an empty message). Dovecot gives them
    UIDs in file-name order, i.e. in list order."""
    from tests.servers.dovecot import MAIL_GID, MAIL_UID
    was_running = dovecot.running
    dovecot.stop()
    new = dovecot.maildir / "new"
    for sub in ("cur", "new", "tmp"):
        (dovecot.maildir / sub).mkdir(exist_ok=True)
        os.chown(dovecot.maildir / sub, MAIL_UID, MAIL_GID)
    first = sum(1 for _ in new.iterdir()) + sum(1 for _ in (dovecot.maildir / "cur").iterdir())
    for i, raw in enumerate(raws, start=first):
        p = new / f"1684000000.M{i:07d}P1.ribao-test"
        p.write_bytes(raw)
        os.chown(p, MAIL_UID, MAIL_GID)
    if was_running:
        dovecot.start()


# ------------------------------------------------------------------------------------------ the disk

@pytest.fixture
def tmpfs():
    """mount(path, size) a tmpfs there (we run as root); unmounted after the test."""
    mounted = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"cannot mount a {size} tmpfs at {path} ({r.stderr.strip()}): the disk-full test needs "
                        f"root and mount(8)")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def escaped_files(token: str, allowed: list[Path]) -> list[Path]:
    """Files and links with `token` in their name anywhere a hostile name could have put them,
    outside the `allowed` folders."""
    roots = [Path("/tmp"), Path("/root"), Path("/etc"), Path("/var/tmp"), ROOT]
    allowed = [a.resolve() for a in allowed]
    found = []
    for top in {p for p in Path("/").iterdir() if token in p.name}:
        found.append(top)
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if any(here == a or a in here.parents for a in allowed):
                dirnames[:] = []
                continue
            for n in dirnames + filenames:
                if token in n and (here / n).resolve() not in allowed:
                    found.append(here / n)
    return found


def storage_problems(root: Path) -> list[str]:
    """Anything under the storage folder that is a link or resolves outside it."""
    root = root.resolve()
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_symlink():
                bad.append(f"symlink {p} -> {os.readlink(p)}")
            elif root not in p.resolve().parents:
                bad.append(f"outside: {p}")
    return bad
