"""字数, quotes, default file names, cloud links: the small pure functions."""
import pytest

from daemon.judging.links import find_links
from daemon.judging.names import caption_from_name, caption_in_text
from daemon.judging.quoting import strip_quoted
from daemon.judging.textcount import count_chars


@pytest.mark.parametrize("text, n", [("", 0), ("技能", 2), ("技能，让生活更美好！", 10), ("WPS Office", 2),
                                     ("2023年5月15日", 6), ("“技能”", 4), ("a-b c", 3), ("   \n", 0)])
def test_count_chars(text, n):
    assert count_chars(text) == n


@pytest.mark.parametrize("quote", [
    "------------------ 原始邮件 ------------------\n发件人: x",
    "------------------ Original ------------------\nFrom: x",
    "发件人: 教育局 <a@b.cn>\n发送时间: 2023年5月15日 9:00\n收件人: x",
    "From: a@b.cn\nSent: Monday\nTo: x",
    "在 2023-05-15 09:00:00，\"教育局\" <a@b.cn> 写道：",
    "On Mon, May 15, 2023 at 9:00 AM 教育局 <a@b.cn> wrote:",
    "-----Original Message-----",
    "---------- Forwarded message ---------",
])
def test_quotes_are_cut(quote):
    assert strip_quoted("我们的正文\n\n" + quote + "\n旧内容旧内容") == "我们的正文"


def test_a_line_starting_with_from_words_is_kept_when_no_header_follows():
    assert "发件人：王老师" in strip_quoted("发件人：王老师\n今天的活动很成功")


@pytest.mark.parametrize("name, caption", [
    ("开幕式合影.jpg", "开幕式合影"), ("IMG_20230515_101010.jpg", None), ("DSC_0042.JPG", None),
    ("微信图片_20230515101010.jpg", None), ("mmexport1684137600000.jpg", None), ("3.jpg", None),
    ("Screenshot_2023-05-15.png", None), ("IMG_0001_开幕式.jpg", "IMG_0001_开幕式"), ("campus open day.jpg", "campus open day"),
    ("0f3a9c2b7d1e4f5a6b7c.jpg", None),
])
def test_caption_from_name(name, caption):
    assert caption_from_name(name) == caption


def test_caption_in_text_needs_words_after_the_name():
    assert caption_in_text("IMG_1.jpg", "IMG_1.jpg：学生展示烹饪技能") == "学生展示烹饪技能"
    assert caption_in_text("IMG_1.jpg", "IMG_1.jpg") is None
    assert caption_in_text("1.jpg", "今天有1位家长") is None
    assert caption_in_text("1.jpg", "1.jpg 家长体验") == "家长体验"


def test_links_without_a_file_name_still_warn():
    assert find_links("从QQ邮箱发来的超大附件\n下载：https://wx.mail.qq.com/ftn/download?k=1") == [{"name": None, "expires": None}]


def test_no_links_in_plain_text():
    assert find_links("今天的活动很成功，共有200人参加。") == []
