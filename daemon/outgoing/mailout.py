"""Outgoing mail: build a safe MIME message, and send it by SMTP or write it to a folder.

Nothing a school wrote reaches a header unsanitised: CR, LF and other control characters are
removed from subjects and names, RFC 2047 words are decoded until none is left (Python 3.11's
email package before 3.11.10 decodes them again while folding: CVE-2024-6923), In-Reply-To and
References keep only strict msg-id tokens, and every address is checked. `check` parses a built
mail back and names anything we did not write, so a gap in the above is refused, not sent.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.interfaces import Transport

import email.parser
import email.policy
import re
import smtplib
import socket
import ssl
import uuid
from email.header import decode_header
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from daemon.store.safefs import private_dir, write_private

POLICY = email.policy.SMTP.clone(cte_type="7bit")   # base64/QP bodies: safe through any relay
# C0 and C1 controls (NEL \x85 ends a line for the email package too) and the Unicode line breaks
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class SendError(RuntimeError):
    """`retry` says whether trying again later may help."""

    def __init__(self, text: str, retry: bool = True):
        super().__init__(text)
        self.retry = retry


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_MSGID = re.compile(rf"<{_ATEXT}@(?:{_ATEXT}|\[[!-Z^-~]*\])>")     # RFC 5322 msg-id, no obsolete forms
MSGID_MAX = 250
_EW = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?]*\?=")           # one RFC 2047 encoded word
_EW_GAP = re.compile(r"(\?=)\s+(?==\?)")                       # blanks between two words are not text
# the header names build() writes; anything else in a parsed-back mail was injected
WRITTEN = ("from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
           "x-auto-response-suppress", "content-type", "content-transfer-encoding", "mime-version")


def clean_header(value: str, limit: int = 200) -> str:
    """Plain text for a header: encoded words decoded (repeatedly) or dropped, no controls."""
    value = _CTRL.sub(" ", plain_words(value or "")).strip()
    return value[:limit]


def plain_words(value: str, rounds: int = 5) -> str:
    """Decode RFC 2047 words until none is left; what still looks like one afterwards is broken up
    (`=?` → `= ?`), so the email package has nothing left to decode while folding."""
    for _ in range(rounds):
        if "=?" not in value:
            break
        decoded = _EW.sub(_word, _EW_GAP.sub(r"\1", value))
        if decoded == value:
            break
        value = decoded
    return value.replace("=?", "= ?")


def _word(m: re.Match) -> str:
    try:
        (data, charset), = decode_header(m.group())
    except Exception:            # noqa: BLE001 - bad base64, odd parts: the word is dropped
        return " "
    if isinstance(data, str):
        return data
    charset = (charset or "ascii").lower()
    try:
        return data.decode("gb18030" if charset in ("gb2312", "gbk", "x-gbk", "cp936") else charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def msg_id(token: str | None) -> str | None:
    """`token` when it is one strict <left@right> msg-id (ASCII, no encoded word, bounded), else None."""
    token = (token or "").strip()
    if len(token) > MSGID_MAX or "=?" in token or not _MSGID.fullmatch(token):
        return None
    return token


def msg_ids(value: str | None, keep: int = 10) -> list[str]:
    """The strict msg-id tokens of a References value (the last `keep`); anything else is dropped."""
    ids = [t for t in (msg_id(w) for w in (value or "").split()) if t]
    return list(dict.fromkeys(ids))[-keep:]


def valid_address(addr: str) -> bool:
    addr = (addr or "").strip()
    if not addr or _CTRL.search(addr) or len(addr) > 254 or not addr.isascii():
        return False            # (no SMTPUTF8: smtplib would fail on a non-ASCII address mid-send)
    name, parsed = parseaddr(addr)
    return parsed == addr and re.fullmatch(r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|[^@\s<>]+@localhost|[^@\s<>]+@127\.0\.0\.1", addr) is not None


def build(*, sender: str, to: str, subject: str, text: str, html: str | None = None,
          in_reply_to: str | None = None, references: str | None = None, auto: str | None = "auto-replied",
          images: list[tuple[str, bytes, str]] = (), attachments: list[tuple[str, bytes, str]] = (),
          domain: str | None = None) -> EmailMessage:
    """images: (content-id, bytes, subtype) shown inline by the HTML; attachments: (name, bytes, mime)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = clean_header(subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain or sender.rsplit("@", 1)[-1])
    in_reply_to = msg_id(in_reply_to)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join([*(x for x in msg_ids(references) if x != in_reply_to), in_reply_to])
    if auto:
        msg["Auto-Submitted"] = auto                    # RFC 3834
        msg["X-Auto-Response-Suppress"] = "All"         # Outlook / Exchange: don't answer us
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
        if images:
            html_part = msg.get_payload()[-1]
            for cid, data, subtype in images:
                html_part.add_related(data, maintype="image", subtype=subtype, cid=f"<{cid}>")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=clean_header(name))
    return msg


