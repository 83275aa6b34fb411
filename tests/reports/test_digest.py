"""The daily digest: content from the stored reports, a safe MIME mail, escaping, size, once only."""
from __future__ import annotations

import email
import email.policy
import io
import re

import pytest
from PIL import Image

from daemon import config as configs
from daemon.outgoing.mailout import FolderTransport
from daemon.reports.chart import week_chart
from daemon.reports.digest import build_digest, deliver, enqueue_digest
from daemon.store.thumbs import thumbnail
from tests.builders.store import DAY, StoreBuilder, make_photo, scenario

MB = 1024 * 1024
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "学" * 300, "正常学校"]


def parse(msg):
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_digest_says_what_was_stored(tmp_path):
    b, exp = scenario(tmp_path)
    d = build_digest(b.profile, b.roster, b.store, DAY)
    fig = d.figures
    assert f"按时{fig['on_time']}所" in d.subject and f"未报{fig['missing']}所" in d.subject
    missing = [s for s, e in exp.items() if e["status"] == "missing"]
    assert f"未报送（{len(missing)}所）：{'、'.join(missing)}" in d.text
    html = d.html()
    for school, e in exp.items():
        assert school in html and school in d.text
        line = next(ln for ln in d.text.splitlines() if ln.split("：")[0].endswith(school))
        if e["status"] != "missing":
            assert f"文字{e['text_chars']}字，照片{e['photos']}张，视频{e['videos']}个" in line
    fixed_school = next(s for s, e in exp.items() if e["fixed"])
    assert "已改正：缺少文字稿件" in html and "共2封邮件" in html and fixed_school in d.text
    assert "技能展示.mp4" in html and "5月30日" in html                  # cloud link with expiry
    assert "职教周一日一报（无署名）" in html and "已隔离" in html            # mail to look at
    # every cid the HTML uses is an image of the mail, and every image is used
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    assert cids == set(d.images)
    # thumbnails: one per photo, at most four per school
    assert len(cids) - 1 == sum(min(4, e["photos"]) for e in exp.values())
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_stamp_carries_the_year(tmp_path):
    import datetime as dt
    b, _ = scenario(tmp_path)
    d = build_digest(b.profile, b.roster, b.store, DAY, now=dt.datetime(2023, 5, 16, 12, 30, tzinfo=b.profile.tz))
    assert "统计于 2023年5月16日 12:30" in d.html() and "统计于 2023年5月16日 12:30" in d.text


def test_mail_is_multipart_with_inline_images(tmp_path):
    b, _ = scenario(tmp_path)
    d = build_digest(b.profile, b.roster, b.store, DAY)
    m = parse(d.message("bureau@bureau.example", ["staff@bureau.example", "boss@bureau.example"]))
    assert m["To"] == "staff@bureau.example, boss@bureau.example" and m["Auto-Submitted"] == "auto-generated"
    assert m.get_body(("plain",)).get_content().replace("\r\n", "\n") == d.text
    html = m.get_body(("html",)).get_content()
    ids = {p["Content-ID"].strip("<>") for p in m.walk() if p.get_content_maintype() == "image"}
    assert ids == set(d.images) == set(re.findall(r'src="cid:([^"]+)"', html))
    for p in m.walk():
        if p.get_content_maintype() == "image":
            Image.open(io.BytesIO(p.get_content())).load()


def test_hostile_names_and_subjects_are_escaped(tmp_path):
    b = StoreBuilder(tmp_path, HOSTILE)
    evil_photo = b.photo('"><script>alert(3)</script>.jpg')
    b.report(HOSTILE[0], DAY, photos=[evil_photo], subject="一日一报\r\nBcc: victim@evil.example\r\nX-Evil: 1")
    b.report(HOSTILE[1], DAY, late=True, defects=["text.missing"])
    b.report(HOSTILE[2], DAY)
    b.other(at=b.when(DAY), subject="<b onmouseover=alert(4)>一日一报</b>\r\nBcc: x@evil.example",
            sender="<script>@evil.example")
    d = build_digest(b.profile, b.roster, b.store, DAY)
    for html in (d.html(), d.standalone()):
        assert "<script" not in html.lower()
        assert "<img src=x" not in html and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
        assert "<b onmouseover" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "学" * 300 not in html and "学" * 39 + "…" in html        # shortened, full name in title
    m = parse(d.message("bureau@bureau.example", ["staff@bureau.example"]))
    assert m["Bcc"] is None and m["X-Evil"] is None
    assert "\n" not in m["Subject"] and "\r" not in m["Subject"]
    assert "Bcc" not in d.text.split("需要人工查看")[0]
    for line in d.text.splitlines():
        assert not line.startswith(("Bcc:", "X-Evil:"))


