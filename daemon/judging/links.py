"""Cloud "large attachment" links in a body: QQ Mail (超大附件, ftn), NetEase 163/126 (网易邮箱
超大附件, large-attachment), and similar. We note the file names and expiry dates the body gives."""
from __future__ import annotations

import re

_MARK = re.compile(r"超大附件|云附件|大附件|ftn|large-attachment|largeattach|dashi\.163|fs\.163|mail\.qq\.com/cgi-bin/ftnExs|wx\.mail\.qq\.com/ftn", re.I)
_FILE = re.compile(r"([^\s/\\:：<>\"'（）()]{1,120}\.(?:mp4|mov|avi|wmv|mkv|flv|m4v|3gp|zip|rar|7z|jpg|jpeg|png|heic|docx?|pdf|xlsx?|pptx?))", re.I)
_EXPIRY = re.compile(
    r"(?:(?:到期|过期|有效期至|有效期|截止)(?:时间|日期)?\s*[:：]?\s*)?"
    r"((?:20\d\d\s*[年\-/.]\s*)?\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2})?)\s*(?:到期|过期|失效)"
    r"|(?:到期|过期|有效期至|有效期|截止)(?:时间|日期)?\s*[:：]?\s*((?:20\d\d\s*[年\-/.]\s*)?\d{1,2}\s*[月\-/.]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2})?)"
    r"|(?:有效期|剩余)\s*(\d{1,3})\s*天"
)


def find_links(text: str) -> list[dict]:
    """[{name, expires}] for each cloud attachment the body mentions; [] when there is none."""
    if not text or not _MARK.search(text):
        return []
    lines = text.splitlines()
    found, seen = [], set()
    marked = [i for i, ln in enumerate(lines) if _MARK.search(ln)]
    for i in marked:
        window = lines[max(0, i - 3): i + 6]
        for k, line in enumerate(window):
            for m in _FILE.finditer(line):
                name = m.group(1).strip()
                if name in seen:
                    continue
                seen.add(name)
                near = " ".join(window[k:k + 4])
                e = _EXPIRY.search(near)
                expires = None
                if e:
                    expires = e.group(1) or e.group(2) or (f"{e.group(3)}天后" if e.group(3) else None)
                found.append({"name": name, "expires": expires.strip() if expires else None})
    if not found:
        e = _EXPIRY.search(text)
        found.append({"name": None, "expires": (e.group(1) or e.group(2)) if e else None})
    return found
