"""Attachments the store already keeps are not written again (daemon/judging/parse.py, _Writer): a
resent photo or a full resend costs the disk nothing while it is judged, and the judging reads the
kept file instead. New bytes are written as before, whatever their size."""
from __future__ import annotations

import base64
import hashlib
import os

import pytest

from daemon.judging import parse
from daemon.judging.isolate import known_in


def mail(files: dict[str, bytes]) -> bytes:
    parts = [b'From: a@qq.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
             b"--B\nContent-Type: text/plain; charset=utf-8\n\nbody\n"]
    for name, data in files.items():
        b64 = base64.encodebytes(data)
        parts.append(b"--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
                     b'Content-Disposition: attachment; filename="' + name.encode() + b'"\n\n' + b64)
    return b"".join(parts) + b"--B--\n"


def keep(blobs, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    (blobs / sha[:2]).mkdir(parents=True, exist_ok=True)
    (blobs / sha[:2] / sha).write_bytes(data)
    return sha


@pytest.mark.parametrize("size", [1000, 600_000, 20_000_000])     # in memory, a span held, a span spilled to disk
def test_known_bytes_are_read_from_the_store_and_new_ones_written(tmp_path, size):
    old, new = os.urandom(size), os.urandom(size)
    blobs = tmp_path / "blobs"
    sha = keep(blobs, old)
    (tmp_path / "m.eml").write_bytes(mail({"old.bin": old, "new.bin": new}))
    work = tmp_path / "work"
    got = {a.name: a for a in parse.parse_file(tmp_path / "m.eml", work, known_in(blobs)).attachments}
    assert got["old.bin"].path == blobs / sha[:2] / sha and got["old.bin"].sha256 == sha
    assert got["old.bin"].size == size
    assert got["new.bin"].path.parent == work and got["new.bin"].path.read_bytes() == new
    assert got["new.bin"].sha256 == hashlib.sha256(new).hexdigest() and got["new.bin"].size == size
    assert [p.name for p in work.iterdir() if p.is_file() and not p.name.startswith("tmp")] == [got["new.bin"].path.name]


def test_without_a_store_everything_is_written(tmp_path):
    data = os.urandom(600_000)
    (tmp_path / "m.eml").write_bytes(mail({"a.bin": data}))
    (att,) = parse.parse_file(tmp_path / "m.eml", tmp_path / "w").attachments
    assert att.path.parent == tmp_path / "w" and att.path.read_bytes() == data


def test_a_judged_mail_leaves_the_page_cache(tmp_path, roster_path):
    """What the pool's workers run for each message: once judged, its raw mail (and the attachments it
    wrote, once on disk) no longer sit in memory (daemon/store/pagecache.py)."""
    from daemon import profile as profiles
    from daemon.judging import roster as rosters
    from daemon.judging.inspect import Limits
    from daemon.judging.isolate import judge_job
    from tests.store.test_pagecache import resident

    raw, data = tmp_path / "m.eml", mail({"a.bin": os.urandom(3_000_000)})
    with open(raw, "wb") as fh:
        fh.write(data)
        os.fsync(fh.fileno())
    assert resident(raw) > 0
    result = judge_job(raw, profiles.load("xiamen-2023"), rosters.load(roster_path), None, tmp_path / "work", None,
                       None, Limits(), tmp_path / "blobs", True)
    assert result[0] == "ok", result
    assert resident(raw) == 0
    assert result[2]["raw_sha256"] == hashlib.sha256(data).hexdigest()
