"""Devices and array modules.

This is the only file that knows CuPy exists. A :class:`Device` names where a
tensor's memory lives and carries the array module (``numpy`` or ``cupy``)
that every op uses for it. Creating a device object never fails; the first
use of a CUDA device for data imports CuPy and checks that the GPU exists.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

_cupy: Any = None
_cupy_error: str | None = None


def _import_cupy() -> Any:
    """Import CuPy once; remember why it failed so errors can say so."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        if os.environ.get("BRICKWORK_DISABLE_CUDA"):
            _cupy_error = "CUDA is disabled by BRICKWORK_DISABLE_CUDA"
            return None
        try:
            import cupy  # noqa: PLC0415 - imported lazily on purpose

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except ImportError as exc:
            _cupy_error = (f"CuPy is not installed ({exc}); install it with "
                           "pip install 'brickwork[cuda12]' (or [cuda13])")
        except Exception as exc:  # CUDARuntimeError (no driver, no GPU), ...
            _cupy_error = f"{type(exc).__name__}: {exc}"
    return _cupy


def cuda_device_count() -> int:
    cp = _import_cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


class Device:
    """Where a tensor lives: ``cpu`` or ``cuda:N``.

    >>> import brickwork as bw
    >>> bw.device("cpu")
    device(type='cpu')
    >>> str(bw.device("cuda:1"))
    'cuda:1'
    """

    __slots__ = ("type", "index", "_xp")

    _interned: dict[tuple[str, int | None], Device] = {}

    def __new__(cls, spec: Any = "cpu", index: int | None = None) -> Device:
        if isinstance(spec, Device):
            if index is None:
                return spec
            spec = spec.type
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device(): expected a string, int or device, got {type(spec).__name__}")
        kind, _, num = spec.strip().partition(":")
        if num:
            if index is not None:
                raise ValueError(f"device(): index given twice in {spec!r} and index={index}")
            if not num.isdigit():
                raise ValueError(f"device(): invalid device string {spec!r}")
            index = int(num)
        if kind not in ("cpu", "cuda"):
            raise ValueError(
                f"device(): unknown device type {kind!r} in {spec!r}; expected 'cpu' or 'cuda[:N]'"
            )
        if kind == "cpu" and index not in (None, 0):
            raise ValueError(f"device(): the CPU has no index {index}")
        if kind == "cpu":
            index = None
        if index is not None and index < 0:
            raise ValueError(f"device(): negative device index {index}")
        key = (kind, index)
        dev = cls._interned.get(key)
        if dev is None:
            dev = object.__new__(cls)
            dev.type = kind
            dev.index = index
            dev._xp = np if kind == "cpu" else None
            cls._interned[key] = dev
        return dev

    # -- array module -------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The array module (numpy or cupy) for this device; checks the GPU exists."""
        xp = self._xp
        if xp is None:
            xp = self._resolve_cuda()
        return xp

    def _resolve_cuda(self) -> Any:
        cp = _import_cupy()
        if cp is None:
            raise RuntimeError(
                f"cannot use device '{self}': CUDA is not available on this machine "
                f"(0 CUDA devices; {_cupy_error}). Use bw.try_gpu() to fall back to the CPU."
            )
        count = cuda_device_count()
        idx = 0 if self.index is None else self.index
        if idx >= count:
            raise RuntimeError(
                f"cannot use device '{self}': this machine has {count} CUDA device(s) "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(count)) or 'none'})"
            )
        self._xp = cp
        return cp

    def resolved(self) -> Device:
        """The concrete device tensors report: ``cuda`` becomes ``cuda:0``."""
        if self.type == "cuda" and self.index is None:
            return Device("cuda", 0)
        return self

    @contextlib.contextmanager
    def activate(self):  # type: ignore[no-untyped-def]
        """Make this device current for CuPy kernel launches (no-op on the CPU)."""
        if self.type == "cpu":
            yield
            return
        with self.xp.cuda.Device(self.index or 0):
            yield

    # -- dunder -------------------------------------------------------------
    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):  # copy/deepcopy keep the interned object
        return (Device, (str(self),))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (ValueError, TypeError):
                return False
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = Device("cpu")


