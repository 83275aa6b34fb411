"""archive.inspect: zip / rar / 7z are judged from their listing, then unpacked member by member
into ctx.workdir only; hostile archives are refused without writing anything."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.judging.inspect import archive
from daemon.judging.inspect.archive import Budget, Refused, Sink
from daemon.judging.inspect.sniff import sniff
from tests.builders.files import (
    make_7z,
    make_rar,
    make_zip,
    make_zip_bomb,
    make_zip_slip,
    make_zip_with_declared_size,
    nest_zips,
)
from tests.builders.media import attachment, context

COMMON = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产"
          "种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业"
          "本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利"
          "比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文"
          "总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干"
          "做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共"
          "权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张"
          "信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验"
          "连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写"
          "存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严茅"
          "台墨幕合影开校园")


@pytest.fixture
def ctx(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return context("puyang-2023", work)


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    return d


def snapshot(root: Path, skip: Path) -> dict[str, int]:
    out = {}
    for dirpath, _, files in os.walk(root):
        if Path(dirpath) == skip or skip in Path(dirpath).parents:
            continue
        for f in files:
            p = Path(dirpath) / f
            out[str(p)] = p.stat().st_size
    return out


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run(path, ctx, name=None, depth=0, fmt=None):
    """Inspect, and check that nothing changed on disk outside ctx.workdir meanwhile."""
    att = attachment(path, name)
    att.depth = depth
    top = Path(path).parent.parent
    before = snapshot(top, ctx.workdir)
    res = archive.inspect(att, fmt or sniff(att.path, att.name), ctx)
    assert snapshot(top, ctx.workdir) == before
    for child in res.children:
        assert ctx.workdir.resolve() in child.path.resolve().parents
    return res


def codes(result):
    return sorted(d.code for d in result.defects)


def refused_cleanly(result, ctx, code="archive.unsafe"):
    """One defect, no children, no member on disk anywhere (run() checked outside workdir)."""
    assert codes(result) == [code]
    assert result.children == []
    assert not [p for p in ctx.workdir.rglob("*") if p.is_file()]
    assert not list(ctx.workdir.parent.rglob("evil*"))


# ---------------------------------------------------------------- zip: good archives


def test_gbk_names_from_chinese_windows_decode_exactly(src, ctx):
    p = make_zip(src / "照片.zip", {"照片/": b"", "照片/开幕式合影.jpg": b"\xff\xd8\xff" + b"x" * 100,
                                    "说明.txt": "校园开放日".encode()}, gbk_names=True)
    with zipfile.ZipFile(p) as zf:                       # really written without the UTF-8 flag
        assert all(not i.flag_bits & 0x800 for i in zf.infolist())
    res = run(p, ctx)
    assert codes(res) == []
    assert [c.name for c in res.children] == ["照片.zip/照片/开幕式合影.jpg", "照片.zip/说明.txt"]
    jpg, txt = res.children
    assert jpg.path.read_bytes() == b"\xff\xd8\xff" + b"x" * 100
    assert txt.path.read_text() == "校园开放日"
    assert jpg.path.name == "开幕式合影.jpg"
    for c in res.children:
        assert ctx.workdir.resolve() in c.path.parents
        assert (c.depth, c.in_archive, c.size) == (1, True, c.path.stat().st_size)
        assert c.sha256 == attachment(c.path).sha256


def test_utf8_names_with_and_without_flag(src, ctx):
    names = {"活动/合影 1.jpg": b"a", "文件.docx": b"b"}
    for raw in (None, "utf-8"):
        res = run(make_zip(src / f"u{raw}.zip", names, raw_names=raw), ctx)
        assert [c.basename for c in res.children] == ["合影 1.jpg", "文件.docx"]
        assert res.children[0].name.endswith("/活动/合影 1.jpg")


def test_info_zip_unicode_path_field_wins(src, ctx):
    p = src / "up.zip"
    info = zipfile.ZipInfo("garbled.txt")
    raw = "garbled.txt".encode()
    name = "日报.txt".encode()
    import zlib
    info.extra = b"\x75\x70" + len(name + raw[:0]).__add__(5).to_bytes(2, "little") + b"\x01" + \
        zlib.crc32(raw).to_bytes(4, "little") + name
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr(info, b"x")
    assert [c.basename for c in run(p, ctx).children] == ["日报.txt"]


def test_junk_and_directories_are_skipped(src, ctx):
    p = make_zip(src / "a.zip", {"照片/": b"", "照片/a.jpg": b"1", "__MACOSX/照片/._a.jpg": b"j",
                                 ".DS_Store": b"j", "照片/Thumbs.db": b"j", "desktop.ini": b"j", "._b.jpg": b"j"})
    res = run(p, ctx)
    assert [c.name for c in res.children] == ["a.zip/照片/a.jpg"]


def test_same_base_name_in_two_folders_gets_two_files(src, ctx):
    res = run(make_zip(src / "a.zip", {"一班/合影.jpg": b"1", "二班/合影.jpg": b"2", "三班/合影.JPG": b"3"}), ctx)
    assert [c.name for c in res.children] == ["a.zip/一班/合影.jpg", "a.zip/二班/合影.jpg", "a.zip/三班/合影.JPG"]
    assert len({c.path for c in res.children}) == 3
    assert [c.path.read_bytes() for c in res.children] == [b"1", b"2", b"3"]


def test_archive_material(src, ctx):
    p = make_zip(src / "a.zip", {"a.txt": b"hello"})
    att = attachment(p)
    att.in_archive = True
    att.depth = 1
    res = archive.inspect(att, "zip", ctx)
    (m,) = res.materials
    assert (m.file, m.type, m.format, m.size, m.sha256, m.in_archive) == ("a.zip", "archive", "zip", att.size, att.sha256, True)
    assert res.children[0].depth == 2


def test_small_highly_compressible_files_do_not_trip_the_ratio(src, ctx):
    res = run(make_zip(src / "a.zip", {"blank.txt": bytes(400_000), "b.txt": b" " * 400_000}), ctx)
    assert codes(res) == [] and len(res.children) == 2


def test_big_members_with_ordinary_ratios_pass(src, ctx):
    import random
    rnd = random.Random(1)
    text = "".join(rnd.choice("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工")
                   for _ in range(1_000_000)).encode()
    res = run(make_zip(src / "a.zip", {"long.txt": text, "photo.jpg": os.urandom(3 * 1024**2)}), ctx)
    assert codes(res) == [] and [c.size for c in res.children] == [len(text), 3 * 1024**2]


def test_max_members_boundary(src, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    c = context("puyang-2023", work, max_members=5)
    assert codes(run(make_zip(src / "five.zip", {f"{i}.txt": b"x" for i in range(5)}), c)) == []
    assert codes(run(make_zip(src / "six.zip", {f"{i}.txt": b"x" for i in range(6)}), c)) == ["archive.unsafe"]


# ---------------------------------------------------------------- zip: hostile archives


@pytest.mark.parametrize("evil", ["../../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:\\evil.txt",
                                  "c:/evil.txt", "..\\..\\evil.txt"])
def test_path_escapes_are_refused(src, ctx, tmp_path, evil):
    res = run(make_zip_slip(src / "slip.zip", evil), ctx)
    refused_cleanly(res, ctx)
    assert "slip.zip" in res.defects[0].message and res.defects[0].file == "slip.zip"
    assert res.defects[0].severity == "error"


def test_symlink_member_is_refused(src, ctx, tmp_path):
    res = run(make_zip(src / "ln.zip", {"a.txt": b"x"}, symlink_member=("link", "/etc/passwd")), ctx)
    refused_cleanly(res, ctx)
    assert "链接" in res.defects[0].message


def test_device_member_is_refused(src, ctx, tmp_path):
    p = src / "dev.zip"
    with zipfile.ZipFile(p, "w") as zf:
        info = zipfile.ZipInfo("dev")
        info.create_system = 3
        info.external_attr = (0o020666 << 16)        # character device
        zf.writestr(info, b"")
    refused_cleanly(run(p, ctx), ctx)


def test_too_many_members_is_refused(src, ctx, tmp_path):
    p = make_zip(src / "many.zip", {f"{i}.txt": b"" for i in range(ctx.limits.max_members + 1)})
    res = run(p, ctx)
    refused_cleanly(res, ctx)
    assert str(ctx.limits.max_members) in res.defects[0].message


def test_zip_bomb_is_refused_before_writing(src, ctx, tmp_path):
    p = make_zip_bomb(src / "bomb.zip")                  # 1 GiB of zeros in ~1 MB
    assert p.stat().st_size < 5 * 1024**2
    res = run(p, ctx)
    refused_cleanly(res, ctx)
    assert tree_size(ctx.workdir) == 0


def test_declared_total_over_limit_is_refused(src, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    c = context("puyang-2023", work, max_unpacked_bytes=1000)
    res = run(make_zip(src / "big.zip", {"a.bin": os.urandom(600), "b.bin": os.urandom(600)}), c)
    assert codes(res) == ["archive.unsafe"] and not list(work.rglob("*.bin"))


def test_header_claiming_huge_size_is_refused(src, ctx, tmp_path):
    p = make_zip_with_declared_size(src / "liar.zip", "a.txt", b"hello", declared=50 * 1024**2)
    refused_cleanly(run(p, ctx), ctx)


def test_header_claiming_less_than_real_never_writes_more(src, ctx):
    data = b"A" * 100_000
    p = make_zip_with_declared_size(src / "liar.zip", "a.txt", data, declared=1000)
    res = run(p, ctx)
    assert codes(res) in (["archive.corrupt"], ["archive.unsafe"])
    assert res.children == []
    assert tree_size(ctx.workdir) <= 1000


def test_sink_stops_at_declared_size(tmp_path):
    import time
    sink = Sink(tmp_path / "m", 10, Budget(10**9, time.monotonic() + 100))
    sink.write(b"x" * 10)
    with pytest.raises(Refused) as e:
        sink.write(b"y")
    assert e.value.code == "archive.unsafe"
    sink.close()
    assert (tmp_path / "m").stat().st_size == 10


def test_budget_stops_at_total_limit(tmp_path):
    import time
    budget = Budget(15, time.monotonic() + 100)
    a = Sink(tmp_path / "a", 10, budget)
    a.write(b"x" * 10)
    b = Sink(tmp_path / "b", 10, budget)
    with pytest.raises(Refused):
        b.write(b"x" * 10)


def test_stuck_tool_is_killed(tmp_path):
    """A tool past the file's budget is killed, and the budget is spent (file.timeout), not a defect
    of the archive's own."""
    import time

    from daemon.judging.inspect import FileTimeout
    sink = Sink(tmp_path / "m", 10, Budget(10**9, time.monotonic() + 100))
    with pytest.raises(FileTimeout):
        archive.run_to_sink(["sleep", "30"], sink, 0.2)


