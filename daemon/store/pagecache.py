"""Keep the day's archive out of memory.

ribao writes each message's raw mail and new attachments once and, after judging, hardly ever reads
them again. Left in the page cache, a busy day (15 GB) pushed out everything else, and every new
page the kernel had to find for the next write cost far more than the write itself: on the 2-core
test machine 3 GB of new files took 7.7 s written plainly, 1.4 s when each file's pages were given
back once on disk (so the next write reuses them). So a file is handed to the disk as soon as it is
written (`write_back`) and its pages are dropped once it has been judged (`drop`). Both are hints
(posix_fadvise): they never fail and change no data; where the call does not exist they do nothing.
"""
from __future__ import annotations

import contextlib
import os
from collections import deque
from pathlib import Path

_ADVISE = getattr(os, "posix_fadvise", None)
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)
_recent: deque[list[str]] = deque(maxlen=2)     # files of the last jobs this process judged


def write_back(fd: int) -> None:
    """Start writing an open file's dirty pages to disk now, in the background (Linux starts the
    writeback for DONTNEED and drops only pages already clean), rather than when memory runs short."""
    if _ADVISE is not None:
        with contextlib.suppress(OSError, ValueError):
            _ADVISE(fd, 0, 0, _DONTNEED)


def drop(*paths: str | Path | None) -> None:
    """Drop the files' clean pages from the cache (pages still being written stay)."""
    if _ADVISE is None:
        return
    for path in paths:
        if not path:
            continue
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                _ADVISE(fd, 0, 0, _DONTNEED)
            finally:
                os.close(fd)


def judged(now: list, later: list) -> None:
    """A job's files, once it is judged: `now` dropped at once, `later` (where they will lie once
    stored) again after each of the next two jobs, by when the pages that were still being written
    are on disk (dropping a file with no pages cached costs next to nothing)."""
    drop(*now)
    for earlier in _recent:
        drop(*earlier)
    _recent.append([str(p) for p in later if p])
