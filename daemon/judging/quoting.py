"""Cut quoted replies and forwarded originals out of a body, so they don't count as the report.

Schools reply to the bureau's mail and resend after corrections; QQ Mail, Foxmail, 163 and
Outlook each quote the earlier mail in their own way. Everything from the first quote marker
on is dropped, and so is every `>` line.
"""
from __future__ import annotations

import re

_COLON = r"[:：]"
_CUT_LINE = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:原始邮件|原始郵件|Original(?: Message)?|转发邮件信息|轉寄郵件|Forwarded message|回复的原邮件)\s*-{2,}"
    r"|_{5,}\s*$"                                                  # Outlook's rule above the header block
    r"|Begin forwarded message" + _COLON +
    r"|在\s*.{4,60}(?:写道|寫道)\s*" + _COLON + r"?\s*$"          # 163 / Apple Mail: 在 2023年5月15日 …写道：
    r"|On .{4,120} wrote" + _COLON + r"?\s*$"
    r")",
    re.IGNORECASE,
)
_HEADER_START = re.compile(r"^\s*\**\s*(?:发件人|發件人|From)\s*\**\s*" + _COLON, re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\**\s*(?:发送时间|發送時間|日期|时间|Sent|Date|收件人|To|主题|Subject)\s*\**\s*" + _COLON, re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The part of `text` the sender wrote in this mail."""
    if not text:
        return ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _CUT_LINE.match(line):
            break
        if _HEADER_START.match(line) and any(_HEADER_NEXT.match(nxt) for nxt in lines[i + 1:i + 5]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()
