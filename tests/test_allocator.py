"""brickwork's malloc settings at import: applied on glibc, declinable, never over the user's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = "import brickwork._allocator as a, brickwork; print(a.MALLOC_TUNED)"


def _tuned(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "BRICKWORK_MALLOC_TUNING"}
    res = subprocess.run([sys.executable, "-c", CHECK], env={**clean, **env}, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _glibc() -> bool:
    import platform

    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _glibc(), reason="the malloc settings apply to glibc only")
def test_applied_by_default_on_glibc():
    assert _tuned() == "True"


def test_declined_with_the_environment_variable():
    assert _tuned(BRICKWORK_MALLOC_TUNING="0") == "False"


def test_the_users_own_malloc_settings_stand():
    assert _tuned(MALLOC_TRIM_THRESHOLD_="1048576") == "False"