def device_of_array(arr: Any) -> Device:
    """The device an array lives on (numpy arrays are on the CPU)."""
    if isinstance(arr, np.ndarray):
        return CPU
    if _cupy is not None and isinstance(arr, _cupy.ndarray):
        return Device("cuda", int(arr.device.id))
    raise TypeError(f"not an array of a known backend: {type(arr).__name__}")


def is_array(obj: Any) -> bool:
    if isinstance(obj, np.ndarray):
        return True
    return _cupy is not None and isinstance(obj, _cupy.ndarray)


def writeable(arr: Any) -> bool:
    """False for NumPy's read-only arrays (broadcast views); CuPy arrays are always writable."""
    flags = arr.flags
    return bool(getattr(flags, "writeable", True))


def address(arr: Any) -> int:
    """The address of an array's first element (NumPy or CuPy)."""
    if isinstance(arr, np.ndarray):
        return int(arr.__array_interface__["data"][0])
    return int(arr.data.ptr)


def transfer(arr: Any, dst: Device, non_blocking: bool = False) -> Any:
    """Copy ``arr`` to device ``dst`` (called only on explicit user requests)."""
    src = device_of_array(arr)
    if src is dst:
        return arr
    if dst.type == "cpu":
        if non_blocking:
            out = _pinned_empty(arr.shape, arr.dtype)
            arr.get(out=out, stream=_cupy.cuda.get_current_stream(), blocking=False)
            return out
        return arr.get()
    cp = dst.xp
    with cp.cuda.Device(dst.index or 0):
        if src.type == "cpu":
            out = cp.empty(arr.shape, dtype=arr.dtype)
            out.set(np.ascontiguousarray(arr), stream=cp.cuda.get_current_stream() if non_blocking else None)
            return out
        return cp.array(arr, copy=True)


def _pinned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    cp = _cupy
    count = int(np.prod(shape, dtype=np.int64))
    mem = cp.cuda.alloc_pinned_memory(max(count * np.dtype(dtype).itemsize, 1))
    return np.frombuffer(mem, dtype, count).reshape(shape)


def cupy_module() -> Any:
    """CuPy when it imports and a GPU exists, else None (for bw.cuda)."""
    return _import_cupy()


def nccl_module() -> Any:
    """CuPy's NCCL binding (``cupy.cuda.nccl``) for bw.distributed; raises saying why it is missing."""
    cp = _import_cupy()
    if cp is None or cuda_device_count() == 0:
        raise RuntimeError(
            f"NCCL requested but no CUDA GPU is available ({_cupy_error or '0 CUDA devices'}); "
            "use backend='mpi' for CPU tensors"
        )
    try:
        from cupy.cuda import nccl  # noqa: PLC0415 - only GPU machines get here
    except ImportError as exc:
        raise RuntimeError(
            f"NCCL requested but this CuPy has no NCCL support ({exc}); install NCCL "
            "(pip install nvidia-nccl-cu12) or use backend='mpi'"
        ) from exc
    return nccl


def peak_memory_hook() -> Any:
    """An installed CuPy memory hook whose ``peak`` attribute follows the pool's peak usage."""
    cp = _import_cupy()
    from cupy.cuda import memory_hook  # noqa: PLC0415 - only reached with CuPy

    class _PeakHook(memory_hook.MemoryHook):
        name = "brickwork_peak"

        def __init__(self) -> None:
            self.peak = 0

        def malloc_postprocess(self, **kwargs: Any) -> None:
            self.peak = max(self.peak, int(cp.get_default_memory_pool().used_bytes()))

    hook = _PeakHook()
    hook.__enter__()
    return hook


def erf(x: Any) -> Any:
    """The error function, elementwise, on either backend (NumPy has none)."""
    if isinstance(x, np.ndarray):
        # frompyfunc gives object arrays (or a Python float for 0-d input)
        return np.asarray(_ERF_UFUNC(x), dtype=x.dtype) if x.size else x.copy()
    import cupyx.scipy.special  # noqa: PLC0415 - only reached with CuPy arrays

    return cupyx.scipy.special.erf(x)


_ERF_UFUNC = np.frompyfunc(__import__("math").erf, 1, 1)
