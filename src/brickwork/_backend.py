"""Devices and array modules.

This is the only file that knows CuPy exists. A :class:`Device` names where a
tensor's memory lives and carries the array module (``numpy`` or ``cupy``)
that every op uses for it. Creating a device object never fails; the first
use of a CUDA device for data imports CuPy and checks that the GPU exists.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brickwork._traced import Traced

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

    def activate(self) -> _Activation:
        """Make this device current for CuPy's allocations and launches (no-op on the CPU).

        >>> import brickwork as bw
        >>> with bw.device("cpu").activate():
        ...     pass
        """
        return _Activation(self)

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
    """False for arrays that must not be written: NumPy's read-only ones, and on either backend
    those where several elements share one memory location (broadcast views: stride 0). CuPy has no
    writeable flag and would write such views silently, so the strides decide there."""
    if isinstance(arr, np.ndarray):
        return bool(arr.flags.writeable)
    # (an empty array has no elements to share, whatever its strides say)
    return arr.size == 0 or not any(st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape))


def address(arr: Any) -> int:
    """The address of an array's first element (NumPy or CuPy)."""
    if isinstance(arr, np.ndarray):
        return int(arr.__array_interface__["data"][0])
    return int(arr.data.ptr)


def transfer(arr: Any, dst: Device, non_blocking: bool = False) -> Any:
    """Copy ``arr`` to device ``dst`` (called only on explicit user requests).

    Host to GPU with ``non_blocking=True`` from pinned memory (``Tensor.pin_memory()``, the
    DataLoader's ``pin_memory=True``) is asynchronous on the current stream: the host does not wait,
    and kernels queued after it on that stream see the data. GPU to host waits for the device
    (unless ``non_blocking``, which leaves a pinned buffer that is valid after
    ``bw.cuda.synchronize()``, as in PyTorch), and first reports any pending device-side check.
    """
    src = device_of_array(arr)
    if src is dst:
        return arr
    if dst.type == "cpu":
        with _Activation(src):
            if non_blocking:
                out = pinned_empty(arr.shape, arr.dtype)
                arr.get(out=out, stream=_cupy.cuda.get_current_stream(), blocking=False)
                return out
            raise_deferred()
            return arr.get()
    cp = dst.xp
    with _Activation(dst):
        if src.type == "cpu":
            out = cp.empty(arr.shape, dtype=arr.dtype)
            if non_blocking and is_pinned(arr):
                stream = cp.cuda.get_current_stream()
                out.set(arr, stream=stream)
                _keep_alive_until_copied(arr, stream)
            else:
                out.set(np.ascontiguousarray(arr))
            return out
        return cp.array(arr, copy=True)  # GPU to GPU (a peer copy where the GPUs allow it)


# -- pinned host memory ---------------------------------------------------------------


