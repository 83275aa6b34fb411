"""Message-level checks: each module has `def check(j: Judgement) -> list[Defect]`.

They run in CHAIN order over what the parser and the per-file inspectors found, in the style of
Mailman's rules: small, named, and each in its own file. A new rule is one new module here.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from daemon.judging.parse import ParsedMessage
from daemon.model import Defect, Material
from daemon.profile import Deliverable, Profile


@dataclass
class Judgement:
    profile: Profile
    msg: ParsedMessage
    received: dt.datetime
    body: str = ""                                  # the sender's own words, quotes removed
    school: str | None = None
    school_how: str = ""
    items: list[Material] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    deliverables: list[Deliverable] = field(default_factory=list)
    report_date: dt.date | None = None
    explicit_date: bool = False
    links: list[dict] = field(default_factory=list)
    kind: str = "report"

    def of_type(self, kind: str) -> list[Material]:
        return [m for m in self.items if m.type == kind]

    @property
    def photos(self) -> list[Material]:
        return self.of_type("photo")

    @property
    def videos(self) -> list[Material]:
        return self.of_type("video")

    @property
    def documents(self) -> list[Material]:
        return self.of_type("document")

    @property
    def tables(self) -> list[Material]:
        return self.of_type("table")

    def caption_text(self) -> str:
        """Where a photo's caption may be written: the body and every document."""
        return "\n".join([self.body, *(m.text or "" for m in self.documents)])

    def text_chars(self) -> int:
        from daemon.judging.textcount import count_chars
        return max([count_chars(self.body), *(m.text_chars or 0 for m in self.documents)])

    def requires(self, what: str) -> list[Deliverable]:
        return [d for d in self.deliverables if what in d.requires]

    def has_defect(self, file: str, prefix: str) -> bool:
        return any(d.file == file and d.code.startswith(prefix) for d in self.defects)


def chain():
    from daemon.judging.checks import captions, dates, deliverables, links, school, sender, text
    return [school, sender, dates, text, deliverables, captions, links]
