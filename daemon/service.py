"""The daemon's one poll cycle: fetch → record → judge → store → file → reply, for each new message.

Each step moves the message's row forward (received → judged → filed → done), committed before
the next step starts, so a crash or `kill -9` anywhere resumes at the same step on restart and
nothing is judged or answered twice. Judging runs in the pool's long-lived workers
(daemon/judging/pool.py) under each message's time limit: a file that hangs or crashes a parser
quarantines that one message, and the daemon goes on with the next. So does any other failure of one
message (recording, storing, answering, filing: no poison messages); only a full disk and the mailbox
going away stop a cycle. Judging starts only with the message's extraction budget free on the
storage disk, counting what the messages already being judged may still take.

While the workers judge, this process fetches the next messages (small mail first, see
daemon/intake/order.py) and lands the verdicts: a school's mail in the order it came (order_key),
schools side by side; the courier thread sends the replies as they are queued.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import json
import logging
import shutil
import sqlite3
import time
from pathlib import Path

from daemon.config import Config
from daemon.intake import MAX_ID_CHARS, Fetched, MailboxError, MailboxRefused, filing, header_text, open_source
from daemon.judging.inspect import Limits
from daemon.judging.isolate import Judging
from daemon.judging.pool import Job, Pool
from daemon.judging.roster import Roster
from daemon.outgoing import outbox, replies
from daemon.outgoing.courier import Courier
from daemon.outgoing.mailout import transport as make_transport
from daemon.profile import Profile
from daemon.store import outbox_rows
from daemon.store.db import Store, now_iso
from daemon.store.hashing import sha256_file as _sha256
from daemon.store.safefs import is_full, visible

log = logging.getLogger("ribao")
SPOOL_STALE_SECONDS = 3600
# Each message may spend this much of the storage disk on judging (its decoded attachments and what
# its archives unpack to): EXTRACT_FACTOR × its raw size, at least EXTRACT_FLOOR, at most the
# inspectors' max_unpacked_bytes. Judging starts only with that much free; unpacking past it is
# archive.unsafe.
EXTRACT_FACTOR = 16
EXTRACT_FLOOR = 16 * 1024**2


class StorageFull(MailboxError):
    """The storage folder is full. The message in hand stays `received` (nothing is quarantined for
    it, nothing lost) and the cycle stops; the next poll judges it again once there is room. A
    MailboxError, so `ribao run --once` says so in one line and the service retries next poll."""


class NoRoom(StorageFull):
    """Free space is below the message's extraction budget: it stays `received` (no attempt counted)
    and the cycle goes on with the next message; it is judged once there is room."""


class Service:
    def __init__(self, cfg: Config, profile: Profile, roster: Roster, *, stop=lambda: False, recover: bool = True):
        """`recover`: the daemon's own start (`ribao run`, the demo) turns rows left `sending` by a crash
        into `uncertain`; a staff command or the desk, which run beside a live daemon, must not (a row
        the daemon is sending that instant would be marked uncertain)."""
        self.cfg, self.profile, self.roster = cfg, profile, roster
        self.store = Store(cfg.storage.path)
        self.source = None
        self.transport = make_transport(cfg.smtp)
        self.stop = stop
        self.own = {a.lower() for a in (cfg.smtp.sender, cfg.mailbox.username, profile.mailbox) if a and "@" in a}
        self.base_limits = Limits.from_config(cfg.limits)   # the child keeps file/message budgets itself;
        self.judge_seconds = self.base_limits.kill_seconds  # this kill (message_seconds + 30 s) is the backstop
        self.pool: Pool | None = None       # the judging workers, started by the first message a poll judges
        self.keep_workers = False           # `ribao run` keeps them between polls; else each poll stops them
        self.depth = 0                      # messages fetched ahead of the one landing next (set with the pool)
        self.progress = time.monotonic()   # last step forward; the systemd watchdog reads it
        self._reserved: dict[int, int] = {}   # message → extraction budget, while the pool judges it
        self.courier: Courier | None = None   # sends replies while a poll with new mail goes on
        _warm_imports()
        if recover:
            outbox.recover(self.store)
        self.roster.extra_emails.update(self.store.school_emails())

    # ------------------------------------------------------------ the mailbox
    def connect(self):
        if self.source is None:
            self.source = open_source(self.cfg.mailbox, self.store.root / "spool")
            if hasattr(self.source, "order_key"):
                self.source.order_key = self.order_key
        return self.source

    def order_key(self, sender: str) -> str:
        """What keeps mail in arrival order: the school a roster (or staff-tied) address belongs to, so
        two teachers of one school are taken and answered in the order they wrote; else the address."""
        school = self.roster.by_email(sender) if sender else None
        return f"school:{school.name}" if school else sender

    def close(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            finally:
                self.source = None

    def poll_once(self) -> dict:
        """One cycle. With nothing new this costs one round trip to the server. A message that fails
        anywhere is quarantined on its own (see _poison); only a full disk and the mailbox stop it."""
        counts = {"new": 0, "judged": 0, "quarantined": 0, "duplicates": 0, "waiting": 0}
        self._clean_spool()
        # addresses staff tied to schools, or forgot, since the last cycle (`ribao assign/forget`, the desk)
        self.roster.extra_emails = self.store.school_emails()
        folder = self.cfg.mailbox.folder
        src = self.connect()
        try:
            state = src.select()
            known = self.store.mailbox_state(folder)
            last_uid = known.get("last_uid") or 0
            if known.get("uidvalidity") not in (None, state.uidvalidity):
                last_uid = self._uidvalidity_changed(src, folder, known["uidvalidity"], state.uidvalidity)
            self.store.set_mailbox_state(folder, uidvalidity=state.uidvalidity, last_uid=last_uid)
            self.resume(counts)
            if state.uidnext - 1 > last_uid:
                pending: list = []       # (order key, ident, judging, workdir), in the order fetched
                self.courier = Courier(self.cfg.storage.path, self.transport, self.cfg.smtp.sender,
                                       self.cfg.replies.retry_seconds)
                self.courier.start()
                try:
                    for fetched in src.fetch_since(last_uid):
                        self.progress = time.monotonic()
                        ident = self.record(fetched, counts)
                        last_uid = max(last_uid, fetched.watermark)   # never past mail not yet fetched
                        self.store.set_mailbox_state(folder, last_uid=last_uid)
                        if ident is not None and (launched := self._launch_guarded(ident, counts, pending)):
                            pending.append((self.order_key(fetched.sender), *launched))
                        self._land_ready(pending, counts, wait=len(pending) > self.depth)
                        if self.stop():
                            break
                finally:
                    try:
                        self._land_all(pending, counts)
                    finally:
                        courier, self.courier = self.courier, None
                        courier.stop()
            self.store.set_mailbox_state(folder, last_poll=now_iso(), last_error=None)
        except (MailboxError, OSError, sqlite3.OperationalError) as e:
            if not isinstance(e, MailboxError):
                if not is_full(e):
                    raise
                e = StorageFull(f"storage folder {self.store.root} is full ({e}): the message in hand is kept "
                                f"and judged by the next poll once there is room")
            with contextlib.suppress(sqlite3.Error):      # a full disk may refuse these too
                self.store.set_mailbox_state(folder, last_error=str(e), last_error_at=now_iso())
                self.store.event("error", str(e))
            self.close()
            raise e from None
        finally:
            if not self.keep_workers:
                self.close_pool()
        self.deliver()
        return counts

    def _land_ready(self, pending: list, counts: dict, wait: bool = False) -> None:
        """Land every judged message with no earlier message of its school (order_key) still being
        judged, so each school's mail lands, and is answered, in the order it came; with `wait`,
        first wait until at least one can."""
        while True:
            blocked, ready = set(), []
            for entry in pending:
                if entry[0] not in blocked and entry[2].done:
                    ready.append(entry)
                blocked.add(entry[0])
            if ready or not wait or not pending:
                break
            self.pool.service()          # until some message is judged (the oldest can always land)
        for entry in ready:
            pending.remove(entry)
            self._land_guarded(*entry[1:], counts)

    def _land_all(self, pending: list, counts: dict) -> None:
        """Land every message still being judged, even when landing one of them fails (a full disk,
        the mailbox gone): each gets its verdict stored or its attempt counted. The first failure
        is raised afterwards."""
        first = None
        while pending:
            try:
                self._land_ready(pending, counts, wait=True)
            except Exception as e:
                first = first or e
        if first is not None:
            raise first


    def close_pool(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close()

    def _clean_spool(self) -> None:
        """Drop what a crash mid-fetch left in the spool: each fetched message is moved to raw/ the
        moment it is recorded, so a spool file that old belongs to no poll (and is fetched again)."""
        cutoff, spool = time.time() - SPOOL_STALE_SECONDS, self.store.root / "spool"
        for p in spool.iterdir() if spool.is_dir() else ():
            with contextlib.suppress(OSError):
                if p.is_file() and p.stat().st_mtime < cutoff:
                    p.unlink()

    def _uidvalidity_changed(self, src, folder: str, old: int, new: int) -> int:
        """UIDs were renumbered: map what we have by Message-ID, fetch only what we don't."""
        log.warning("UIDVALIDITY of %s changed from %s to %s: re-scanning by Message-ID", folder, old, new)
        self.store.event("warning", f"UIDVALIDITY of {folder} changed {old} → {new}; re-scanned by Message-ID")
        mapping = src.uid_message_ids()
        last_known = 0
        for uid in sorted(mapping):
            row = self.store.by_message_id(mapping[uid]) if mapping[uid] else None
            if row is None:
                break                  # first unknown message: fetch from here on
            self.store.renumber(row["id"], uid, new)
            last_known = uid
        return last_known

    # ------------------------------------------------------------ one message
    def record(self, f: Fetched, counts: dict) -> int | None:
        """Write the message's row (and keep the raw mail): from here on it can't be lost.
        Returns the row to judge, or None for a message already known, a copy of one, or one whose
        row could only be written bare (then it is quarantined with the reason)."""
        if self.store.find(f.uidvalidity, f.uid):
            f.path.unlink(missing_ok=True)
            return None
        mid = header_text(f.message_id)[:MAX_ID_CHARS]
        # the hash is needed now only to know a copy of a mail without a Message-ID; else the judging
        # worker takes it (it reads the file anyway) and it is stored with the verdict
        sha = f.sha256 or ("" if mid else _sha256(f.path))
        raw_dir = self.store.root / "raw" / dt.date.today().isoformat()
        raw_dir.mkdir(parents=True, exist_ok=True)
        raw_path = raw_dir / (f"{f.uidvalidity}-{f.uid}-{sha[:12]}.eml" if sha else f"{f.uidvalidity}-{f.uid}.eml")
        shutil.move(str(f.path), raw_path)
        row = dict(uid=f.uid, uidvalidity=f.uidvalidity, folder=self.cfg.mailbox.folder, raw_path=raw_path,
                   raw_sha256=sha, size=f.size, received=now_iso())
        counts["new"] += 1
        try:
            dup = self.store.by_message_id(mid) if mid else self.store.by_sha(sha)
            row["received"] = (f.internaldate or dt.datetime.now().astimezone()).astimezone(self.profile.tz).isoformat()
            ident = self.store.add_received(**row, message_id=mid, duplicate_of=dup["id"] if dup else None)
        except Exception as e:
            if not _poison(e):
                raise
            ident = self.store.add_received(**row, message_id="")
            self._quarantine(ident, f"recording failed: {_why(e)}", counts)
            return None
        if dup:
            counts["duplicates"] += 1
            log.info("message %s is a copy of %s (same Message-ID): recorded, not judged again", ident, dup["id"])
            return None
        return ident

    def judge(self, ident: int, counts: dict | None = None, overrides: dict | None = None) -> None:
        """Judge (again) and store; filing is the caller's next step (finish)."""
        self._land(ident, *self._launch(ident, overrides), counts, overrides, finish=False)

    def limits(self) -> Limits:
        """The inspectors' limits for judging one message ([limits]; its budget is set on top, in _launch)."""
        return self.base_limits

    def budget(self, row: dict) -> int:
        """The disk this message may spend on judging (see EXTRACT_FACTOR)."""
        cap = self.limits().max_unpacked_bytes
        return min(cap, max(EXTRACT_FLOOR, EXTRACT_FACTOR * int(row.get("size") or 0)))

    def _launch(self, ident: int, overrides: dict | None = None, pooled: bool = False):
        """Start judging a recorded message, by the pool's workers (`pooled`, the poll) or in a child of
        its own (staff re-checks); returns (judging, workdir). NoRoom when the disk has less free than
        the message's budget, counting what the messages already being judged may still take: then
        nothing is started or counted."""
        row = self.store.get(ident)
        budget, free = self.budget(row), _free_bytes(self.store.root) - sum(self._reserved.values())
        if free < budget:
            raise NoRoom(f"message {ident} ({_mb(row.get('size') or 0)}) waits for disk space: judging it needs "
                         f"{_mb(budget)} free in {self.store.root}, {_mb(free)} are; it is judged once there is room")
        received = dt.datetime.fromisoformat(row["received"]) if row.get("received") else None
        workdir = self.store.root / "work" / str(ident)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)   # (a child orphaned by a kill -9 may still write there)
        limits = dataclasses.replace(self.limits(), max_unpacked_bytes=budget)
        thumbs, blobs = self.store.root / "thumbs", self.store.root / "blobs"
        if not pooled:
            return Judging(row["raw_path"], self.profile, self.roster, received=received, workdir=workdir,
                           overrides=overrides, thumbs_dir=thumbs, limits=limits, blobs_dir=blobs,
                           hash_raw=not row.get("raw_sha256")), workdir
        if self.pool is None:
            self.pool = Pool(self.profile, self.roster, memory_bytes=limits.memory_bytes)
            self.depth = 2 * self.pool.size
        ticket = self.pool.submit(Job(ident, str(row["raw_path"]), received, str(workdir), overrides, str(thumbs),
                                      limits, self.judge_seconds, str(blobs), not row.get("raw_sha256")))
        self._reserved[ident] = budget
        return ticket, workdir

    def _land(self, ident: int, judging: Judging, workdir: Path, counts: dict | None = None,
              overrides: dict | None = None, finish: bool = True) -> None:
        """Take the child's answer: store the verdict and queue the reply (or quarantine), then file."""
        counted = False
        try:
            counted = self._count_attempt(ident, judging)
            result = judging.result(self.judge_seconds)
            self.progress = time.monotonic()
            if result[0] == "interrupted":
                log.warning("message %s: %s; it is judged again", ident, result[1])
                self.store.count_attempt(ident, result[1], add=-1 if counted else 0)
                return
            if result[0] == "full":
                raise OSError(errno.ENOSPC, f"no space left while judging message {ident}: {result[1]}")
            if result[0] == "ok":
                _, verdict, headers = result
                if headers.get("raw_sha256"):
                    self.store.set_raw_sha(ident, headers["raw_sha256"])
                # as record() stored it (raw 8-bit bytes as U+FFFD: SQLite refuses them as they come)
                verdict.message_id = header_text(verdict.message_id)[:MAX_ID_CHARS]
                self.store.save_verdict(ident, verdict, school_how=(overrides and "staff") or "")
                self._queue_reply(ident, verdict, headers)
                if counts is not None:
                    counts["judged"] += 1
            else:
                self._quarantine(ident, result[1], counts)
        except (OSError, sqlite3.OperationalError) as e:
            if is_full(e):
                # the budget check passed, so this counts as an attempt (three and it is quarantined):
                # a mail that fills the disk past its budget is not retried first forever
                shutil.rmtree(workdir, ignore_errors=True)
                with contextlib.suppress(sqlite3.Error):
                    self.store.count_attempt(ident, f"the disk filled up while judging it ({_why(e)})",
                                             add=0 if counted else 1)
            raise
        finally:
            self._reserved.pop(ident, None)
            shutil.rmtree(workdir, ignore_errors=True)
        if finish:
            self.finish(ident)

    def _count_attempt(self, ident: int, judging: Judging) -> bool:
        """Count an attempt once the child has answered (or run out of time): from then on the message
        is in this process's hands (a verdict too big to take in, say), and three deaths there quarantine
        it. A kill while only its child works (a restart, kill -9) is not the message's doing."""
        with contextlib.suppress(EOFError, OSError):
            judging.wait(self.judge_seconds)
        try:
            self.store.count_attempt(ident)
            return True
        except sqlite3.OperationalError as e:
            if not is_full(e):
                raise
            return False          # the child filled the disk: counted once its files are gone (_land)

    def _launch_guarded(self, ident: int, counts: dict, pending: list | None = None):
        """_launch by the pool, for the poll: None when the message waits for room. When the room is
        held by messages still being judged (`pending`), those land first and it is tried again.
        (Starting fails only for the machine's reasons, a fork or a folder refused: not the
        message's fault, so no quarantine.)"""
        try:
            return (ident, *self._launch(ident, pooled=True))
        except NoRoom as e:
            if pending:
                while pending:
                    self._land_ready(pending, counts, wait=True)
                return self._launch_guarded(ident, counts)
            counts["waiting"] += 1
            log.warning("%s", e)
        return None

    def _land_guarded(self, ident: int, judging: Judging, workdir: Path, counts: dict) -> None:
        """_land (and finish), for the poll: a failure of this one message quarantines it."""
        try:
            self._land(ident, judging, workdir, counts)
        except Exception as e:
            if not _poison(e):
                raise
            self._quarantine(ident, f"storing, answering or filing failed: {_why(e)}", counts)

    def _quarantine(self, ident: int, reason: str, counts: dict | None) -> None:
        """Set the message aside with the reason (state, event, log, the quarantine folder); the
        cycle goes on. Staff see it in `ribao status` and can judge it again."""
        reason = header_text(reason)[:500] or "unknown error"
        self.store.set_state(ident, "quarantined", reason=reason, judged_at=now_iso())
        self.store.event("error", f"message {ident} quarantined: {reason[:300]}")
        log.error("message %s quarantined: %s", ident, visible(reason))
        if counts is not None:
            counts["quarantined"] += 1
        try:
            row = self.store.get(ident)
            self.store.set_state(ident, "quarantined",
                                 filed_to=self._file(row, filing.folder_for(row, self.cfg.filing)))
        except MailboxError:
            pass                      # left in the inbox; the poll's next mailbox call says why
        except Exception as e:
            if not _poison(e):
                raise
            log.error("message %s: quarantined but not filed: %s", ident, _why(e))

    def _queue_reply(self, ident: int, verdict, headers: dict) -> None:
        from daemon.reports.day import verdict_day
        sender = self.cfg.smtp.sender
        day = verdict_day(self.profile, self.store, verdict) if verdict.known_sender else None
        outcome = replies.enqueue_reply(self.store, ident, verdict, self.profile, headers, sender=sender,
                                        own=self.own, cfg=self.cfg.replies, tz=self.profile.tz,
                                        roster=self.roster, school_day=day)
        if self.courier is not None:
            self.courier.wake.set()
        log.info("message %s: %s %s %s → reply %s", ident, verdict.kind, verdict.school or "-",
                 "ok" if verdict.ok else ",".join(sorted({d.code for d in verdict.defects})), outcome)

    def finish(self, ident: int) -> None:
        """File a judged message and mark it done (its reply is already in the outbox)."""
        row = self.store.get(ident)
        if row["state"] != "judged":
            return                    # quarantined: judge() filed it already; filing again made a second copy
        folder = filing.folder_for(row, self.cfg.filing)
        filed = self._file(row, folder)
        self.store.set_state(ident, "done", filed_to=filed)

    def _file(self, row: dict, folder: str | None) -> str | None:
        if not folder or not row.get("uid"):
            return None
        state = self.store.mailbox_state(self.cfg.mailbox.folder)
        if state.get("uidvalidity") != row["uidvalidity"]:
            return None               # the UID is stale; the message stays where it is
        self.connect().file(row["uid"], folder, move=self.cfg.filing.action == "move")
        return folder

    def resume(self, counts: dict) -> None:
        """Carry every message that stopped half-way one step further, oldest first."""
        for row in self.store.pending("received"):
            if self.stop():
                return
            if (row.get("attempts") or 0) >= 3:
                why = f" (last: {row['reason']})" if row.get("reason") else ""
                self._quarantine(row["id"], f"judging failed three times (crash, kill or full disk){why}", counts)
                continue
            if (launched := self._launch_guarded(row["id"], counts)) is not None:
                self._land_guarded(*launched, counts)
        for row in self.store.pending("judged"):
            if self.stop():
                return
            try:
                if not outbox_rows.has_reply(self.store, row["id"]):
                    # stopped between storing the verdict and queueing its reply: judge again to queue it
                    self.judge(row["id"], counts, overrides=saved_overrides(row))
                self.finish(row["id"])
            except NoRoom as e:
                counts["waiting"] += 1
                log.warning("%s", e)
            except Exception as e:
                if not _poison(e):
                    raise
                self._quarantine(row["id"], f"storing, answering or filing failed: {_why(e)}", counts)

    def deliver(self) -> dict:
        return outbox.deliver(self.store, self.transport, self.cfg.smtp.sender, self.cfg.replies.retry_seconds,
                              stop=self.stop)


