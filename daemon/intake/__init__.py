"""Where mail comes from and where it is filed: an IMAP mailbox, or a local Maildir (the embedded
default, so the daemon runs on a fresh machine with no mail server).

Both sources have one small interface, so the daemon loop never knows which it talks to:

    src = open_source(cfg.mailbox, spool_dir)     # connects / opens
    state = src.select()                          # -> FolderState(uidvalidity, uidnext, exists)
    for fetched in src.fetch_since(last_uid):     # -> Fetched, one message at a time, streamed to disk
        ...
    src.uid_message_ids()                         # -> {uid: message_id}  (only after a UIDVALIDITY change)
    src.file(uid, "一日一报/2023-05-15/某校", move=False)   # copy (or move) into a folder, created as needed
    src.wait(seconds)                             # IDLE where offered, else sleep; True if something new may be there
    src.close()

Nothing is ever deleted: `move` uses IMAP MOVE (or COPY without expunge when MOVE is missing).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.interfaces import Source

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass
class FolderState:
    uidvalidity: int
    uidnext: int
    exists: int


@dataclass
class Fetched:
    uid: int
    uidvalidity: int
    path: Path                      # the raw RFC 822 message on disk
    size: int
    internaldate: dt.datetime | None    # aware; when the server received it
    message_id: str | None
    sha256: str = ""                # of the raw bytes, when the source had them in hand anyway


class MailboxError(RuntimeError):
    """The mailbox can't be reached or refused us; the message says which and how to fix it."""


def open_source(cfg, spool: Path) -> "Source":
    kind = getattr(cfg, "kind", "imap")
    if kind == "maildir":
        from daemon.intake.maildir import MaildirSource
        return MaildirSource(cfg, spool)
    from daemon.intake.imap import ImapSource
    return ImapSource(cfg, spool)
