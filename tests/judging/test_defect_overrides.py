"""A bureau's own severity and wording for a defect code ([defects."CODE"] in its rules file)."""
from __future__ import annotations

import pytest

from daemon import profile as profiles
from daemon.defects import CATALOGUE, defect, facts_of, placeholders, render
from daemon.profile import ProfileError
from tests.builders import media
from tests.builders.mail import report_text
from tests.builders.profiles import with_defects

SOFT = "文字稿件约{chars}字，比建议的{max_chars}字略多，方便时请精简。"


def test_a_profile_makes_too_long_an_error_and_softens_its_sentence(judge, tmp_path):
    path = with_defects(tmp_path, {"text.too_long": {"severity": "error", "text": SOFT}})
    before = judge(body=report_text(2000))
    d0 = next(d for d in before["defects"] if d["code"] == "text.too_long")
    assert d0["severity"] == "warning" and before["ok"] and "超过通知建议的1500字" in d0["message"]

    after = judge(profile=str(path), body=report_text(2000))
    d = next(d for d in after["defects"] if d["code"] == "text.too_long")
    assert d["severity"] == "error" and not after["ok"]
    assert d["message"] == SOFT.format(chars=2000, max_chars=1500)
    assert next(x for x in after["_verdict"].defects if x.code == "text.too_long").facts["chars"] == 2000


def test_severity_alone_keeps_the_catalogue_sentence(judge, tmp_path):
    narrow = media.make_jpeg(tmp_path / "n.jpg", 1280, 960).read_bytes()
    path = with_defects(tmp_path, {"photo.too_narrow": {"severity": "warning"}})
    r = judge(profile=str(path), attachments=[("开幕式合影.jpg", narrow, "image/jpeg")])
    sev = {d["code"]: d["severity"] for d in r["defects"]}
    assert sev["photo.too_narrow"] == "warning" and sev["photo.too_small"] == "error"     # only the one named
    d = next(d for d in r["defects"] if d["code"] == "photo.too_narrow")
    assert d["message"] == "照片“开幕式合影.jpg”宽度为1280像素，低于通知要求的2000像素，请提供原图（宽不低于2000像素）后重新报送。"


@pytest.mark.parametrize("rule, needle", [
    ({"text.too_lang": {"severity": "error"}}, '[defects."text.too_lang"] unknown defect code'),
    ({"text.too_long": {"severity": "fatal"}}, '[defects."text.too_long"] severity must be'),
    ({"text.too_long": {"text": "约{chars}字，{width}像素"}}, "unknown fact {width}; text.too_long has {chars}, {max_chars}"),
    ({"text.too_short": {"text": "要求{min_chars}-{max_chars}字"}}, "unknown fact {max_chars}"),   # not in every form
    ({"photo.too_narrow": {"text": "宽{width!r}"}}, "is not a fact"),
    ({"photo.too_narrow": {"text": "宽{width.real}"}}, "is not a fact"),
    ({"photo.too_narrow": {"txt": "宽"}}, "unknown key txt"),
])
def test_a_wrong_override_is_a_profile_error_naming_file_and_key(tmp_path, rule, needle):
    path = with_defects(tmp_path, rule)
    with pytest.raises(ProfileError) as e:
        profiles.load(path)
    assert str(path) in str(e.value) and needle in str(e.value)


def test_an_unquoted_dotted_code_is_explained(tmp_path):
    path = with_defects(tmp_path, {}, raw='\n[defects.text.too_long]\nseverity = "error"\n')
    with pytest.raises(ProfileError, match=r'quote the code: \[defects\."text\.…"\]'):
        profiles.load(path)


def test_every_catalogue_sentence_is_a_template_of_named_facts():
    for code, e in CATALOGUE.items():
        assert e.severity in ("error", "warning") and e.title, code
        for form, t in (("", e.text), *e.forms.items()):
            names = placeholders(t)
            assert facts_of(code) <= names
            text = render(code, {n: "<" + n + ">" for n in names}, form)
            assert "{" not in text and "}" not in text
    with pytest.raises(KeyError):
        defect("photo.corrupt", "a.jpg", form="no_such_form")
    with pytest.raises(KeyError):
        defect("photo.blurry", "a.jpg")


def test_a_file_name_with_braces_is_a_value_not_a_template():
    d = defect("table.empty", "{file}{0}{__class__}.xlsx")
    assert d.message.startswith("表格“{file}{0}{__class__}.xlsx”中没有数据行") and d.facts == {"file": "{file}{0}{__class__}.xlsx"}
