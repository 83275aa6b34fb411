"""`ribao purge --before D` and `[storage] keep_days`: let a finished week go.

A purged day keeps everything the bureau counts (messages, verdicts, defects, corrections,
submissions, the materials' names, sizes and hashes) and loses what is heavy and personal: the
raw mail, the decoded attachments, their blobs and the digest thumbnails. A message's day is the
day its report covers (else the day it arrived): the same day its attachments are filed under.
Purged rows have `raw_path` and `stored_path` cleared, so nothing tries to open them again.
Blobs go only when no kept attachment links to them. What was removed is recorded in
`corrections` (action "purge") with its counts and bytes.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from daemon.store import purge_rows, thumbs

log = logging.getLogger("ribao.storage")


class PurgeRefused(RuntimeError):
    """Something of those days is still in flight (one plain line says what and what to do)."""


def _inside(root: Path, rel: str | None) -> Path | None:
    if not rel:
        return None
    p = Path(rel) if os.path.isabs(rel) else root / rel
    try:
        p.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return p


def _unlink(p: Path | None, tally: dict, key: str) -> None:
    """Remove one file (not a directory, never through a symlinked folder) and count its bytes."""
    if p is None:
        return
    try:
        st = p.lstat()
        if not p.is_symlink() and p.is_dir():
            return
        p.unlink()
    except FileNotFoundError:
        return
    tally[key + "_files"] = tally.get(key + "_files", 0) + 1
    if st.st_nlink <= 1:            # the bytes leave the disk only with the last link
        tally[key + "_bytes"] = tally.get(key + "_bytes", 0) + st.st_size


def check(store, before: dt.date) -> None:
    """Raise PurgeRefused while a message of those days is being judged or a reply to it is unsent."""
    d = before.isoformat()
    busy = purge_rows.busy_message(store, d)
    if busy:
        raise PurgeRefused(f"message #{busy[0]} of those days is still being judged (state {busy[1]}): "
                           f"let `ribao run` finish it, then purge again")
    unsent = purge_rows.unsent_mail(store, d)
    if unsent:
        what = f"the reply to message #{unsent[2]}" if unsent[2] else f"outbox mail #{unsent[0]}"
        raise PurgeRefused(f"{what} is still unsent (outbox {unsent[1]}): let `ribao run` send it "
                           f"(or wait for its retries to end), then purge again")


def purge(store, before: dt.date) -> dict:
    """Delete raw mail, attachments, blobs and thumbnails of days before `before`; returns the tally
    (also recorded in corrections when anything was removed)."""
    check(store, before)
    root, d = store.root, before.isoformat()
    ids = purge_rows.with_files(store, d)
    tally: dict = {"before": d, "messages": len(ids)}
    if not ids:
        return tally
    mats, raws = purge_rows.files_of(store, ids)
    # the database first: from here on nothing points at the files, so a crash leaves at worst
    # files no row names, which the next purge's sweep of those days' folders removes
    purge_rows.forget_files(store, ids)
    for raw in raws:
        _unlink(_inside(root, raw), tally, "raw")
    for _, _, rel in mats:
        _unlink(_inside(root, rel), tally, "attachments")
    _sweep_days(root, d, store, tally)
    _sweep_raw(root, d, store, tally)
    kept = purge_rows.kept_hashes(store)
    for sha in {m[1] for m in mats if m[1]} - kept:
        if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha):
            _unlink(root / "blobs" / sha[:2] / sha, tally, "blobs")
            _unlink(thumbs.cache_path(root / "thumbs", sha), tally, "thumbnails")
    upto = min(d, dt.date.today().isoformat())      # today's folders may be in use by the poll
    _prune_empty(root / "raw", upto)
    _prune_empty(root / "attachments", upto)
    tally["freed_bytes"] = sum(v for k, v in tally.items() if k.endswith("_bytes"))
    store.correction("purge", None, tally)
    log.info("purge before %s: %s messages, %s bytes freed", d, len(ids), tally["freed_bytes"])
    return tally


def _sweep_days(root: Path, before: str, store, tally: dict) -> None:
    """Files left in attachments/<day>/ of purged days that no kept row names (an earlier verdict's)."""
    base = root / "attachments"
    named = purge_rows.stored_paths(store)
    for day in base.iterdir() if base.is_dir() else ():
        if not (day.is_dir() and not day.is_symlink() and len(day.name) == 10 and day.name < before):
            continue
        for dirpath, _, files in os.walk(day):
            for f in files:
                p = Path(dirpath) / f
                if str(p.relative_to(root)) not in named:
                    _unlink(p, tally, "attachments")


def _sweep_raw(root: Path, before: str, store, tally: dict) -> None:
    """Raw mail no row names, in raw/<day received>/ folders older than yesterday and than D (a
    purge cut short, or a fetch cut short before its row was written; today's folder is in use)."""
    base = root / "raw"
    upto = min(before, (dt.date.today() - dt.timedelta(days=1)).isoformat())
    named = {str(Path(p).resolve()) for p in purge_rows.raw_paths(store)}
    for day in base.iterdir() if base.is_dir() else ():
        if day.is_dir() and not day.is_symlink() and len(day.name) == 10 and day.name < upto:
            for p in day.iterdir():
                if p.is_file() and str(p.resolve()) not in named:
                    _unlink(p, tally, "raw")


def _prune_empty(base: Path, before: str) -> None:
    """Remove empty folders under base/<day>/ for days before `before`."""
    for dirpath, _, _ in sorted(os.walk(base), key=lambda t: -len(t[0])):
        rel = Path(dirpath).relative_to(base).parts
        if rel and rel[0] < before:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def scheduled(cfg, store, today: dt.date | None = None) -> dict | None:
    """`[storage] keep_days`: purge what is older than that many days (None when off or refused)."""
    keep = cfg.storage.keep_days
    if not keep or keep <= 0:
        return None
    before = (today or dt.date.today()) - dt.timedelta(days=keep)
    try:
        return purge(store, before)
    except PurgeRefused as e:
        log.warning("keep_days purge before %s put off: %s", before, e)
        return None


_done: dict[str, dt.date] = {}      # what daily() did today, per storage folder ("purge", "warn")


def daily(cfg, store, today: dt.date) -> None:
    """The scheduler's storage work: the keep_days purge once a day, and one log warning a day
    while free space is under two busiest days' intake."""
    from daemon.storage.usage import human, low_space
    key = str(store.root)
    if _done.get(key + ":purge") != today:
        if scheduled(cfg, store, today) is not None or not cfg.storage.keep_days:
            _done[key + ":purge"] = today        # refused: tried again next hour
    low = low_space(store.root, store.db)
    if low and _done.get(key + ":warn") != today:
        _done[key + ":warn"] = today
        log.warning("storage %s: %s free, under two busiest days' intake (%s a day): add disk, or "
                    "`ribao export` then `ribao purge --before D`", store.root, human(low["free_bytes"]),
                    human(low["busiest_bytes"]))
