"""Text, photos, videos, archives, forwarded mail and cloud links, judged in a whole email."""
import pytest

from tests.builders import files, media
from tests.builders.mail import build_mail, report_text
from tests.judging.conftest import codes

JPG = "image/jpeg"


def defect(r, code):
    return next(d for d in r["defects"] if d["code"] == code)


# ------------------------------------------------------------------ text
@pytest.mark.parametrize("chars, code, ok", [(20, "text.missing", False), (300, "text.too_short", False),
                                             (1000, None, True), (2000, "text.too_long", True)])
def test_text_length(judge, chars, code, ok):
    r = judge(body=report_text(chars))
    assert r["materials"]["text_chars"] == chars and r["ok"] is ok
    assert (code in codes(r)) if code else not (codes(r) & {"text.missing", "text.too_short", "text.too_long"})


def test_too_long_is_a_warning(judge):
    assert defect(judge(body=report_text(2000)), "text.too_long")["severity"] == "warning"


def test_word_count_counts_latin_runs_as_one(judge):
    r = judge(body="WPS Office 2023 技能")
    assert r["materials"]["text_chars"] == 5


def test_html_only_body_is_counted(judge):
    r = judge(body=None, html="<html><body><p>" + report_text(900) + "</p><script>x</script></body></html>")
    assert r["materials"]["text_chars"] == 900


@pytest.mark.parametrize("client", ["qq", "163", "foxmail", "outlook", "oldoutlook"])
def test_quoted_mail_does_not_count(judge, client):
    r = judge(client=client, body=report_text(400), quote_text=report_text(1500))
    assert r["materials"]["text_chars"] == 400 and "text.too_short" in codes(r)


def test_gt_quoted_lines_do_not_count(judge):
    body = report_text(400) + "\n" + "\n".join("> " + report_text(100) for _ in range(20))
    assert judge(body=body)["materials"]["text_chars"] == 400


def test_longest_text_wins_docx(judge, tmp_path):
    doc = files.make_docx(tmp_path / "稿件.docx", [report_text(1200)])
    r = judge(body="详见附件", attachments=[("活动稿件.docx", doc.read_bytes())])
    assert r["materials"]["text_chars"] == 1200 and r["ok"] is True


def test_text_from_gbk_txt(judge):
    r = judge(body="见附件", attachments=[("稿件.txt", report_text(900).encode("gbk"), "text/plain")])
    assert r["materials"]["text_chars"] == 900


def test_text_from_old_doc(judge, tmp_path):
    doc = files.make_doc(tmp_path / "a.doc", [report_text(850)])
    r = judge(body="见附件", attachments=[("稿件.doc", doc.read_bytes(), "application/msword")])
    assert r["materials"]["text_chars"] >= 800


def test_text_from_pdf(judge, tmp_path):
    pdf = files.make_pdf(tmp_path / "a.pdf", ["Skills make life better " * 40])
    r = judge(body="见附件", attachments=[("稿件.pdf", pdf.read_bytes(), "application/pdf")])
    assert r["materials"]["text_chars"] >= 150


# ------------------------------------------------------------------ photos
def test_photo_rules(judge, tmp_path, good_jpeg):
    narrow = media.make_jpeg(tmp_path / "n.jpg", 1280, 853).read_bytes()
    png = media.make_png(tmp_path / "p.png", 2400, 1600).read_bytes()
    r = judge(attachments=[("开幕式合影.jpg", good_jpeg, JPG), ("技能展示.jpg", narrow, JPG), ("茶艺体验.jpg", png, JPG)])
    by = {(d["code"], d["file"]) for d in r["defects"]}
    assert ("photo.too_narrow", "技能展示.jpg") in by and ("photo.too_small", "技能展示.jpg") in by
    assert ("photo.not_jpeg", "茶艺体验.jpg") in by
    assert not any(f == "开幕式合影.jpg" for _, f in by)
    assert r["materials"]["photos"] == 3


@pytest.mark.parametrize("name", ["IMG_20230515_101010.jpg", "DSC_0042.JPG", "微信图片_20230515101010.jpg",
                                  "mmexport1684137600000.jpg", "3.jpg", "IMG20230515.jpg", "P1010001.JPG"])
