"""Judge one message in a forked child with a time and memory limit (staff re-checks, `ribao check`;
the daemon's poll uses the pool's long-lived workers, daemon/judging/pool.py, which share judge_job).

The judging process keeps its budgets itself (Limits: each file, the message) and gets RLIMIT_AS, so a
hostile file costs a file.timeout or attachment.check_failed, not the message. What is left, a crash
or a hang of judging as a whole, costs only that message: the parent gets ("ok", verdict, headers),
("full", reason, detail) when the disk filled up, ("interrupted", ...) when it was stopped by a
signal an operator or a service stop sends (judged again later), or ("error", reason, detail), which
the daemon quarantines with its reason. The child leads its own process group, so killing it kills
every process it started.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import signal
import time
import traceback
from pathlib import Path

from daemon.judging.inspect import Limits
from daemon.judging.judge import judge_file
from daemon.store import pagecache
from daemon.store.safefs import is_full


def _thumbnails(verdict, thumbs_dir) -> None:
    """Each photo's digest thumbnail, made now (in the child, beside the fetch of the next mail)
    rather than by the digest, which would decode every photo of the day at once."""
    from daemon.store.thumbs import PER_SCHOOL, cache_thumbnail
    photos = [m for m in verdict.items if m.type == "photo" and m.path and m.sha256]
    for m in photos[:PER_SCHOOL]:            # the digest shows no more than these per school
        try:
            cache_thumbnail(thumbs_dir, m.sha256, m.path)
        except OSError:
            pass


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3     # glibc's mallopt parameters


def limit_memory(nbytes: int) -> None:
    """RLIMIT_AS of this process (never raised above what it already has)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        nbytes = min(nbytes, hard)
    if soft == resource.RLIM_INFINITY or nbytes < soft:
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, hard))


def reuse_freed_memory() -> None:
    """Have glibc keep the megabyte buffers a judging process frees and hand them out again, instead of
    returning them to the kernel and faulting fresh pages in for the next block: on the test VM that
    was 1.9 s of system time per 1.35 GB judged, 1.0 s after (peak RSS the same, 50 MB). Buffers up to
    8 MB come from the heap; the heap gives back what is free past 64 MB. Elsewhere than glibc: nothing."""
    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
        mallopt(_M_MMAP_THRESHOLD, 8 << 20)
        mallopt(_M_TRIM_THRESHOLD, 64 << 20)


def known_in(blobs_dir):
    """sha256 → the store's blob with those bytes (blobs/<aa>/<sha256>), or None."""
    if not blobs_dir:
        return None
    root = Path(blobs_dir)

    def known(sha: str) -> Path | None:
        blob = root / sha[:2] / sha
        return blob if blob.is_file() else None
    return known


def judge_job(path, profile, roster, received, workdir, overrides, thumbs_dir, limits, blobs_dir=None,
              hash_raw: bool = False) -> tuple:
    """Judge one message in this (judging) process: ("ok", verdict, headers), or ("full"|"error",
    reason, detail). Shared by the child per message below and by the pool's workers."""
    try:
        verdict, msg = judge_file(Path(path), profile, roster, received=received, limits=limits,
                                  workdir=Path(workdir) if workdir else None, overrides=overrides,
                                  known=known_in(blobs_dir), hash_raw=hash_raw)
        if thumbs_dir and workdir:
            _thumbnails(verdict, Path(thumbs_dir))
        files = [m for m in verdict.items if m.path]
        pagecache.judged([path, *(m.path for m in files)],
                         [path, *(Path(blobs_dir) / m.sha256[:2] / m.sha256 for m in files if blobs_dir and m.sha256)])
        return ("ok", verdict, {"reply-to": [msg.reply_to] if msg.reply_to else [],   # parsed before decoding
                                "references": msg.headers.get("references", []),
                                "raw_sha256": msg.raw_sha256})   # taken on parse's one read, when asked
    except BaseException as e:     # noqa: BLE001 - the parent records the reason
        kind = "full" if is_full(e) else "error"     # the disk's fault, not the message's
        return (kind, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5))


def death(exitcode: int | None) -> tuple:
    """What the parent records when a judging process ended without an answer. Stopped by SIGTERM,
    SIGINT or SIGHUP (a service stop, an operator) is not the message's doing: it is judged again."""
    if exitcode is not None and -exitcode in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        return ("interrupted", f"the judging process was stopped (signal {-exitcode})", "")
    why = f"killed by signal {-exitcode}" if exitcode and exitcode < 0 else f"exit code {exitcode}"
    return ("error", f"the judging process died ({why}), probably out of memory on a hostile file", "")


def kill_group(proc) -> None:
    """A judging process and everything it started (a file's child, ffprobe, antiword, 7z)."""
    pid = proc.pid
    if pid is None:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _child(conn, path, profile, roster, received, workdir, overrides, thumbs_dir, limits, blobs_dir, hash_raw):
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setpgid(0, 0)
        limit_memory(limits.memory_bytes)
        reuse_freed_memory()
        conn.send(judge_job(path, profile, roster, received, workdir, overrides, thumbs_dir, limits, blobs_dir,
                            hash_raw))
    finally:
        conn.close()


class Judging:
    """One message being judged in its child."""

    def __init__(self, path, profile, roster, *, received=None, workdir=None, overrides=None,
                 thumbs_dir=None, limits: Limits | None = None, blobs_dir=None, hash_raw: bool = False):
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(child, str(path), profile, roster, received,
                                                     str(workdir) if workdir else None, overrides,
                                                     str(thumbs_dir) if thumbs_dir else None,
                                                     limits or Limits(),
                                                     str(blobs_dir) if blobs_dir else None, hash_raw),
                                daemon=True)
        self.started = time.monotonic()
        self.proc.start()
        child.close()
        try:
            os.setpgid(self.proc.pid, self.proc.pid)    # the child does so too; whoever is first
        except OSError:
            pass

    def result(self, seconds: float):
        """Wait until `seconds` after the start for the answer; kill the child after that."""
        result = None
        try:
            left = max(0.0, seconds - (time.monotonic() - self.started))
            if self.conn.poll(left):
                result = self.conn.recv()
            else:
                result = ("error", f"judging took longer than {seconds:.0f} s; stopped", "")
        except (EOFError, OSError):
            result = None
        finally:
            if result is None:
                self.proc.join(1)            # dead already: its own exit code, not our kill's
            kill_group(self.proc)
            self.proc.join(5)
            self.conn.close()
        return result if result is not None else death(self.proc.exitcode)

    def wait(self, seconds: float) -> bool:
        """Wait until the answer (or the end of the child) is there, at most `seconds` after the start."""
        try:
            return self.conn.poll(max(0.0, seconds - (time.monotonic() - self.started)))
        except (EOFError, OSError):
            return True


def judge_isolated(path, profile, roster, *, seconds: float | None = None, limits: Limits | None = None, **kw):
    """Judge in a child; `seconds` (default: the limits' kill_seconds) before it is killed."""
    limits = limits or Limits()
    return Judging(path, profile, roster, limits=limits, **kw).result(seconds or limits.kill_seconds)
