"""Files that ride along with mail and are never report materials.

Mail clients attach signatures (PGP, S/MIME), calendar invitations, contact cards and the
alternative renderings of a body (text/enriched, text/calendar in multipart/alternative);
developers' mail carries source code and patches. None of these is a school's report, so none
counts as material, none makes a stranger's mail a report, and a school is not asked to fix them.
"""
from __future__ import annotations

from daemon.model import Attachment

TYPES = {
    "application/pgp-signature", "application/pgp-keys", "application/pgp-encrypted",
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pkcs7-mime",
    "application/x-pkcs7-mime", "application/pkcs10", "application/x-pkcs12",
    "text/calendar", "application/ics", "text/vcard", "text/x-vcard", "text/directory",
    "text/enriched", "text/richtext", "text/x-diff", "text/x-patch", "text/x-c", "text/x-csrc",
    "text/x-chdr", "text/x-c++src", "text/x-python", "text/x-script.python", "text/x-java",
    "text/x-java-source", "text/javascript", "application/javascript", "text/x-sh",
    "application/x-sh", "text/x-perl", "application/x-perl", "text/css", "text/xml",
    "application/xml", "application/json", "application/x-patch", "message/delivery-status",
    "message/disposition-notification", "text/rfc822-headers", "message/rfc822-headers",
    "application/ms-tnef", "application/vnd.ms-tnef",
}
SUFFIXES = {
    "asc", "sig", "gpg", "pgp", "p7s", "p7m", "p7c", "p7b", "p12", "pfx", "cer", "crt", "pem", "key",
    "ics", "ical", "ifb", "vcs", "vcf", "vcard",
    "c", "h", "cc", "cpp", "cxx", "hpp", "py", "pyc", "js", "ts", "java", "rb", "pl", "pm", "php", "go",
    "rs", "sh", "bash", "bat", "cmd", "ps1", "diff", "patch", "css", "xml", "json", "yml", "yaml", "toml",
    "ini", "cfg", "conf", "log", "dat", "tnef", "exe", "dll", "so", "o", "class", "jar",
}


def why(att: Attachment) -> str | None:
    """Why `att` is incidental (never a material), or None when it may be one."""
    ctype = (att.content_type or "").lower()
    if ctype in TYPES:
        return ctype
    if att.suffix in SUFFIXES and not att.in_archive:
        return f".{att.suffix}"
    if not att.named and ctype.startswith("text/") and ctype not in ("text/plain", "text/html"):
        return f"unnamed {ctype} part"
    if att.basename.lower() in ("winmail.dat", "smime.p7s", "signature.asc"):
        return att.basename
    return None
