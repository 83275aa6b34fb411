"""A real, private Dovecot IMAP server on 127.0.0.1 for the tests.

Started as a child of the test process (we are root; Dovecot drops to `dovenull` for logins,
`dovecot` for auth and `nobody` for mail access). Everything it writes — config, runtime
sockets, state, log, the Maildir — lives under `base_dir`, which must be traversable by those
users (use a fresh `tempfile.mkdtemp()` under /tmp, not pytest's 0700 tmp_path: its unix
socket paths would also get too long).

    d = Dovecot(base_dir); d.start()
    uid = d.append(raw_bytes)               # APPEND, returns the UID (UIDPLUS)
    c = d.client()                          # a logged-in imapclient.IMAPClient
    d.restart(); d.stop(); d.kill()
    d.force_uidvalidity_change()            # INBOX gets a new UIDVALIDITY and new UIDs
"""
from __future__ import annotations

import atexit
import datetime as dt
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from imapclient import IMAPClient

from . import HOST, free_port, self_signed_cert

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
MAIL_UID = MAIL_GID = 65534          # nobody/nogroup: Dovecot refuses mail access as root

CONF = """\
# written by tests/servers/dovecot.py — a private test instance, Dovecot 2.3 syntax
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = {host}
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
ssl = {ssl}
{ssl_files}
auth_mechanisms = plain login
disable_plaintext_auth = no
mail_location = maildir:{base}/mail:LAYOUT=fs
mail_plugins =
mailbox_idle_check_interval = 1 secs
imap_id_log = *
{capability}
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class DovecotError(RuntimeError):
    pass


_LIVE: set["Dovecot"] = set()


@atexit.register
def _kill_leftovers() -> None:
    """A test run interrupted past its fixtures' finalizers must not leave a Dovecot behind."""
    for d in list(_LIVE):
        d.kill()


class Dovecot:
    host = HOST
    user = "bureau@example.test"
    password = "s3cret-pw-42"

    def __init__(self, base_dir: Path, port: int | None = None, *, tls: bool = False, separator: str = "/",
                 capabilities: str | None = None):
        """tls: also STARTTLS on .port and implicit TLS on .imaps_port, with a self-signed .cert.
        separator: the IMAP hierarchy delimiter ("/" or "."). capabilities: replaces the CAPABILITY list
        advertised after login, to play an older server (e.g. "IMAP4rev1 UIDPLUS": no IDLE, MOVE, ID)."""
        if DOVECOT is None:
            raise DovecotError("dovecot is not installed (apt-get install dovecot-imapd): the IMAP tests need it")
        self.base_dir = Path(base_dir).resolve()
        self.port = port or free_port()
        self.tls = tls
        self.imaps_port = free_port() if tls else 0
        self.separator = separator
        self.capabilities = capabilities
        self.maildir = self.base_dir / "mail"
        self.conf = self.base_dir / "dovecot.conf"
        self.log = self.base_dir / "dovecot.log"
        self.cert = self.key = None
        self._proc: subprocess.Popen | None = None
        self._write_config()

    # ---- setup ---------------------------------------------------------------------------------
    def _write_config(self) -> None:
        b = self.base_dir
        b.mkdir(parents=True, exist_ok=True)
        b.chmod(0o755)
        for parent in b.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise DovecotError(f"{parent} is not traversable by other users; give Dovecot a base_dir under /tmp")
        for d in ("mail", "home"):
            (b / d).mkdir(exist_ok=True)
            os.chown(b / d, MAIL_UID, MAIL_GID)
        (b / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        (b / "users").chmod(0o644)
        ssl_files = ""
        if self.tls:
            self.cert, self.key = self_signed_cert(b / "tls")
            ssl_files = f"ssl_cert = <{self.cert}\nssl_key = <{self.key}"
            if os.path.exists("/usr/share/dovecot/dh.pem"):
                ssl_files += "\nssl_dh = </usr/share/dovecot/dh.pem"
        self.conf.write_text(CONF.format(
            base=b, host=self.host, port=self.port, imaps_port=self.imaps_port,
            ssl="yes" if self.tls else "no", ssl_files=ssl_files, separator=self.separator,
            uid=MAIL_UID, gid=MAIL_GID,
            capability=f"imap_capability = {self.capabilities}" if self.capabilities else ""))

    # ---- life cycle ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> "Dovecot":
        if self.running:
            return self
        # its own session, so stop()/kill() can reach every child (imap, imap-login, auth) by group
        self._proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace")
                self._proc = None
                _LIVE.discard(self)
                raise DovecotError(f"dovecot exited at start: {err.strip()} {self.log_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(200).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise DovecotError(f"dovecot did not answer on {self.host}:{self.port}: {self.log_text()[-2000:]}")
            time.sleep(0.05)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Dovecot says BYE to its clients and exits; then anything left in the group is killed."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)
        self._proc.wait()
        self._proc.stderr.close()
        self._proc = None
        _LIVE.discard(self)
        self._wait_port_free()

    def kill(self) -> None:
        """SIGKILL the whole process group: the server vanishes without a BYE."""
        if self._proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self._proc.wait()
        self._proc.stderr.close()
        self._proc = None
        _LIVE.discard(self)
        self._wait_port_free()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_port_free(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)

    # ---- helpers for tests ---------------------------------------------------------------------
    def client(self) -> IMAPClient:
        c = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        c.login(self.user, self.password)
        return c

    def append(self, raw: bytes, folder: str = "INBOX", flags=(), date: dt.datetime | None = None) -> int:
        """APPEND through IMAP (so the indexes stay right) and return the new UID."""
        with self.client() as c:
            if folder != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            resp = c.append(folder, raw, flags=flags, msg_time=date)
        m = re.search(rb"APPENDUID \d+ (\d+)", resp)
        if not m:
            raise DovecotError(f"no APPENDUID in {resp!r}")
        return int(m.group(1))

    def folders(self) -> list[str]:
        """All folder names, decoded from modified UTF-7, hierarchy joined with the server's separator."""
        with self.client() as c:
            return [name for _flags, _delim, name in c.list_folders()]

    def subscribed(self) -> list[str]:
        with self.client() as c:
            return [name for _flags, _delim, name in c.list_sub_folders()]

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            return sorted(c.search("ALL"))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return c.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def force_uidvalidity_change(self) -> int:
        """Stop, write a fresh dovecot-uidlist for INBOX with UIDVALIDITY+1 and drop its indexes, start.

        Dovecot then renumbers the INBOX messages from UID 1 under the new UIDVALIDITY — what a
        provider's mailbox migration looks like to a client. Returns the new UIDVALIDITY."""
        old = self.uidvalidity()
        was_running = self.running
        self.stop()
        for f in self.maildir.glob("dovecot.index*"):
            f.unlink()
        uidlist = self.maildir / "dovecot-uidlist"
        uidlist.write_text(f"3 V{old + 1} N1\n")
        os.chown(uidlist, MAIL_UID, MAIL_GID)
        self.start()
        new = self.uidvalidity()
        if new == old:
            raise DovecotError(f"UIDVALIDITY did not change ({old})")
        if not was_running:
            self.stop()
        return new

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
