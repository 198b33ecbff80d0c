"""Process-wide settings with PyTorch's names: default dtype, finfo/iinfo, threads, determinism.

>>> import brickwork as bw
>>> bw.finfo(bw.float32).eps
1.1920928955078125e-07
>>> bw.iinfo(bw.int8).max
127
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brickwork import dtypes

__all__ = [
    "set_default_dtype", "get_default_dtype", "finfo", "iinfo", "set_num_threads",
    "get_num_threads", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
]


def set_default_dtype(d: Any) -> None:
    """Make ``d`` (float32 or float64, or float16) the dtype of new floating tensors and parameters."""
    dt = dtypes.as_dtype(d)
    if not dt.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default "
                        f"type, got {dt!r}")
    dtypes.DEFAULT_FLOAT = dt


def get_default_dtype() -> dtypes.DType:
    """The dtype of new floating tensors (float32 unless set_default_dtype changed it)."""
    return dtypes.DEFAULT_FLOAT


class finfo:  # noqa: N801 - torch's name
    """Limits of a floating dtype (``torch.finfo``): bits, eps, max, min, tiny, resolution."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002 - torch's name
        self.dtype = dtypes.DEFAULT_FLOAT if type is None else dtypes.as_dtype(type)
        if not self.dtype.is_floating_point:
            raise TypeError(f"finfo: {self.dtype!r} is not a floating-point dtype; use iinfo")
        info = np.finfo(self.dtype.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # torch gives 1e-06, not float32(1e-06)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, "
                f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype.name})")


class iinfo:  # noqa: N801 - torch's name
    """Limits of an integer or bool dtype (``torch.iinfo``): bits, max, min."""

    def __init__(self, type: Any) -> None:  # noqa: A002 - torch's name
        self.dtype = dtypes.as_dtype(type)
        if self.dtype.is_floating_point:
            raise TypeError(f"iinfo: {self.dtype!r} is a floating-point dtype; use finfo")
        if self.dtype is dtypes.bool_:
            self.bits, self.min, self.max = 8, 0, 1
        else:
            info = np.iinfo(self.dtype.np)
            self.bits, self.min, self.max = int(info.bits), int(info.min), int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype.name})"


_threads: int | None = None


def set_num_threads(n: int) -> None:
    """Use ``n`` BLAS threads (through threadpoolctl when it is installed; else only recorded)."""
    global _threads
    if int(n) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _threads = int(n)
    try:
        import threadpoolctl
    except ImportError:
        return  # recorded only: without threadpoolctl the BLAS keeps its own thread count
    threadpoolctl.threadpool_limits(limits=_threads, user_api="blas")


def get_num_threads() -> int:
    """The BLAS thread count (set_num_threads's, else the BLAS's, else the CPU count)."""
    if _threads is not None:
        return _threads
    try:
        import threadpoolctl
    except ImportError:
        return os.cpu_count() or 1
    counts = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the flag (brickwork's CPU ops are deterministic already; CuPy atomics may not be)."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: expected a bool, got {type(mode).__name__}")
    _deterministic.update(mode=mode, warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    """Whether use_deterministic_algorithms(True) is in force."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether use_deterministic_algorithms(..., warn_only=True) is in force."""
    return _deterministic["warn_only"]
