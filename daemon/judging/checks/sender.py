"""school.unconfirmed_sender: a report that names a roster school but comes from an address not
known to be that school's. Anyone can write a school's name; such mail is held (待确认) and joins
the school's day only when staff assign it."""
from daemon.defects import defect
from daemon.model import KNOWN_HOW, Defect


def check(j) -> list[Defect]:
    if not j.school or j.school_how in KNOWN_HOW:
        return []
    return [defect("school.unconfirmed_sender", school=j.school)]
