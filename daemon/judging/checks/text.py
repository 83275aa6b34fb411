"""text.missing / text.too_short / text.too_long, and document.missing.

The text of a report is the longest of the mail's own body (quotes cut) and its documents,
counted as a word processor's 字数."""
from daemon.defects import defect
from daemon.judging.textcount import count_chars
from daemon.model import Defect


def check(j) -> list[Defect]:
    out: list[Defect] = []
    rules = j.profile.text
    chars = j.text_chars()
    for d in j.requires("text"):
        lo = d.min_chars if d.min_chars is not None else rules.min_chars
        hi = rules.max_chars
        limits = {k: v for k, v in (("min_chars", lo), ("max_chars", hi)) if v}
        if chars < rules.missing_below:
            out.append(defect("text.missing", form="" if lo and hi else "no_range", chars=chars, **limits))
        elif lo and chars < lo:
            out.append(defect("text.too_short", form="" if hi else "no_max", severity=rules.short_severity,
                              chars=chars, deliverable=d.name, **limits))
        elif hi and chars > hi:
            out.append(defect("text.too_long", form="" if lo else "no_min", severity=rules.long_severity,
                              chars=chars, deliverable=d.name, **limits))
    for d in j.requires("document"):
        if not j.documents and count_chars(j.body) < rules.missing_below:
            out.append(defect("document.missing", deliverable=d.name))
        elif d.min_chars and "text" not in d.requires and chars < d.min_chars:
            out.append(defect("text.too_short", form="document", severity=rules.short_severity,
                              chars=chars, deliverable=d.name, min_chars=d.min_chars))
    return out
