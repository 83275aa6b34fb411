"""The desk's systemd unit sits beside the daemon's, hardened the same way, and the README shows
how to put it behind TLS."""
from __future__ import annotations

from tests.daemon.conftest import ROOT


def test_desk_unit_file():
    unit = (ROOT / "deploy" / "ribao-web.service").read_text()
    for line in ("ExecStart=/opt/ribao/.venv/bin/ribao web --config /etc/ribao/config.toml", "Restart=on-failure",
                 "User=ribao", "ProtectSystem=strict", "NoNewPrivileges=yes", "ReadWritePaths=/var/lib/ribao",
                 "CapabilityBoundingSet="):
        assert line in unit, line
    assert "ribao.service" in unit


def test_readme_shows_the_desk_behind_tls():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`ribao web [--config FILE] [--listen HOST:PORT]`" in readme
    assert "ribao web passwd NAME [--role viewer\\|editor] [--disable] [--config FILE]" in readme
    assert "proxy_pass http://127.0.0.1:8080" in readme and "listen 443 ssl" in readme
    assert "secure_cookies = true" in readme and "deploy/ribao-web.service" in readme
