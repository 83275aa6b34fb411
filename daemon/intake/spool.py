"""A fetched message written to the spool as it comes off the socket, hashed on the way.

imaplib reads a FETCH literal whole into memory (a 150 MB report was 150 MB of the daemon's RSS,
and a second copy while it was written out). `streamed_literals` swaps the connection's `read` for
one that copies a large literal in 1 MB pieces into a SpoolFile instead, so the daemon holds at
most a piece and the head of the message; the file is then moved, never copied, into raw/.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

from daemon.store import pagecache

PIECE = 1 << 20
HEAD_BYTES = 256 * 1024        # what is kept in memory to read Message-ID and From from
STREAM_MIN = 64 * 1024         # literals smaller than this are read as imaplib reads them
_LITERAL_SIZE = re.compile(rb"\{\d+\}$")


class SpoolFile:
    """`hashing=False`: no sha256 here (a large message's is taken by the judging worker, which reads
    the file anyway: the daemon's loop is the one that must keep up with the download)."""

    def __init__(self, spool: Path, prefix: str, hashing: bool = True):
        spool.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".eml", dir=spool)
        self.path = Path(name)
        self.fh = os.fdopen(fd, "wb")
        self.sha = hashlib.sha256() if hashing else None
        self.head = b""
        self.size = 0
        self.used = False

    def write(self, data) -> None:
        self.used = True
        self.fh.write(data)
        if self.sha is not None:
            self.sha.update(data)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[:HEAD_BYTES - len(self.head)])
        self.size += len(data)

    def copy_from(self, stream, size: int) -> None:
        """Exactly `size` bytes from a file-like socket reader, a piece at a time, through one buffer
        (a new 1 MB object per piece made the kernel find fresh pages for each: slow on a VM)."""
        left, buf = size, memoryview(bytearray(min(PIECE, size)))
        while left > 0:
            n = stream.readinto(buf[:min(PIECE, left)])
            if not n:
                raise EOFError(f"the connection closed {left} bytes short of a {size}-byte message")
            self.write(buf[:n])
            left -= n

    def close(self) -> None:
        self.fh.flush()
        pagecache.write_back(self.fh.fileno())    # on its way to disk while it is judged
        self.fh.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        self.path.unlink(missing_ok=True)

    @property
    def sha256(self) -> str:
        return self.sha.hexdigest() if self.sha is not None else ""


class _Streamed(bytes):
    """The empty stand-in imaplib gets for a literal that went to the spool."""


@contextlib.contextmanager
def streamed_literals(imap, sink: SpoolFile):
    """While inside, the first literal of STREAM_MIN bytes or more that imaplib reads goes to `sink`;
    imaplib and imapclient then see an empty literal (`{0}`, so imapclient's size check holds).
    Smaller literals are read as usual."""
    plain_read, plain_append = imap.read, imap._append_untagged

    def read(size: int) -> bytes:
        if size < STREAM_MIN or sink.used:
            return plain_read(size)
        sink.copy_from(imap.file, size)
        return _Streamed()

    def append(typ, dat):
        if isinstance(dat, tuple) and isinstance(dat[1], _Streamed):
            dat = (_LITERAL_SIZE.sub(b"{0}", dat[0]), b"")
        return plain_append(typ, dat)

    imap.read, imap._append_untagged = read, append
    try:
        yield sink
    finally:
        del imap.read, imap._append_untagged      # the class's own methods again
