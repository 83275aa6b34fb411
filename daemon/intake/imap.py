"""The bureau's mailbox over IMAP (NetEase 163/126, QQ, Exchange, Dovecot...), via imapclient.

One connection, kept open with the folder selected, reconnected on the next call after it drops.

Cost of an idle poll: select() on the already selected folder sends ONE NOOP. RFC 3501 makes the
server report new or vanished mail on it as untagged EXISTS/RECENT/EXPUNGE; imaplib collects those
(and any that came with earlier commands or IDLE). Only when one came, or the last full SELECT is
older than RESYNC_SECONDS (a safety net for servers that announce lazily), does select() SELECT
again for a fresh UIDVALIDITY/UIDNEXT. fetch_since() then sees UIDNEXT <= last_uid+1 and sends
nothing: a quiet 20,000-message mailbox costs one NOOP per poll.
"""
from __future__ import annotations

import imaplib
import re
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Iterator

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

from daemon import __version__
from daemon.intake import Fetched, FolderState, MailboxError, MailboxRefused, head_facts, message_id_of, parse_head
from daemon.intake.order import FetchPlan, Planned, sender_key
from daemon.intake.spool import SpoolFile, streamed_literals

RESYNC_SECONDS = 300          # SELECT at least this often even when NOOP announced nothing
IDLE_SECONDS = 25 * 60        # re-IDLE well before the 29 minutes after which servers may drop us (RFC 2177)
BATCH_BYTES = 1_000_000       # small messages are fetched together, up to this many bytes per FETCH
BATCH_COUNT = 50
RECHECK_SECONDS = 5           # during a long fetch, look for new mail this often (one NOOP)
FROM_BYTES = 1024             # the From: header read to plan the fetch order, at most
_LOST = (OSError, EOFError, imaplib.IMAP4.abort)     # the connection is gone (ssl.SSLError is an OSError)
_NO = imaplib.IMAP4.error                            # the server said NO/BAD (abort is a subclass: catch _LOST first)
_NEWS = ("EXISTS", "RECENT", "EXPUNGE", "VANISHED", "UIDVALIDITY", "UIDNEXT")


def _text(e: BaseException) -> str:
    """The server's words out of an imapclient error ("select failed: NO [..] text" -> "NO [..] text")."""
    s = str(e)
    for sep in (" failed: ", " command error: "):
        s = s.split(sep, 1)[-1]
    s = re.sub(r"""\bb(['"])(.*?)\1""", r"\2", s)     # imaplib's b'...' reprs
    return s.strip() or type(e).__name__


def _soft(call, *args) -> bool:
    """call(*args); False when the server merely refused (a dropped connection still raises)."""
    try:
        call(*args)
        return True
    except _LOST:
        raise
    except _NO:
        return False


def _message_id(header: bytes | None) -> str | None:
    """Message-ID from a header block (or a whole message), unfolded, raw 8-bit bytes kept (see
    message_id_of); None when there is none."""
    return message_id_of(parse_head(header)) if header else None