def test_default_names_are_not_captions(judge, good_jpeg, name):
    r = judge(attachments=[(name, good_jpeg, JPG)])
    assert ("photo.no_caption", name) in {(d["code"], d["file"]) for d in r["defects"]}
    assert "文字说明" in defect(r, "photo.no_caption")["message"]


def test_caption_in_body_line(judge, good_jpeg):
    body = report_text(1000) + "\nIMG_0001.jpg：学生在实训室为家长展示烹饪技能\n3.jpg 开幕式现场"
    r = judge(body=body, attachments=[("IMG_0001.jpg", good_jpeg, JPG), ("3.jpg", good_jpeg, JPG)])
    assert "photo.no_caption" not in codes(r)


def test_caption_in_document(judge, tmp_path, good_jpeg):
    doc = files.make_docx(tmp_path / "a.docx", [report_text(1000), "DSC_0042.JPG 志愿者走进社区"])
    r = judge(body="见附件", attachments=[("稿件.docx", doc.read_bytes()), ("DSC_0042.JPG", good_jpeg, JPG)])
    assert "photo.no_caption" not in codes(r)


def test_exif_rotated_photo_counts_displayed_width(judge, tmp_path):
    rotated = media.make_jpeg(tmp_path / "r.jpg", 1600, 2400, orientation=6, target_bytes=2_300_000).read_bytes()
    r = judge(attachments=[("竖拍转横.jpg", rotated, JPG)])
    assert "photo.too_narrow" not in codes(r)


def test_truncated_photo_is_corrupt(judge, tmp_path):
    p = media.make_jpeg(tmp_path / "t.jpg", 2400, 1600, target_bytes=2_300_000)
    media.truncate(p, 0.5)
    assert "photo.corrupt" in codes(judge(attachments=[("开幕式.jpg", p.read_bytes(), JPG)]))


def test_small_inline_signature_image_is_ignored(judge, tmp_path):
    logo = media.make_png(tmp_path / "logo.png", 60, 20).read_bytes()
    r = judge(html="<p>" + report_text(1000) + '</p><img src="cid:logo">', body=None, inline=[("logo", logo, "image/png")])
    assert r["materials"]["photos"] == 0 and r["ok"] is True


# ------------------------------------------------------------------ videos
def test_video_rules(judge, tmp_path):
    ok = media.make_video(tmp_path / "ok.mp4", width=1280, height=720, seconds=1).read_bytes()
    mov = media.make_video(tmp_path / "v.mov", width=1280, height=720, seconds=1, fmt="mov").read_bytes()
    low = media.make_video(tmp_path / "low.mp4", width=320, height=240, seconds=1).read_bytes()
    mid = media.make_video(tmp_path / "mid.mp4", width=854, height=480, seconds=1).read_bytes()
    r = judge(attachments=[("技能展示.mp4", ok, "video/mp4"), ("开幕式.mp4", mov, "video/mp4"),
                           ("志愿服务.mp4", low, "video/mp4"), ("茶艺.mp4", mid, "video/mp4"),
                           ("坏视频.mp4", b"\x00" * 5000, "video/mp4")])
    by = {(d["code"], d["file"]) for d in r["defects"]}
    assert ("video.not_mp4", "开幕式.mp4") in by and ("video.below_sd", "志愿服务.mp4") in by
    assert ("video.below_recommended", "茶艺.mp4") in by and ("video.corrupt", "坏视频.mp4") in by
    assert not any(f == "技能展示.mp4" for _, f in by)
    assert defect(r, "video.below_recommended")["severity"] == "warning"


# ------------------------------------------------------------------ archives
def test_gbk_zip_members_are_judged_with_right_names(judge, tmp_path, good_jpeg):
    z = files.make_zip(tmp_path / "a.zip", {"照片/IMG_0001.jpg": good_jpeg, "照片/开幕式合影.jpg": good_jpeg},
                       gbk_names=True)
    r = judge(attachments=[("照片.zip", z.read_bytes(), "application/zip")])
    assert r["materials"]["photos"] == 2
    assert ("photo.no_caption", "照片.zip/照片/IMG_0001.jpg") in {(d["code"], d["file"]) for d in r["defects"]}


