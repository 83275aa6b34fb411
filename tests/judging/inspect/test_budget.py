"""run_limited: one file's inspection in a child that is killed at its budget, and what comes back."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
import zipfile

import pytest

from daemon.judging.inspect import Context, FileTimeout, Limits, document, table
from daemon.judging.inspect.archive import zip_guard
from daemon.judging.inspect.budget import InspectorFailed, run_limited, tool_options
from tests.builders.files import make_docx, make_slow_pdf, make_xlsx, rewrite_zip_member
from tests.builders.media import attachment, context


def _sleep_then(x):
    time.sleep(30)
    return x


def _spawn_tool_and_hang(pidfile):
    p = subprocess.Popen(["sleep", "300"], **tool_options())
    pidfile.write_text(str(p.pid))
    time.sleep(300)


def _full(_):
    raise OSError(errno.ENOSPC, "No space left on device")


def _bug(_):
    raise KeyError("oops")


def _die(_):
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_answer_comes_back_whole():
    big = "字" * 3_000_000                 # more than a pipe holds: read while the child writes
    assert run_limited(str.upper, (big,), 10) == big


def test_past_the_budget_the_child_is_killed(tmp_path):
    with pytest.raises(FileTimeout):
        run_limited(_sleep_then, (1,), 0.5)
    with pytest.raises(FileTimeout):
        run_limited(len, ("x",), 0)


def test_a_tool_dies_with_the_killed_child(tmp_path):
    pidfile = tmp_path / "pid"
    with pytest.raises(FileTimeout):
        run_limited(_spawn_tool_and_hang, (pidfile,), 1.5)
    pid = int(pidfile.read_text())
    for _ in range(50):                    # the kernel delivers the parent-death signal at once
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid), "the tool outlived its parent"


def test_a_full_disk_stays_a_full_disk_and_anything_else_is_a_failure():
    with pytest.raises(OSError) as e:
        run_limited(_full, (1,), 10)
    assert e.value.errno == errno.ENOSPC
    with pytest.raises(InspectorFailed, match="KeyError"):
        run_limited(_bug, (1,), 10)
    with pytest.raises(InspectorFailed, match="signal 9"):
        run_limited(_die, (1,), 10)


def test_a_slow_pdf_is_stopped_at_the_file_budget(tmp_path):
    pdf = make_slow_pdf(tmp_path / "slow.pdf")
    ctx = context("xiamen-2023", tmp_path, file_seconds=1)
    with pytest.raises(FileTimeout):
        run_limited(document.inspect, (attachment(pdf), "pdf", ctx), ctx.file_left())


def test_a_small_pdf_of_the_same_shape_reads_fine(tmp_path):
    pdf = make_slow_pdf(tmp_path / "ok.pdf", pages=3, stream_bytes=5000)
    ctx = context("xiamen-2023", tmp_path)
    res = run_limited(document.inspect, (attachment(pdf), "pdf", ctx), 10)
    assert res.defects == [] and res.materials[0].text_chars > 0


def test_a_big_xml_part_is_refused_from_the_listing(tmp_path):
    doc = make_docx(tmp_path / "a.docx", ["正文"])
    assert zip_guard(doc) is None
    body = b'<?xml version="1.0"?><w:document>' + b"<w:p/>" * 4_000_000 + b"</w:document>"   # 24 MB
    rewrite_zip_member(doc, "word/document.xml", body)
    assert "word/document.xml" in zip_guard(doc)
    ctx = context("xiamen-2023", tmp_path)
    assert [d.code for d in document.inspect(attachment(doc), "docx", ctx).defects] == ["document.unreadable"]


def test_an_xml_part_under_another_name_is_known_by_its_first_bytes(tmp_path):
    """A content-type override can make `xl/strings.bin` the shared strings: its bytes tell."""
    x = make_xlsx(tmp_path / "t.xlsx", [["学校"], ["a"]])
    with zipfile.ZipFile(x, "a") as zf:
        zf.writestr("xl/strings.bin", b"  \n<sst>" + b"<si><t>x</t></si>" * 1_500_000 + b"</sst>")
        zf.writestr("xl/media/big.png", b"\x89PNG" + b"\x00" * 25_000_000)
    reason = zip_guard(x)
    assert reason and "xl/strings.bin" in reason
    assert [d.code for d in table.inspect(attachment(x), "xlsx", context("xiamen-2023", tmp_path)).defects] \
        == ["table.corrupt"]


def test_a_big_picture_inside_a_docx_is_not_an_xml_part(tmp_path):
    doc = make_docx(tmp_path / "a.docx", ["正文"])
    with zipfile.ZipFile(doc, "a") as zf:
        zf.writestr("word/media/image9.png", b"\x89PNG" + b"\x00" * 25_000_000)
    assert zip_guard(doc) is None


def test_limits_from_config_and_the_kill_after_the_message_budget():
    from daemon.config import LimitsConfig
    lim = Limits.from_config(LimitsConfig(file_seconds=5, message_seconds=40, memory_mb=512))
    assert (lim.file_seconds, lim.message_seconds, lim.memory_bytes) == (5, 40, 512 * 1024**2)
    assert lim.kill_seconds > lim.message_seconds
    ctx = Context(profile=None, workdir=None, limits=lim)
    assert ctx.file_left() <= 5
