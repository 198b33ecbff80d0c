"""brickwork's malloc settings at import: applied on glibc, declinable, never over the user's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = "import brickwork._allocator as a, brickwork; print(a.MALLOC_TUNED)"

# where a 64 MiB array lands: in the heap (brk), reused by the next step, or a mapping of its own
# (fresh pages the kernel zeroes on every allocation)
WHERE = """
import numpy as np, brickwork
a = np.empty(64 << 20, np.uint8)
address = a.ctypes.data
for line in open("/proc/self/maps"):
    span, *rest = line.split()
    low, high = (int(v, 16) for v in span.split("-"))
    if low <= address < high:
        print("heap" if line.rstrip().endswith("[heap]") else "mapping")
"""


def _tuned(code: str = CHECK, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "BRICKWORK_MALLOC_TUNING"}
    res = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _glibc() -> bool:
    import platform

    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _glibc(), reason="the malloc settings apply to glibc only")
def test_applied_by_default_on_glibc():
    assert _tuned() == "True"


@pytest.mark.skipif(not _glibc(), reason="the malloc settings apply to glibc only")
def test_large_arrays_come_from_the_heap_unless_declined():
    assert _tuned(WHERE) == "heap"
    assert _tuned(WHERE, BRICKWORK_MALLOC_TUNING="0") == "mapping"


def test_declined_with_the_environment_variable():
    assert _tuned(BRICKWORK_MALLOC_TUNING="0") == "False"


def test_the_users_own_malloc_settings_stand():
    assert _tuned(MALLOC_TRIM_THRESHOLD_="1048576") == "False"
