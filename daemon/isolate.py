"""Judge one message in a forked child with a time limit.

A hostile file can hang a parser (a PDF that loops) or take the process down (memory); in a child
it costs only that message: the parent gets ("ok", verdict, headers) or ("error", reason, detail).
"""
from __future__ import annotations

import multiprocessing
import signal
import traceback
from pathlib import Path

from .judge import judge_file


def _child(conn, path, profile, roster, received, workdir, own, overrides):
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        verdict, msg = judge_file(Path(path), profile, roster, received=received,
                                  workdir=Path(workdir) if workdir else None, own_addresses=own, overrides=overrides)
        conn.send(("ok", verdict, {"reply-to": msg.headers.get("reply-to", []),
                                   "references": msg.headers.get("references", [])}))
    except BaseException as e:     # noqa: BLE001 - the parent records the reason
        conn.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc(limit=5)))
    finally:
        conn.close()


def judge_isolated(path, profile, roster, *, received=None, workdir=None, own=(), overrides=None,
                   seconds: float = 600.0):
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, str(path), profile, roster, received,
                                            str(workdir) if workdir else None, tuple(own), overrides), daemon=True)
    proc.start()
    child.close()
    result = None
    try:
        if parent.poll(seconds):
            result = parent.recv()
        else:
            result = ("error", f"judging took longer than {seconds:.0f} s; stopped", "")
    except (EOFError, OSError):
        result = None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if result is None:
        code = proc.exitcode
        why = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
        result = ("error", f"the judging process died ({why}), probably out of memory on a hostile file", "")
    return result
