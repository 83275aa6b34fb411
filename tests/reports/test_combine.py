"""The day is the unit: combine() over a school's mails, case by case (pure, rows in, day out)."""
from __future__ import annotations

from daemon.reports.combine import Mail, combine

_id = iter(range(1, 10_000))


def mail(*, text=0, files=(), defects=(), late=False, accepted=False, resend=False) -> Mail:
    """files: (name, sha, type); defects: (code, file|None, severity)."""
    i = next(_id)
    return Mail(row={"id": i, "text_chars": text, "late": int(late), "accepted_at": "x" if accepted else None},
                defects=[{"code": c, "file": f, "severity": s, "text": c} for c, f, s in defects],
                materials=[{"file": n, "sha256": h, "type": t} for n, h, t in files], resend=resend)


def photo(name, sha=None):
    return (name, sha or f"sha-{name}", "photo")


def test_text_and_photos_split_over_two_mails():
    a = mail(text=1000)
    b = mail(text=5, files=[photo("1.jpg"), photo("2.jpg"), photo("3.jpg")], defects=[("text.missing", None, "error")])
    c = combine([a, b])
    assert (c.text_chars, c.photos, c.open_codes, c.fixed_codes) == (1000, 3, [], [])


def test_a_new_text_replaces_the_older_one():
    c = combine([mail(text=300, defects=[("text.too_short", None, "error")]), mail(text=1200)])
    assert c.text_chars == 1200 and c.open_codes == [] and c.fixed_codes == ["text.too_short"]


def test_the_same_file_twice_counts_once_and_a_same_name_replaces():
    narrow = photo("开幕式.jpg", "old")
    a = mail(text=1000, files=[narrow, photo("2.jpg")], defects=[("photo.too_narrow", "开幕式.jpg", "error")])
    again = mail(files=[photo("2副本.jpg", "sha-2.jpg")], defects=[("text.missing", None, "error")])
    c = combine([a, again])
    assert c.photos == 2 and c.open_codes == ["photo.too_narrow"]
    fixed = mail(files=[photo("开幕式.jpg", "new")], defects=[("text.missing", None, "error")])
    c = combine([a, again, fixed])
    assert c.photos == 2 and c.open_codes == [] and c.fixed_codes == ["photo.too_narrow"]


def test_a_full_resend_replaces_everything_before_it():
    a = mail(text=1000, files=[photo("a.jpg"), photo("b.jpg")])
    r = mail(text=900, files=[photo("c.jpg")], resend=True)
    c = combine([a, r])
    assert (c.text_chars, c.photos, [m.id for m in c.mails], [m.id for m in c.live]) == (900, 1, [a.id, r.id], [r.id])


def test_the_day_is_late_only_when_its_first_mail_was():
    assert combine([mail(text=1000), mail(files=[photo("x.jpg")], late=True)]).late is False
    assert combine([mail(text=1000, late=True)]).late is True


def test_materials_missing_is_decided_on_the_day():
    a = mail(text=1000, defects=[("materials.missing", None, "error")])
    assert combine([a]).open_codes == ["materials.missing"]
    c = combine([a, mail(files=[("v.mp4", "v", "video")])])
    assert c.open_codes == [] and c.fixed_codes == ["materials.missing"] and c.videos == 1


def test_acceptance_holds_until_a_later_mail_brings_a_new_error():
    a = mail(text=100, defects=[("text.too_short", None, "error")], accepted=True)
    assert combine([a]).accepted is a
    ok_photo = mail(files=[photo("p.jpg")])
    assert combine([a, ok_photo]).accepted is a
    bad = mail(files=[photo("q.jpg")], defects=[("photo.too_small", "q.jpg", "error")])
    assert combine([a, ok_photo, bad]).accepted is None


def test_many_mails_in_a_day_stay_bounded():
    mails = [mail(files=[photo(f"{i}.jpg")], defects=[("text.missing", None, "error")]) for i in range(300)]
    c = combine(mails)
    assert c.photos == 300 and c.open_codes == ["text.missing"]
