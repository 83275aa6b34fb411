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
    sha256: str = ""                # of the raw bytes, when the source had them in hand anyway ("" for a
                                    # large message: the judging worker takes it)
    sender: str = ""                # the From address as a key to keep one sender's mail in order
    watermark: int = 0              # every UID up to this one has been handed over (0: this uid)

    def __post_init__(self):
        self.watermark = self.watermark or self.uid


MAX_ID_CHARS = 998                  # a header line's limit (RFC 5322): longer is cut, never refused


def header_text(value) -> str:
    """A raw header value as plain text, never raising: the email package keeps raw 8-bit bytes as
    surrogates (or wraps them in a Header object), which SQLite refuses. UTF-8 (SMTPUTF8) is kept as
    it is, anything else becomes U+FFFD; folding whitespace is unfolded."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        raw = value
    else:
        text = str(value)
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:              # a lone surrogate that is no escaped byte
            raw = text.encode("utf-8", "surrogatepass")
    return " ".join(raw.decode("utf-8", "replace").split())


HEAD_BYTES = 256 * 1024            # a header block is read from at most this much of a message


def parse_head(data: bytes):
    """The header block at the start of `data` (a message, or its first HEAD_BYTES), parsed alone:
    the email package given a whole file feeds every body line through its parser, headers only or
    not (a 150 MB mail: 6 million readline calls)."""
    import email.parser
    import email.policy
    end = data.find(b"\r\n\r\n")
    end = data.find(b"\n\n") if end < 0 else end
    head = data if end < 0 else data[:end]
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\r\n\r\n")


def head_facts(data: bytes) -> tuple[str | None, str]:
    """(Message-ID, sender key) from the start of a message: its header block parsed once."""
    from daemon.intake.order import sender_key
    head = parse_head(data)
    try:
        sender = str(head.get("from") or "")
    except Exception:        # noqa: BLE001 - a header the parser mangled: no key, not a crash
        sender = ""
    return message_id_of(head), sender_key(sender.encode("utf-8", "replace"))


def message_id_of(head) -> str | None:
    """The Message-ID of a parsed header block (compat32, as BytesHeaderParser gives it), from the
    raw value so 8-bit bytes survive; None when there is none. Never raises on a hostile value."""
    try:
        value = next((v for k, v in head.raw_items() if k.lower() == "message-id"), None)
    except Exception:        # noqa: BLE001 - a header block the parser mangled: no id, not a crash
        return None
    return header_text(value)[:MAX_ID_CHARS] or None


class MailboxError(RuntimeError):
    """The mailbox can't be reached or refused us; the message says which and how to fix it."""


class MailboxRefused(MailboxError):
    """The server, still connected, refused one operation on one message (a COPY of its UID, say):
    that message is quarantined and the poll goes on, where a lost connection stops it."""


def open_source(cfg, spool: Path) -> "Source":
    kind = getattr(cfg, "kind", "imap")
    if kind == "maildir":
        from daemon.intake.maildir import MaildirSource
        return MaildirSource(cfg, spool)
    from daemon.intake.imap import ImapSource
    return ImapSource(cfg, spool)
