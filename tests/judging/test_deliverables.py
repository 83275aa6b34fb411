"""Every notice as its own profile: deliverables found, due times at the boundary, what each needs."""
import datetime as dt

import pytest

from daemon import profile as profiles
from tests.builders import files, media
from tests.builders.mail import TZ, report_text
from tests.judging.conftest import codes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATS = [["项目", "活动场次", "参与人数"], ["校园开放日", 3, 1200], ["志愿服务", 2, 300]]


def at(y, m, d, hh=10, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.mark.parametrize("name", profiles.available())
def test_every_profile_loads_and_has_deliverables(name):
    p = profiles.load(name)
    assert p.deliverables and p.week_start < p.week_end and p.timezone == "Asia/Shanghai"


def test_no_city_in_the_code():
    from pathlib import Path
    code = "\n".join(p.read_text(encoding="utf-8") for p in Path("daemon").rglob("*.py") )
    for city in ("厦门", "濮阳", "黑龙江", "四川", "潍坊", "Xiamen", "xiamen-2023", "puyang", "sichuan", "weifang", "heilongjiang"):
        assert city not in code, city


def test_xiamen_summary_with_its_table(judge, tmp_path):
    doc = files.make_docx(tmp_path / "s.docx", [report_text(2000)])
    xl = files.make_xlsx(tmp_path / "t.xlsx", STATS)
    r = judge(subject="厦门工商旅游学校活动周开展情况总结及情况统计表", body="见附件",
              attachments=[("活动周总结.docx", doc.read_bytes()), ("情况统计表.xlsx", xl.read_bytes(), XLSX)],
              received=at(2023, 5, 21))
    assert r["kind"] == "report" and r["deliverables"] == ["summary", "stats_table"]
    assert r["report_date"] is None and r["ok"] is True and r["late"] is False


@pytest.mark.parametrize("received, late", [(at(2023, 5, 22, 23, 59), False), (at(2023, 5, 23, 0, 1), True)])
def test_xiamen_summary_due_end_of_day(judge, tmp_path, received, late):
    doc = files.make_docx(tmp_path / "s.docx", [report_text(2000)])
    r = judge(subject="工商旅游 活动周总结", body="见附件", attachments=[("总结.docx", doc.read_bytes())], received=received)
    assert r["deliverables"] == ["summary"] and r["late"] is late


def test_summary_without_document_is_document_missing(judge):
    r = judge(subject="工商旅游 活动周总结", body="总结见后", received=at(2023, 5, 21))
    assert "document.missing" in codes(r)


@pytest.mark.parametrize("maker, name", [
    (lambda p: files.make_xlsx(p / "t.xlsx", STATS), "统计表.xlsx"),
    (lambda p: files.make_xls(p / "t.xls", STATS), "统计表.xls"),
    (lambda p: files.make_et(p / "t.et", STATS), "统计表.et"),
    (lambda p: files.make_csv(p / "t.csv", STATS, encoding="gbk"), "统计表.csv"),
])
def test_stats_table_in_every_spreadsheet_format(judge, tmp_path, maker, name):
    r = judge(subject="工商旅游 情况统计表", body="见附件", attachments=[(name, maker(tmp_path).read_bytes())],
              received=at(2023, 5, 21))
    assert r["deliverables"] == ["stats_table"] and r["ok"] is True, r["defects"]


def test_table_missing_empty_corrupt(judge, tmp_path):
    assert "table.missing" in codes(judge(subject="工商旅游 情况统计表", body="表格如下", received=at(2023, 5, 21)))
    empty = files.make_xlsx(tmp_path / "e.xlsx", [STATS[0]])
    assert "table.empty" in codes(judge(subject="工商旅游 情况统计表", attachments=[("统计表.xlsx", empty.read_bytes(), XLSX)],
                                        received=at(2023, 5, 21)))
    assert "table.corrupt" in codes(judge(subject="工商旅游 情况统计表", attachments=[("统计表.xlsx", b"PK\x03\x04junk", XLSX)],
                                          received=at(2023, 5, 21)))


def test_puyang_summary_due_three_days_after(judge, tmp_path):
    doc = files.make_docx(tmp_path / "s.docx", [report_text(2000)])
    kw = dict(profile="puyang-2023", subject="工商旅游 活动周工作总结", attachments=[("工作总结.docx", doc.read_bytes())])
    assert judge(received=at(2023, 5, 23, 23), **kw)["late"] is False
    assert judge(received=at(2023, 5, 24, 9), **kw)["late"] is True


def test_heilongjiang_daily_plan_in_body_and_a_photo(judge, tmp_path):
    png = media.make_png(tmp_path / "p.png", 800, 600).read_bytes()
    r = judge(profile="heilongjiang-2024", subject="工商旅游 5月9日活动方案及素材",
              body="活动方案：" + report_text(200), attachments=[("IMG_1.png", png, "image/png")],
              received=at(2024, 5, 9, 22))
    assert r["deliverables"] == ["daily"] and r["report_date"] == "2024-05-09" and r["ok"] is True, r["defects"]


def test_heilongjiang_needs_materials_and_a_plan(judge):
    r = judge(profile="heilongjiang-2024", subject="工商旅游 活动方案", body="见附件", received=at(2024, 5, 9, 22))
    assert {"materials.missing", "document.missing"} <= codes(r)


def test_heilongjiang_due_at_midnight(judge, tmp_path):
    png = media.make_png(tmp_path / "p.png", 800, 600).read_bytes()
    kw = dict(profile="heilongjiang-2024", subject="工商旅游 5月9日素材", body="方案" + report_text(100),
              attachments=[("a.png", png, "image/png")])
    assert judge(received=at(2024, 5, 9, 23, 59), **kw)["late"] is False
    assert judge(received=at(2024, 5, 10, 0, 1), **kw)["late"] is True


def test_sichuan_information_table_is_not_the_statistics_table(judge, tmp_path):
    xl = files.make_xlsx(tmp_path / "t.xlsx", STATS).read_bytes()
    info = judge(profile="sichuan-2024", subject="工商旅游学院 2024年职教周活动信息统计表",
                 attachments=[("2024年职教周活动信息统计表.xlsx", xl, XLSX)], received=at(2024, 5, 10, 17))
    assert info["deliverables"] == ["info_table"] and info["late"] is False
    stats = judge(profile="sichuan-2024", subject="工商旅游学院 活动情况统计表",
                  attachments=[("活动情况统计表.xlsx", xl, XLSX)], received=at(2024, 5, 20))
    assert stats["deliverables"] == ["stats_table"]


def test_sichuan_info_table_due_at_18(judge, tmp_path):
    xl = files.make_xlsx(tmp_path / "t.xlsx", STATS).read_bytes()
    r = judge(profile="sichuan-2024", subject="工商旅游 活动信息统计表", attachments=[("信息表.xlsx", xl, XLSX)],
              received=at(2024, 5, 10, 18, 1))
    assert r["late"] is True and "submission.late" in codes(r)


def test_sichuan_media_photos_without_text(judge, tmp_path, good_jpeg):
    r = judge(profile="sichuan-2024", subject="工商旅游 新闻报道图片影像资料", body="",
              attachments=[("IMG_0001.jpg", good_jpeg, "image/jpeg")], received=at(2024, 5, 20))
    assert r["deliverables"] == ["media"] and r["ok"] is True, r["defects"]


def test_weifang_plan_and_cases(judge, tmp_path):
    doc = files.make_docx(tmp_path / "p.docx", ["Implementation plan " + report_text(500)]).read_bytes()
    plan = judge(profile="weifang-2017", subject="工商旅游 活动周实施方案", attachments=[("实施方案.docx", doc)],
                 received=at(2017, 4, 28))
    assert plan["deliverables"] == ["plan"] and plan["ok"] is True and plan["late"] is False
    late = judge(profile="weifang-2017", subject="工商旅游 实施方案", attachments=[("方案.docx", doc)],
                 received=at(2017, 4, 30, 9))
    assert late["late"] is True
    cases = judge(profile="weifang-2017", subject="工商旅游 典型案例", attachments=[("案例.docx", doc)],
                  received=at(2017, 6, 30))
    assert cases["deliverables"] == ["cases"] and cases["late"] is False


def test_auto_and_other_carry_no_deliverables(judge):
    assert judge(profile="sichuan-2024", headers={"Auto-Submitted": "auto-replied"})["deliverables"] == []
    assert judge(profile="sichuan-2024", sender="ad@example.com", subject="广告", body="hi")["deliverables"] == []


def test_a_third_city_needs_only_a_rules_file(tmp_path, judge):
    src = profiles.RULES_DIR / "puyang-2023.toml"
    text = src.read_text(encoding="utf-8").replace('id = "puyang-2023"', 'id = "newcity-2025"')
    text = text.replace("2023-05-14", "2025-05-11").replace("2023-05-20", "2025-05-17").replace("2023-05-23", "2025-05-20")
    p = tmp_path / "newcity-2025.toml"
    p.write_text(text, encoding="utf-8")
    r = judge(profile=str(p), subject="工商旅游一日一报5月12日", received=at(2025, 5, 12, 15))
    assert r["report_date"] == "2025-05-12" and r["late"] is False
