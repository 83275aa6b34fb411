"""Everything the daemon knows, in one SQLite file (sqlite-utils, WAL mode).

A message row is written before the message is judged, and its `state` moves forward only:

    received → judged → done          (or: quarantined, duplicate)

so a restart after any crash resumes each message where it stopped, and nothing is lost.
Attachments are kept under `attachments/<date>/<school>/` with safe names; identical files are
hard links to one blob (`blobs/<sha256>`), so a resent photo costs no disk.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import shutil
import sqlite3
from pathlib import Path

import sqlite_utils

from daemon.model import Verdict
from daemon.store import schema
from daemon.store.safefs import is_full, safe_join, safe_name

STATES = ("received", "judged", "done", "quarantined", "duplicate")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        old = os.umask(0o077)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for sub in ("raw", "blobs", "attachments", "spool", "work"):
                (self.root / sub).mkdir(exist_ok=True)
        finally:
            os.umask(old)
        os.chmod(self.root, 0o700)
        path = self.root / "ribao.db"
        fresh = not path.exists()
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        if fresh:
            os.chmod(path, 0o600)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA foreign_keys=ON")
        schema.ensure(self.db, path)

    # ---------------------------------------------------------------- transactions
    @contextlib.contextmanager
    def tx(self):
        """One atomic step. sqlite-utils' table methods commit on their own, so inside a
        transaction we write with plain SQL (`_ins`, `_upd`)."""
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.execute("ROLLBACK")
            raise
        try:
            self.db.conn.execute("COMMIT")
        except sqlite3.Error:
            # a COMMIT refused (a full disk) leaves the transaction open: every later write would join
            # it and be lost with it
            with contextlib.suppress(sqlite3.Error):
                self.db.conn.execute("ROLLBACK")
            raise

    def _ins(self, table: str, row: dict) -> int:
        cols = ", ".join(f"[{k}]" for k in row)
        marks = ", ".join("?" for _ in row)
        return self.db.conn.execute(f"insert into [{table}] ({cols}) values ({marks})", list(row.values())).lastrowid

    def _upd(self, table: str, ident, row: dict, pk: str = "id") -> None:
        sets = ", ".join(f"[{k}] = ?" for k in row)
        self.db.conn.execute(f"update [{table}] set {sets} where [{pk}] = ?", [*row.values(), ident])

    # ---------------------------------------------------------------- mailbox state
    def mailbox_state(self, folder: str) -> dict:
        try:
            return self.db["mailbox_state"].get(folder)
        except sqlite_utils.db.NotFoundError:
            return {"folder": folder, "uidvalidity": None, "last_uid": 0}

    def set_mailbox_state(self, folder: str, **fields) -> None:
        self.db["mailbox_state"].upsert({"folder": folder, **fields}, pk="folder")

    def event(self, level: str, text: str) -> None:
        self.db["events"].insert({"at": now_iso(), "level": level, "text": text})

    # ---------------------------------------------------------------- messages
    def find(self, uidvalidity: int, uid: int) -> dict | None:
        rows = list(self.db["messages"].rows_where("uidvalidity = ? and uid = ?", [uidvalidity, uid], limit=1))
        return rows[0] if rows else None

    def by_message_id(self, message_id: str) -> dict | None:
        if not message_id:
            return None
        rows = list(self.db["messages"].rows_where("message_id = ? and duplicate_of is null", [message_id],
                                                   order_by="id", limit=1))
        return rows[0] if rows else None

    def by_sha(self, sha: str) -> dict | None:
        rows = list(self.db["messages"].rows_where("raw_sha256 = ? and duplicate_of is null", [sha],
                                                   order_by="id", limit=1))
        return rows[0] if rows else None

    def get(self, ident: int) -> dict | None:
        try:
            return self.db["messages"].get(ident)
        except sqlite_utils.db.NotFoundError:
            return None

    def add_received(self, *, uid: int, uidvalidity: int, folder: str, raw_path: Path, raw_sha256: str,
                     size: int, message_id: str, received: str, duplicate_of: int | None = None) -> int:
        """Record a message before judging it: from here on it can't be lost."""
        row = {"uid": uid, "uidvalidity": uidvalidity, "folder": folder, "raw_path": str(raw_path),
               "raw_sha256": raw_sha256, "size": size, "message_id": message_id, "received": received,
               "state": "duplicate" if duplicate_of else "received", "duplicate_of": duplicate_of,
               "created_at": now_iso(), "updated_at": now_iso()}
        return self.db["messages"].insert(row).last_pk

    def set_raw_sha(self, ident: int, sha: str) -> None:
        """The raw mail's hash, taken by the judging worker for a mail fetched without it."""
        self.db.execute("update messages set raw_sha256 = ? where id = ? and coalesce(raw_sha256, '') = ''",
                        [sha, ident])

    def set_state(self, ident: int, state: str, **fields) -> None:
        assert state in STATES, state
        self.db["messages"].update(ident, {"state": state, "updated_at": now_iso(), **fields})

    def renumber(self, ident: int, uid: int, uidvalidity: int) -> None:
        """The mailbox renumbered its UIDs (UIDVALIDITY changed): the message keeps its row, with its new UID."""
        self.db.execute("update messages set uid = ?, uidvalidity = ? where id = ?", [uid, uidvalidity, ident])

    def count_attempt(self, ident: int, reason: str | None = None, add: int = 1) -> None:
        """One more try at judging the message (three and it is quarantined); `reason` says why it failed."""
        if reason is None:
            self.db.execute("update messages set attempts = coalesce(attempts, 0) + ? where id = ?", [add, ident])
        else:
            self.db.execute("update messages set reason = ?, attempts = coalesce(attempts, 0) + ? where id = ?",
                            [reason[:500], add, ident])

    def set_overrides(self, ident: int, saved: dict) -> None:
        """What staff said about a message (school, date, deliverable): every later judging uses it."""
        self.db["messages"].update(ident, {"overrides": json.dumps(saved, ensure_ascii=False)})

    def accept(self, ident: int, by: str, reason: str) -> None:
        """Staff accept the message's school-day despite its defects (shown as 人工认可)."""
        self.db["messages"].update(ident, {"accepted_by": by, "accepted_reason": reason[:500], "accepted_at": now_iso()})

    def pending(self, *states: str) -> list[dict]:
        marks = ",".join("?" for _ in states)
        return list(self.db["messages"].rows_where(f"state in ({marks})", list(states), order_by="id"))

    def save_verdict(self, ident: int, v: Verdict, school_how: str = "") -> None:
        """Verdict, defects, materials and submissions in one transaction; state → judged."""
        ok = v.ok
        stored = [self._keep_file(m, v) if m.path else None for m in v.items]   # files first, outside the tx
        c = self.db.conn
        with self.tx():
            for table in ("defects", "materials", "tables_rows", "submissions"):
                c.execute(f"delete from {table} where message = ?", [ident])
            self._upd("messages", ident, {
                "message_id": v.message_id, "sender": v.sender, "subject": v.subject, "school": v.school,
                "school_how": school_how or v.school_how, "report_date": v.report_date,
                "deliverables": json.dumps(v.deliverables), "received": v.received, "late": int(v.late),
                "kind": v.kind, "ok": int(ok),
                "verdict": ("ok" if ok else "defects") if v.kind == "report" else "none",
                "text_chars": v.materials.get("text_chars", 0), "photos": v.materials.get("photos", 0),
                "videos": v.materials.get("videos", 0), "due": v.due, "state": "judged",
                "judged_at": now_iso(), "updated_at": now_iso(), "reason": None, "superseded_by": None,
            })
            for d in v.defects:
                self._ins("defects", {"message": ident, "code": d.code, "severity": d.severity,
                                      "file": d.file, "text": d.message,
                                      "facts": json.dumps(d.facts, ensure_ascii=False, default=str)})
            for m, path in zip(v.items, stored):
                self._ins("materials", {
                    "message": ident, "file": m.file, "type": m.type, "format": m.format, "size": m.size,
                    "sha256": m.sha256, "width": m.width, "height": m.height, "duration": m.duration,
                    "caption": m.caption, "text_chars": m.text_chars, "in_archive": int(m.in_archive),
                    "stored_path": path})
                if m.type == "table" and m.rows:
                    self._ins("tables_rows", {"message": ident, "file": m.file,
                                              "rows": json.dumps(m.rows, ensure_ascii=False, default=str)})
            if v.kind == "report" and v.school and not v.held:     # held mail joins no school's day
                for d in v.deliverables:
                    rdate = v.report_date if d == v.recurring else None
                    self._ins("submissions", {"message": ident, "school": v.school, "deliverable": d,
                                              "report_date": rdate, "received": v.received,
                                              "late": int(v.late), "ok": int(ok)})
                self._supersede(ident, v)

    def _supersede(self, ident: int, v: Verdict) -> None:
        """A school that resends supersedes its earlier report for that day (both stay on record)."""
        for d in v.deliverables:
            rdate = v.report_date if d == v.recurring else None
            older = self.db.execute(
                "select id, message from submissions where school = ? and deliverable = ? and "
                "coalesce(report_date, '') = coalesce(?, '') and message != ? and superseded_by is null "
                "and received <= ?", [v.school, d, rdate, ident, v.received]).fetchall()
            for sid, mid in older:
                self._upd("submissions", sid, {"superseded_by": ident})
                self._upd("messages", mid, {"superseded_by": ident})
            newer = self.db.execute(
                "select message from submissions where school = ? and deliverable = ? and "
                "coalesce(report_date, '') = coalesce(?, '') and message != ? and received > ? "
                "order by received desc limit 1", [v.school, d, rdate, ident, v.received]).fetchone()
            if newer:       # judged out of order (a rejudge): the later one still wins
                self.db.execute("update submissions set superseded_by = ? where message = ? and deliverable = ?",
                                [newer[0], ident, d])
                self._upd("messages", ident, {"superseded_by": newer[0]})

    def _keep_file(self, m, v: Verdict) -> str | None:
        """Hard-link (or copy) a judged file into attachments/<date>/<school>/, one blob per hash.
        A file from a message's work folder (removed after judging) is moved, not copied: the
        attachments of a busy day are written once, not twice."""
        try:
            if not m.sha256 or not m.path or not Path(m.path).exists():
                return None
            blob = self.root / "blobs" / m.sha256[:2] / m.sha256
            if not blob.exists():
                blob.parent.mkdir(parents=True, exist_ok=True)
                if Path(m.path).resolve().is_relative_to((self.root / "work").resolve()):
                    os.replace(m.path, blob)
                else:
                    tmp = blob.with_suffix(".part")
                    shutil.copyfile(m.path, tmp)
                    os.replace(tmp, blob)
            day = v.report_date or (v.received or "")[:10] or "undated"
            folder = safe_join(self.root / "attachments", safe_name(day), safe_name(v.school or "未识别学校"))
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / safe_name(m.file.replace("/", "_"))
            if target.exists():
                if target.samefile(blob):
                    return str(target.relative_to(self.root))
                target = folder / f"{m.sha256[:8]}_{target.name}"
            try:
                os.link(blob, target)
            except OSError:          # no hard links here, or a purge just removed the blob
                shutil.copyfile(m.path if Path(m.path).exists() else blob, target)
            return str(target.relative_to(self.root))
        except OSError as e:
            if is_full(e):
                raise                    # a full disk must not cost the school its attachment silently
            return None
        except ValueError:
            return None

    def defects_of(self, ident: int) -> list[dict]:
        return list(self.db["defects"].rows_where("message = ?", [ident], order_by="id"))

    def materials_of(self, ident: int) -> list[dict]:
        return list(self.db["materials"].rows_where("message = ?", [ident], order_by="id"))

    # ---------------------------------------------------------------- staff corrections
    def correction(self, action: str, message: int | None, details: dict, by: str | None = None) -> None:
        """Record a staff action; `by` is the desk's account name, else the OS user."""
        self.db["corrections"].insert({"at": now_iso(), "by": by or _os_user(), "action": action,
                                       "message": message, "details": json.dumps(details, ensure_ascii=False)})

    def school_emails(self) -> dict[str, str]:
        return {r["email"]: r["school"] for r in self.db["school_emails"].rows}

    def remember_email(self, email: str, school: str, by: str | None = None) -> None:
        self.db["school_emails"].upsert({"email": email.lower(), "school": school, "by": by or _os_user(),
                                         "at": now_iso()}, pk="email")

    def forget_email(self, email: str) -> str | None:
        """Drop a remembered address; returns the school it was tied to, or None."""
        email = email.strip().lower()
        row = self.db.execute("select school from school_emails where email = ?", [email]).fetchone()
        if row is None:
            return None
        self.db.execute("delete from school_emails where email = ?", [email])
        return row[0]

    def held(self) -> list[dict]:
        """Reports naming a roster school from an address not known to be its own (待确认), oldest first."""
        cur = self.db.execute(
            "select id, received, sender, school, report_date from messages where kind = 'report' and school is not null "
            "and coalesce(school_how, '') not in ('sender', 'staff') and duplicate_of is null "
            "and state in ('judged', 'done') order by received, id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def close(self) -> None:
        """Close the connection (a forked child or a finished thread lets go of the file)."""
        self.db.conn.close()

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("select state, count(*) from messages group by state").fetchall())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())
