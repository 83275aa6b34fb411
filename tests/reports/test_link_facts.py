"""A link's expiry comes from the stored defect's facts, not from its sentence; only rows stored
before facts were kept (schema v3 and older) have it read out of the sentence."""
from __future__ import annotations

import json

from daemon import profile as profiles
from daemon.defects import apply, defect
from daemon.model import Verdict
from daemon.reports.day import link_info
from daemon.store.db import Store
from tests.builders.profiles import with_defects


def _store_one(store: Store, d) -> dict:
    v = Verdict(kind="report", school="甲校", report_date="2023-05-15", late=False, defects=[d],
                materials={"text_chars": 900, "photos": 0, "videos": 0}, deliverables=["daily"],
                message_id="<1@x>", sender="a@school.cn", subject="一日一报", received="2023-05-16T09:00:00+08:00",
                school_how="sender", recurring="daily")
    ident = store.add_received(uid=1, uidvalidity=1, folder="INBOX", raw_path="/dev/null", raw_sha256="1",
                               size=1, message_id=v.message_id, received=v.received)
    store.save_verdict(ident, v)
    return store.defects_of(ident)[0]


def test_expiry_is_read_from_the_facts_even_when_the_sentence_omits_it(tmp_path):
    prof = profiles.load(with_defects(tmp_path, {"attachment.link_only": {"text": "“{name}”是云端链接，请尽快下载。"}}))
    d = apply(prof, defect("attachment.link_only", "技能展示.mp4", form="expires", name="技能展示.mp4", expires="5月30日"))
    assert "5月30日" not in d.message
    row = _store_one(Store(tmp_path / "data"), d)
    assert json.loads(row["facts"]) == {"file": "技能展示.mp4", "name": "技能展示.mp4", "expires": "5月30日"}
    assert link_info(row) == {"file": "技能展示.mp4", "expires": "5月30日", "text": "“技能展示.mp4”是云端链接，请尽快下载。"}


def test_a_row_stored_before_facts_falls_back_to_the_sentence():
    old = {"file": "a.mp4", "facts": None,
           "text": "“a.mp4”是云端超大附件链接（链接6月1日到期），无法自动检查，且到期后将无法下载；"}
    assert link_info(old)["expires"] == "6月1日"
    assert link_info({**old, "facts": "{}"})["expires"] == ""        # facts kept: the sentence is not parsed
    assert link_info({"file": None, "text": None})["expires"] == ""
