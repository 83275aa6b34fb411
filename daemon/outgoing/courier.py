"""Replies sent while the poll is still judging.

A poll of the busiest day judges for minutes; the outbox used to be delivered only when it ended,
so the first school waited for the last. The courier is a thread with its own database connection
that delivers whatever is due whenever the poll queues a reply (and once a second in any case).
Delivery claims each row before sending (daemon/outgoing/outbox.py), so it never sends a row that
another deliver() took; the poll's own deliver() at its end sends what is left.
"""
from __future__ import annotations

import logging
import threading

from daemon.outgoing.outbox import deliver
from daemon.store.db import Store

log = logging.getLogger("ribao.outbox")


class Courier(threading.Thread):
    def __init__(self, db_root, transport, sender: str, retry_seconds: list[int]):
        super().__init__(name="courier", daemon=True)
        self.db_root, self.transport, self.sender, self.retry_seconds = db_root, transport, sender, retry_seconds
        self.wake = threading.Event()
        self.finished = threading.Event()

    def run(self) -> None:
        store = Store(self.db_root)
        try:
            while not self.finished.is_set():
                self.wake.wait(1.0)
                self.wake.clear()
                try:
                    deliver(store, self.transport, self.sender, self.retry_seconds, stop=self.finished.is_set)
                except Exception as e:     # noqa: BLE001 - the poll's own deliver() tries again at its end
                    log.warning("sending replies during the poll failed: %s: %s", type(e).__name__, e)
                    self.finished.wait(5.0)
        finally:
            store.close()

    def stop(self) -> None:
        self.finished.set()
        self.wake.set()
        self.join()
