"""Is a file name a caption, or a camera's / phone's / WeChat's default name?

`运动会开幕式合影.jpg` carries words and captions the photo; `IMG_20230515_101010.jpg`,
`DSC_0042.JPG`, `微信图片_20230515101010.jpg`, `mmexport1684137600000.jpg` and `3.jpg` don't.
"""
from __future__ import annotations

import re

_DEFAULT = re.compile(
    r"^(?:"
    r"img|image|images|dsc|dscn|dscf|dcim|sam|p|pic|picture|photo|photos|vid|video|mvimg|pxl|"
    r"mmexport|wx_camera|wx|weixin|微信图片|微信视频|微信截图|qq图片|qq视频|qq截图|tim图片|"
    r"screenshot|screen shot|screenshots|屏幕截图|截图|截屏|snapshot|capture|"
    r"图片|照片|图像|相片|视频|录像|影片|未命名|未标题|新建|副本|copy|拷贝|"
    r"mov|mp4|jpg|jpeg|heic|png|lv|trim|edit|edited|burst|portrait|pano|hdr|"
    r"girl|wechatimg|wechat|faceu|beautycam|美图|美颜|mtxx|cymera"
    r")$",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+|[A-Za-z]+")
_HEX = re.compile(r"^[0-9a-f]{12,}$", re.IGNORECASE)


def stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def caption_from_name(name: str) -> str | None:
    """The words a file name carries, or None when it is a default or bare-number name."""
    s = stem(name).strip()
    if not s or _HEX.match(s.replace("-", "")):
        return None
    words = [t for t in _TOKEN.findall(s) if not _DEFAULT.match(t)]
    cjk = sum(len(t) for t in words if not t.isascii())
    latin = [t for t in words if t.isascii() and len(t) >= 3]
    if cjk >= 2 or latin:
        return s
    return None


_WORDS = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]{2,}|[A-Za-z]{3,}")


def caption_in_text(name: str, text: str) -> str | None:
    """A line of `text` that names the file and goes on with words: its words, or None.

    Short stems (`1.jpg`) must be named in full so a stray digit doesn't caption a photo.
    """
    if not text:
        return None
    base = name.rsplit("/", 1)[-1]
    s = stem(base)
    keys = [base] if len(s) < 4 else [base, s]
    for line in text.splitlines():
        low = line.lower()
        for key in keys:
            pos = low.find(key.lower())
            if pos < 0:
                continue
            rest = line[pos + len(key):]
            ext = base[len(s):]
            if ext and rest.lower().startswith(ext.lower()):
                rest = rest[len(ext):]
            rest = rest.strip(" \t:：-—.。,，、()（）[]【】")
            if _WORDS.search(rest):
                return rest[:200]
    return None
