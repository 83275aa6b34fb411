"""A local Maildir as the mailbox: the embedded default, so the whole daemon runs on a fresh
machine with no mail server. UIDs are kept in `ribao-uidlist` beside the Maildir's folders,
the way Dovecot keeps dovecot-uidlist; folders are Maildir++ sub-folders."""
from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import shutil
import time
from pathlib import Path

from daemon.intake import HEAD_BYTES, Fetched, FolderState, MailboxError, head_facts, message_id_of, parse_head
from daemon.store import pagecache


class MaildirSource:
    def __init__(self, cfg, spool: Path):
        self.root = Path(cfg.path)
        self.spool = Path(spool)
        self.cfg = cfg
        self.md: mailbox.Maildir | None = None
        self.uids: dict = {}

    def _open(self) -> mailbox.Maildir:
        if self.md is None:
            if not self.root.exists():
                raise MailboxError(f"maildir {self.root} not found: check [mailbox] path")
            self.md = mailbox.Maildir(str(self.root), create=False)
        return self.md

    @property
    def _uidfile(self) -> Path:
        return self.root / "ribao-uidlist"

    def _load(self) -> dict:
        if self._uidfile.exists():
            return json.loads(self._uidfile.read_text())
        return {"uidvalidity": int(time.time()), "next": 1, "keys": {}}

    def _save(self, data: dict) -> None:
        tmp = self._uidfile.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._uidfile)

    def select(self) -> FolderState:
        md = self._open()
        data = self._load()
        keys = data["keys"]
        new = sorted(k for k in md.iterkeys() if k not in keys)
        for k in new:             # Maildir names start with the delivery time: sorted = arrival order
            keys[k] = data["next"]
            data["next"] += 1
        if new or not self._uidfile.exists():
            self._save(data)
        self.uids = data
        return FolderState(uidvalidity=data["uidvalidity"], uidnext=data["next"], exists=len(keys))

    def fetch_since(self, last_uid: int):
        if not self.uids:
            self.select()
        md = self._open()
        self.spool.mkdir(parents=True, exist_ok=True)
        for key, uid in sorted(self.uids["keys"].items(), key=lambda kv: kv[1]):
            if uid <= last_uid:
                continue
            try:
                src = Path(md._path) / md._lookup(key)      # the file itself: copied; only its head is parsed
            except KeyError:
                continue
            target = self.spool / f"md-{self.uids['uidvalidity']}-{uid}.eml"
            shutil.copyfile(src, target)
            pagecache.drop(target)            # nothing is clean yet: this starts its writeback
            with open(target, "rb") as fh:
                mid, sender = head_facts(fh.read(HEAD_BYTES))
            mtime = dt.datetime.fromtimestamp(src.stat().st_mtime).astimezone()
            yield Fetched(uid=uid, uidvalidity=self.uids["uidvalidity"], path=target, size=target.stat().st_size,
                          internaldate=mtime, message_id=mid, sender=sender)

    def uid_message_ids(self) -> dict[int, str]:
        md = self._open()
        out = {}
        for key, uid in self.uids.get("keys", {}).items():
            try:
                with md.get_file(key) as fh:
                    head = parse_head(fh.read(HEAD_BYTES))
                out[uid] = message_id_of(head) or ""
            except KeyError:
                continue
        return out

    def file(self, uid: int, folder: str, move: bool = False) -> None:
        md = self._open()
        if not self.uids:          # a staff command files without a poll first
            self.select()
        key = next((k for k, u in self.uids["keys"].items() if u == uid), None)
        if key is None:
            return
        name = ".".join(p.replace(".", "_") for p in folder.split("/") if p)
        try:
            sub = md.get_folder(name)
        except mailbox.NoSuchMailboxError:
            sub = md.add_folder(name)
        src = Path(md._path) / md._lookup(key)
        target_dir = Path(sub._path) / "cur"
        target = target_dir / src.name
        if not target.exists():             # the message's time kept (Maildir readers date by it), 0600
            tmp = Path(sub._path) / "tmp" / src.name
            shutil.copyfile(src, tmp)
            st = src.stat()
            os.chmod(tmp, 0o600)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.replace(tmp, target)
        if move:
            src.unlink()         # a move within the Maildir: the copy above is the message now

    def wait(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True

    def close(self) -> None:
        self.md = None
