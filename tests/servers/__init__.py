"""Real mail servers on loopback for the tests: a private Dovecot (IMAP) and an aiosmtpd SMTP server.

Both bind 127.0.0.1 on a free high port and are started/stopped by fixtures in tests/conftest.py.
"""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on right now (the kernel's pick; tiny race, fine for tests)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for CN/IP 127.0.0.1 and localhost, made once per directory with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True)
        key.chmod(0o644)            # Dovecot's config reader runs unprivileged in some setups
    return cert, key
