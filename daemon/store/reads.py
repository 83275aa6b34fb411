"""What the reports read: the queries behind a school's day, the digest, pending, reminders and
the workbook. SQL stays in the storage layer; reports get plain rows."""
from __future__ import annotations

from daemon.store.db import Store


def rows(store: Store, sql: str, args=()) -> list[dict]:
    cur = store.db.execute(sql, list(args))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def day_mails(store: Store, school: str, deliverable: str, day: str) -> list[dict]:
    """Every report mail of `school` for `deliverable` on `day` ("" for a one-off), arrival order."""
    return rows(store, "select m.* from submissions s join messages m on m.id = s.message "
                       "where s.school = ? and s.deliverable = ? and coalesce(s.report_date, '') = ? "
                       "and m.duplicate_of is null order by m.received, m.id", [school, deliverable, day])


def needing_staff(store: Store) -> list[dict]:
    """Reports tied to no school, held (school named by an unknown address) or outside the week,
    and quarantined mail: the digest's 需要人工查看 list before it is cut to a day."""
    return rows(store, "select m.id, m.received, m.sender, m.subject, m.school, m.school_how, m.state, m.reason, "
                       "m.report_date, "
                       "exists(select 1 from defects d where d.message = m.id and d.code = 'date.outside_week') as outside "
                       "from messages m where m.duplicate_of is null and ("
                       "(m.kind = 'report' and (m.school is null or coalesce(m.school_how, '') not in ('sender', 'staff') "
                       "or exists(select 1 from defects d where d.message = m.id and d.code = 'date.outside_week'))) "
                       "or m.state = 'quarantined') order by m.received, m.id")


def judged_reports(store: Store) -> list[dict]:
    return rows(store, "select id, school, school_how, deliverables from messages where kind = 'report' "
                       "and duplicate_of is null and state in ('judged', 'done') order by received, id")


def schools_with(store: Store, deliverable: str) -> set[str]:
    return {r[0] for r in store.db.execute("select distinct school from submissions where deliverable = ?", [deliverable])}


def last_seen(store: Store, school: str) -> dict | None:
    r = rows(store, "select received, subject from messages where school = ? and duplicate_of is null "
                    "order by received desc, id desc limit 1", [school])
    return r[0] if r else None


def has_dated_report(store: Store, school: str, day: str) -> bool:
    return store.db.execute("select 1 from submissions where school = ? and report_date = ? limit 1",
                            [school, day]).fetchone() is not None


def has_deliverable(store: Store, school: str, deliverable: str) -> bool:
    return store.db.execute("select 1 from submissions where school = ? and deliverable = ? limit 1",
                            [school, deliverable]).fetchone() is not None


def first_mails(store: Store, deliverable: str):
    """(school, report_date, late, accepted_at) of every mail of a recurring deliverable, arrival order."""
    return store.db.execute("select s.school, s.report_date, s.late, m.accepted_at from submissions s "
                            "join messages m on m.id = s.message where s.deliverable = ? and m.duplicate_of is null "
                            "order by m.received, m.id", [deliverable]).fetchall()


def report_days(store: Store, start: str, end: str) -> list[str]:
    return [r[0] for r in store.db.execute("select distinct report_date from submissions where report_date between ? "
                                           "and ? order by report_date", [start, end])]


def school_addresses(store: Store, school: str) -> list[str]:
    """Addresses staff tied to `school`, the latest first."""
    return [r[0] for r in store.db.execute("select email from school_emails where school = ? order by at desc", [school])]


def latest_tables(store: Store, deliverables: list[str]) -> list[tuple[str, str, str]]:
    """(school, file, rows JSON) of each school's latest mail carrying a table deliverable."""
    if not deliverables:
        return []
    marks = ",".join("?" for _ in deliverables)
    subs = store.db.execute(f"select school, deliverable, message from submissions where deliverable in ({marks}) "
                            f"and superseded_by is null order by received, id", deliverables).fetchall()
    latest = {(school, d): mid for school, d, mid in subs}            # the last one wins
    out = []
    for (school, _), mid in latest.items():
        for file, data in store.db.execute("select file, rows from tables_rows where message = ? order by id", [mid]):
            out.append((school, file, data))
    return out


