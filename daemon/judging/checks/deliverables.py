"""What each deliverable needs: table.missing, materials.missing, photo.not_archived, and a
warning when a school's mail can't be tied to any deliverable of the notice."""
from daemon.defects import defect
from daemon.model import Defect


def check(j) -> list[Defect]:
    out: list[Defect] = []
    for d in j.requires("table"):
        if not j.tables:
            out.append(defect("table.missing", deliverable=d.name))
    for d in j.requires("materials"):
        if not j.photos and not j.videos:
            out.append(defect("materials.missing", deliverable=d.name))
    if j.profile.photos.archived:
        for m in j.photos:
            if not m.in_archive:
                out.append(defect("photo.not_archived", m.file))
    if j.kind == "report" and not j.deliverables:
        out.append(defect("deliverable.unknown", deliverables="、".join(d.name for d in j.profile.deliverables)))
    return out