def test_200_schools_stay_within_a_few_megabytes(tmp_path):
    names = [f"厦门市第{i + 1:03d}职业技术学校（{'分校' * (i % 3)}）" for i in range(200)]
    b = StoreBuilder(tmp_path, names)
    for i, school in enumerate(names):
        if i % 10 == 9:
            continue                              # some missing
        photos = [b.photo(width=640, height=480, noise=255, grain=4) for _ in range(5)]
        b.report(school, DAY, photos=photos, late=i % 7 == 0, defects=["text.missing"] if i % 5 == 0 else ())
    d = build_digest(b.profile, b.roster, b.store, DAY)
    raw = d.message("bureau@bureau.example", ["staff@bureau.example"]).as_bytes()
    assert len(raw) < 4 * MB, len(raw)
    html = d.html()
    rows = re.findall(r"<tr style=\"background:#(?:ffffff|f7f9fa);\">(.*?)</tr>", html, re.S)
    assert len(rows) == 200
    with_photos = [r for r in rows if "照片" not in r and "未报送" not in r]
    assert all('src="cid:' in r for r in with_photos)               # every reporting school has a thumbnail
    assert all(r.count('src="cid:') <= 4 for r in rows)
    if d.ctx["skipped"]:                          # over the budget: said so, not silently dropped
        assert f"另有{d.ctx['skipped']}张照片未附缩略图" in html
    assert d.figures["missing"] == 20 and d.figures["roster"] == 200


def test_thumbnail_is_small_and_upright(tmp_path):
    p = make_photo(tmp_path / "portrait.jpg", 2400, 1600, orientation=6)      # a phone held upright
    data, w, h = thumbnail(p)
    assert h > w and max(w, h) <= 160
    assert len(data) < 20_000
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (w, h)
    assert thumbnail(tmp_path / "missing.jpg") is None
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    assert thumbnail(tmp_path / "bad.jpg") is None


@pytest.mark.parametrize("cjk", [True, False])
def test_chart_is_a_real_picture(cjk):
    import datetime as dt
    counts = [{"date": dt.date(2023, 5, 14) + dt.timedelta(days=i), "on_time": 3 + i % 2, "late": i % 3,
               "accepted": i % 2} for i in range(5)]
    png = week_chart(counts, 6, cjk=cjk)
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (960, 480)             # 480 × 240 shown, drawn at 2×
        colours = im.convert("RGB").getcolors(10_000)
        assert colours and len(colours) > 3
    assert len(png) < 40_000


def test_send_queues_once_and_delivers(tmp_path):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config())
    assert enqueue_digest(cfg, b.profile, b.roster, b.store, DAY) == 1
    assert enqueue_digest(cfg, b.profile, b.roster, b.store, DAY) == 0
    rows = list(b.store.db.execute("select kind, dedupe_key, recipient, state from outbox"))
    assert rows == [("digest", "digest:2023-05-15", "staff@bureau.example", "pending")]
    assert deliver(cfg, b.store, FolderTransport(cfg.smtp))["sent"] == 1
    (eml,) = list((tmp_path / "sent").glob("*.eml"))
    m = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert "5月15日" in m["Subject"] and m.get_body(("html",)) is not None
    assert enqueue_digest(cfg, b.profile, b.roster, b.store, DAY) == 0


def test_several_recipients_one_row_each(tmp_path):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config(recipients=["a@bureau.example", "b@bureau.example"]))
    assert enqueue_digest(cfg, b.profile, b.roster, b.store, DAY) == 2
    keys = [r[0] for r in b.store.db.execute("select dedupe_key from outbox order by id")]
    assert keys == ["digest:2023-05-15", "digest:2023-05-15:b@bureau.example"]
    assert enqueue_digest(cfg, b.profile, b.roster, b.store, DAY) == 0


def test_no_recipients_is_a_clear_error(tmp_path):
    b, _ = scenario(tmp_path)
    cfg = configs.load(b.config(recipients=[]))
    with pytest.raises(ValueError, match=r"\[digest\] recipients"):
        enqueue_digest(cfg, b.profile, b.roster, b.store, DAY)
