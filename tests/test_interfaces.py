"""Every registered inspector, check, mailbox source and transport has the interface its stage
expects (daemon/interfaces.py): a new one that misses a method fails here, not mid-poll."""
from __future__ import annotations

from daemon.intake.imap import ImapSource
from daemon.intake.maildir import MaildirSource
from daemon.interfaces import Check, Inspector, Source, Transport
from daemon.judging.checks import chain
from daemon.judging.inspect import _registry
from daemon.outgoing.mailout import FolderTransport, SmtpTransport


def test_inspectors_and_checks():
    mods = _registry()
    assert mods and all(isinstance(m, Inspector) for m in mods), [m.__name__ for m in mods if not isinstance(m, Inspector)]
    formats = [f for m in mods for f in m.FORMATS]
    assert len(formats) == len(set(formats)), "a format is taken by two inspectors"
    rules = chain()
    assert rules and all(isinstance(r, Check) for r in rules)


def test_sources_and_transports():
    for cls in (ImapSource, MaildirSource):
        assert all(callable(getattr(cls, name, None)) for name in
                   ("select", "fetch_since", "uid_message_ids", "file", "wait", "close")), cls
    assert issubclass(FolderTransport, Transport) and issubclass(SmtpTransport, Transport)
    assert issubclass(MaildirSource, Source) and issubclass(ImapSource, Source)
