"""Keep freed memory in the process for reuse (glibc's malloc), set once at import.

A training step allocates and frees the same large arrays (activations,
gradients, im2col chunks) every step. With glibc's defaults, arrays over
about 128 KiB-32 MiB are mmap'ed and unmapped, and the heap top is trimmed
back to the system, so the next step takes fresh pages again: the kernel
zeroes each one on its first touch. Measured on the benchmark workloads
(brickwork alone in the process, one thread): LeNet training steps 16-21 %
faster with the two thresholds below, peak memory unchanged (the memory is
reused, not grown; benchmarks/RESULTS.md). glibc caps the mmap threshold at
32 MiB, so larger arrays (AlexNet at batch 128 has many of 100-150 MiB) were
still mapped afresh each time: ``M_MMAP_MAX=0`` makes malloc serve every
size from its heap, where freed blocks are reused (AlexNet b128: kernel time
328 -> 137 ms of a ~3.7 s step, peak RSS 1155 -> 1104 MiB).

The settings are process-wide, so they are documented and can be declined:

* ``BRICKWORK_MALLOC_TUNING=0`` in the environment leaves malloc alone;
* if any of glibc's own ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
  ``MALLOC_TOP_PAD_`` or ``MALLOC_MMAP_MAX_`` is set, the user's settings stand;
* on other C libraries (musl, macOS, Windows) nothing happens.

What it costs: memory freed by a step stays mapped to the process instead
of returning to the system between steps; only free memory at the top of the
heap beyond ``TRIM_THRESHOLD`` is handed back, so a large array freed below
live ones stays in the process (for reuse) until the memory above it is freed.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_malloc", "MALLOC_TUNED"]

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit systems
TRIM_THRESHOLD = 256 << 20

MALLOC_TUNED = False
"""Whether :func:`tune_malloc` changed malloc's settings in this process."""

_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "MALLOC_MMAP_MAX_")


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring); True if applied."""
    global MALLOC_TUNED
    if MALLOC_TUNED:
        return True
    if os.environ.get("BRICKWORK_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if any(name in os.environ for name in _USER_SETTINGS) or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl has mallopt as a stub)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    ok = mallopt(_M_MMAP_MAX, 0) == 1 and ok  # no allocation gets a mapping of its own
    MALLOC_TUNED = ok
    return ok
