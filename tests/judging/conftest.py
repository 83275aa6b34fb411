"""Builders for whole report emails, judged as `ribao check` judges them."""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest

from daemon import profile as profiles
from daemon.judging import roster as rosters
from daemon.judging.judge import judge_file
from tests.builders.mail import TZ, build_mail, report_text
from tests.builders.media import make_jpeg

ROSTER = """school,aliases,emails
厦门工商旅游学校,工商旅游;工商旅游学校,school@qq.com;gslx@163.com
厦门市集美职业技术学校,集美职校,jmzx@163.com
厦门信息学校,信息学校,xxxx@126.com
"""


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def good_jpeg(media_dir) -> bytes:
    """A 2400×1600 JPEG over 2 MiB: passes every photo rule of the notices."""
    return make_jpeg(media_dir / "good.jpg", 2400, 1600, target_bytes=2_300_000).read_bytes()


@pytest.fixture(scope="session")
def roster_path(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("roster") / "roster.csv"
    p.write_text(ROSTER, encoding="utf-8")
    return p


@functools.lru_cache(maxsize=None)
def _profile(name: str):
    return profiles.load(name)


@pytest.fixture
def judge(tmp_path, roster_path):
    """judge(profile="xiamen-2023", received=datetime|None, **build_mail kwargs) -> verdict JSON dict
    (with the Verdict itself under "_verdict")."""
    roster = rosters.load(roster_path)
    n = [0]

    def run(profile: str = "xiamen-2023", received: dt.datetime | None = None, raw: bytes | None = None, **mail):
        n[0] += 1
        path = tmp_path / f"m{n[0]}.eml"
        mail.setdefault("subject", "【一日一报】厦门工商旅游学校5月15日活动情况")
        mail.setdefault("body", report_text(1000))
        path.write_bytes(raw if raw is not None else build_mail(**mail))
        verdict, _ = judge_file(path, _profile(profile), roster,
                                received=received or dt.datetime(2023, 5, 16, 9, 0, tzinfo=TZ))
        out = verdict.as_json()
        out["_verdict"] = verdict
        return out

    return run


def codes(result: dict) -> set[str]:
    return {d["code"] for d in result["defects"]}
