"""`ribao export`: the bureau's archive, opened and checked file by file against its manifest."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import stat
import zipfile

from openpyxl import load_workbook

from daemon.storage.export import MANIFEST, MANIFEST_HEAD, REPLACED, Names, win_name

WIN_BAD = re.compile(r'[<>:"\\|?*\x00-\x1f]')
DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _open(path):
    zf = zipfile.ZipFile(path)
    raw = zf.read(MANIFEST)
    assert raw.startswith(b"\xef\xbb\xbf")                     # BOM: Excel and WPS read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == MANIFEST_HEAD
    return zf, [dict(zip(rows[0], r)) for r in rows[1:]]


def test_week_export_matches_its_manifest_file_by_file(week, tmp_path):
    out = tmp_path / "out" / "week.zip"
    r = week.run("export", "--week", "--out", str(out))
    assert str(out) in r.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(out.parent.glob("*.part"))
    zf, manifest = _open(out)
    by_path = {m["文件"]: m for m in manifest}
    names = [i.filename for i in zf.infolist()]
    assert sorted(names) == sorted([*by_path, MANIFEST])          # every file listed, nothing else
    for info in zf.infolist():
        if info.filename == MANIFEST:
            continue
        data = zf.read(info)
        m = by_path[info.filename]
        assert m["sha256"] == _sha(data) and int(m["字节数"]) == len(data), info.filename
        if not info.filename.isascii():
            assert info.flag_bits & 0x800                         # UTF-8 names for Explorer and WPS
        for part in info.filename.split("/"):
            assert part and not WIN_BAD.search(part) and not part.endswith((" ", "."))
            assert part.split(".")[0].lower() not in DEVICES and len(part) <= 80
        assert len(info.filename) <= 180
    assert len({n.lower() for n in names}) == len(names)

    pics = {k: _sha(p.read_bytes()) for k, p in week.info["photos"].items()}
    a = "2023-05-14/厦门工商旅游学校"
    assert by_path[f"{a}/开幕式.jpg"]["sha256"] == pics["shared"]
    assert by_path[f"{a}/实训体验（重报）.jpg"]["sha256"] == pics["a14bis"]
    assert by_path[f"{a}/{REPLACED}/实训体验.jpg"]["sha256"] == pics["a14"]      # what the resend replaced
    assert by_path[f"{a}/{REPLACED}/实训体验.jpg"]["结论"].startswith("已替换")
    assert by_path[f"{a}/实训体验（重报）.jpg"]["结论"] == "有问题"
    assert "photo.too_small" in by_path[f"{a}/实训体验（重报）.jpg"]["问题"]
    assert by_path[f"{a}/实训体验（重报）.jpg"]["学校"] == "厦门工商旅游学校"
    assert by_path[f"{a}/实训体验（重报）.jpg"]["日期"] == "2023-05-14"
    assert by_path["2023-05-14/厦门市集美职业技术学校/_CON.jpg"]["sha256"] == pics["b14"]
    assert by_path["2023-05-14/厦门信息学校/技能_展示__一_.jpg"]["sha256"] == pics["c14"]
    assert by_path["2023-05-15/厦门市集美职业技术学校/茶艺.jpg"]["sha256"] == pics["b15"]
    photos = [p for p in by_path if p.endswith(".jpg")]
    assert len(photos) == 11                                      # six reports, eleven files

    digest = zf.read("每日汇总/2023-05-14.html").decode("utf-8")
    assert "厦门工商旅游学校" in digest and "data:image/jpeg" in digest
    book = [n for n in names if n.endswith(".xlsx")]
    assert len(book) == 1
    wb = load_workbook(io.BytesIO(zf.read(book[0])), read_only=True)
    assert "情况统计表" in wb.sheetnames


def test_one_day_export_and_bad_calls(week, tmp_path):
    out = tmp_path / "d15.zip"
    week.run("export", "--date", "2023-05-15", "--out", str(out))
    zf, manifest = _open(out)
    days = {m["日期"] for m in manifest if m["学校"]}
    assert days == {"2023-05-15"}
    assert {n.split("/")[0] for n in zf.namelist() if n.endswith(".jpg")} == {"2023-05-15"}
    assert "每日汇总/2023-05-15.html" in zf.namelist()
    for args, needle in [(["--out", str(tmp_path / "x.txt")], ".zip"),
                         (["--date", "2023-06-30", "--out", str(tmp_path / "y.zip")], "not a day of the week"),
                         (["--week", "--date", "2023-05-15", "--out", str(tmp_path / "z.zip")], "one of"),
                         (["--deliverable", "nope", "--out", str(tmp_path / "z.zip")], "unknown")]:
        r = week.run("export", *args, ok=False)
        assert r.returncode == 2 and needle in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "y.zip").exists()


def test_windows_names():
    assert win_name('a<b>c:d"e/f\\g|h?i*j.jpg') == "a_b_c_d_e_f_g_h_i_j.jpg"
    assert win_name("CON.jpg") == "_CON.jpg" and win_name("lpt1") == "_lpt1" and win_name("nul.tar.gz") == "_nul.tar.gz"
    assert win_name("照片. . ") == "照片" and win_name("") == "_"
    long = win_name("长" * 300 + ".jpeg")
    assert len(long) == 80 and long.endswith(".jpeg")


def test_zip_paths_are_bounded_and_unique_without_case():
    n = Names()
    p = n.add(["2023-05-14", "长" * 200, REPLACED], "照" * 300 + ".jpg")
    assert len(p) <= 180 and p.endswith(".jpg") and all(len(x) <= 80 for x in p.split("/"))
    assert n.add(["d"], "Photo.JPG") == "d/Photo.JPG" and n.add(["d"], "photo.jpg") == "d/photo (2).jpg"
    assert n.add(["d"], "photo.jpg") == "d/photo (3).jpg"
