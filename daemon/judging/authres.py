"""Whether our own mail server vouches for a mail's From (RFC 8601 Authentication-Results).

A roster address in From: proves nothing by itself: anyone can write it. Where the bureau's
mail server stamps Authentication-Results, `[mailbox] authserv_id` names that server, and a mail
whose From failed DMARC there (or failed SPF without a DKIM pass) is treated as coming from an
unknown address. Headers from any other authserv-id are ignored: a stranger can add those too.
"""
from __future__ import annotations

import re

_RESULT = re.compile(r"(?:^|;)\s*(dkim|spf|dmarc)\s*=\s*([a-z]+)", re.I)
MAX_HEADER = 8192          # a longer header is not one our server wrote


def results(values: list[str], authserv_id: str) -> dict[str, set[str]] | None:
    """{method: {results}} from the first Authentication-Results header of `authserv_id`
    (the one our server added on top), or None when it stamped none."""
    want = authserv_id.strip().lower()
    for value in values:
        value = (value or "")[:MAX_HEADER]
        head, _, rest = value.partition(";")
        ident = head.split()          # "mx.bureau.example" or "mx.bureau.example 1" (a version)
        if not ident or ident[0].lower() != want:
            continue
        found: dict[str, set[str]] = {}
        for method, result in _RESULT.findall(";" + rest):
            found.setdefault(method.lower(), set()).add(result.lower())
        return found
    return None


def from_fails(values: list[str], authserv_id: str) -> bool:
    """True when our server says the From address is forged: dmarc=fail, or spf=fail without dkim=pass."""
    if not authserv_id:
        return False
    r = results(values, authserv_id)
    if r is None:
        return False
    if "fail" in r.get("dmarc", set()):
        return True
    return "fail" in r.get("spf", set()) and "pass" not in r.get("dkim", set())
