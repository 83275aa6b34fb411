"""Build report emails the way QQ Mail, NetEase 163/126, Foxmail and Outlook send them.

Each client encodes Chinese subjects and file names its own way (RFC 2047 in GB18030/GB2312/UTF-8,
RFC 2231, or raw 8-bit GBK) and quotes earlier mail its own way; the builders reproduce that.
"""
from __future__ import annotations

import base64
import datetime as dt
import uuid
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

CLIENTS = {
    #         charset    file-name style  X-Mailer                               quote intro
    "qq":      ("gb18030", "rfc2047", "QQMail 2.x",                          "------------------ 原始邮件 ------------------"),
    "163":     ("utf-8",   "rfc2047", "Coremail Webmail Server Version XT5.0.14", "在 2023-05-15 09:00:00，\"教育局\" <xmedu_gjc@163.com> 写道："),
    "foxmail": ("gb2312",  "rfc2047", "Foxmail 7.2.25.228[cn]",               "------------------ Original ------------------"),
    "outlook": ("gb2312",  "rfc2231", "Microsoft Outlook 16.0",               "发件人: 教育局 <xmedu_gjc@163.com>\n发送时间: 2023年5月15日 9:00\n收件人: 学校\n主题: 回复：一日一报"),
    "oldoutlook": ("gb2312", "raw8bit", "Microsoft Outlook Express 6.00",      "-----Original Message-----"),
}


def _b(text: str, charset: str) -> str:
    cs = "gb18030" if charset == "gb18030" else charset
    return f"=?{charset}?B?{base64.b64encode(text.encode(cs)).decode()}?="


def _attach(part: MIMEBase, name: str, style: str, charset: str) -> None:
    if style == "rfc2231":
        part["Content-Disposition"] = f"attachment; filename*={charset}''{quote(name.encode(charset))}"
    elif style == "raw8bit":       # placeholder; build_mail swaps in the raw GBK bytes at the end
        part["Content-Disposition"] = f'attachment; filename="@@RAW{name.encode("gbk").hex()}@@"'
    else:
        enc = _b(name, charset)
        part.replace_header("Content-Type", part["Content-Type"] + f'; name="{enc}"') if part["Content-Type"] else None
        part["Content-Disposition"] = f'attachment; filename="{enc}"'


def build_mail(*, subject: str, body: str | None = "", html: str | None = None, sender: str = "school@qq.com",
               sender_name: str = "", to: str = "xmedu_gjc@163.com", client: str = "qq",
               attachments: list = (), date: dt.datetime | None = None, message_id: str | None = None,
               headers: dict | None = None, quote_text: str | None = None,
               inline: list = ()) -> bytes:
    """attachments: (name, bytes|Path[, content_type]); inline: (cid, bytes, ctype) shown in html."""
    charset, style, mailer, intro = CLIENTS[client]
    date = date or dt.datetime(2023, 5, 15, 10, 0, tzinfo=TZ)
    text = body or ""
    if quote_text is not None:
        text = f"{text}\n\n{intro}\n{quote_text}"
    alt = MIMEMultipart("alternative")
    if body is not None:
        alt.attach(MIMEText(text, "plain", charset))
    if html is not None:
        alt.attach(MIMEText(html, "html", charset))
    root_body = alt
    if inline:
        related = MIMEMultipart("related")
        related.attach(alt)
        for cid, data, ctype in inline:
            p = MIMEBase(*ctype.split("/"))
            p.set_payload(data)
            encode_base64(p)
            p["Content-ID"] = f"<{cid}>"
            p["Content-Disposition"] = "inline"
            related.attach(p)
        root_body = related
    if attachments:
        msg = MIMEMultipart("mixed")
        msg.attach(root_body)
        for item in attachments:
            name, data = item[0], item[1]
            ctype = item[2] if len(item) > 2 else "application/octet-stream"
            if isinstance(data, Path):
                data = data.read_bytes()
            if ctype == "message/rfc822":
                from email import message_from_bytes
                from email.mime.message import MIMEMessage
                p = MIMEMessage(message_from_bytes(data))
                p["Content-Disposition"] = "attachment"
            else:
                p = MIMEBase(*ctype.split("/"))
                p.set_payload(data)
                encode_base64(p)
                _attach(p, name, style, charset)
            msg.attach(p)
    else:
        msg = root_body
    msg["From"] = f"{_b(sender_name, charset)} <{sender}>" if sender_name else sender
    msg["To"] = to
    msg["Subject"] = _b(subject, charset) if subject else ""
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@{sender.split('@')[-1]}>"
    msg["X-Mailer"] = mailer
    msg["MIME-Version"] = "1.0"
    for k, v in (headers or {}).items():
        msg[k] = v
    raw = msg.as_bytes()
    while b"@@RAW" in raw:
        start = raw.index(b"@@RAW")
        end = raw.index(b"@@", start + 5)
        raw = raw[:start] + bytes.fromhex(raw[start + 5:end].decode()) + raw[end + 2:]
    return raw


def write_mail(path: Path, **kw) -> Path:
    path.write_bytes(build_mail(**kw))
    return path


def report_text(chars: int = 1000, school: str = "厦门工商旅游学校") -> str:
    """A plausible Chinese report body of about `chars` 字."""
    lead = f"{school}职业教育活动周第一天活动情况。"
    filler = "本校围绕技能让生活更美好的主题开展校园开放日活动，邀请家长和社区居民走进实训室体验专业技能。"
    out = lead
    while len(out) < chars:
        out += filler
    return out[:chars]


def bounce(*, to: str = "xmedu_gjc@163.com", original_subject: str = "一日一报") -> bytes:
    msg = MIMEMultipart("report", report_type="delivery-status")
    msg.attach(MIMEText("Delivery failed", "plain", "utf-8"))
    msg["From"] = "MAILER-DAEMON@163.com"
    msg["To"] = to
    msg["Subject"] = f"Undelivered Mail Returned to Sender: {original_subject}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@163.com>"
    msg["Date"] = format_datetime(dt.datetime(2023, 5, 15, 10, 0, tzinfo=TZ))
    return msg.as_bytes()
