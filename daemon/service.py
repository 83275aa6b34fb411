"""The daemon's one poll cycle: fetch → record → judge → store → file → reply, for each new message.

Each step moves the message's row forward (received → judged → filed → done), committed before
the next step starts, so a crash or `kill -9` anywhere resumes at the same step on restart and
nothing is judged or answered twice. Judging runs in a forked child with a time limit: a file that
hangs or crashes a parser quarantines that one message, and the daemon goes on with the next.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from . import filing, outbox, replies
from .config import Config
from .isolate import Judging, is_full as _is_full
from .mailbox import Fetched, MailboxError, open_source
from .mailout import transport as make_transport
from .profile import Profile
from .roster import Roster
from .store import Store, now_iso
from .hashing import sha256_file as _sha256

log = logging.getLogger("ribao")
SPOOL_STALE_SECONDS = 3600


class StorageFull(MailboxError):
    """The storage folder is full. The message in hand stays `received` (nothing is quarantined for
    it, nothing lost) and the cycle stops; the next poll judges it again once there is room. A
    MailboxError, so `ribao run --once` says so in one line and the service retries next poll."""


class Service:
    def __init__(self, cfg: Config, profile: Profile, roster: Roster, *, stop=lambda: False):
        self.cfg, self.profile, self.roster = cfg, profile, roster
        self.store = Store(cfg.storage.path)
        self.source = None
        self.transport = make_transport(cfg.smtp)
        self.stop = stop
        self.own = {a.lower() for a in (cfg.smtp.sender, cfg.mailbox.username, profile.mailbox) if a and "@" in a}
        self.judge_seconds = 600.0
        self.progress = time.monotonic()   # last step forward; the systemd watchdog reads it
        _warm_imports()
        outbox.recover(self.store)
        self.roster.extra_emails.update(self.store.school_emails())

    # ------------------------------------------------------------ the mailbox
    def connect(self):
        if self.source is None:
            self.source = open_source(self.cfg.mailbox, self.store.root / "spool")
        return self.source

    def close(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            finally:
                self.source = None

    def poll_once(self) -> dict:
        """One cycle. With nothing new this costs one round trip to the server."""
        counts = {"new": 0, "judged": 0, "quarantined": 0, "duplicates": 0}
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
                inflight = None          # the previous message, judged while the next one is fetched
                try:
                    for fetched in src.fetch_since(last_uid):
                        self.progress = time.monotonic()
                        ident = self.record(fetched, counts)
                        last_uid = max(last_uid, fetched.uid)
                        self.store.set_mailbox_state(folder, last_uid=last_uid)
                        if inflight is not None:
                            done, inflight = inflight, None
                            self._land(*done, counts)
                        if ident is not None:
                            inflight = (ident, *self._launch(ident))
                        if self.stop():
                            break
                finally:
                    if inflight is not None:
                        self._land(*inflight, counts)
            self.store.set_mailbox_state(folder, last_poll=now_iso(), last_error=None)
        except (MailboxError, OSError, sqlite3.OperationalError) as e:
            if not isinstance(e, MailboxError):
                if not _is_full(e):
                    raise
                e = StorageFull(f"storage folder {self.store.root} is full ({e}): the message in hand is kept "
                                f"and judged by the next poll once there is room")
            with contextlib.suppress(sqlite3.Error):      # a full disk may refuse these too
                self.store.set_mailbox_state(folder, last_error=str(e), last_error_at=now_iso())
                self.store.event("error", str(e))
            self.close()
            raise e from None
        self.deliver()
        return counts

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
            self.store.db.execute("update messages set uid = ?, uidvalidity = ? where id = ?", [uid, new, row["id"]])
            last_known = uid
        return last_known

    # ------------------------------------------------------------ one message
    def record(self, f: Fetched, counts: dict) -> int | None:
        """Write the message's row (and keep the raw mail): from here on it can't be lost.
        Returns the row to judge, or None for a message already known or a copy of one."""
        if self.store.find(f.uidvalidity, f.uid):
            f.path.unlink(missing_ok=True)
            return None
        sha = f.sha256 or _sha256(f.path)
        raw_dir = self.store.root / "raw" / dt.date.today().isoformat()
        raw_dir.mkdir(parents=True, exist_ok=True)
        raw_path = raw_dir / f"{f.uidvalidity}-{f.uid}-{sha[:12]}.eml"
        shutil.move(str(f.path), raw_path)
        dup = self.store.by_message_id(f.message_id) if f.message_id else self.store.by_sha(sha)
        received = (f.internaldate or dt.datetime.now().astimezone()).astimezone(self.profile.tz).isoformat()
        ident = self.store.add_received(uid=f.uid, uidvalidity=f.uidvalidity, folder=self.cfg.mailbox.folder,
                                        raw_path=raw_path, raw_sha256=sha, size=f.size,
                                        message_id=f.message_id or "", received=received,
                                        duplicate_of=dup["id"] if dup else None)
        counts["new"] += 1
        if dup:
            counts["duplicates"] += 1
            log.info("message %s is a copy of %s (same Message-ID): recorded, not judged again", ident, dup["id"])
            return None
        return ident

    def judge(self, ident: int, counts: dict | None = None, overrides: dict | None = None) -> None:
        """Judge (again) and store; filing is the caller's next step (finish)."""
        self._land(ident, *self._launch(ident, overrides), counts, overrides, finish=False)

    def _launch(self, ident: int, overrides: dict | None = None):
        """Start judging a recorded message in its child; returns (judging, workdir)."""
        row = self.store.get(ident)
        received = dt.datetime.fromisoformat(row["received"]) if row.get("received") else None
        workdir = self.store.root / "work" / str(ident)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        self.store.db.execute("update messages set attempts = coalesce(attempts, 0) + 1 where id = ?", [ident])
        judging = Judging(row["raw_path"], self.profile, self.roster, received=received, workdir=workdir,
                          overrides=overrides, thumbs_dir=self.store.root / "thumbs")
        return judging, workdir

    def _land(self, ident: int, judging: Judging, workdir: Path, counts: dict | None = None,
              overrides: dict | None = None, finish: bool = True) -> None:
        """Take the child's answer: store the verdict and queue the reply (or quarantine), then file."""
        try:
            result = judging.result(self.judge_seconds)
            self.progress = time.monotonic()
            if result[0] == "full":
                raise OSError(errno.ENOSPC, f"no space left while judging message {ident}: {result[1]}")
            if result[0] == "ok":
                _, verdict, headers = result
                self.store.save_verdict(ident, verdict, school_how=(overrides and "staff") or "")
                self._queue_reply(ident, verdict, headers)
                if counts is not None:
                    counts["judged"] += 1
            else:
                self.store.set_state(ident, "quarantined", reason=result[1][:500], judged_at=now_iso())
                row = self.store.get(ident)
                try:
                    self.store.set_state(ident, "quarantined",
                                         filed_to=self._file(row, filing.folder_for(row, self.cfg.filing)))
                except MailboxError:
                    pass
                self.store.event("error", f"message {ident} quarantined: {result[1][:300]}")
                log.error("message %s quarantined: %s", ident, result[1])
                if counts is not None:
                    counts["quarantined"] += 1
        except (OSError, sqlite3.OperationalError) as e:
            if _is_full(e):          # free what the child wrote, and don't count this as a failed attempt
                shutil.rmtree(workdir, ignore_errors=True)
                with contextlib.suppress(sqlite3.Error):
                    self.store.db.execute("update messages set attempts = max(0, attempts - 1) where id = ?", [ident])
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if finish:
            self.finish(ident)

    def _queue_reply(self, ident: int, verdict, headers: dict) -> None:
        sender = self.cfg.smtp.sender
        outcome = replies.enqueue_reply(self.store, ident, verdict, self.profile, headers, sender=sender,
                                        own=self.own, cfg=self.cfg.replies, tz=self.profile.tz)
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
                self.store.set_state(row["id"], "quarantined", reason="judging failed three times (crash or kill)")
                continue
            self.judge(row["id"], counts)
            self.finish(row["id"])
        for row in self.store.pending("judged"):
            if self.stop():
                return
            if not self.store.db.execute("select 1 from outbox where message = ? and kind = 'reply'",
                                         [row["id"]]).fetchone():
                # stopped between storing the verdict and queueing its reply: judge again to queue it
                self.judge(row["id"], counts, overrides=_overrides(row))
            self.finish(row["id"])

    def deliver(self) -> dict:
        return outbox.deliver(self.store, self.transport, self.cfg.smtp.sender, self.cfg.replies.retry_seconds,
                              stop=self.stop)


def _overrides(row: dict) -> dict | None:
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
    from .checks import chain
    from .inspect import _registry
    chain()
    _registry()


