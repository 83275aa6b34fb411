"""The defect catalogue: every code ribao gives, its default severity, a short Chinese title and the
sentence for the school as a template with named facts (`{file}`, `{width}`, `{min_width}` …).

Checks and inspectors give a code and facts (`defect("photo.too_narrow", file, width=…,
min_width=…)`), never a sentence; the sentence is rendered here, and again with a profile's
`[defects."CODE"]` severity and wording (`apply`, when the verdict is made). A code may have a few `forms`: other
wordings of the same problem that the check picks by name (a HEIC photo, a table with a password).
A profile's `text` replaces every form, so it may use only the facts every form carries.

The catalogue is a Python dict rather than a TOML file: it is checked when imported, travels with
the code in any install (no package data to forget), and a reviewer reads code and wording together.
tests/test_docs.py keeps it and the README's table equal, both ways.
"""
from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, field

from daemon.model import Defect

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Entry:
    severity: str
    title: str
    text: str
    forms: dict[str, str] = field(default_factory=dict)


_AGAIN = "请重新导出视频后再报送。"
_LINK = ("是云端超大附件链接{0}，无法自动检查，且到期后将无法下载；"
         "请尽量压缩到邮箱附件大小以内直接作为附件发送，或确保工作人员在到期前下载。")
_TEXT_MISSING = "未收到文字稿件（正文或附件文档）：请补充活动整体概况和特色工作的文字介绍（{0}），可写在邮件正文中，或以Word文档附件发送。"