def inspect_tree(att, ctx):
    """What the pipeline does: inspect an archive, then every archive inside it, and so on."""
    results = [archive.inspect(att, sniff(att.path, att.name), ctx)]
    for child in results[0].children:
        if sniff(child.path, child.name) in archive.FORMATS:
            results += inspect_tree(child, ctx)
    return results


def test_two_levels_of_nesting_are_fine(src, ctx):
    results = inspect_tree(attachment(nest_zips(src / "outer.zip", 2)), ctx)
    assert [codes(r) for r in results] == [[], []]
    leaf = results[-1].children[0]
    assert leaf.name == "outer.zip/level2.zip/a.txt" and leaf.depth == 2 and leaf.path.read_bytes() == b"hello"


def test_three_levels_of_nesting_are_refused(src, ctx):
    results = inspect_tree(attachment(nest_zips(src / "outer.zip", 3)), ctx)
    assert [codes(r) for r in results] == [[], [], ["archive.unsafe"]]
    assert results[-1].children == []
    assert results[-1].defects[0].file == "outer.zip/level2.zip/level3.zip"
    assert not list(ctx.workdir.rglob("a.txt"))


# ---------------------------------------------------------------- zip: encrypted, corrupt, unsupported


def test_zipcrypto_flag_is_encrypted(src, ctx, tmp_path):
    p = make_zip(src / "locked.zip", {"a.txt": b"secret"}, encrypt=True)
    res = run(p, ctx)
    refused_cleanly(res, ctx, "archive.encrypted")
    assert "密码" in res.defects[0].message