def pinned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A NumPy array in page-locked host memory (CuPy's pinned pool); host copies to and from it can
    run asynchronously."""
    cp = _cupy
    count = int(np.prod(shape, dtype=np.int64))
    mem = cp.cuda.alloc_pinned_memory(max(count * np.dtype(dtype).itemsize, 1))
    return np.frombuffer(mem, dtype, count).reshape(shape)


def pin(arr: np.ndarray) -> np.ndarray:
    """A copy of a host array in pinned memory (the array itself if it is pinned already)."""
    if is_pinned(arr):
        return arr
    out = pinned_empty(arr.shape, arr.dtype)
    out[...] = arr
    return out


def is_pinned(arr: Any) -> bool:
    """True for a NumPy array whose memory is CuPy pinned memory."""
    if _cupy is None or not isinstance(arr, np.ndarray):
        return False
    pinned = _cupy.cuda.PinnedMemoryPointer
    base = arr
    while base is not None:
        if isinstance(base, pinned):
            return True
        base = getattr(base, "base", None) if isinstance(base, np.ndarray) else getattr(base, "obj", None)
    return False


_in_flight: list[tuple[Any, Any]] = []


def _keep_alive_until_copied(host: np.ndarray, stream: Any) -> None:
    """Hold a pinned source buffer until the asynchronous copy from it has finished (an event per
    copy; finished ones are dropped without waiting; at most 32 are kept, then the oldest is waited for)."""
    event = _cupy.cuda.Event(disable_timing=True)
    event.record(stream)
    _in_flight.append((event, host))
    while _in_flight and (_in_flight[0][0].done or len(_in_flight) > 32):
        if not _in_flight[0][0].done:
            _in_flight[0][0].synchronize()
        _in_flight.pop(0)


# -- the current CUDA device ------------------------------------------------------------


class _Activation:
    """``with device.activate():`` -- CuPy allocates and launches on the *current* device, so code that
    works on a ``cuda:N`` tensor outside an op makes N current; restores the previous one after."""

    __slots__ = ("device", "previous")

    def __init__(self, device: Device) -> None:
        self.device = device
        self.previous: int | None = None

    def __enter__(self) -> _Activation:
        if self.device.type != "cpu":
            self.previous = make_current(self.device)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            _cupy.cuda.runtime.setDevice(self.previous)


def make_current(device: Device) -> int | None:
    """Make a CUDA device current; return the device to restore afterwards, or None when it already
    was current (the common case: one query of the driver's thread-local state, no switch)."""
    index = device.index or 0
    current = _cupy.cuda.get_device_id()
    if current == index:
        return None
    _cupy.cuda.runtime.setDevice(index)
    return current


def restore_current(index: int) -> None:
    _cupy.cuda.runtime.setDevice(index)


def current_device_index() -> int:
    return int(_cupy.cuda.get_device_id())


def set_current_device(index: int) -> None:
    _cupy.cuda.runtime.setDevice(int(index))


# -- device-side checks ----------------------------------------------------------------

_deferred: dict[tuple[Any, str, type], Any] = {}


def check_on_device(bad: Any, message: str, error: type[Exception] = IndexError) -> None:
    """Raise ``error(message)`` if the 0-d boolean array ``bad`` is true.

    On the CPU the check runs at once. On a GPU reading ``bad`` would stall the pipeline (a host
    sync per op), so, like CUDA's device-side asserts in PyTorch, the flag stays on the device and
    is reported at the next host sync: a read of a value (``item()``, ``print``, ``.cpu()``, ...),
    ``bw.cuda.synchronize()``. ``message`` therefore names no data value.
    """
    if isinstance(bad, np.ndarray | np.generic):
        if bad:
            raise error(message)
        return
    key = (bad.device.id, message, error)
    previous = _deferred.get(key)
    _deferred[key] = bad if previous is None else (previous | bad)


def raise_deferred() -> None:
    """Report the device-side checks that failed since the last host sync (called at host syncs)."""
    if not _deferred:
        return
    pending = list(_deferred.items())
    _deferred.clear()
    for (device_id, message, error), flag in pending:
        with _cupy.cuda.Device(device_id):
            failed = bool(flag.get())
        if failed:
            raise error(f"{message} (found on cuda:{device_id} by a device-side check, reported at "
                        "this host sync; the failing op ran earlier)")


# -- backend differences, one small function each ---------------------------------------


def scatter_add(out: Any, index: Any, values: Any) -> None:
    """``out[index] += values`` with repeated indices accumulating (NumPy's ``add.at``; on CuPy its
    atomic scatter, which has no int64 or bool: those go through float64)."""
    if type(out) is Traced or type(values) is Traced:  # a recorded backward (create_graph=True)
        from brickwork._traced import _IndexAdd

        _IndexAdd.at(out, index, values)
        return
    if isinstance(out, np.ndarray):
        np.add.at(out, index, values)
        return
    if out.dtype in _ATOMIC_ADD_DTYPES:
        _cupy.add.at(out, index, values)
        return
    if out.dtype.kind == "c":
        raise NotImplementedError(f"scatter_add: complex arrays ({out.dtype}) are not supported on CUDA")
    wide = out.astype(np.float64)
    _cupy.add.at(wide, index, values.astype(np.float64) if hasattr(values, "astype") else values)
    out[...] = wide.astype(out.dtype)


_ATOMIC_ADD_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int32, np.uint32,
                                                  np.uint64))


def forbid_syncs() -> Any:
    """A context in which CuPy itself raises on any synchronising device-to-host read
    (``cupyx.allow_synchronize(False)``): the ground truth for "no hidden host syncs" on a GPU."""
    import cupyx  # noqa: PLC0415 - only reached with CuPy

    return cupyx.allow_synchronize(False)


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
    """An installed CuPy memory hook whose ``peaks`` (device index -> bytes) follow the pool's peak
    usage: it reads the pool's used bytes after every allocation."""
    cp = _import_cupy()
    from cupy.cuda import memory_hook  # noqa: PLC0415 - only reached with CuPy

    class _PeakHook(memory_hook.MemoryHook):
        name = "brickwork_peak"

        def __init__(self) -> None:
            self.peaks: dict[int, int] = {}

        def malloc_postprocess(self, **kwargs: Any) -> None:
            index = int(kwargs.get("device_id", 0))
            used = int(cp.get_default_memory_pool().used_bytes())
            if used > self.peaks.get(index, 0):
                self.peaks[index] = used

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
