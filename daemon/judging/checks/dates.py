"""date.outside_week and submission.late: which day, and whether it came in time.

`late` follows each deliverable's own due time (a date alone in a notice is due at the end of
that day, read leniently)."""
from daemon.defects import defect
from daemon.model import Defect


def _day(d) -> str:
    return f"{d.month}月{d.day}日"


def _fmt(d) -> str:
    return f"{_day(d)} {d:%H:%M}"


def check(j) -> list[Defect]:
    p, out = j.profile, []
    if j.report_date and not p.in_week(j.report_date):
        out.append(defect("date.outside_week", date=_day(j.report_date),
                          week_start=_day(p.week_start), week_end=_day(p.week_end)))
    for d in j.deliverables:
        due = p.due_of(d, j.report_date)
        if due is not None and j.received > due:
            daily = d.is_daily and j.report_date
            facts = {"date": _day(j.report_date)} if daily else {}
            out.append(defect("submission.late", form="daily" if daily else "", deliverable=d.name,
                              due=_fmt(due), received=_fmt(j.received.astimezone(p.tz)), **facts))
    return out
