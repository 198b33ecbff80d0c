"""How many threads the BLAS library under NumPy uses, for a stretch of code.

Small models multiply small matrices: there OpenBLAS's extra threads cost
more in wake-ups than they save, and on a loaded machine they spin against
other processes (the demo took 1.8 s on one thread and 1.4-6.2 s on two on
the same two-core machine as its load changed). ``blas_threads(n)`` sets the
count for a ``with`` block and restores it afterwards, through threadpoolctl
when it is installed, otherwise through OpenBLAS's own
``openblas_set_num_threads`` found among the libraries loaded into this
process (Linux). A thread count the user chose with one of the usual
environment variables is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["USER_THREAD_VARIABLES", "blas_threads", "openblas_kernel"]

USER_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "GOTO_NUM_THREADS")

# OpenBLAS's setter under its plain name and under the names of the builds NumPy's wheels ship
_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads_64_", "scipy_openblas_set_num_threads")


def _user_choice() -> str | None:
    for name in USER_THREAD_VARIABLES:
        if os.environ.get(name, "").strip():
            return f"{name}={os.environ[name].strip()}"
    return None


def _openblas_handles() -> list[tuple[Any, str]]:
    """(library handle, name of its thread setter) for every OpenBLAS loaded into this process
    (empty off Linux)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = sorted({line.split(None, 5)[-1] for line in maps.splitlines()
                    if "openblas" in line.rsplit("/", 1)[-1].lower() and "/" in line})
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)  # already loaded: this only returns its handle
        except OSError:
            continue
        for setter in _SETTERS:
            if hasattr(lib, setter) and hasattr(lib, setter.replace("set_", "get_")):
                found.append((lib, setter))
                break
    return found


def _loaded_openblas() -> list[tuple[Any, Any]]:
    """(setter, getter) pairs of every OpenBLAS loaded into this process (empty off Linux)."""
    found = []
    for lib, setter in _openblas_handles():
        getter = getattr(lib, setter.replace("set_", "get_"))
        getter.restype = ctypes.c_int
        found.append((getattr(lib, setter), getter))
    return found


def openblas_kernel() -> str | None:
    """The name of the kernel family NumPy's OpenBLAS runs on this CPU (``"Haswell"``,
    ``"SkylakeX"``...; ``OPENBLAS_CORETYPE`` can force one), or None when NumPy's BLAS is not an
    OpenBLAS found loaded in this process.

    >>> from brickwork._blas import openblas_kernel
    >>> openblas_kernel() is None or isinstance(openblas_kernel(), str)
    True
    """
    for lib, setter in _openblas_handles():
        corename = getattr(lib, setter.replace("set_num_threads", "get_corename"), None)
        if corename is not None:
            corename.restype = ctypes.c_char_p
            return (corename() or b"").decode() or None
    return None


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[str]:
    """Run the block with NumPy's BLAS on ``count`` threads; yields a one-line account of what was done.

    >>> from brickwork._blas import blas_threads
    >>> with blas_threads(1) as how:
    ...     isinstance(how, str)
    True
    """
    chosen = _user_choice()
    if chosen is not None:
        yield f"BLAS threads left as chosen ({chosen})"
        return
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=count, user_api="blas"):
            yield f"BLAS on {count} thread(s) (threadpoolctl)"
        return
    libraries = _loaded_openblas()
    if not libraries:
        yield "BLAS threads unchanged (neither threadpoolctl nor a loaded OpenBLAS found)"
        return
    previous = [get() for _, get in libraries]
    for set_, _ in libraries:
        set_(count)
    try:
        yield f"BLAS on {count} thread(s) (OpenBLAS)"
    finally:
        for (set_, _), before in zip(libraries, previous, strict=True):
            set_(before)
