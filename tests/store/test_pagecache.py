"""The day's archive is kept out of memory (daemon/store/pagecache.py): a file handed to `drop` has no
page left in the cache once it is on disk, and a judged message's raw mail and new attachments are
dropped by the judging process itself. Residency is read with mincore(2), as fincore(1) does."""
from __future__ import annotations

import ctypes
import mmap
import os

from daemon.store import pagecache

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


def resident(path) -> int:
    """Pages of the file now in the page cache (mapping a file and asking does not read it)."""
    size = os.path.getsize(path)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            assert _libc.mincore(addr, size, vec) == 0, ctypes.get_errno()
        finally:
            _libc.munmap(addr, size)
    finally:
        os.close(fd)
    return sum(b & 1 for b in vec)


def written(path, size: int = 8 << 20) -> str:
    with open(path, "wb") as fh:
        fh.write(os.urandom(size))
        fh.flush()
        os.fsync(fh.fileno())        # on disk: its pages are clean, so they can be dropped
    return str(path)


def test_drop_leaves_no_page_of_a_file_written_to_disk(tmp_path):
    path = written(tmp_path / "raw.eml")
    assert resident(path) > 0        # just written: cached (else the test below proves nothing)
    pagecache.drop(path)
    assert resident(path) == 0
    assert open(path, "rb").read(4)  # the data is untouched, only its cached copy went


def test_drop_ignores_what_is_not_there(tmp_path):
    pagecache.drop(tmp_path / "gone", None, "")
    pagecache.judged([tmp_path / "gone"], [tmp_path / "gone"])
