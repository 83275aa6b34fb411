"""Judge one message in a forked child with a time limit.

A hostile file can hang a parser (a PDF that loops) or take the process down (memory); in a child
it costs only that message: the parent gets ("ok", verdict, headers), ("full", reason, detail) when
the disk filled up, or ("error", reason, detail). `start` returns at once, so the daemon can fetch
the next message while this one is judged (the machine's second core).
"""
from __future__ import annotations

import errno
import multiprocessing
import signal
import sqlite3
import time
import traceback
from pathlib import Path

from .judge import judge_file

_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_full(e: BaseException) -> bool:
    if isinstance(e, OSError):
        return e.errno in _FULL
    return isinstance(e, sqlite3.OperationalError) and "disk is full" in str(e)


def _thumbnails(verdict, thumbs_dir) -> None:
    """Each photo's digest thumbnail, made now (in the child, beside the fetch of the next mail)
    rather than by the digest, which would decode every photo of the day at once."""
    from .reports.thumbs import PER_SCHOOL, cache_thumbnail
    photos = [m for m in verdict.items if m.type == "photo" and m.path and m.sha256]
    for m in photos[:PER_SCHOOL]:            # the digest shows no more than these per school
        try:
            cache_thumbnail(thumbs_dir, m.sha256, m.path)
        except OSError:
            pass


def _child(conn, path, profile, roster, received, workdir, overrides, thumbs_dir, limits=None):
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        verdict, msg = judge_file(Path(path), profile, roster, received=received,
                                  workdir=Path(workdir) if workdir else None, overrides=overrides,
                                  limits=limits)
        if thumbs_dir and workdir:
            _thumbnails(verdict, Path(thumbs_dir))
        conn.send(("ok", verdict, {"reply-to": [msg.reply_to] if msg.reply_to else [],   # parsed before decoding
                                   "references": msg.headers.get("references", [])}))
    except BaseException as e:     # noqa: BLE001 - the parent records the reason
        kind = "full" if is_full(e) else "error"     # the disk's fault, not the message's
        conn.send((kind, f"{type(e).__name__}: {e}", traceback.format_exc(limit=5)))
    finally:
        conn.close()


class Judging:
    """One message being judged in its child."""

    def __init__(self, path, profile, roster, *, received=None, workdir=None, overrides=None,
                 thumbs_dir=None, limits=None):
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(child, str(path), profile, roster, received,
                                                     str(workdir) if workdir else None, overrides,
                                                     str(thumbs_dir) if thumbs_dir else None, limits),
                                daemon=True)
        self.started = time.monotonic()
        self.proc.start()
        child.close()

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
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
            self.conn.close()
        if result is None:
            code = self.proc.exitcode
            why = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
            result = ("error", f"the judging process died ({why}), probably out of memory on a hostile file", "")
        return result


def judge_isolated(path, profile, roster, *, seconds: float = 600.0, **kw):
    return Judging(path, profile, roster, **kw).result(seconds)