CATALOGUE: dict[str, Entry] = {
    "school.unknown": Entry(ERROR, "未能识别报送学校",
        "未能识别报送学校：请在邮件主题中写明学校全称（如“某某学校一日一报5月15日”），或使用在教育局登记的邮箱发送。"),
    "school.unconfirmed_sender": Entry(WARNING, "发件邮箱未登记，待工作人员确认",
        "发件邮箱不是{school}在教育局登记的报送邮箱，材料已收到，待工作人员确认后计入该校报送情况。"),
    "date.outside_week": Entry(ERROR, "报送日期不在活动周内",
        "报送的日期{date}不在活动周（{week_start}至{week_end}）内，请核对后在邮件主题中写明活动日期（如“5月15日”）重新报送。"),
    "submission.late": Entry(WARNING, "逾期报送",
        "{deliverable}应于{due}前报送，本邮件于{received}收到，已逾期；材料已收下，今后请按时报送。",
        {"daily": "{date}的{deliverable}应于{due}前报送，本邮件于{received}收到，已逾期；材料已收下，今后请按时报送。"}),
    "deliverable.unknown": Entry(WARNING, "未能识别报送的是哪项材料",
        "未能识别本邮件报送的是哪一项材料，请在邮件主题中注明（{deliverables}）。"),
    "text.missing": Entry(ERROR, "缺少文字稿件", _TEXT_MISSING.format("{min_chars}-{max_chars}字"),
        {"no_range": _TEXT_MISSING.format("文字说明")}),
    "text.too_short": Entry(ERROR, "文字稿字数不足",
        "文字稿件约{chars}字，少于通知要求的{min_chars}字，请补充到{min_chars}-{max_chars}字左右后重新报送。",
        {"no_max": "文字稿件约{chars}字，少于要求的{min_chars}字，请补充后重新报送。",
         "document": "“{deliverable}”约{chars}字，少于要求的{min_chars}字，请补充后重新报送。"}),
    "text.too_long": Entry(WARNING, "文字稿字数偏多",
        "文字稿件约{chars}字，超过通知建议的{max_chars}字，请精简到{min_chars}-{max_chars}字左右。",
        {"no_min": "文字稿件约{chars}字，超过建议的{max_chars}字，请适当精简。"}),
    "document.missing": Entry(ERROR, "缺少文档",
        "未收到“{deliverable}”的文档：请以Word（.docx/.doc）、WPS或PDF附件发送，或将全文写在邮件正文中。"),
    "document.unreadable": Entry(WARNING, "文档无法打开",
        "文档“{file}”无法打开，请另存为 .docx 格式后重新报送，或将正文直接粘贴在邮件正文中。"),
    "table.missing": Entry(ERROR, "缺少统计表",
        "未收到“{deliverable}”：请将表格以Excel（.xlsx/.xls）或WPS表格附件发送，不要粘贴在正文或截图。"),
    "table.corrupt": Entry(ERROR, "统计表无法打开",
        "表格“{file}”已损坏或格式无法识别，系统无法打开，请用 Excel 或 WPS 打开后另存为 .xlsx 格式再次报送。",
        {"password": "表格“{file}”设置了打开密码，系统无法打开，请取消密码后再次报送。"}),
    "table.empty": Entry(ERROR, "统计表没有数据",
        "表格“{file}”中没有数据行（只有表头或是空表），请填写数据后再次报送。"),
    "materials.missing": Entry(ERROR, "缺少照片或视频",
        "“{deliverable}”需要活动照片或视频，本邮件中没有找到，请补充后重新报送。"),
    "photo.not_jpeg": Entry(ERROR, "照片不是JPG格式",
        "照片“{file}”为{format}格式，通知要求{formats}格式，请转换为{to_format}格式后重新报送。",
        {"heic": "照片“{file}”为HEIC格式（苹果手机默认格式），通知要求{formats}格式，请在手机上导出为{to_format}格式后重新报送。"}),
    "photo.too_narrow": Entry(ERROR, "照片宽度不足",
        "照片“{file}”宽度为{width}像素，低于通知要求的{min_width}像素，请提供原图（宽不低于{min_width}像素）后重新报送。"),
    "photo.too_small": Entry(ERROR, "照片文件太小",
        "照片“{file}”大小为{size_mb}MB，低于通知要求的单张{min_mb}MB（{min_mb}M即{min_mb}MB），"
        "请发送相机或手机中的原图，不要发送经微信等压缩过的图片。"),
    "photo.no_caption": Entry(ERROR, "照片缺少文字说明",
        "照片“{file}”缺少文字说明：请把文件名改为照片内容（如“开幕式合影.jpg”），或在正文中另起一行写“{basename}：照片说明”。"),
    "photo.corrupt": Entry(ERROR, "照片已损坏",
        "照片“{file}”文件已损坏或不完整，无法打开，请重新导出原图后再报送。",
        {"truncated": "照片“{file}”文件不完整（传输或保存时被截断），无法正常显示，请重新导出原图后再报送。",
         "huge": "照片“{file}”像素尺寸异常巨大，超出系统可安全打开的范围，请重新导出原图后再报送。",
         "pixels": "照片“{file}”像素尺寸异常（{width}×{height}），超出系统可安全打开的范围，请重新导出原图后再报送。"}),
    "photo.not_archived": Entry(ERROR, "照片未打包为压缩文件",
        "照片“{file}”是直接作为附件发送的，通知要求照片以压缩包形式报送，请将全部照片打包成一个zip压缩包后重新发送。"),
    "video.not_mp4": Entry(ERROR, "视频不是mp4格式",
        "视频“{file}”为{format}格式，通知要求{formats}格式，请转换为{to_format}格式后重新报送。"),
    "video.too_large": Entry(ERROR, "视频文件过大",
        "视频“{file}”大小为{size_mb}MB，超过通知要求的{max_mb}MB，请压缩或分段剪辑为每段{max_mb}MB以内后重新报送。"),
    "video.below_sd": Entry(ERROR, "视频分辨率低于标清",
        "视频“{file}”分辨率为{width}×{height}，低于通知要求的标清（短边不低于{min_short_side}像素），"
        "请提供分辨率更高的原视频（建议{recommended}）后重新报送。"),
    "video.below_recommended": Entry(WARNING, "视频分辨率低于建议值",
        "视频“{file}”分辨率为{width}×{height}，已达标清但低于建议的{recommended}，如有条件请提供{recommended}或更高分辨率的视频。"),
    "video.corrupt": Entry(ERROR, "视频无法读取", "视频“{file}”无法读取（文件可能已损坏或不完整），" + _AGAIN,
        {"truncated": "视频“{file}”文件不完整（传输或保存时被截断），" + _AGAIN,
         "no_video": "视频“{file}”中没有找到画面（缺少视频轨道），" + _AGAIN}),
    "video.no_description": Entry(ERROR, "视频缺少文字说明",
        "视频“{file}”缺少文字说明：通知要求每个视频另附文字说明，请在正文中另起一行写“{basename}：视频内容说明”，或把文件名改为视频内容。"),
    "archive.corrupt": Entry(ERROR, "压缩文件已损坏", "压缩包“{file}”已损坏，无法解压，请重新压缩后再次报送。",
        {"members": "压缩包“{file}”中的“{members}”已损坏，无法解压，请重新压缩后再次报送。"}),
    "archive.encrypted": Entry(ERROR, "压缩文件有密码", "压缩包“{file}”设置了密码，系统无法打开，请不设密码重新压缩后再次报送。"),
    "archive.unsupported": Entry(ERROR, "压缩文件格式无法打开",
        "压缩包“{file}”的格式系统无法解压，请改用 ZIP 格式重新压缩后再次报送。",
        {"reason": "压缩包“{file}”的格式（{reason}）系统无法解压，请改用 ZIP 格式重新压缩后再次报送。"}),
    "archive.unsafe": Entry(ERROR, "压缩文件不安全或过大",
        "压缩包“{file}”{reason}，存在安全风险，系统没有解压，请删去这些内容后重新压缩，或直接把文件作为附件再次报送。"),
    "attachment.link_only": Entry(WARNING, "云端超大附件链接", "“{name}”" + _LINK.format(""),
        {"expires": "“{name}”" + _LINK.format("（链接{expires}到期）")}),
    "attachment.unknown_type": Entry(WARNING, "附件格式无法检查",
        "附件“{file}”不是通知要求的文字、照片（JPG）或视频（mp4）格式，无法检查，如为报送材料请转换格式后重新发送。",
        {"eml": "附件“{file}”是无法打开的邮件文件，请直接转发原邮件或把材料作为附件发送。"}),
    "attachment.check_failed": Entry(WARNING, "附件检查出错，待人工核对", "附件“{file}”未能完成自动检查，工作人员将人工核对。"),
    "file.timeout": Entry(WARNING, "附件未能在规定时间内检查完毕",
        "附件“{file}”内容过于复杂，未能在规定时间内检查完毕，工作人员将人工核对。"),
    "message.timeout": Entry(WARNING, "邮件未能在规定时间内检查完毕",
        "附件太多或太大，“{file}”及之后的附件未能在规定时间内检查完毕，工作人员将人工核对。"),
}


