"""The order new mail is fetched in: small mail first, never ahead of its sender's earlier mail.

On the busiest day a poll may find 200 reports of 75 MB each; a school's two-line correction that
arrives meanwhile should not wait behind all of them. So the source keeps a plan of the UIDs still to
fetch (size and sender known from one cheap FETCH) and takes small messages first, in UID order, as
long as no earlier message with the same key is still waiting. The daemon keys a sender by its school
where the roster (or staff) ties the address to one, so each school's mail is still taken, judged and
answered in the order it arrived. `watermark` is the highest UID below which everything
has been handed over, which is what the daemon may store as its last UID: a crash never skips mail.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SMALL_BYTES = 2_000_000        # a text-only report or a correction with a photo or two
_ADDRESS = re.compile(rb"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class Planned:
    uid: int
    size: int
    sender: str = ""


def sender_key(header: bytes | None) -> str:
    """The first address in a raw From: header, lower-case: a key to keep one sender's mail in
    order, not an identity (judging reads the From properly)."""
    m = _ADDRESS.search(header or b"")
    return m.group(0).decode("ascii", "replace").lower() if m else ""


class FetchPlan:
    def __init__(self, last_uid: int):
        self.queue: list[Planned] = []       # in UID order
        self.outstanding: set[int] = set()   # planned and not yet handed over (or found gone)
        self.top = last_uid                  # the highest UID planned so far

    def __bool__(self) -> bool:
        return bool(self.queue)

    def add(self, items: list[Planned]) -> None:
        for p in sorted(items, key=lambda p: p.uid):
            if p.uid > self.top:
                self.queue.append(p)
                self.outstanding.add(p.uid)
                self.top = p.uid

    def next_batch(self, max_bytes: int, max_count: int) -> list[Planned]:
        """Small mail whose sender has nothing earlier waiting, up to the limits; else the oldest
        message alone."""
        batch, total, earlier = [], 0, set()
        for p in self.queue:
            free = p.sender not in earlier
            earlier.add(p.sender)
            if p.size > SMALL_BYTES or not free:
                continue
            if batch and (total + p.size > max_bytes or len(batch) >= max_count):
                break
            batch.append(p)
            total += p.size
        if not batch:
            batch = [self.queue[0]]
        taken = {p.uid for p in batch}
        self.queue = [p for p in self.queue if p.uid not in taken]
        return batch

    def done(self, uid: int) -> None:
        """The message is handed over (or was expunged meanwhile)."""
        self.outstanding.discard(uid)

    @property
    def watermark(self) -> int:
        """Every planned UID up to this one is handed over."""
        return min(self.outstanding) - 1 if self.outstanding else self.top
