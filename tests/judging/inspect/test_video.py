"""video.inspect against the Xiamen notice (mp4, ≤200 MB, ≥480p, 720p advised), over real ffprobe.

No skips: without ffmpeg/ffprobe these tests fail, since the daemon can't judge videos either.
"""
from __future__ import annotations

import os
import shutil
import threading

import pytest

from daemon.judging.inspect import video
from daemon.judging.inspect.sniff import sniff
from daemon.model import Attachment
from tests.builders.media import attachment, context, make_audio_mp4, make_video, truncate


@pytest.fixture
def xiamen(tmp_path):
    return context("xiamen-2023", tmp_path)


def run(path, ctx, name=None):
    att = attachment(path, name)
    return video.inspect(att, sniff(att.path, att.name), ctx)


def codes(result):
    return sorted(d.code for d in result.defects)


def test_ffprobe_is_installed():
    assert shutil.which("ffprobe"), "ffprobe is missing: apt-get install ffmpeg"


def test_missing_ffprobe_is_our_error_not_the_school(tmp_path, xiamen, monkeypatch):
    p = make_video(tmp_path / "a.mp4", seconds=1)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(RuntimeError, match="ffprobe"):
        run(p, xiamen)


def test_720p_mp4_passes(tmp_path, xiamen):
    p = make_video(tmp_path / "开幕式.mp4", width=1280, height=720, seconds=2)
    res = run(p, xiamen)
    assert codes(res) == []
    (m,) = res.materials
    assert (m.type, m.format, m.width, m.height) == ("video", "mp4", 1280, 720)
    assert m.duration == pytest.approx(2, abs=0.3)
    assert m.size == p.stat().st_size and len(m.sha256) == 64 and m.path == p and m.file == "开幕式.mp4"


def test_480p_is_below_recommended_only(tmp_path, xiamen):
    res = run(make_video(tmp_path / "v.mp4", width=854, height=480, seconds=1), xiamen)
    assert codes(res) == ["video.below_recommended"]
    d = res.defects[0]
    assert d.severity == "warning" and "854×480" in d.message and "1280×720" in d.message


def test_360p_is_below_sd(tmp_path, xiamen):
    """标清 is 480 lines in the Xiamen profile (min_short_side = 480), so 640×360 falls short."""
    res = run(make_video(tmp_path / "v.mp4", width=640, height=360, seconds=1), xiamen)
    assert codes(res) == ["video.below_sd"]


def test_240p_is_below_sd(tmp_path, xiamen):
    res = run(make_video(tmp_path / "v.mp4", width=320, height=240, seconds=1), xiamen)
    assert codes(res) == ["video.below_sd"]
    d = res.defects[0]
    assert d.severity == "error" and "320×240" in d.message and "480" in d.message


def test_mov_is_not_mp4(tmp_path, xiamen):
    res = run(make_video(tmp_path / "IMG_0001.MOV", fmt="mov", seconds=1), xiamen)
    assert codes(res) == ["video.not_mp4"]
    assert res.materials[0].format == "mov"
    assert "MOV" in res.defects[0].message and "请转换为mp4格式" in res.defects[0].message


def test_mov_renamed_mp4_is_judged_by_content(tmp_path, xiamen):
    p = make_video(tmp_path / "a.mov", fmt="mov", seconds=1).rename(tmp_path / "a.mp4")
    res = run(p, xiamen)
    assert codes(res) == ["video.not_mp4"] and res.materials[0].format == "mov"
    # even if the sniffer had been fooled, the major brand "qt  " tells
    res = video.inspect(attachment(p), "mp4", xiamen)
    assert codes(res) == ["video.not_mp4"]


def test_avi_is_not_mp4(tmp_path, xiamen):
    res = run(make_video(tmp_path / "a.avi", fmt="avi", seconds=1), xiamen)
    assert codes(res) == ["video.not_mp4"]
    assert res.materials[0].format == "avi" and "AVI" in res.defects[0].message


def test_heilongjiang_takes_any_video(tmp_path):
    ctx = context("heilongjiang-2024", tmp_path)
    assert codes(run(make_video(tmp_path / "a.avi", fmt="avi", width=320, height=240, seconds=1), ctx)) == []


def test_rotated_portrait_counts_displayed_size(tmp_path, xiamen):
    p = make_video(tmp_path / "竖屏.mp4", width=1280, height=720, seconds=1, rotate=90)
    res = run(p, xiamen)
    assert (res.materials[0].width, res.materials[0].height) == (720, 1280)
    assert codes(res) == []


def test_rotated_small_portrait_short_side(tmp_path, xiamen):
    p = make_video(tmp_path / "竖屏.mp4", width=854, height=480, seconds=1, rotate=-90)
    res = run(p, xiamen)
    assert (res.materials[0].width, res.materials[0].height) == (480, 854)
    assert codes(res) == ["video.below_recommended"]


def test_truncated_mp4_is_corrupt(tmp_path, xiamen):
    """moov first (faststart): ffprobe alone would read it; the cut mdat box gives it away."""
    p = truncate(make_video(tmp_path / "半截.mp4", seconds=2), 0.6)
    res = run(p, xiamen)
    assert codes(res) == ["video.corrupt"] and "半截.mp4" in res.defects[0].message


def test_truncated_mov_without_moov_is_corrupt(tmp_path, xiamen):
    """moov last (as phones write): cutting the end loses it."""
    p = truncate(make_video(tmp_path / "半截.mov", fmt="mov", seconds=2), 0.6)
    assert codes(run(p, xiamen)) == ["video.corrupt"]


def test_garbage_named_mp4_is_corrupt(tmp_path, xiamen):
    p = tmp_path / "视频.mp4"
    p.write_bytes(os.urandom(50_000))
    res = run(p, xiamen)
    assert codes(res) == ["video.corrupt"]
    assert res.materials[0].type == "video" and res.materials[0].width is None


def test_sound_only_is_corrupt(tmp_path, xiamen):
    res = run(make_audio_mp4(tmp_path / "录音.mp4"), xiamen)
    assert codes(res) == ["video.corrupt"] and "视频轨道" in res.defects[0].message


def test_too_large(tmp_path, xiamen):
    xiamen.profile.videos.max_bytes = 200_000
    p = make_video(tmp_path / "大.mp4", seconds=1, pad_to_bytes=300_000)
    res = run(p, xiamen)
    assert codes(res) == ["video.too_large"]               # padded, still a whole valid mp4
    assert "0.3MB" in res.defects[0].message and "压缩" in res.defects[0].message
    xiamen.profile.videos.max_bytes = 10 * 1024 * 1024
    assert codes(run(p, xiamen)) == []


def test_ffprobe_hang_is_killed_at_the_file_budget(tmp_path):
    """A FIFO nobody writes: ffprobe blocks opening it, and must be killed at the file's budget
    (FileTimeout: the judge gives file.timeout, the video is not called damaged)."""
    from daemon.judging.inspect import FileTimeout
    fifo = tmp_path / "x.mp4"
    os.mkfifo(fifo)
    ctx = context("xiamen-2023", tmp_path, file_seconds=1)
    att = Attachment(name="x.mp4", path=fifo, size=1000)     # no sha256: reading would block
    box = {}

    def work():
        try:
            box["res"] = video.inspect(att, "mp4", ctx)
        except FileTimeout:
            box["timeout"] = True
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        worker.join(timeout=30)
    finally:
        os.close(os.open(fifo, os.O_RDWR))      # wake any reader left behind, so nothing hangs
    assert not worker.is_alive(), "video.inspect did not return: ffprobe was not killed"
    assert box == {"timeout": True}
