"""The small interfaces the stages meet at (in the spirit of aiosmtpd's hooks): a new inspector,
check, mailbox or transport is one module or class that has these, and nothing else to learn.
tests/test_interfaces.py checks every registered one against them."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from daemon.model import Attachment, Defect, Inspection


@runtime_checkable
class Inspector(Protocol):
    """One kind of file (judging/inspect/*.py): what it found, what is wrong with the file itself,
    and for containers the files inside."""
    FORMATS: set[str]

    def sniff(self, head: bytes, suffix: str, path) -> str | None:
        """Its formats' magic numbers: a format name for these first bytes, or None."""

    def inspect(self, att: Attachment, fmt: str, ctx) -> Inspection: ...


@runtime_checkable
class Check(Protocol):
    """One rule about the whole message (judging/checks/*.py), over the Judgement."""

    def check(self, j) -> list[Defect]: ...


@runtime_checkable
class Source(Protocol):
    """Where mail comes from and is filed (intake/imap.py, intake/maildir.py)."""

    def select(self): ...

    def fetch_since(self, last_uid: int) -> Iterator: ...

    def uid_message_ids(self) -> dict[int, str]: ...

    def file(self, uid: int, folder: str, move: bool = False) -> None: ...

    def wait(self, seconds: float) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """Where outgoing mail goes (SMTP, or .eml files in a folder)."""

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None: ...
