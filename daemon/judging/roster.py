"""The roster of schools (CSV `school,aliases,emails`) and who sent a mail.

A school is known by its sender address first (addresses staff tied to a school by `ribao
assign` count too), then by its name or an alias in the subject, then in the body or the
attachment names. The longest name wins, so a full name beats a short alias inside it.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from daemon.judging.inspect.charset import decode_text


class RosterError(ValueError):
    pass


@dataclass
class School:
    name: str
    aliases: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]


@dataclass
class Roster:
    schools: list[School] = field(default_factory=list)
    extra_emails: dict[str, str] = field(default_factory=dict)   # address → school (staff assignments)
    authserv_id: str = ""          # [mailbox] authserv_id: our server's Authentication-Results name

    def by_email(self, addr: str) -> School | None:
        addr = (addr or "").strip().lower()
        if not addr:
            return None
        for s in self.schools:
            if addr in s.emails:
                return s
        name = self.extra_emails.get(addr)
        return self.get(name) if name else None

    def get(self, name: str) -> School | None:
        return next((s for s in self.schools if s.name == name), None)

    def by_text(self, text: str) -> School | None:
        if not text:
            return None
        best: tuple[int, School] | None = None
        for s in self.schools:
            for n in s.names:
                if n and n in text and (best is None or len(n) > best[0]):
                    best = (len(n), s)
        return best[1] if best else None

    def identify(self, sender: str, subject: str, body: str, file_names: list[str],
                 trust_sender: bool = True) -> tuple[School | None, str]:
        """(school, how): how is "sender", "subject", "body", "attachment" or "".

        Only "sender" says the mail is the school's own; a school found by its name (anyone can
        write it) is what the mail claims, held for staff to confirm."""
        s = self.by_email(sender) if trust_sender else None
        if s:
            return s, "sender"
        for how, text in (("subject", subject), ("body", body), ("attachment", "\n".join(file_names))):
            s = self.by_text(text)
            if s:
                return s, how
        return None, ""

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.schools]


def _split(cell: str | None) -> list[str]:
    return [x.strip() for x in (cell or "").replace("；", ";").replace(",", ";").split(";") if x.strip()]


def parse(text: str, source: str = "roster") -> Roster:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "school" not in header:
        raise RosterError(f"{source}: the first line must be the header school,aliases,emails")
    reader.fieldnames = header
    schools, seen = [], set()
    for i, row in enumerate(reader, start=2):
        name = (row.get("school") or "").strip()
        if not name:
            continue
        if name in seen:
            raise RosterError(f"{source}: line {i}: school {name!r} is listed twice")
        seen.add(name)
        schools.append(School(name=name, aliases=_split(row.get("aliases")),
                              emails=[e.lower() for e in _split(row.get("emails"))]))
    return Roster(schools=schools)


def load(path: str | Path | None) -> Roster:
    if not path:
        return Roster()
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise RosterError(f"roster {p}: cannot read ({e.strerror})") from None
    return parse(decode_text(data), str(p))
