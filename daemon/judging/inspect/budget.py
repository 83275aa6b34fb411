"""Run one file's inspection where it can be stopped: a forked child, killed at its time budget.

pypdf, python-docx, openpyxl, calamine and the archive libraries work in code that can't be
interrupted from inside (a PDF of 200 pages sharing one 7 MB content stream keeps pypdf busy for a
quarter of an hour). A child process can be killed. The child dies with its parent (if the daemon
kills the judging process, nothing is left running), and so do the tools it starts.
"""
from __future__ import annotations

import ctypes
import os
import pickle
import select
import signal
import time

from daemon.judging.inspect import FileTimeout
from daemon.store.safefs import is_full

_PR_SET_PDEATHSIG = 1
_libc = None


class InspectorFailed(Exception):
    """The child raised something that is not the file's known fault, or died (a signal, memory)."""


def _load_libc():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return _libc


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies. Used as subprocess's preexec_fn, so libc
    is loaded beforehand (tool_options), not between fork and exec."""
    if _libc:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def tool_options() -> dict:
    """subprocess keyword arguments for an external tool (antiword, ffprobe, 7z): it dies with us."""
    return {"preexec_fn": die_with_parent} if _load_libc() else {}


def run_limited(fn, args: tuple, seconds: float):
    """fn(*args) in a forked child; its return value, or raises FileTimeout after `seconds`,
    OSError for a full disk (not the file's fault), InspectorFailed for anything else."""
    if seconds <= 0:
        raise FileTimeout()
    _load_libc()
    parent = os.getpid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the child: never returns
        code = 0
        try:
            os.close(r)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            die_with_parent()
            if os.getppid() != parent:
                os._exit(1)
            try:
                payload = ("ok", fn(*args))
            except FileTimeout:
                payload = ("timeout", "")
            except BaseException as e:             # noqa: BLE001 - the parent decides what it means
                payload = ("raise", (type(e).__name__, getattr(e, "errno", None), str(e)[:500]))
            try:
                data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:                 # noqa: BLE001
                data = pickle.dumps(("raise", (type(e).__name__, None, f"result not picklable: {e}")))
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BaseException:                      # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                data = os.read(r, 1 << 20)
                if not data:
                    break
                chunks.append(data)
    finally:
        if timed_out:
            _kill(pid)
        status = _reap(pid)
        os.close(r)
    if timed_out:
        raise FileTimeout()
    if not chunks:
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.waitstatus_to_exitcode(status)}"
        raise InspectorFailed(f"the inspecting process died ({why})")
    try:
        kind, value = pickle.loads(b"".join(chunks))
    except Exception as e:                         # noqa: BLE001 - a cut-off answer
        raise InspectorFailed(f"unreadable answer from the inspecting process ({e})") from None
    if kind == "ok":
        return value
    if kind == "timeout":
        raise FileTimeout()
    name, err, text = value
    if is_full(full := OSError(err, text)):
        raise full
    raise InspectorFailed(f"{name}: {text}")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