class ImapSource:
    def __init__(self, cfg, spool: Path):
        self.cfg = cfg
        self.spool = Path(spool)
        self.where = f"{cfg.host}:{cfg.port}"
        self._c: IMAPClient | None = None
        self._state: FolderState | None = None      # kept after a drop: UIDs mean something only under it
        self._selected_at = 0.0
        self._changed = False                       # IDLE saw something since the last SELECT
        self._path: tuple[str, str] | None = None   # (namespace prefix, hierarchy delimiter), for file()
        self.hint = threading.Event()               # set from another thread (IDLE): new mail, look now
        self.order_key = lambda sender: sender      # the daemon maps a sender to its school (fetch order)

    # ---- errors: one line, host:port or folder, and the fix; never the password -------------------------
    def _fail(self, msg: str, cls=MailboxError) -> MailboxError:
        msg = " ".join(msg.split())
        return cls(msg.replace(self.cfg.password, "***") if self.cfg.password else msg)

    def _explain(self, e: BaseException) -> MailboxError:
        w, cfg = self.where, self.cfg
        sec = "check [mailbox] security (\"tls\" for port 993, \"starttls\" for 143)"
        if isinstance(e, socket.gaierror):
            return self._fail(f"cannot find IMAP server {cfg.host!r} ({e.strerror}): check [mailbox] host")
        if isinstance(e, ConnectionRefusedError):
            return self._fail(f"cannot reach IMAP server {w} (connection refused): check [mailbox] host and port")
        if isinstance(e, TimeoutError):
            return self._fail(f"IMAP server {w} did not answer within {cfg.timeout:g} s: check [mailbox] host and "
                              f"port, the firewall, and [mailbox] security (\"tls\" for 993, \"starttls\" for 143)")
        if isinstance(e, ssl.SSLCertVerificationError):
            return self._fail(f"IMAP server {w}: TLS certificate not trusted ({e.verify_message}): set [mailbox] "
                              f"ca_file to its CA certificate, or verify_tls = false")
        if isinstance(e, ssl.SSLError):
            return self._fail(f"IMAP server {w}: TLS failed ({e.reason or e}): {sec}")
        if isinstance(e, (imaplib.IMAP4.abort, EOFError)):
            return self._fail(f"IMAP server {w} closed the connection ({_text(e)}): it may be restarting; "
                              f"if this persists check [mailbox] host, port and security")
        if isinstance(e, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            return self._fail(f"the connection to IMAP server {w} was cut ({e.strerror or e}): the next poll "
                              f"reconnects and fetches what is missing; if this persists check the network")
        if isinstance(e, OSError):
            return self._fail(f"cannot reach IMAP server {w} ({e.strerror or e}): check [mailbox] host and port")
        return self._fail(f"IMAP server {w} refused the connection ({_text(e)})")

    # ---- connection -------------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=self.cfg.ca_file or None)
        except OSError as e:
            raise self._fail(f"[mailbox] ca_file: cannot read {self.cfg.ca_file} ({e.strerror or e})") from None
        if not self.cfg.verify_tls:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        return ctx

    def _open(self) -> None:
        """Connect, (STARTTLS,) log in, send ID, SELECT; every failure becomes one MailboxError line."""
        self._drop()
        cfg, w = self.cfg, self.where
        ctx = self._ssl_context() if cfg.security in ("tls", "starttls") else None
        c = None
        try:
            c = IMAPClient(cfg.host, cfg.port, ssl=cfg.security == "tls", ssl_context=ctx, timeout=cfg.timeout)
            c.normalise_times = False            # aware INTERNALDATEs
            # imapclient sets imaplib's debug level to 5, and imaplib then formats a repr of every
            # fetched message (two extra copies, a quarter of the poll's time) even with logging off
            c._imap.debug = 0
            if cfg.security == "starttls":
                if not c.has_capability("STARTTLS"):
                    raise self._fail(f"IMAP server {w} does not offer STARTTLS: set [mailbox] security = \"tls\" "
                                     f"and its TLS port (usually 993)")
                c.starttls(ctx)
            # imaplib's LOGIN is ASCII-only; AUTHENTICATE PLAIN carries UTF-8
            login = c.login if (cfg.username + cfg.password).isascii() else c.plain_login
            try:
                login(cfg.username, cfg.password)
            except _LOST:
                raise
            except _NO as e:
                raise self._fail(f"IMAP login as {cfg.username!r} at {w} refused ({_text(e)}): check [mailbox] "
                                 f"username and password (163/126/QQ want the client authorization code, with "
                                 f"IMAP enabled in the web mail settings)") from None
            if c.has_capability("ID"):           # NetEase refuses SELECT from clients that don't say who they are
                _soft(c.id_, {"name": cfg.client_id, "version": __version__, "vendor": "ribao"})
            self._c = c
            self._select()
        except MailboxError:
            self._drop(c)
            raise
        except (*_LOST, _NO) as e:
            self._drop(c)
            raise self._explain(e) from None

    def _drop(self, c: IMAPClient | None = None) -> None:
        c = c or self._c
        self._c, self._path = None, None
        if c is not None:
            try:
                c.shutdown()
            except Exception:
                pass

    def _select(self) -> FolderState:
        c, folder = self._c, self.cfg.folder
        try:
            r = c.select_folder(folder)
        except _LOST:
            raise
        except _NO as e:
            raise self._fail(f"IMAP folder {folder!r} cannot be opened at {self.where} ({_text(e)}): check "
                             f"[mailbox] folder") from None
        c._imap.untagged_responses.clear()       # the SELECT's own EXISTS etc. are not news
        if b"UIDVALIDITY" not in r:
            raise self._fail(f"IMAP server {self.where} gives no UIDVALIDITY for {folder!r}: it cannot be used")
        uidnext = r.get(b"UIDNEXT")
        if uidnext is None:                      # left out by a few old servers: ask for the highest UID
            uidnext = max([0, *(self._uid_fetch("*", "(UID)") if r[b"EXISTS"] else ())]) + 1
        self._state = FolderState(int(r[b"UIDVALIDITY"]), int(uidnext), int(r[b"EXISTS"]))
        self._selected_at, self._changed = time.monotonic(), False
        return self._state

    def _quiet(self) -> bool:
        """One NOOP; True when the server announced nothing that could move UIDNEXT or UIDVALIDITY."""
        if self._changed or time.monotonic() - self._selected_at > RESYNC_SECONDS:
            return False
        return not self._arrived()

    def _uid_fetch(self, uids: str, items: str) -> dict:
        """UID FETCH of a range such as "5:*" in one command (imapclient's fetch() takes only UID lists)."""
        typ, data = self._c._imap.uid("FETCH", uids, items)
        if typ != "OK":
            raise _NO(f"FETCH failed: {_text(data[0] if data else typ)}")
        return parse_fetch_response(data, False, True)

    def _run(self, op, what: str):
        """op() on the open connection; after a drop, reconnect once and rerun it — unless UIDVALIDITY
        changed meanwhile, since the UIDs op works on would now name other messages."""
        known = self._state.uidvalidity if self._state else None
        try:
            if self._c is not None:
                try:
                    return op()
                except _LOST:
                    self._drop()
            self._open()
            if known is not None and self._state.uidvalidity != known:
                raise self._fail(f"IMAP folder {self.cfg.folder!r} at {self.where} changed UIDVALIDITY "
                                 f"({known} -> {self._state.uidvalidity}): select() and map the UIDs again")
            return op()
        except _LOST as e:
            self._drop()
            raise self._explain(e) from None
        except MailboxError:
            raise
        except _NO as e:
            raise self._fail(f"IMAP server {self.where} refused to {what} ({_text(e)})", MailboxRefused) from None

    # ---- the source interface ---------------------------------------------------------------------------
    def select(self) -> FolderState:
        if self._c is not None:
            try:
                return self._state if self._quiet() else self._select()
            except (*_LOST, _NO):                # NO to a NOOP is odd too: start afresh
                self._drop()
        self._open()
        return self._state

    def fetch_since(self, last_uid: int) -> Iterator[Fetched]:
        """Messages with UID > last_uid (against the last select()), each written to a spool file before
        it is yielded: small mail first, each sender's in UID order (daemon/intake/order.py), and a long
        fetch looks for newly arrived mail every RECHECK_SECONDS. A large message goes to disk in pieces
        as it comes off the socket (daemon/intake/spool.py). BODY.PEEK never sets \\Seen. A dropped
        connection ends the iteration with MailboxError; the next call reconnects."""
        state = self._state if self._c is not None else self.select()
        if state.uidnext <= last_uid + 1:
            return
        try:
            plan = FetchPlan(last_uid)
            plan.add(self._plan(last_uid + 1))
            checked = time.monotonic()
            while plan:
                if self.hint.is_set() or time.monotonic() - checked > RECHECK_SECONDS:
                    self.hint.clear()
                    checked = time.monotonic()
                    if self._arrived():
                        plan.add(self._plan(plan.top + 1))
                batch = plan.next_batch(BATCH_BYTES, BATCH_COUNT)
                got = (self._fetch_streamed(batch[0], state.uidvalidity) if batch[0].size > BATCH_BYTES
                       else self._fetch_batch(batch, state.uidvalidity))
                for p in batch:                  # expunged meanwhile: nothing to hand over
                    if p.uid not in got:
                        plan.done(p.uid)
                for p in batch:
                    if p.uid in got:
                        fetched = got.pop(p.uid)
                        plan.done(p.uid)
                        fetched.watermark = plan.watermark
                        yield fetched
        except _LOST as e:
            self._drop()
            raise self._explain(e) from None
        except _NO as e:
            raise self._fail(f"IMAP fetch from {self.cfg.folder!r} at {self.where} failed ({_text(e)})") from None

    def _plan(self, first: int) -> list[Planned]:
        """Size and sender of every message from UID `first` on, in one FETCH (From cut at 1 KB)."""
        items = self._uid_fetch(f"{first}:*", f"(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM)]<0.{FROM_BYTES}>)")
        return [Planned(uid, int(item.get(b"RFC822.SIZE") or 0), self.order_key(
                    sender_key(next((v for k, v in item.items() if k.upper().startswith(b"BODY[")), b""))))
                for uid, item in items.items() if uid >= first]   # "N:*" also names the top one

    def _arrived(self) -> bool:
        """One NOOP in the middle of a long fetch: whether the server announced new mail."""
        self._c.noop()
        pending = self._c._imap.untagged_responses
        news = any(k in pending for k in _NEWS)
        pending.clear()                          # also unsolicited FETCH (flag changes): not ours to keep
        self._changed = self._changed or news     # the next select() SELECTs afresh
        return news

    def _fetched(self, uid: int, uidvalidity: int, item: dict, spooled: SpoolFile) -> Fetched:
        mid, sender = head_facts(spooled.head)
        return Fetched(uid=uid, uidvalidity=uidvalidity, path=spooled.path, size=item.get(b"RFC822.SIZE", spooled.size),
                       internaldate=item.get(b"INTERNALDATE"), message_id=mid, sha256=spooled.sha256, sender=sender)

    def _fetch_streamed(self, planned: Planned, uidvalidity: int) -> dict[int, Fetched]:
        """One large message, straight from the socket to the spool."""
        if self._c is None:                      # dropped by a file() between our yields
            raise EOFError("connection dropped")
        uid = planned.uid
        sink = SpoolFile(self.spool, f"imap-{uidvalidity}-{uid}-", hashing=False)
        try:
            with streamed_literals(self._c._imap, sink):
                resp = self._c.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
            item = resp.get(uid) or {}
            if not sink.used:                    # smaller than streaming is worth, or expunged meanwhile
                if item.get(b"BODY[]") is None:
                    sink.discard()
                    return {}
                sink.write(item[b"BODY[]"])
            sink.close()
        except BaseException:
            sink.discard()
            raise
        return {uid: self._fetched(uid, uidvalidity, item, sink)}

    def _fetch_batch(self, batch: list[Planned], uidvalidity: int) -> dict[int, Fetched]:
        if self._c is None:                      # dropped by a file() between our yields
            raise EOFError("connection dropped")
        resp = self._c.fetch([p.uid for p in batch], ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
        out = {}
        for p in batch:
            item = resp.pop(p.uid, None) or {}
            raw = item.get(b"BODY[]")
            if raw is None:                      # expunged meanwhile
                continue
            sink = SpoolFile(self.spool, f"imap-{uidvalidity}-{p.uid}-")
            try:
                sink.write(raw)
                sink.close()
            except BaseException:
                sink.discard()
                raise
            out[p.uid] = self._fetched(p.uid, uidvalidity, item, sink)
        return out

    def uid_message_ids(self) -> dict[int, str]:
        """{uid: Message-ID} of the whole folder in one FETCH, to re-map after a UIDVALIDITY change."""
        def op():
            if not self._state.exists:
                return {}
            out = {}
            for uid, item in self._uid_fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])").items():
                mid = _message_id(next((v for k, v in item.items() if k.upper().startswith(b"BODY[HEADER")), None))
                if mid:
                    out[uid] = mid
            return out
        return self._run(op, f"list the Message-IDs in {self.cfg.folder!r}")

    def file(self, uid: int, folder: str, move: bool = False) -> None:
        """Copy (or MOVE where offered; never delete) into folder "a/b/c", its levels created with the
        server's delimiter and subscribed. COPY comes first: one command when the folder exists."""
        def op():
            c = self._c
            if self._path is None:
                listing = c.list_folders("", "")
                delim = (listing[0][1] if listing else None) or b"/"     # NIL: a flat server
                ns = c.namespace().personal if c.has_capability("NAMESPACE") else None
                self._path = ((ns[0][0] or "") if ns else "", delim.decode() if isinstance(delim, bytes) else delim)
            prefix, delim = self._path
            parts = [p.strip().replace(delim, "_") for p in folder.split("/") if p.strip()]
            transfer = c.move if move and c.has_capability("MOVE") else c.copy
            if _soft(transfer, [uid], prefix + delim.join(parts)):
                return
            for i in range(1, len(parts) + 1):  # NO [TRYCREATE]: create each level (existing ones say NO)
                _soft(c.create_folder, prefix + delim.join(parts[:i]))
                _soft(c.subscribe_folder, prefix + delim.join(parts[:i]))
            transfer([uid], prefix + delim.join(parts))
        self._run(op, f"file UID {uid} into {folder!r}")

    def can_idle(self) -> bool:
        """Connect (and SELECT) if need be; True when cfg.idle is on and the server offers IDLE after login.
        A server that can't be reached raises MailboxError, like select()."""
        if self._c is None:
            self._open()
        return bool(self.cfg.idle) and self._c.has_capability("IDLE")

    def _keepalive(self) -> None:
        """TCP keepalive on the IDLE socket: a server that vanished without a FIN (NAT timeout, cable)
        is noticed within ~2 minutes instead of at the next re-IDLE."""
        sock = self._c.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for opt, val in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 20), ("TCP_KEEPCNT", 3)):
                if hasattr(socket, opt):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), val)
        except OSError:
            pass

    def wait(self, seconds: float) -> bool:
        """IDLE on this source's own connection (opened here if need be) until the server announces new
        mail (True) or `seconds` pass (False); IDLE is re-issued every IDLE_SECONDS, before the 29 minutes
        after which servers may drop an idle client (RFC 2177). Where IDLE is off or missing it sleeps and
        returns True ("look again"). A connection that can't be made or drops raises MailboxError: nothing
        new is known, and the caller decides when to reconnect."""
        deadline = time.monotonic() + seconds
        if not self.can_idle():
            time.sleep(seconds)
            return True
        c = self._c
        try:
            self._keepalive()
            while (left := deadline - time.monotonic()) > 0:
                c.idle()
                early = c._imap.untagged_responses      # news sent before the server's "+ idling"
                news = "EXISTS" in early
                early.clear()
                try:
                    resps = [] if news else c.idle_check(timeout=min(left, IDLE_SECONDS))
                finally:
                    _, more = c.idle_done()
                if news:
                    self._changed = True
                    return True
                for r in resps + more:
                    kind = r[1] if len(r) > 1 and isinstance(r[0], int) else r[0]
                    if kind == b"BYE":
                        raise EOFError("BYE")
                    if kind in (b"EXISTS", b"RECENT", b"EXPUNGE"):
                        self._changed = True
                        if kind == b"EXISTS" or (kind == b"RECENT" and r[0] > 0):
                            return True
            return False
        except (*_LOST, _NO) as e:
            self._drop()
            raise self._explain(e) from None

    def close(self) -> None:
        c, self._c = self._c, None
        if c is not None:
            try:
                c.logout()
            except Exception:
                self._drop(c)