def test_real_7zip_password_zip_is_encrypted(src, ctx):
    (src / "a.txt").write_text("secret")
    subprocess.run(["7z", "a", "-tzip", "-pSECRET", "-bd", str(src / "pw.zip"), str(src / "a.txt")],
                   check=True, capture_output=True)
    assert codes(run(src / "pw.zip", ctx)) == ["archive.encrypted"]


def test_not_encrypted_is_not_reported(src, ctx):
    assert "archive.encrypted" not in codes(run(make_zip(src / "a.zip", {"a.txt": b"x"}), ctx))


def test_truncated_zip_is_corrupt(src, ctx):
    p = make_zip(src / "a.zip", {"a.jpg": os.urandom(5000)})
    p.write_bytes(p.read_bytes()[:2000])
    res = run(p, ctx, fmt="zip")
    assert codes(res) == ["archive.corrupt"] and res.children == []
    assert "已损坏" in res.defects[0].message and "a.zip" in res.defects[0].message


def test_crc_error_keeps_the_good_members(src, ctx):
    p = make_zip(src / "a.zip", {"good.txt": b"good", "bad.txt": b"B" * 1000}, compression=zipfile.ZIP_STORED)
    raw = bytearray(p.read_bytes())
    raw[raw.index(b"B" * 1000) + 10] ^= 0xFF
    p.write_bytes(bytes(raw))
    res = run(p, ctx)
    assert codes(res) == ["archive.corrupt"]
    assert "bad.txt" in res.defects[0].message
    assert [c.basename for c in res.children] == ["good.txt"]
    assert not list(ctx.workdir.rglob("bad.txt"))


