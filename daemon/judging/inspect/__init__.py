"""Per-file inspectors: one module per kind of material, all with one signature.

    FORMATS: set[str]                    # the formats it takes
    def sniff(head, suffix, path) -> str | None   # its formats' magic numbers (sniff.py asks each)
    KIND: str                            # the material type (a file it could not check still counts)
    def inspect(att: Attachment, fmt: str, ctx: Context) -> Inspection
    FORK: set[str]; def preload(fmt)     # optional: formats read in a child killed at the file's
                                         # budget (budget.py), and importing their library first

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

KILL_MARGIN = 30.0     # seconds past message_seconds before the daemon kills a judging child


@dataclass
class Limits:
    """Bounds that keep one hostile file from costing the daemon its day."""

    max_members: int = 1000
    max_unpacked_bytes: int = 2 * 1024**3
    max_ratio: int = 200                 # unpacked / packed, per member and in total
    max_depth: int = 2                   # archive in archive in mail: deeper is unsafe
    file_seconds: float = 20.0           # one file's parsing, unpacking or probing ([limits])
    message_seconds: float = 60.0        # the whole message ([limits])
    memory_bytes: int = 1024**3          # RLIMIT_AS of the judging process ([limits] memory_mb)
    max_image_pixels: int = 400_000_000

    @classmethod
    def from_config(cls, cfg) -> "Limits":
        """From config.LimitsConfig (the [limits] section)."""
        return cls(file_seconds=float(cfg.file_seconds), message_seconds=float(cfg.message_seconds),
                   memory_bytes=int(cfg.memory_mb) * 1024**2)

    @property
    def kill_seconds(self) -> float:
        """When the daemon gives up on a judging child: the child keeps message_seconds itself,
        so this is only reached when judging as a whole went wrong."""
        return self.message_seconds + KILL_MARGIN


class FileTimeout(BaseException):
    """One file ran past its time budget. A BaseException, so that a library's or an inspector's
    `except Exception` can't turn it into "this file is damaged"."""


@dataclass
class Context:
    profile: Profile
    workdir: Path                        # containers unpack their children under here
    limits: Limits = field(default_factory=Limits)
    started: float = field(default_factory=time.monotonic)
    file_deadline: float | None = None   # set by the judge before each file

    def time_left(self) -> float:
        return self.limits.message_seconds - (time.monotonic() - self.started)

    def file_left(self) -> float:
        """Seconds left for the file in hand: its own budget, within the message's."""
        until = self.file_deadline if self.file_deadline is not None else time.monotonic() + self.limits.file_seconds
        return min(self.time_left(), until - time.monotonic())


def _registry():
    from daemon.judging.inspect import archive, document, photo, table, video
    return [archive, photo, video, document, table]


def inspector_for(fmt: str, att: Attachment):
    """The module that takes `fmt`, or None (then the file is of an unknown type)."""
    from daemon.judging.inspect.video import VIDEO_SUFFIXES
    for mod in _registry():
        if fmt in mod.FORMATS:
            return mod
    if fmt == "unknown" and att.suffix in VIDEO_SUFFIXES:
        from daemon.judging.inspect import video
        return video          # let ffprobe decide
    return None