def outbox_counts(store: Store) -> dict[str, int]:
    return dict(store.db.execute("select state, count(*) from outbox group by state").fetchall())


def last_error_event(store: Store) -> dict | None:
    ev = store.db.execute("select at, text from events where level = 'error' order by id desc limit 1").fetchone()
    return {"at": ev[0], "text": ev[1]} if ev else None


def recent_messages(store: Store, n: int = 10) -> list[dict]:
    return rows(store, "select id, received, school, report_date, kind, verdict, state from messages "
                       "order by id desc limit ?", [n])


# ---------------------------------------------------------------- the desk's pages
MAIL_LIST = ("select id, received, sender, subject, school, report_date, state, reason from messages m "
             "where duplicate_of is null and ")
UNKNOWN = "kind = 'report' and school is null and state in ('judged', 'done')"


def school_mails(store: Store, school: str, day: str, start: str, end: str) -> list[dict]:
    """A school's mail for `day`: reports dated that day, and undated mail that arrived in its window."""
    return rows(store, "select * from messages where school = ? and duplicate_of is null and "
                       "(report_date = ? or (report_date is null and received > ? and received <= ?)) "
                       "order by received, id", [school, day, start, end])


def replies_to(store: Store, message: int) -> list[dict]:
    """The replies queued for a message (sent or not), oldest first, with their raw text."""
    return rows(store, "select id, state, recipient, subject, raw, sent_at, created_at, reason from outbox "
                       "where message = ? and kind = 'reply' order by id", [message])


def material(store: Store, ident: int) -> dict | None:
    r = rows(store, "select * from materials where id = ?", [ident])
    return r[0] if r else None


def mails_by_id(store: Store, ids: list[int]) -> list[dict]:
    """The desk's list columns of these messages, arrival order."""
    if not ids:
        return []
    return rows(store, MAIL_LIST + f"id in ({','.join('?' * len(ids))}) order by received, id", ids)


def unknown_mails(store: Store, limit: int = 300) -> list[dict]:
    """Judged reports tied to no school (未识别), the newest first."""
    return rows(store, MAIL_LIST + UNKNOWN + " order by received desc, id desc limit ?", [limit])


def unknown_count(store: Store) -> int:
    return store.db.execute(f"select count(*) from messages where duplicate_of is null and {UNKNOWN}").fetchone()[0]


def other_mails(store: Store, limit: int = 300) -> list[dict]:
    """Mail that is not a report, and quarantined mail (其他邮件), the newest first."""
    return rows(store, MAIL_LIST + "(kind = 'other' or state = 'quarantined') order by received desc, id desc limit ?",
                [limit])


def school_email_rows(store: Store) -> list[dict]:
    """Every address staff tied to a school, with who did it and when."""
    return rows(store, "select email, school, by, at from school_emails order by school, email")


# ---------------------------------------------------------------- storage and export
def intake_by_day(db) -> list[tuple[str, int, int]]:
    """(local day, raw bytes, attachment bytes) of the mail recorded each day; takes `store.db`."""
    return db.execute("select substr(m.created_at, 1, 10), sum(coalesce(m.size, 0)), "
                      "sum((select coalesce(sum(a.size), 0) from materials a where a.message = m.id)) "
                      "from messages m where m.created_at is not null group by 1").fetchall()


def submissions(store: Store, deliverable: str, day: str | None) -> list[tuple]:
    """(school, report_date, message, superseded_by) of a deliverable's submissions (of one day if given)."""
    sql = ("select school, report_date, message, superseded_by from submissions where deliverable = ?"
           + (" and report_date = ?" if day else "") + " order by report_date, school, received, id")
    return store.db.execute(sql, [deliverable, day] if day else [deliverable]).fetchall()


def stored_reports(store: Store, day: str | None = None) -> list[dict]:
    """Judged reports whose raw mail is still kept (not purged), of one report day if given: what a rejudge reads."""
    where, args = "state in ('done','judged') and kind = 'report' and raw_path is not null", []
    if day:
        where += " and report_date = ?"
        args.append(day)
    return rows(store, f"select * from messages where {where} order by id", args)
