"""Videos: container, displayed size and file size against the notice, via ffprobe.

ffprobe reads headers only (modest probesize, no frame decoding asked for) and is killed at the
file's time budget (then the file gets file.timeout), so a hostile file costs seconds, not the day. mp4 is judged by content:
QuickTime .mov shares ffprobe's "mov,mp4,…" demuxer, and only its major brand "qt  " tells.
ffmpeg-python 0.2's `probe` takes no timeout, so ffprobe is run here directly.
"""
from __future__ import annotations

import json
import math
import os
import stat
import struct
import subprocess

from daemon.defects import defect
from daemon.judging.inspect import Context, FileTimeout
from daemon.judging.inspect.budget import tool_options
from daemon.model import Attachment, Inspection, Material

KIND = "video"
FORMATS = {"mp4", "mov", "3gp", "avi", "mkv", "webm", "flv", "wmv", "mpeg-ts", "mpeg-ps"}
VIDEO_SUFFIXES = {"mp4", "mov", "m4v", "3gp", "avi", "mkv", "webm", "flv", "wmv", "mpg", "mpeg", "ts", "mts", "vob"}


def sniff(head: bytes, suffix: str, path) -> str | None:
    """A video container by its first bytes (a QuickTime .mov renamed .mp4 is still a .mov)."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        return "3gp" if brand.startswith((b"3gp", b"3g2")) else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"                   # old QuickTime without ftyp
    if head[:4] == b"\x1aE\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return "wmv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg-ps"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    return None

MIB = 1024 * 1024
_LABEL = {"mp4": "mp4", "mov": "MOV", "3gp": "3GP", "avi": "AVI", "mkv": "MKV", "webm": "WebM",
          "flv": "FLV", "wmv": "WMV", "mpeg-ts": "TS", "mpeg-ps": "MPG"}
_DEMUXER = {"avi": "avi", "flv": "flv", "asf": "wmv", "mpegts": "mpeg-ts", "mpeg": "mpeg-ps"}
# Only the demuxers of FORMATS may run: no playlists (hls, concat) that would open other files.
_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,avi,matroska,webm,flv,asf,mpegts,mpeg"
_ISO = {"mp4", "mov", "3gp"}


class _Unreadable(Exception):
    """str(e) is the video.corrupt form that says why ("" for unreadable)."""


def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection:
    rules = ctx.profile.videos
    mat = Material(file=att.name, type="video", size=att.size, sha256=att.sha256,
                   format=fmt if fmt in FORMATS else None, in_archive=att.in_archive, path=att.path)
    out = Inspection(materials=[mat])
    if rules.max_bytes and att.size > rules.max_bytes:
        have, lim = math.ceil(att.size / MIB * 10) / 10, _mb(rules.max_bytes)
        out.defects.append(defect("video.too_large", att.name, size_mb=f"{have:.1f}", max_mb=lim))
    try:
        info = _probe(att, ctx)
        mat.format = _container(info, fmt)
        mat.width, mat.height = _displayed(info)
        mat.duration = _float(info.get("format", {}).get("duration"))
        if mat.format in _ISO and not _boxes_whole(att):
            raise _Unreadable("truncated")
    except _Unreadable as e:
        out.defects.append(defect("video.corrupt", att.name, form=str(e)))
        return out
    if rules.formats and mat.format not in rules.formats:
        want = "或".join(_LABEL.get(f, f) for f in rules.formats)
        out.defects.append(defect("video.not_mp4", att.name, format=_LABEL.get(mat.format, mat.format),
                                  formats=want, to_format=want.split("或")[0]))
    short = min(mat.width, mat.height)
    rec = rules.recommended_short_side
    hint = f"{rec * 16 // 9}×{rec}" if rec else "1280×720"
    if rules.min_short_side and short < rules.min_short_side:
        out.defects.append(defect("video.below_sd", att.name, width=mat.width, height=mat.height,
                                  min_short_side=rules.min_short_side, recommended=hint))
    elif rec and short < rec:
        out.defects.append(defect("video.below_recommended", att.name, width=mat.width, height=mat.height,
                                  recommended=hint))
    return out


def _mb(n: int) -> str:
    return str(n // MIB) if n % MIB == 0 else f"{n / MIB:.1f}"


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _probe(att: Attachment, ctx: Context) -> dict:
    """ffprobe's JSON; killed at the file's budget. A missing ffprobe is ours to fix, not the school's."""
    seconds = ctx.file_left()
    if seconds <= 0:
        raise FileTimeout()
    cmd = ["ffprobe", "-v", "error", "-probesize", "5000000", "-analyzeduration", "5000000",
           "-protocol_whitelist", "file", "-format_whitelist", _WHITELIST,
           "-print_format", "json", "-show_format", "-show_streams", f"file:{os.path.abspath(att.path)}"]
    try:
        run = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=seconds, **tool_options())
    except FileNotFoundError:
        raise RuntimeError("ffprobe is not installed (Debian: apt-get install ffmpeg)") from None
    except subprocess.TimeoutExpired:      # run() has killed and reaped it
        raise FileTimeout() from None
    if run.returncode != 0:
        raise _Unreadable("")
    try:
        info = json.loads(run.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise _Unreadable("") from None
    if not _video_stream(info):
        raise _Unreadable("no_video")
    return info


def _video_stream(info: dict) -> dict | None:
    for s in info.get("streams", []):
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic") \
                and int(s.get("width") or 0) > 0 and int(s.get("height") or 0) > 0:
            return s
    return None


def _container(info: dict, fmt: str) -> str:
    fmt_info = info.get("format", {})
    names = fmt_info.get("format_name", "").split(",")
    if "mp4" in names:
        brand = (fmt_info.get("tags") or {}).get("major_brand", "").strip().lower()
        if fmt == "mov" or brand == "qt":
            return "mov"
        if fmt == "3gp" or brand.startswith("3g"):
            return "3gp"
        return "mp4"
    if "matroska" in names or "webm" in names:
        return fmt if fmt in ("mkv", "webm") else "mkv"
    return _DEMUXER.get(names[0], fmt if fmt in FORMATS else names[0])


def _displayed(info: dict) -> tuple[int, int]:
    """Width and height as played: a phone's portrait clip is stored landscape, turned ±90°."""
    s = _video_stream(info)
    w, h = int(s["width"]), int(s["height"])
    rot = _float((s.get("tags") or {}).get("rotate"))
    for sd in s.get("side_data_list") or []:
        if "rotation" in sd:
            rot = _float(sd["rotation"])
    if rot is not None and round(abs(rot)) % 180 == 90:
        return h, w
    return w, h


def _boxes_whole(att: Attachment) -> bool:
    """Top-level ISO boxes must end within the file: a cut mp4 with moov first still probes fine."""
    try:
        st = os.stat(att.path)
        if not stat.S_ISREG(st.st_mode):
            return True
        with open(att.path, "rb") as fh:
            pos = 0
            for _ in range(10000):
                if pos >= st.st_size:
                    return pos == st.st_size
                fh.seek(pos)
                hdr = fh.read(16)
                if len(hdr) < 8:
                    return True                  # a few bytes of padding: not a cut box
                size = struct.unpack(">I", hdr[:4])[0]
                if size == 1 and len(hdr) == 16:
                    size = struct.unpack(">Q", hdr[8:16])[0]
                elif size == 0:
                    return True                  # runs to the end of the file
                if size < 8:
                    return False
                pos += size
        return True
    except OSError:
        return False
