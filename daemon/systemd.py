"""sd_notify without a dependency: READY=1, WATCHDOG=1, STOPPING=1, STATUS=… to $NOTIFY_SOCKET.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op."""
from __future__ import annotations

import os
import socket


def notify(*states: str) -> bool:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall("\n".join(states).encode())
        return True
    except OSError:
        return False


def watchdog_seconds() -> float | None:
    """Half of WatchdogSec, when systemd asked for keep-alives."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
