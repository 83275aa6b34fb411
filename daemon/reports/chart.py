"""The week so far as a small PNG: reports per day, on time / late / accepted stacked.

Drawn with Pillow alone (no matplotlib to install on a bureau's server). Chinese labels need a CJK
font; when `fc-list :lang=zh` finds none, the labels are ASCII (5/14, on time) rather than boxes.
"""
from __future__ import annotations

import functools
import io
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from daemon.reports.day import ACCEPTED, LATE, ON_TIME

COLOURS = {ON_TIME: (46, 125, 50), LATE: (239, 108, 0), ACCEPTED: (21, 101, 192)}
LABELS_ZH = {ON_TIME: "按时", LATE: "逾期", ACCEPTED: "人工认可"}
LABELS_EN = {ON_TIME: "on time", LATE: "late", ACCEPTED: "accepted"}
WEEKDAY_ZH = "一二三四五六日"
WIDTH, HEIGHT = 480, 240       # CSS px as shown at most (the digest's <img width>); it shrinks on a phone
_KNOWN = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
          "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
          "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A font file that has Chinese glyphs, or None."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        files = [ln.strip().rstrip(":") for ln in out.splitlines() if ln.strip()]
    except (OSError, subprocess.SubprocessError):
        files = []
    files = [f for f in files if f.lower().endswith((".ttf", ".ttc", ".otf"))]
    files.sort(key=lambda f: (not ("Sans" in f or "hei" in f.lower()), "Bold" in f, f))
    for f in [*files, *_KNOWN]:
        if Path(f).exists():
            return f
    return None


def _font(size: int, cjk: bool):
    path = cjk_font_path() if cjk else None
    candidates = [path] if path else []
    candidates.append("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    for c in candidates:
        try:
            return ImageFont.truetype(c, size)
        except OSError:
            continue
    return ImageFont.load_default()


def week_chart(counts: list[dict], roster_size: int, *, cjk: bool | None = None,
               width: int = WIDTH, height: int = HEIGHT, scale: int = 2) -> bytes:
    """counts: [{date, on_time, late, accepted}] per day so far → PNG bytes, `scale` × width × height pixels.

    Drawn at twice the size it is shown (`width` CSS px, shrinking to the screen: width 100%, max-width):
    still sharp on a phone's dense screen, and its labels readable when 480 px shrink to 360."""
    if cjk is None:
        cjk = cjk_font_path() is not None
    k = scale
    labels = LABELS_ZH if cjk else LABELS_EN
    font, small = _font(14 * k, cjk), _font(13 * k, cjk)
    img = Image.new("RGB", (width * k, height * k), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 38 * k, 10 * k, 48 * k, 42 * k
    plot_w, plot_h = width * k - left - right, height * k - top - bottom
    top_value = max([roster_size, 1] + [c[ON_TIME] + c[LATE] + c[ACCEPTED] for c in counts])
    d.line([(left, top), (left, top + plot_h), (left + plot_w, top + plot_h)], fill=(150, 150, 150), width=k)
    for value in sorted({top_value, top_value // 2} - {0}):
        y = top + plot_h - int(plot_h * value / top_value)
        d.line([(left + k, y), (left + plot_w, y)], fill=(230, 230, 230), width=k)
        d.text((left - 6 * k, y), str(value), fill=(110, 110, 110), font=small, anchor="rm")
    n = max(len(counts), 1)
    slot = plot_w / max(n, 7)
    bar_w = max(8 * k, int(slot * 0.6))
    for i, c in enumerate(counts):
        x0 = left + int(slot * i + (slot - bar_w) / 2)
        if roster_size:
            y_full = top + plot_h - int(plot_h * roster_size / top_value)
            d.rectangle([x0, y_full, x0 + bar_w, top + plot_h - 1], outline=(200, 200, 200), width=k)
        y = top + plot_h
        for key in (ON_TIME, LATE, ACCEPTED):
            h = int(round(plot_h * c[key] / top_value))
            if h:
                d.rectangle([x0, y - h, x0 + bar_w, y - 1], fill=COLOURS[key])
                y -= h
        total = c[ON_TIME] + c[LATE] + c[ACCEPTED]
        d.text((x0 + bar_w / 2, y - 3 * k), str(total), fill=(60, 60, 60), font=small, anchor="mb")
        day = c["date"]
        d.text((x0 + bar_w / 2, top + plot_h + 6 * k), f"{day.month}/{day.day}", fill=(60, 60, 60), font=small, anchor="ma")
        if cjk:
            d.text((x0 + bar_w / 2, top + plot_h + 22 * k), f"周{WEEKDAY_ZH[day.weekday()]}", fill=(60, 60, 60),
                   font=small, anchor="ma")
    x = left
    for key in (ON_TIME, LATE, ACCEPTED):
        d.rectangle([x, 9 * k, x + 12 * k, 21 * k], fill=COLOURS[key])
        d.text((x + 16 * k, 15 * k), labels[key], fill=(60, 60, 60), font=font, anchor="lm")
        x += 28 * k + int(d.textlength(labels[key], font=font))
    d.rectangle([x, 9 * k, x + 12 * k, 21 * k], outline=(200, 200, 200), width=k)
    d.text((x + 16 * k, 15 * k), "学校总数" if cjk else "roster", fill=(60, 60, 60), font=font, anchor="lm")
    buf = io.BytesIO()
    img.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(buf, "PNG", optimize=True)
    return buf.getvalue()
