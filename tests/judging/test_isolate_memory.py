"""A judging process keeps the buffers it frees for the next block (isolate.reuse_freed_memory)
instead of faulting fresh pages in for each: counted in page faults, in fresh interpreters (the
pool's workers call it once, at start)."""
from __future__ import annotations

import subprocess
import sys

CHURN = """
import os, resource, sys
if sys.argv[1] == "reuse":
    from daemon.judging.isolate import reuse_freed_memory
    reuse_freed_memory()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    held = [os.urandom(3 << 20) for _ in range(4)]    # a photo's decoded blocks, held to be hashed first
    del held
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_buffers_are_reused_not_faulted_in_again():
    plain, reused = faults("plain"), faults("reuse")
    assert reused < plain / 2, (plain, reused)
