"""date.outside_week and submission.late: which day, and whether it came in time.

`late` follows each deliverable's own due time (a date alone in a notice is due at the end of
that day, read leniently)."""
from daemon.model import ERROR, WARNING, Defect


def _fmt(d) -> str:
    return f"{d.month}月{d.day}日 {d:%H:%M}"


def check(j) -> list[Defect]:
    p, out = j.profile, []
    if j.report_date and not p.in_week(j.report_date):
        out.append(Defect("date.outside_week", ERROR, None,
                          f"报送的日期{j.report_date.month}月{j.report_date.day}日不在活动周"
                          f"（{p.week_start.month}月{p.week_start.day}日至{p.week_end.month}月{p.week_end.day}日）内，"
                          "请核对后在邮件主题中写明活动日期（如“5月15日”）重新报送。"))
    for d in j.deliverables:
        due = p.due_of(d, j.report_date)
        if due is not None and j.received > due:
            what = f"{j.report_date.month}月{j.report_date.day}日的{d.name}" if d.is_daily and j.report_date else d.name
            out.append(Defect("submission.late", WARNING, None,
                              f"{what}应于{_fmt(due)}前报送，本邮件于{_fmt(j.received.astimezone(p.tz))}收到，已逾期；"
                              "材料已收下，今后请按时报送。"))
    return out