def test_unsupported_method_alone_is_an_error_beside_others_a_warning(src, ctx):
    def with_method(path, members, method_of):
        p = make_zip(path, members, compression=zipfile.ZIP_STORED)
        raw = bytearray(p.read_bytes())
        with zipfile.ZipFile(p) as zf:
            infos, start = zf.infolist(), zf.start_dir
        pos = start
        for info in infos:
            if info.filename == method_of:
                raw[info.header_offset + 8:info.header_offset + 10] = (9).to_bytes(2, "little")  # deflate64
                raw[pos + 10:pos + 12] = (9).to_bytes(2, "little")
            n, m, k = (int.from_bytes(raw[pos + o:pos + o + 2], "little") for o in (28, 30, 32))
            pos += 46 + n + m + k
        p.write_bytes(bytes(raw))
        return p
    alone = run(with_method(src / "a.zip", {"x.jpg": b"1"}, "x.jpg"), ctx)
    assert [(d.code, d.severity) for d in alone.defects] == [("archive.unsupported", "error")]
    mixed = run(with_method(src / "b.zip", {"x.jpg": b"1", "y.jpg": b"2"}, "x.jpg"), ctx)
    assert [(d.code, d.severity) for d in mixed.defects] == [("archive.unsupported", "warning")]
    assert [c.basename for c in mixed.children] == ["y.jpg"]


