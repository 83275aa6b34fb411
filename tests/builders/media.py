"""Small builders for pictures and videos, so no binary blobs are committed.

Photos are Pillow JPEGs of random noise (noise does not compress, so a real-sized 2-4 MB file
comes out of a 2400×1600 picture in ~50 ms); videos come from ffmpeg's testsrc, tiny and short.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

from daemon import profile as profiles
from daemon.judging.inspect import Context, Limits
from daemon.model import Attachment

# ---------------------------------------------------------------- attachments and contexts


def attachment(path, name: str | None = None, *, in_archive: bool = False) -> Attachment:
    """An Attachment for a file on disk, with its real size and sha256."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return Attachment(name=name or path.name, path=path, size=path.stat().st_size,
                      in_archive=in_archive, sha256=h.hexdigest())


def context(profile_name: str, workdir, **limits) -> Context:
    """A Context for a rules profile by name; keyword arguments override Limits fields."""
    return Context(profiles.load(profile_name), workdir=Path(workdir), limits=Limits(**limits))


# ---------------------------------------------------------------- pictures


def _noise(width: int, height: int, amplitude: int) -> Image.Image:
    """RGB noise of ±amplitude/2 around mid-grey: the larger, the bigger the JPEG."""
    table = bytes(128 - amplitude // 2 + (i * amplitude >> 8) for i in range(256))
    raw = os.urandom(width * height * 3).translate(table)
    return Image.frombytes("RGB", (width, height), raw)


def make_jpeg(path, width: int, height: int, *, target_bytes: int | None = None,
              orientation: int | None = None, quality: int = 92) -> Path:
    """A JPEG of width×height (as stored); at least target_bytes long if given.

    orientation writes EXIF 0x0112 (6 = shown turned 90°, so a stored 1600×2400 shows 2400 wide).
    """
    path = Path(path)
    kwargs = {"quality": quality}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    amplitudes = [8, 16, 32, 64, 128, 256] if target_bytes else [32]
    data = b""
    for amp in amplitudes:
        buf = io.BytesIO()
        _noise(width, height, amp).save(buf, "JPEG", **kwargs)
        data = buf.getvalue()
        if not target_bytes or len(data) >= target_bytes:
            break
    else:
        raise ValueError(f"{width}×{height} at quality {quality} reaches only {len(data)} bytes < {target_bytes}")
    path.write_bytes(data)
    return path


def make_png(path, width: int, height: int) -> Path:
    path = Path(path)
    _noise(width, height, 64).save(path, "PNG")
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png_header(path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR claims width×height (e.g. 50000×50000: a decompression bomb's header).

    Only the header is right; the pixel data is one compressed empty row. Costs a few hundred bytes.
    """
    path = Path(path)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                     + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))
    return path


def make_big_png(path, width: int = 10900, height: int = 11000, shade: int = 0) -> Path:
    """A whole, valid RGB PNG of width×height pixels of one grey `shade` (120 Mpixel: 360 MB
    decoded), a few hundred KB on disk; compressed in slices so the test never holds the pixels."""
    path = Path(path)
    z = zlib.compressobj(1)
    rows = (b"\x00" + bytes([shade]) * (3 * width)) * 256
    idat = bytearray()
    for start in range(0, height, 256):
        n = min(256, height - start)
        idat += z.compress(rows if n == 256 else rows[:n * (1 + 3 * width)])
    idat += z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", bytes(idat))
                     + _chunk(b"IEND", b""))
    return path


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, body: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def make_fake_heic(path, width: int, height: int, *, rotate: int = 0, thumbnail: bool = True) -> Path:
    """A header-only HEIC stand-in: ftyp heic + meta(hdlr, pitm, iprp(ipco(ispe…), ipma)).

    No image data at all — enough for photo.py's box parser, not for a real HEIF decoder.
    Item 1 is the primary (width×height, optionally irot `rotate` quarter turns); item 2, a
    320×240 thumbnail, is there so the parser must pick the primary item, not the first ispe.
    """
    path = Path(path)
    ftyp = _box(b"ftyp", b"heic" + b"\x00\x00\x00\x00" + b"mif1heic")
    hdlr = _full(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 12 + b"\x00")
    pitm = _full(b"pitm", struct.pack(">H", 1))
    props = []
    if thumbnail:
        props.append(_full(b"ispe", struct.pack(">II", 320, 240)))     # index 1
    props.append(_full(b"ispe", struct.pack(">II", width, height)))    # index 1 or 2
    main = len(props)
    entries = [(1, [main])]
    if rotate:
        props.append(_box(b"irot", bytes([rotate & 3])))
        entries[0][1].append(len(props))
    if thumbnail:
        entries.append((2, [1]))
    ipma_body = struct.pack(">I", len(entries))
    for item, idx in entries:
        ipma_body += struct.pack(">HB", item, len(idx)) + bytes(0x80 | i for i in idx)
    iprp = _box(b"iprp", _box(b"ipco", b"".join(props)) + _full(b"ipma", ipma_body))
    meta = _full(b"meta", hdlr + pitm + iprp)
    path.write_bytes(ftyp + meta + _box(b"mdat", b"\x00" * 64))
    return path


def truncate(path, keep_fraction: float) -> Path:
    """Cut a file to the first keep_fraction of its bytes (a half-sent attachment)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * keep_fraction))
    return path


# ---------------------------------------------------------------- videos


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed; the video tests need it (apt-get install ffmpeg)")
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args]
    run = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if run.returncode != 0:
        raise subprocess.CalledProcessError(run.returncode, cmd, run.stdout, run.stderr)


