"""The defect catalogue: every code ribao gives, its default severity and a short Chinese title.

Checks and inspectors write the full sentence for the school (with the file and the figures);
the title names the problem where a sentence would be too long, as in a reply's list of what a
later mail fixed. tests/test_docs.py keeps this catalogue and the README's table equal, both ways.
"""
from __future__ import annotations

ERROR, WARNING = "error", "warning"

CATALOGUE: dict[str, tuple[str, str]] = {
    "school.unknown": (ERROR, "未能识别报送学校"),
    "school.unconfirmed_sender": (WARNING, "发件邮箱未登记，待工作人员确认"),
    "date.outside_week": (ERROR, "报送日期不在活动周内"),
    "submission.late": (WARNING, "逾期报送"),
    "deliverable.unknown": (WARNING, "未能识别报送的是哪项材料"),
    "text.missing": (ERROR, "缺少文字稿件"),
    "text.too_short": (ERROR, "文字稿字数不足"),
    "text.too_long": (WARNING, "文字稿字数偏多"),
    "document.missing": (ERROR, "缺少文档"),
    "document.unreadable": (WARNING, "文档无法打开"),
    "table.missing": (ERROR, "缺少统计表"),
    "table.corrupt": (ERROR, "统计表无法打开"),
    "table.empty": (ERROR, "统计表没有数据"),
    "materials.missing": (ERROR, "缺少照片或视频"),
    "photo.not_jpeg": (ERROR, "照片不是JPG格式"),
    "photo.too_narrow": (ERROR, "照片宽度不足"),
    "photo.too_small": (ERROR, "照片文件太小"),
    "photo.no_caption": (ERROR, "照片缺少文字说明"),
    "photo.corrupt": (ERROR, "照片已损坏"),
    "photo.not_archived": (ERROR, "照片未打包为压缩文件"),
    "video.not_mp4": (ERROR, "视频不是mp4格式"),
    "video.too_large": (ERROR, "视频文件过大"),
    "video.below_sd": (ERROR, "视频分辨率低于标清"),
    "video.below_recommended": (WARNING, "视频分辨率低于建议值"),
    "video.corrupt": (ERROR, "视频无法读取"),
    "video.no_description": (ERROR, "视频缺少文字说明"),
    "archive.corrupt": (ERROR, "压缩文件已损坏"),
    "archive.encrypted": (ERROR, "压缩文件有密码"),
    "archive.unsupported": (ERROR, "压缩文件格式无法打开"),
    "archive.unsafe": (ERROR, "压缩文件不安全或过大"),
    "attachment.link_only": (WARNING, "云端超大附件链接"),
    "attachment.unknown_type": (WARNING, "附件格式无法检查"),
    "attachment.check_failed": (WARNING, "附件检查出错，待人工核对"),
    "file.timeout": (WARNING, "附件未能在规定时间内检查完毕"),
    "message.timeout": (WARNING, "邮件未能在规定时间内检查完毕"),
}


def title(code: str) -> str:
    return CATALOGUE.get(code, (WARNING, code))[1]


def severity(code: str) -> str:
    return CATALOGUE.get(code, (WARNING, code))[0]
