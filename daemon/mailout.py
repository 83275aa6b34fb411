"""Outgoing mail: build a safe MIME message, and send it by SMTP or write it to a folder.

Nothing a school wrote reaches a header unsanitised: CR, LF and other control characters are
removed from subjects and names (no header injection), and every address is checked.
"""
from __future__ import annotations

import email.policy
import re
import smtplib
import socket
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from .safefs import private_dir, write_private

POLICY = email.policy.SMTP.clone(cte_type="7bit")   # base64/QP bodies: safe through any relay
# C0 and C1 controls (NEL \x85 ends a line for the email package too) and the Unicode line breaks
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class SendError(RuntimeError):
    """`retry` says whether trying again later may help."""

    def __init__(self, text: str, retry: bool = True):
        super().__init__(text)
        self.retry = retry


def clean_header(value: str, limit: int = 200) -> str:
    value = _CTRL.sub(" ", value or "").strip()
    return value[:limit]


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
    if in_reply_to and not _CTRL.search(in_reply_to):
        msg["In-Reply-To"] = in_reply_to
        refs = " ".join(x for x in [clean_header(references or "", 900), in_reply_to] if x)
        msg["References"] = refs
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


def transport(cfg):
    return FolderTransport(cfg) if cfg.kind == "outbox" else SmtpTransport(cfg)


def _why(e: Exception) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, socket.gaierror):
        return "unknown host"
    return str(e) or type(e).__name__
