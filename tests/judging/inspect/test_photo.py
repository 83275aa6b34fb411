"""photo.inspect against the Xiamen notice (JPG, ≥2000 px wide, ≥2 MB) and Heilongjiang's (any)."""
from __future__ import annotations

import dataclasses

import pytest
from PIL import ImageFile

from daemon.judging.inspect import photo
from daemon.judging.inspect.sniff import sniff
from tests.builders.media import attachment, context, make_fake_heic, make_jpeg, make_png, make_png_header, truncate

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_decoding(monkeypatch):
    """The inspector must never decode pixels: any load() fails the test."""
    def refuse(self, *a, **k):
        raise AssertionError("photo inspector decoded pixels")
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.fixture
def xiamen(tmp_path):
    return context("xiamen-2023", tmp_path)


def run(path, ctx, name=None):
    att = attachment(path, name)
    return photo.inspect(att, sniff(att.path, att.name), ctx)


def codes(result):
    return sorted(d.code for d in result.defects)


def test_good_photo_passes_xiamen(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "校园开放日.jpg", 2400, 1600, target_bytes=2 * MIB + 1)
    res = run(p, xiamen)
    assert codes(res) == []
    (m,) = res.materials
    assert (m.type, m.format, m.width, m.height) == ("photo", "jpeg", 2400, 1600)
    assert m.size == p.stat().st_size and len(m.sha256) == 64 and m.path == p and m.file == "校园开放日.jpg"
    assert m.in_archive is False


def test_in_archive_is_carried(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "a.jpg", 300, 200)
    att = dataclasses.replace(attachment(p), name="图片.zip/a.jpg", in_archive=True)
    (m,) = photo.inspect(att, "jpeg", xiamen).materials
    assert m.in_archive is True and m.file == "图片.zip/a.jpg"


def test_narrow_photo(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "校园开放日.jpg", 1280, 1920, target_bytes=2 * MIB + 1, quality=95)
    res = run(p, xiamen)
    assert codes(res) == ["photo.too_narrow"]
    d = res.defects[0]
    assert d.severity == "error" and d.file == "校园开放日.jpg"
    assert "1280" in d.message and "2000" in d.message and "校园开放日.jpg" in d.message


def test_small_photo(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "wx.jpg", 2400, 1600, quality=60)
    assert p.stat().st_size < 2 * MIB
    res = run(p, xiamen)
    assert codes(res) == ["photo.too_small"]
    msg = res.defects[0].message
    have = int(p.stat().st_size / MIB * 10) / 10
    assert f"{have:.1f}MB" in msg and "2MB" in msg and "2M即2MB" in msg and "原图" in msg


def test_png_renamed_jpg_is_not_jpeg(tmp_path, xiamen):
    p = make_png(tmp_path / "截图.jpg", 2400, 1600)
    res = run(p, xiamen)
    assert "photo.not_jpeg" in codes(res)
    d = next(d for d in res.defects if d.code == "photo.not_jpeg")
    assert "PNG" in d.message and "请转换为JPG格式" in d.message
    assert res.materials[0].format == "png" and res.materials[0].width == 2400


def test_heilongjiang_accepts_png(tmp_path):
    p = make_png(tmp_path / "活动.png", 800, 600)
    res = run(p, context("heilongjiang-2024", tmp_path))
    assert codes(res) == []
    assert res.materials[0].format == "png"


def test_heic_is_not_jpeg_and_width_read(tmp_path, xiamen):
    p = make_fake_heic(tmp_path / "IMG_0001.HEIC", 4032, 3024)
    res = run(p, xiamen)
    (m,) = res.materials
    assert (m.format, m.width, m.height) == ("heic", 4032, 3024)
    assert "photo.not_jpeg" in codes(res) and "photo.too_narrow" not in codes(res)
    d = next(d for d in res.defects if d.code == "photo.not_jpeg")
    assert "HEIC" in d.message and "请在手机上导出为JPG格式" in d.message


def test_heic_rotated_and_narrow(tmp_path, xiamen):
    p = make_fake_heic(tmp_path / "IMG_0002.HEIC", 4032, 1512, rotate=1)
    res = run(p, xiamen)
    assert (res.materials[0].width, res.materials[0].height) == (1512, 4032)
    assert "photo.too_narrow" in codes(res)


def test_heic_without_ispe_has_no_width(tmp_path):
    p = tmp_path / "x.heic"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100)
    res = run(p, context("heilongjiang-2024", tmp_path))
    assert res.materials[0].format == "heic" and res.materials[0].width is None
    assert codes(res) == []


def test_exif_orientation_counts_displayed_width(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "竖拍.jpg", 1600, 2400, target_bytes=2 * MIB + 1, orientation=6)
    res = run(p, xiamen)
    assert (res.materials[0].width, res.materials[0].height) == (2400, 1600)
    assert codes(res) == []


def test_exif_orientation_1_keeps_size(tmp_path, xiamen):
    p = make_jpeg(tmp_path / "竖拍.jpg", 1600, 2400, target_bytes=2 * MIB + 1, orientation=1)
    res = run(p, xiamen)
    assert res.materials[0].width == 1600
    assert codes(res) == ["photo.too_narrow"]


def test_truncated_jpeg_is_corrupt(tmp_path, xiamen):
    p = truncate(make_jpeg(tmp_path / "半张.jpg", 2400, 1600, target_bytes=3 * MIB), 0.8)
    res = run(p, xiamen)
    assert codes(res) == ["photo.corrupt"]      # no size or width defects on a corrupt photo
    assert "半张.jpg" in res.defects[0].message


def test_garbage_jpeg_is_corrupt(tmp_path, xiamen):
    p = tmp_path / "坏.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert codes(run(p, xiamen)) == ["photo.corrupt"]


def test_decompression_bomb_is_corrupt_not_decoded(tmp_path, xiamen):
    p = make_png_header(tmp_path / "bomb.png", 50000, 50000)
    assert p.stat().st_size < 1000
    res = run(p, context("heilongjiang-2024", tmp_path))
    assert codes(res) == ["photo.corrupt"]
    assert "像素" in res.defects[0].message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixels_over_own_limit_are_corrupt(tmp_path):
    """Between the limit and Pillow's 2× hard stop, the inspector refuses on its own."""
    p = make_png_header(tmp_path / "big.png", 3000, 3000)
    ctx = context("heilongjiang-2024", tmp_path, max_image_pixels=6_000_000)
    assert codes(run(p, ctx)) == ["photo.corrupt"]
    ok = context("heilongjiang-2024", tmp_path, max_image_pixels=10_000_000)
    assert codes(run(p, ok)) == []