def test_gzip_is_unsupported_asking_for_zip(src, ctx):
    import gzip
    p = src / "照片.tar.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"x" * 1000)
    assert sniff(p, p.name) == "gzip"
    res = run(p, ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("archive.unsupported", "error")]
    assert "ZIP" in res.defects[0].message


# ---------------------------------------------------------------- property: any member name


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4, unique=True))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_member_names_stay_inside_workdir(names):
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        (base / "work").mkdir()
        c = context("puyang-2023", base / "work")
        try:
            p = make_zip(base / "a.zip", {n: n.encode("utf-8", "surrogatepass") for n in names})
        except (ValueError, UnicodeEncodeError):
            return
        before = snapshot(base, base / "work")
        res = archive.inspect(attachment(p), "zip", c)
        assert snapshot(base, base / "work") == before
        assert set(codes(res)) <= {"archive.unsafe", "archive.corrupt"}
        for child in res.children:
            assert (base / "work").resolve() in child.path.parents
            assert child.name.startswith("a.zip/") and child.depth == 1


@given(st.lists(st.text(alphabet=COMMON + "abcXYZ0189 -_（）", min_size=1, max_size=12),
                min_size=1, max_size=3, unique=True))
@settings(max_examples=60, deadline=None)
def test_gbk_names_round_trip(stems):
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        (base / "work").mkdir()
        names = [f"{s.strip() or 'x'}.txt" for s in stems]
        if len(set(names)) != len(names):
            return
        p = make_zip(base / "a.zip", {n: b"x" for n in names}, gbk_names=True)
        res = archive.inspect(attachment(p), "zip", context("puyang-2023", base / "work"))
        assert [c.name for c in res.children] == [f"a.zip/{n}" for n in names]


# ---------------------------------------------------------------- rar


RAR_MEMBERS = {"照片/": b"", "照片/开幕式合影.jpg": b"\xff\xd8\xff" + b"j" * 3000, "说明.txt": "你好".encode()}


@pytest.mark.parametrize("rar5", [False, True])
def test_rar_read_directly(src, ctx, rar5):
    res = run(make_rar(src / "照片.rar", RAR_MEMBERS, rar5=rar5), ctx)
    assert codes(res) == []
    assert [c.name for c in res.children] == ["照片.rar/照片/开幕式合影.jpg", "照片.rar/说明.txt"]
    assert res.children[0].path.read_bytes() == RAR_MEMBERS["照片/开幕式合影.jpg"]
    assert res.materials[0].format == "rar"


@pytest.mark.parametrize("tool", ["7z", "unar", "bsdtar"])
@pytest.mark.parametrize("rar5", [False, True])
def test_rar_through_each_tool(src, ctx, monkeypatch, tool, rar5):
    """Compressed members go through a Debian tool; stored ones are forced through it here."""
    assert shutil.which(tool), f"{tool} is not installed"
    monkeypatch.setattr(archive, "RAR_DIRECT", False)
    monkeypatch.setattr(archive, "RAR_TOOLS", (tool,))
    res = run(make_rar(src / "a.rar", RAR_MEMBERS, rar5=rar5), ctx)
    assert codes(res) == []
    assert [c.path.read_bytes() for c in res.children] == [RAR_MEMBERS["照片/开幕式合影.jpg"], "你好".encode()]


def test_rar_without_any_tool_is_unsupported(src, ctx, monkeypatch):
    monkeypatch.setattr(archive, "RAR_DIRECT", False)
    monkeypatch.setattr(archive, "RAR_TOOLS", ("no-such-tool-here",))
    res = run(make_rar(src / "a.rar", {"a.txt": b"x"}), ctx)
    assert [(d.code, d.severity) for d in res.defects] == [("archive.unsupported", "error")]


def test_rar_gbk_names_without_unicode_flag(src, ctx):
    res = run(make_rar(src / "a.rar", {"照片/合影.jpg": b"1"}, gbk_names=True), ctx)
    assert [c.name for c in res.children] == ["a.rar/照片/合影.jpg"]


