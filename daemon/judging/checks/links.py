"""attachment.link_only: a cloud "large attachment" link (超大附件) can't be judged from here."""
from daemon.defects import defect
from daemon.model import Defect


def check(j) -> list[Defect]:
    out = []
    for link in j.links:
        name = link.get("name") or "超大附件"
        if link.get("expires"):
            out.append(defect("attachment.link_only", link.get("name"), form="expires",
                              name=name, expires=link["expires"]))
        else:
            out.append(defect("attachment.link_only", link.get("name"), name=name))
    return out
