"""photo.no_caption and video.no_description.

A photo is captioned when its file name carries words, or when the body or a document has a
line naming the file followed by words; a video's description follows the same rule."""
from daemon.judging.names import caption_from_name, caption_in_text
from daemon.model import ERROR, Defect


def _caption(m, text: str) -> str | None:
    return caption_from_name(m.file) or caption_in_text(m.file, text)


def check(j) -> list[Defect]:
    out: list[Defect] = []
    text = j.caption_text()
    for m in j.photos:
        m.caption = _caption(m, text)
        if j.profile.photos.caption and not m.caption and not j.has_defect(m.file, "photo.corrupt"):
            out.append(Defect("photo.no_caption", ERROR, m.file,
                              f"照片“{m.file}”缺少文字说明：请把文件名改为照片内容（如“开幕式合影.jpg”），"
                              f"或在正文中另起一行写“{m.file.rsplit('/', 1)[-1]}：照片说明”。"))
    for m in j.videos:
        m.caption = _caption(m, text)
        if j.profile.videos.description and not m.caption and not j.has_defect(m.file, "video.corrupt"):
            out.append(Defect("video.no_description", ERROR, m.file,
                              f"视频“{m.file}”缺少文字说明：通知要求每个视频另附文字说明，请在正文中另起一行写"
                              f"“{m.file.rsplit('/', 1)[-1]}：视频内容说明”，或把文件名改为视频内容。"))
    return out
