"""A real SMTP server on 127.0.0.1 for the tests, on aiosmtpd's threaded Controller.

    s = SmtpServer(auth=("user", "pw"), tls="starttls", cert_dir=tmp)   # all optional
    s.start(); ...; s.wait_for(1); s.messages[0].message["Subject"]
    s.stop(); s.start()                          # down and back up on the SAME port

tls: None (plain), "starttls" (offers STARTTLS) or "tls" (implicit TLS, like port 465); the
certificate is self-signed for 127.0.0.1 (`s.cert` is its path, for a client's ca_file).
"""
from __future__ import annotations

import email
import email.message
import email.policy
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from . import HOST, free_port, self_signed_cert


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes                          # the raw message as received
    message: email.message.Message       # parsed (email.policy.default)
    login: str | None                    # the AUTH user, if any


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.auth and not session.authenticated:
            # enforced here, not with aiosmtpd's auth_required (which warns without TLS)
            return "530 5.7.0 Authentication required"
        if self.server.refuse:
            return "451 4.3.0 try again later (test server told to refuse)"
        raw = envelope.original_content or envelope.content
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.server._record(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg, login))
        return "250 2.0.0 OK queued"


class SmtpServer:
    host = HOST

    def __init__(self, port: int | None = None, auth: tuple[str, str] | None = None,
                 tls: str | None = None, cert_dir: Path | None = None):
        if tls not in (None, "starttls", "tls"):
            raise ValueError(f"tls must be None, 'starttls' or 'tls', not {tls!r}")
        self.port = port or free_port()
        self.auth = auth
        self.tls = tls
        self.refuse = False                  # True: answer DATA with a 451 (temporary failure)
        self.cert = self.key = None
        self._ctx = None
        if tls:
            if cert_dir is None:
                raise ValueError("tls needs cert_dir for the self-signed certificate")
            self.cert, self.key = self_signed_cert(Path(cert_dir))
            self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ctx.load_cert_chain(self.cert, self.key)
        self._messages: list[Received] = []
        self._cond = threading.Condition()
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and self.auth is not None
              and auth_data.login.decode() == self.auth[0] and auth_data.password.decode() == self.auth[1])
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def _record(self, rec: Received) -> None:
        with self._cond:
            self._messages.append(rec)
            self._cond.notify_all()

    def start(self) -> "SmtpServer":
        if self._controller is not None:
            return self
        kwargs = dict(hostname=self.host, port=self.port, auth_require_tls=False)
        if self.auth:
            kwargs.update(authenticator=self._authenticate)
        if self.tls == "starttls":
            kwargs.update(tls_context=self._ctx)
        elif self.tls == "tls":
            kwargs.update(ssl_context=self._ctx)
        self._controller = Controller(_Handler(self), **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[Received]:
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least n messages arrived; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"SMTP server got {len(self._messages)} message(s), expected {n}")
                self._cond.wait(left)
            return list(self._messages)