def check(raw: bytes, msg: EmailMessage | None = None) -> str | None:
    """Parse `raw`'s header block back (policy default, as a receiver would; an injected blank line
    ends it early, so a smuggled body shows as missing headers) and say what we did not write, or
    None. With `msg` (what build() returned) the header names must be exactly its, and From, To,
    Subject, In-Reply-To, References read back the same; without it, only names build() writes."""
    try:
        back = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
        names = [k.lower() for k in back.keys()]
        if msg is not None:
            wrote = [k.lower() for k in msg.keys()]
            if sorted(names) != sorted(wrote):
                extra, lost = sorted(set(names) - set(wrote)), sorted(set(wrote) - set(names))
                if extra or not lost:
                    return f"the reply read back has headers we did not write ({', '.join(extra or names)[:200]})"
                return f"the reply read back lost headers ({', '.join(lost)[:200]}): its header block was cut"
            for h in ("from", "to"):
                if _addrs(back.get_all(h)) != _addrs(msg.get_all(h)):
                    return f"the reply read back has a different {h.title()} ({str(back[h])[:100]!r})"
            for h in ("subject", "in-reply-to", "references"):
                if _norm(back[h]) != _norm(msg[h]):
                    return f"the reply read back has a different {h.title()}"
        else:
            odd = [n for n in names if n not in WRITTEN] or [n for n in set(names) if names.count(n) > 1]
            if odd:
                return f"the mail read back has headers we did not write ({', '.join(sorted(set(odd)))[:200]})"
    except Exception as e:       # noqa: BLE001 - a mail we cannot read back is not sent
        return f"the mail cannot be read back ({type(e).__name__})"
    return None


def _addrs(values) -> list[str]:
    return sorted(a.lower() for _, a in getaddresses([str(v) for v in values or []]))


def _norm(value) -> str:
    return " ".join(str(value or "").split())


class SmtpTransport:
    def __init__(self, cfg):
        self.cfg = cfg

    def _context(self):
        ctx = ssl.create_default_context(cafile=self.cfg.ca_file or None)
        if not self.cfg.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        c = self.cfg
        where = f"SMTP server {c.host}:{c.port}"
        try:
            if c.security == "tls":
                s = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                s = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        except (OSError, smtplib.SMTPException) as e:
            raise SendError(f"cannot reach {where} ({_why(e)}): check [smtp] host and port") from None
        try:
            if c.security == "starttls":
                s.starttls(context=self._context())
            if c.username:
                s.login(c.username, c.password)
            refused = s.sendmail(sender, recipients, raw)
            if refused and len(refused) == len(recipients):
                raise SendError(f"{where} refused every recipient: {refused}", retry=False)
        except smtplib.SMTPAuthenticationError:
            raise SendError(f"{where} refused the login for {c.username}: check [smtp] username and password") from None
        except smtplib.SMTPRecipientsRefused as e:
            raise SendError(f"{where} refused the recipient {list(e.recipients)}", retry=False) from None
        except smtplib.SMTPResponseException as e:
            raise SendError(f"{where} answered {e.smtp_code} {e.smtp_error!r}", retry=e.smtp_code < 500) from None
        except (OSError, smtplib.SMTPException) as e:
            raise SendError(f"{where}: {_why(e)}") from None
        finally:
            try:
                s.quit()
            except Exception:
                s.close()


class FolderTransport:
    """The embedded default: each mail becomes an .eml file in a folder, 0600 in a 0700 folder
    (replies quote schools' mail) whatever the umask."""

    def __init__(self, cfg):
        self.dir = Path(cfg.path)

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        try:
            private_dir(self.dir)
            name = f"{len(list(self.dir.glob('*.eml'))) + 1:05d}-{uuid.uuid4().hex[:8]}.eml"
            write_private(self.dir / name, raw)
        except OSError as e:
            raise SendError(f"cannot write the mail into {self.dir} ({e.strerror or e}): check [smtp] path "
                            f"and the free space there") from None


def transport(cfg) -> "Transport":
    return FolderTransport(cfg) if cfg.kind == "outbox" else SmtpTransport(cfg)


def _why(e: Exception) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, socket.gaierror):
        return "unknown host"
    return str(e) or type(e).__name__
