"""text.missing / text.too_short / text.too_long, and document.missing.

The text of a report is the longest of the mail's own body (quotes cut) and its documents,
counted as a word processor's 字数."""
from daemon.judging.textcount import count_chars
from daemon.model import ERROR, WARNING, Defect


def check(j) -> list[Defect]:
    out: list[Defect] = []
    rules = j.profile.text
    chars = j.text_chars()
    for d in j.requires("text"):
        lo = d.min_chars if d.min_chars is not None else rules.min_chars
        hi = rules.max_chars
        if chars < rules.missing_below:
            need = f"{lo}-{hi}字" if lo and hi else "文字说明"
            out.append(Defect("text.missing", ERROR, None,
                              f"未收到文字稿件（正文或附件文档）：请补充活动整体概况和特色工作的文字介绍（{need}），"
                              "可写在邮件正文中，或以Word文档附件发送。"))
        elif lo and chars < lo:
            out.append(Defect("text.too_short", rules.short_severity or ERROR, None,
                              f"文字稿件约{chars}字，少于通知要求的{lo}字，请补充到{lo}-{hi}字左右后重新报送。"
                              if hi else f"文字稿件约{chars}字，少于要求的{lo}字，请补充后重新报送。"))
        elif hi and chars > hi:
            out.append(Defect("text.too_long", rules.long_severity or WARNING, None,
                              f"文字稿件约{chars}字，超过通知建议的{hi}字，请精简到{lo}-{hi}字左右。"
                              if lo else f"文字稿件约{chars}字，超过建议的{hi}字，请适当精简。"))
    for d in j.requires("document"):
        if not j.documents and count_chars(j.body) < rules.missing_below:
            out.append(Defect("document.missing", ERROR, None,
                              f"未收到“{d.name}”的文档：请以Word（.docx/.doc）、WPS或PDF附件发送，"
                              "或将全文写在邮件正文中。"))
        elif d.min_chars and "text" not in d.requires and chars < d.min_chars:
            out.append(Defect("text.too_short", rules.short_severity or ERROR, None,
                              f"“{d.name}”约{chars}字，少于要求的{d.min_chars}字，请补充后重新报送。"))
    return out
