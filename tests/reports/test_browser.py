"""The digest in a real browser: headless Chromium renders the standalone file with its table,
its thumbnails and its chart (all data: URIs, nothing fetched). Chromium missing is a failure."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from daemon.reports.digest import build_digest
from tests.builders.store import DAY, scenario

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# appended to a copy of the page only: reports whether each image really decoded
PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.body.setAttribute('data-probe', JSON.stringify(imgs.map(function (i) {
    return [i.complete, i.naturalWidth, i.naturalHeight]; })));
});
</script>"""


def chromium(tmp_path: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium (make system)"
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)


class Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.tables, self.scripts = [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs).get("src", ""))
        self.tables += tag == "table"
        self.scripts += tag == "script"


def test_digest_renders_in_chromium(tmp_path):
    b, exp = scenario(tmp_path)
    d = build_digest(b.profile, b.roster, b.store, DAY)
    page = tmp_path / "digest.html"
    page.write_text(d.standalone(), encoding="utf-8")
    html = page.read_text(encoding="utf-8")

    # every image is inline and decodes; no script, no external reference, no cid left over
    p = Imgs()
    p.feed(html)
    assert p.scripts == 0 and p.tables >= 2 and "cid:" not in html
    assert len(p.srcs) == len(d.images) >= 2
    for src in p.srcs:
        m = re.fullmatch(r"data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)", src)
        assert m, src[:60]
        with Image.open(io.BytesIO(base64.b64decode(m.group(2)))) as im:
            im.load()
            assert im.format.lower() == m.group(1)

    shot = tmp_path / "digest.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    with Image.open(shot) as im:
        assert im.size == (1200, 2000)
        extrema = im.convert("RGB").getextrema()
        assert any(lo != hi for lo, hi in extrema), "the screenshot is a single colour"
        assert len(im.convert("RGB").getcolors(1 << 20) or []) > 50
    ARTEFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTEFACTS / "digest.png")

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert "<table" in dom and "<tbody>" in dom
    for school in exp:
        assert school in dom

    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()).stdout.decode("utf-8")
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the page did not finish loading"
    states = json.loads(m.group(1).replace("&quot;", '"'))
    assert len(states) == len(d.images)
    assert all(done and w > 0 and h > 0 for done, w, h in states), states


def test_hostile_page_runs_no_script_in_chromium(tmp_path):
    from tests.builders.store import StoreBuilder
    names = ["<script>document.title='pwned'</script>", "<img src=x onerror=\"document.title='pwned'\">", "正常学校"]
    b = StoreBuilder(tmp_path, names)
    for n in names:
        b.report(n, DAY, photos=1)
    page = tmp_path / "hostile.html"
    page.write_text(build_digest(b.profile, b.roster, b.store, DAY).standalone(), encoding="utf-8")
    dom = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert "<script" not in dom and 'src="x"' not in dom
    assert "&lt;script&gt;" in dom


# appended to a copy of the page only: its width as the browser laid it out, posted to the frame around it
WIDTH_PROBE = """<script>
window.addEventListener('load', function () {
  var inner = [];
  Array.prototype.forEach.call(document.querySelectorAll('div'), function (d) {
    if (d.scrollWidth > d.clientWidth) inner.push([d.clientWidth, d.scrollWidth]); });
  var img = document.querySelector('img[alt^="本周"]').getBoundingClientRect();
  parent.postMessage(JSON.stringify({scroll: document.documentElement.scrollWidth, view: window.innerWidth,
                                     body: document.body.scrollWidth, inner: inner, chart: img.width}), '*');
});
</script>"""
# a phone-width viewport: headless Chromium's window is at least 500 px wide, an iframe is exactly as wide as we say
FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" width="{width}" height="1800" style="border:0;display:block"></iframe>
<script>window.addEventListener('message', function (m) {{ document.body.setAttribute('data-width', m.data); }});</script>
</body></html>"""


def laid_out(tmp_path: Path, page: Path, width: int) -> dict:
    """The page in a `width`-px viewport: {scroll, view, body, inner: [[client, scroll] of divs that scroll], chart}."""
    probe = page.with_name(f"{page.stem}-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", WIDTH_PROBE + "</body>"), encoding="utf-8")
    frame = page.with_name(f"{page.stem}-{width}.html")
    frame.write_text(FRAME.format(src=probe.name, width=width), encoding="utf-8")
    dom = chromium(tmp_path, "--hide-scrollbars", f"--window-size={max(width, 500) + 40},1900",
                   "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()).stdout.decode("utf-8")
    m = re.search(r'data-width="([^"]*)"', dom)
    assert m, "the framed page did not report its width"
    return json.loads(m.group(1).replace("&quot;", '"'))


def test_digest_fits_a_phone_and_a_desktop(tmp_path):
    """At 390 px (how most staff read mail) nothing widens the page: the boxes wrap, the chart shrinks and
    the table scrolls inside itself; at 1280 px nothing needs scrolling. Inline styles only, no script."""
    b, exp = scenario(tmp_path)
    html = build_digest(b.profile, b.roster, b.store, DAY).standalone()
    assert "<style" not in html and "<script" not in html and " class=" not in html
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")

    phone = laid_out(tmp_path, page, 390)
    assert phone["view"] == 390
    assert phone["scroll"] <= 390 and phone["body"] <= 390, phone
    assert phone["chart"] <= 390 - 2 * 8 and phone["inner"] == [], phone    # the chart shrank; no table needs scrolling
    desk = laid_out(tmp_path, page, 1280)
    assert desk["view"] == 1280
    assert desk["scroll"] <= 1280 and desk["inner"] == [], desk
    assert 480 <= desk["chart"] <= 482, desk                            # its designed width (+ border)

    frame = tmp_path / "digest-390.html"
    shot = tmp_path / "digest-390.png"
    chromium(tmp_path, "--hide-scrollbars", f"--screenshot={shot}", "--window-size=500,1800", frame.as_uri())
    ARTEFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTEFACTS / "digest-390.png")


def test_long_unbreakable_names_do_not_widen_the_phone_page(tmp_path):
    """What schools send is hostile to layout too: 40-letter names, file names and addresses without a space."""
    from tests.builders.store import StoreBuilder, defect
    long_name = "Xiamen" * 20
    names = [long_name, "W" * 120, "正常学校"]
    b = StoreBuilder(tmp_path, names)
    b.report(long_name, DAY, photos=4, defects=[defect("photo.too_narrow", "IMG_" + "7" * 90 + ".jpg"),
                                                defect("attachment.link_only", "video" * 20 + ".mp4")])
    b.report("正常学校", DAY, photos=1)
    b.other(at=b.when(DAY), subject="Re:" + "report" * 30, sender="a" * 60 + "@" + "b" * 60 + ".example")
    page = tmp_path / "long.html"
    page.write_text(build_digest(b.profile, b.roster, b.store, DAY).standalone(), encoding="utf-8")
    phone = laid_out(tmp_path, page, 390)
    assert phone["view"] == 390 and phone["scroll"] <= 390 and phone["body"] <= 390, phone
