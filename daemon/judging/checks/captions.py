"""photo.no_caption and video.no_description.

A photo is captioned when its file name carries words, or when the body or a document has a
line naming the file followed by words; a video's description follows the same rule."""
from daemon.defects import defect
from daemon.judging.names import caption_from_name, caption_in_text
from daemon.model import Defect


def decide(j) -> None:
    """Each photo's and video's caption, from its name, the body or a document: decided once by
    the judge before the checks run, so the checks only read (and the store keeps the caption)."""
    text = j.caption_text()
    for m in [*j.photos, *j.videos]:
        m.caption = caption_from_name(m.file) or caption_in_text(m.file, text)


def check(j) -> list[Defect]:
    out: list[Defect] = []
    for m in j.photos:
        if j.profile.photos.caption and not m.caption and not j.has_defect(m.file, "photo.corrupt"):
            out.append(defect("photo.no_caption", m.file, basename=m.file.rsplit("/", 1)[-1]))
    for m in j.videos:
        if j.profile.videos.description and not m.caption and not j.has_defect(m.file, "video.corrupt"):
            out.append(defect("video.no_description", m.file, basename=m.file.rsplit("/", 1)[-1]))
    return out