_encoder_cache: list[str] = []


def _encoder() -> str:
    """libx264 where built in, else ffmpeg's own mpeg4."""
    if not _encoder_cache:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
        _encoder_cache.append("libx264" if " libx264 " in out else "mpeg4")
    return _encoder_cache[0]


def make_video(path, *, width: int = 1280, height: int = 720, seconds: float = 2, fmt: str = "mp4",
               rotate: int | None = None, pad_to_bytes: int | None = None) -> Path:
    """A short testsrc clip. fmt: "mp4", "mov" (QuickTime, brand "qt  ") or "avi".

    rotate writes display rotation metadata (degrees), as phones do for portrait clips.
    pad_to_bytes appends a `free` box (mp4/mov), so the file stays valid but larger.
    """
    path = Path(path)
    enc = "mpeg4" if fmt == "avi" else _encoder()
    codec = ["-c:v", enc, "-pix_fmt", "yuv420p"] + (["-preset", "ultrafast", "-crf", "35"] if enc == "libx264" else ["-q:v", "10"])
    muxer = {"mp4": ["-f", "mp4", "-movflags", "+faststart"], "mov": ["-f", "mov"], "avi": ["-f", "avi"]}[fmt]
    src = ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=10:duration={seconds}"]
    if rotate is None:
        _ffmpeg(*src, *codec, *muxer, str(path))
    else:
        plain = path.with_name(path.stem + ".unrotated" + path.suffix)
        _ffmpeg(*src, *codec, *muxer, str(plain))
        try:   # ffmpeg ≥ 6 has -display_rotation; 5.x takes the rotate tag on a stream copy
            _ffmpeg("-display_rotation", str(rotate), "-i", str(plain), "-c", "copy", *muxer, str(path))
        except subprocess.CalledProcessError:
            _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", *muxer, str(path))
        plain.unlink()
    if pad_to_bytes:
        missing = pad_to_bytes - path.stat().st_size
        if missing > 0:
            with open(path, "ab") as fh:
                fh.write(struct.pack(">I", max(missing, 8)) + b"free" + b"\x00" * (max(missing, 8) - 8))
    return path


def make_audio_mp4(path, seconds: float = 1) -> Path:
    """An mp4 with a sound track and no picture (a voice memo sent as the 'video')."""
    path = Path(path)
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-f", "mp4", str(path))
    return path