@pytest.mark.parametrize("rar5", [False, True])
def test_rar_encrypted(src, ctx, tmp_path, rar5):
    res = run(make_rar(src / "a.rar", {"a.txt": b"secret"}, rar5=rar5, encrypted=True), ctx)
    refused_cleanly(res, ctx, "archive.encrypted")


@pytest.mark.parametrize("rar5", [False, True])
def test_rar_symlink_is_refused(src, ctx, tmp_path, rar5):
    res = run(make_rar(src / "a.rar", {"a.txt": b"x"}, rar5=rar5, symlink_member=("ln", "/etc/passwd")), ctx)
    refused_cleanly(res, ctx)


def test_rar_slip_is_refused(src, ctx, tmp_path):
    refused_cleanly(run(make_rar(src / "a.rar", {"../../evil.txt": b"x"}), ctx), ctx)


@pytest.mark.parametrize("cut", [10, 60])
def test_rar_corrupt(src, ctx, cut):
    p = make_rar(src / "a.rar", {"a.txt": b"x" * 200})
    p.write_bytes(p.read_bytes()[:cut])
    res = run(p, ctx, fmt="rar")
    assert codes(res) == ["archive.corrupt"] and res.children == []


def test_rar_bad_crc_is_corrupt(src, ctx):
    p = make_rar(src / "a.rar", {"a.txt": b"x" * 200})
    raw = bytearray(p.read_bytes())
    raw[raw.index(b"x" * 200) + 5] ^= 1
    p.write_bytes(bytes(raw))
    assert codes(run(p, ctx)) == ["archive.corrupt"]


# ---------------------------------------------------------------- 7z


def test_7z_ok(src, ctx):
    res = run(make_7z(src / "照片.7z", {"照片/": b"", "照片/合影.jpg": b"\xff\xd8\xff1", "a.txt": b"hi",
                                        "__MACOSX/._a.txt": b"j"}), ctx)
    assert codes(res) == []
    assert [c.name for c in res.children] == ["照片.7z/照片/合影.jpg", "照片.7z/a.txt"]
    assert [c.path.read_bytes() for c in res.children] == [b"\xff\xd8\xff1", b"hi"]
    assert res.children[1].sha256 == attachment(res.children[1].path).sha256


def test_7z_made_by_7zip_non_solid(src, ctx):
    for name, data in (("a.txt", b"hello"), ("b.txt", b"world" * 1000)):
        (src / name).write_bytes(data)
    subprocess.run(["7z", "a", "-ms=off", "-bd", str(src / "x.7z"), str(src / "a.txt"), str(src / "b.txt")],
                   check=True, capture_output=True)
    res = run(src / "x.7z", ctx)
    assert codes(res) == [] and [c.size for c in res.children] == [5, 5000]


@pytest.mark.parametrize("header_encryption", [False, True])
def test_7z_encrypted(src, ctx, tmp_path, header_encryption):
    p = make_7z(src / "a.7z", {"a.txt": b"secret"}, password="pw", header_encryption=header_encryption)
    refused_cleanly(run(p, ctx), ctx, "archive.encrypted")


def test_7z_corrupt(src, ctx):
    p = make_7z(src / "a.7z", {"a.txt": os.urandom(3000)})
    p.write_bytes(p.read_bytes()[:1500])
    res = run(p, ctx, fmt="7z")
    assert codes(res) == ["archive.corrupt"] and res.children == []


@pytest.mark.parametrize("evil", ["../../evil.txt", "/tmp/evil.txt"])
def test_7z_slip_is_refused(src, ctx, evil):
    p = make_7z(src / "a.7z", {"ok.txt": b"x", evil: b"evil"}, allow_bad_names=True)
    refused_cleanly(run(p, ctx), ctx)


def test_7z_bomb_by_total_ratio(src, ctx, tmp_path):
    p = make_7z(src / "z.7z", {"zeros.bin": bytes(20 * 1024**2)})
    refused_cleanly(run(p, ctx), ctx)
