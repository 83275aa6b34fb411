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


def test_checks_only_read():
    """Checks are pure: facts (captions) are decided before them; running the chain changes no material."""
    import copy
    import dataclasses
    import datetime as dt

    from daemon import profile
    from daemon.judging.checks import Judgement, captions
    from daemon.judging.parse import ParsedMessage
    from daemon.model import Material
    prof = profile.load("xiamen-2023")
    j = Judgement(profile=prof, msg=ParsedMessage(subject="一日一报"), received=dt.datetime(2023, 5, 16, 9, tzinfo=prof.tz),
                  body="开幕式.jpg：开幕式现场\n" + "活动" * 500, school="甲校", school_how="sender",
                  items=[Material(file="开幕式.jpg", type="photo", width=2400, height=1600, size=3_000_000),
                         Material(file="IMG_0001.jpg", type="photo", width=1200, height=900, size=100),
                         Material(file="v.mp4", type="video", width=1280, height=720)],
                  deliverables=[prof.daily], report_date=dt.date(2023, 5, 15))
    captions.decide(j)
    assert j.items[0].caption == "开幕式" and j.items[1].caption is None        # from the name; IMG_0001 has none
    before = [dataclasses.asdict(m) for m in j.items]
    snapshot = copy.deepcopy(j.deliverables)
    for rule in chain():
        rule.check(j)
    assert [dataclasses.asdict(m) for m in j.items] == before and j.deliverables == snapshot