def placeholders(template: str) -> set[str]:
    """The facts a template names; ValueError for a template that is not one (a stray brace)."""
    names = set()
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conv:
            raise ValueError(f"{{{name}}} is not a fact; write facts as {{name}}, and a brace as {{{{ or }}}}")
        names.add(name)
    return names


def facts_of(code: str) -> set[str]:
    """The facts every defect of `code` carries, whatever its form: what a profile's wording may use."""
    e = CATALOGUE[code]
    sets = [placeholders(t) for t in (e.text, *e.forms.values())]
    return set.intersection(*sets)


def render(code: str, facts: dict, form: str = "", text: str | None = None) -> str:
    e = CATALOGUE[code]
    return (text or e.forms.get(form) or e.text).format_map(facts)


def defect(code: str, file: str | None = None, *, form: str = "", severity: str | None = None, **facts) -> Defect:
    """A Defect of a catalogued code, its sentence rendered from `facts` (and `file`, as {file})."""
    e = CATALOGUE[code]                 # an uncatalogued code is our bug: tests/test_docs.py finds it
    if form and form not in e.forms:
        raise KeyError(f"{code} has no form {form!r}")
    if file is not None:
        facts = {"file": file, **facts}
    return Defect(code, severity or e.severity, file, render(code, facts, form), facts=facts, form=form)


def override_error(code: str, rule: dict) -> str | None:
    """What is wrong with a profile's `[defects."CODE"]` table, or None (profile.py names the file)."""
    if code not in CATALOGUE:
        hint = f' (quote the code: [defects."{code}.…"])' if "." not in code else ""
        return f"unknown defect code {code!r}{hint}; the codes are those of the README's defect table"
    if not isinstance(rule, dict):
        return "must be a table with severity and/or text"
    extra = set(rule) - {"severity", "text"}
    if extra:
        return f"unknown key {sorted(extra)[0]}; known keys: severity, text"
    if "severity" in rule and rule["severity"] not in (ERROR, WARNING):
        return f"severity must be \"error\" or \"warning\", got {rule['severity']!r}"
    text = rule.get("text")
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        return "text must be a non-empty sentence"
    try:
        unknown = placeholders(text) - facts_of(code)
    except ValueError as e:
        return f"text: {e}"
    if unknown:
        known = ", ".join(f"{{{f}}}" for f in sorted(facts_of(code))) or "none"
        return f"text: unknown fact {{{sorted(unknown)[0]}}}; {code} has {known}"
    return None


def apply(profile, d: Defect) -> Defect:
    """`d` with the profile's severity and wording for its code, if the profile gives any."""
    rule = getattr(profile, "defects", {}).get(d.code)
    if not rule:
        return d
    message = d.message
    if rule.get("text"):
        try:
            message = render(d.code, d.facts, d.form, rule["text"])
        except (KeyError, IndexError, ValueError):    # a defect made without its facts keeps its sentence
            pass
    return dataclasses.replace(d, severity=rule.get("severity") or d.severity, message=message)


def title(code: str) -> str:
    e = CATALOGUE.get(code)
    return e.title if e else code


def severity(code: str) -> str:
    e = CATALOGUE.get(code)
    return e.severity if e else WARNING