@pytest.mark.parametrize("maker, code", [
    (lambda p: files.make_zip_slip(p), "archive.unsafe"),
    (lambda p: files.make_zip(p, {"a.jpg": b"x" * 10}, encrypt=True), "archive.encrypted"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 100) and p, "archive.corrupt"),
])
def test_bad_archives(judge, tmp_path, maker, code):
    p = tmp_path / "x.zip"
    maker(p)
    assert code in codes(judge(attachments=[("材料.zip", p.read_bytes(), "application/zip")]))


# ------------------------------------------------------------------ puyang: archived photos, described videos
def test_puyang_wants_photos_in_an_archive(judge, tmp_path, good_jpeg):
    loose = judge(profile="puyang-2023", attachments=[("开幕式合影.jpg", good_jpeg, JPG)])
    assert "photo.not_archived" in codes(loose)
    z = files.make_zip(tmp_path / "z.zip", {"开幕式合影.jpg": good_jpeg}, gbk_names=True)
    packed = judge(profile="puyang-2023", attachments=[("照片.zip", z.read_bytes(), "application/zip")])
    assert "photo.not_archived" not in codes(packed) and packed["ok"] is True


def test_puyang_wants_every_video_described(judge, tmp_path):
    v = media.make_video(tmp_path / "v.mp4", seconds=1).read_bytes()
    bare = judge(profile="puyang-2023", attachments=[("VID_20230515.mp4", v, "video/mp4")])
    assert "video.no_description" in codes(bare)
    told = judge(profile="puyang-2023", body=report_text(1000) + "\nVID_20230515.mp4：学生技能展示短片",
                 attachments=[("VID_20230515.mp4", v, "video/mp4")])
    assert "video.no_description" not in codes(told)
    assert "video.no_description" not in codes(judge(attachments=[("VID_20230515.mp4", v, "video/mp4")]))


# ------------------------------------------------------------------ forwarded, links, unknown, clients
def test_forwarded_message_materials_are_counted(judge, good_jpeg):
    inner = build_mail(subject="一日一报", body=report_text(1000), attachments=[("开幕式合影.jpg", good_jpeg, JPG)])
    r = judge(body="转发", attachments=[("fwd.eml", inner, "message/rfc822")])
    assert r["materials"]["photos"] == 1 and r["materials"]["text_chars"] == 1000


QQ_LINK = """从QQ邮箱发来的超大附件

技能展示视频.mp4 (356.2M, 2023年5月30日 10:20 到期)
进入下载页面：https://wx.mail.qq.com/ftn/download?func=3&k=abc
"""
NETEASE_LINK = """附件 来自网易邮箱的超大附件
开幕式.mp4  312.5MB  2023-05-29 到期
下载: https://mail.163.com/large-attachment-download/index.html?p=x
"""


@pytest.mark.parametrize("body, name", [(QQ_LINK, "技能展示视频.mp4"), (NETEASE_LINK, "开幕式.mp4")])
def test_cloud_links_are_link_only_warnings(judge, body, name):
    r = judge(body=report_text(1000) + "\n" + body)
    d = defect(r, "attachment.link_only")
    assert d["file"] == name and d["severity"] == "warning" and "到期" in d["message"]


def test_unknown_attachment_type(judge):
    r = judge(attachments=[("说明.xyz", b"\x01\x02\x03" * 100)])
    assert defect(r, "attachment.unknown_type")["severity"] == "warning" and r["ok"] is True


@pytest.mark.parametrize("client", ["qq", "163", "foxmail", "outlook", "oldoutlook"])
def test_chinese_file_names_from_every_client(judge, good_jpeg, client):
    r = judge(client=client, attachments=[("开幕式合影（一）.jpg", good_jpeg, JPG)])
    assert r["ok"] is True, r["defects"]
    assert [m.file for m in r["_verdict"].items] == ["开幕式合影（一）.jpg"]
