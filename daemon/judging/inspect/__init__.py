"""Per-file inspectors: one module per kind of material, all with one signature.

    FORMATS: set[str]                    # the sniffed formats (see sniff.py) it takes
    def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection

An inspector reports what it found (materials), what is wrong with the file itself (defects) and,
for containers, the files inside (children), which are inspected in turn. Rules about the whole
message (captions, text length, what a deliverable needs) live in daemon/judging/checks/, not here.
A new kind of file is one new module added to INSPECTORS.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from daemon.model import Attachment, Inspection
from daemon.profile import Profile


@dataclass
class Limits:
    """Bounds that keep one hostile file from costing the daemon its day."""

    max_members: int = 1000
    max_unpacked_bytes: int = 2 * 1024**3
    max_ratio: int = 200                 # unpacked / packed, per member and in total
    max_depth: int = 2                   # archive in archive in mail: deeper is unsafe
    ffprobe_seconds: float = 20.0
    tool_seconds: float = 30.0           # antiword / catdoc / bsdtar
    message_seconds: float = 300.0
    max_image_pixels: int = 400_000_000


@dataclass
class Context:
    profile: Profile
    workdir: Path                        # containers unpack their children under here
    limits: Limits = field(default_factory=Limits)
    started: float = field(default_factory=time.monotonic)

    def time_left(self) -> float:
        return self.limits.message_seconds - (time.monotonic() - self.started)


def _registry():
    from daemon.judging.inspect import archive, document, photo, table, video
    return [archive, photo, video, document, table]


def inspector_for(fmt: str, att: Attachment):
    """The module that takes `fmt`, or None (then the file is of an unknown type)."""
    from daemon.judging.inspect.sniff import VIDEO_SUFFIXES
    for mod in _registry():
        if fmt in mod.FORMATS:
            return mod
    if fmt == "unknown" and att.suffix in VIDEO_SUFFIXES:
        from daemon.judging.inspect import video
        return video          # let ffprobe decide
    return None
