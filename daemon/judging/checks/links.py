"""attachment.link_only: a cloud "large attachment" link (超大附件) can't be judged from here."""
from daemon.model import WARNING, Defect


def check(j) -> list[Defect]:
    out = []
    for link in j.links:
        name = link.get("name") or "超大附件"
        expiry = f"（链接{link['expires']}到期）" if link.get("expires") else ""
        out.append(Defect("attachment.link_only", WARNING, link.get("name"),
                          f"“{name}”是云端超大附件链接{expiry}，无法自动检查，且到期后将无法下载；"
                          "请尽量压缩到邮箱附件大小以内直接作为附件发送，或确保工作人员在到期前下载。"))
    return out
