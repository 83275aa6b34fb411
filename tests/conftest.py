"""Shared fixtures: real mail servers on loopback (see tests/servers/). Each test gets its own."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


@pytest.fixture
def make_dovecot():
    """make_dovecot(tls=True, separator=".", capabilities="IMAP4rev1 ...") -> a started Dovecot, killed
    after the test. Fails (never skips) when dovecot is not installed."""
    made = []

    def make(**kwargs) -> Dovecot:
        # not tmp_path: Dovecot's unprivileged users must traverse base_dir, and its socket paths stay short
        base = Path(tempfile.mkdtemp(prefix="ribao-dovecot-"))
        try:
            server = Dovecot(base, **kwargs)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.kill()                # fast; the test's state is thrown away anyway
        shutil.rmtree(server.base_dir, ignore_errors=True)


@pytest.fixture
def dovecot(make_dovecot) -> Dovecot:
    """A fresh Dovecot: plain IMAP on .port, '/' hierarchy, an empty mailbox."""
    return make_dovecot()


@pytest.fixture
def dovecot_tls(make_dovecot) -> Dovecot:
    """A fresh Dovecot offering STARTTLS on .port and implicit TLS on .imaps_port (self-signed .cert)."""
    return make_dovecot(tls=True)


@pytest.fixture
def smtp_server():
    """A fresh SMTP server recording what it receives (.messages, .wait_for(n))."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
