"""What each deliverable needs: table.missing, materials.missing, photo.not_archived, and a
warning when a school's mail can't be tied to any deliverable of the notice."""
from daemon.model import ERROR, WARNING, Defect


def check(j) -> list[Defect]:
    out: list[Defect] = []
    for d in j.requires("table"):
        if not j.tables:
            out.append(Defect("table.missing", ERROR, None,
                              f"未收到“{d.name}”：请将表格以Excel（.xlsx/.xls）或WPS表格附件发送，不要粘贴在正文或截图。"))
    for d in j.requires("materials"):
        if not j.photos and not j.videos:
            out.append(Defect("materials.missing", ERROR, None,
                              f"“{d.name}”需要活动照片或视频，本邮件中没有找到，请补充后重新报送。"))
    if j.profile.photos.archived:
        loose = [m for m in j.photos if not m.in_archive]
        for m in loose:
            out.append(Defect("photo.not_archived", ERROR, m.file,
                              f"照片“{m.file}”是直接作为附件发送的，通知要求照片以压缩包形式报送，"
                              "请将全部照片打包成一个zip压缩包后重新发送。"))
    if j.kind == "report" and not j.deliverables:
        names = "、".join(d.name for d in j.profile.deliverables)
        out.append(Defect("deliverable.unknown", WARNING, None,
                          f"未能识别本邮件报送的是哪一项材料，请在邮件主题中注明（{names}）。"))
    return out
