"""Shared fixtures: real mail servers on loopback (see tests/servers/). Each test gets its own."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


def _dovecot(**kwargs):
    # not tmp_path: Dovecot's unprivileged users must traverse base_dir, and its socket paths stay short
    base = Path(tempfile.mkdtemp(prefix="ribao-dovecot-"))
    server = Dovecot(base, **kwargs)
    try:
        yield server.start()
    finally:
        server.kill()                # fast; the test's state is thrown away anyway
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def dovecot():
    """A fresh Dovecot (plain IMAP, '/' hierarchy) with an empty mailbox. Fails if dovecot is missing."""
    yield from _dovecot()


@pytest.fixture
def dovecot_tls():
    """A fresh Dovecot offering STARTTLS on .port and implicit TLS on .imaps_port (self-signed .cert)."""
    yield from _dovecot(tls=True)


@pytest.fixture
def smtp_server():
    """A fresh SMTP server recording what it receives (.messages, .wait_for(n))."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
