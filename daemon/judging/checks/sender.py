"""school.unconfirmed_sender: a report that names a roster school but comes from an address not
known to be that school's. Anyone can write a school's name; such mail is held (待确认) and joins
the school's day only when staff assign it."""
from daemon.model import KNOWN_HOW, WARNING, Defect


def check(j) -> list[Defect]:
    if not j.school or j.school_how in KNOWN_HOW:
        return []
    return [Defect("school.unconfirmed_sender", WARNING, None,
                   f"发件邮箱不是{j.school}在教育局登记的报送邮箱，材料已收到，待工作人员确认后计入该校报送情况。")]
