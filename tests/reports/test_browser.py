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
