"""school.unknown: a report we can't tie to any school on the roster."""
from daemon.defects import defect
from daemon.model import Defect


def check(j) -> list[Defect]:
    return [] if j.school else [defect("school.unknown")]