def _poison(e: BaseException) -> bool:
    """Whether a failure is this message's own (quarantine it and go on) rather than the machine's:
    a full disk, the mailbox going away and a locked or broken database stop the cycle instead. The
    server refusing an operation on this one message (MailboxRefused) is the message's."""
    if isinstance(e, MailboxRefused):
        return True
    if isinstance(e, (MailboxError, sqlite3.OperationalError)) or is_full(e):
        return False
    return type(e) is not sqlite3.DatabaseError and isinstance(e, Exception)


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def _mb(n: int) -> str:
    return f"{n / 1024**2:.1f} MB"


def _free_bytes(path: Path) -> int:
    """Free space for us on the storage filesystem (what an unprivileged writer may use)."""
    return shutil.disk_usage(path).free


def saved_overrides(row: dict) -> dict | None:
    """A staff correction saved on the row (see cli_staff), as judge() takes it."""
    if not row.get("overrides"):
        return None
    over = {k: v for k, v in json.loads(row["overrides"]).items() if v}
    if over.get("date"):
        over["date"] = dt.date.fromisoformat(over["date"])
    return over or None


def _warm_imports() -> None:
    """Import what judging imports lazily, once, here: each forked child inherits it instead of
    importing it again (that cost ~30 ms a message, six times the judging of a plain report)."""
    import email.parser  # noqa: F401

    from daemon.judging.checks import chain
    from daemon.judging.inspect import _registry
    chain()
    _registry()


