"""IMAP IDLE for `ribao run`: new mail wakes the poll within seconds instead of at the next interval.

The watcher keeps its OWN connection, separate from the poll's. A shared one would have to leave IDLE
(DONE) every time the poll, filing or a retry needs it and re-enter afterwards, with a lock between
the scheduler's worker thread and this one; mail arriving while the poll holds it would be announced
only to the poll's next NOOP. Two connections cost one more login (providers allow several per
account; Dovecot 10 per user and address) and keep each simple: the poll connection never idles, the
IDLE one never fetches. The poll still runs every `poll_seconds`, so IDLE only ever makes answers sooner.

Its state goes to `mailbox_state.idle` for `ribao status` (through its own database connection):
1 = in IDLE, 0 = polling only (the server lacks IDLE, or `[mailbox] idle = false`; logged once),
NULL = not known (starting, reconnecting, or the daemon is not running).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from daemon.intake import MailboxError
from daemon.intake.imap import IDLE_SECONDS, ImapSource
from daemon.store.db import Store

log = logging.getLogger("ribao")
RECONNECT_MAX_SECONDS = 60      # back-off ceiling between reconnects after a drop


class IdleWatcher:
    def __init__(self, cfg, wake: Callable[[], None], stopping: threading.Event):
        self.cfg, self.wake, self.stopping = cfg, wake, stopping
        self.source: ImapSource | None = None
        self._store: Store | None = None

    def _record(self, idle: bool | None) -> None:
        if self.stopping.is_set() and idle is not None:
            return                      # the runner writes NULL on the way out; don't overwrite it
        try:
            if self._store is None:
                self._store = Store(self.cfg.storage.path)
            self._store.set_mailbox_state(self.cfg.mailbox.folder, idle=idle)
        except Exception as e:          # status is informative only: never stop watching for it
            log.warning("IDLE: could not record the state for `ribao status`: %s", e)

    def run(self) -> None:
        mb, every = self.cfg.mailbox, self.cfg.schedule.poll_seconds
        if not mb.idle:
            log.info("IDLE is off ([mailbox] idle = false): new mail is looked for every %s s", every)
            self._record(False)
            return
        self.source = src = ImapSource(mb, Path(self.cfg.storage.path) / "spool")
        backoff, connected_once, lost = 1.0, False, False
        try:
            while not self.stopping.is_set():
                try:
                    if not src.can_idle():
                        log.warning("IMAP server %s:%s does not offer IDLE: new mail is looked for every %s s "
                                    "([schedule] poll_seconds), not answered within seconds", mb.host, mb.port, every)
                        self._record(False)
                        return
                    self._record(True)
                    if lost:
                        log.info("IDLE: reconnected to %s:%s", mb.host, mb.port)
                    if connected_once:
                        self.wake()     # mail may have come while we were away
                    connected_once, lost, backoff = True, False, 1.0
                    while not self.stopping.is_set():
                        if src.wait(IDLE_SECONDS) and not self.stopping.is_set():
                            self.wake()
                except MailboxError as e:
                    if self.stopping.is_set():
                        break
                    if not lost:        # once per outage, not once per retry
                        what = "IDLE connection lost" if connected_once else "IDLE cannot connect yet"
                        log.warning("%s (%s); retrying, polling every %s s meanwhile", what, e, every)
                        self._record(None)
                    lost = True
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                except Exception as e:  # a bug of ours: keep the daemon up, polling still works
                    log.exception("IDLE watcher failed: %s", e)
                    self._record(None)
                    self.stopping.wait(RECONNECT_MAX_SECONDS)
        finally:
            src.close()
            if self._store is not None:
                self._store.close()
