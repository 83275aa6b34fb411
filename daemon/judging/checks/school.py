"""school.unknown: a report we can't tie to any school on the roster."""
from daemon.model import ERROR, Defect


def check(j) -> list[Defect]:
    if j.school:
        return []
    return [Defect("school.unknown", ERROR, None,
                   "未能识别报送学校：请在邮件主题中写明学校全称（如“某某学校一日一报5月15日”），"
                   "或使用在教育局登记的邮箱发送。")]
