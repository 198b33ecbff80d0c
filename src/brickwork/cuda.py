"""CUDA devices: availability, the current device, synchronisation, timing events, memory.

Everything here is safe on a machine without a GPU: ``is_available()`` is False,
``device_count()`` is 0, ``synchronize()`` and ``empty_cache()`` do nothing, and the
rest raise an error that says no CUDA device is available (and why: CuPy missing, no
driver, ...). CuPy itself is only touched through ``brickwork._backend``.

>>> import brickwork as bw
>>> bw.cuda.is_available() == (bw.cuda.device_count() > 0)
True
"""

from __future__ import annotations

from typing import Any

from brickwork import _backend

__all__ = [
    "is_available", "device_count", "current_device", "set_device", "device", "get_device_name",
    "synchronize", "Event", "memory_allocated", "max_memory_allocated", "memory_reserved",
    "reset_peak_memory_stats", "empty_cache", "manual_seed", "manual_seed_all",
]


def is_available() -> bool:
    """True when CuPy imports and at least one CUDA GPU is present."""
    return _backend.cuda_device_count() > 0


def device_count() -> int:
    """The number of CUDA GPUs (0 without CuPy or without a driver)."""
    return _backend.cuda_device_count()


def _cupy(what: str) -> Any:
    cp = _backend.cupy_module()
    if cp is None or _backend.cuda_device_count() == 0:
        why = f"; {_backend._cupy_error}" if _backend._cupy_error else ""
        raise RuntimeError(f"bw.cuda.{what}: CUDA is not available on this machine (0 CUDA devices{why})")
    return cp


def _index(what: str, device: Any) -> int:
    """A device argument (None, int, 'cuda:N' or a device) as a GPU index, checked."""
    _cupy(what)
    if device is None:
        return current_device()
    dev = _backend.Device(device)
    if dev.type != "cuda":
        raise ValueError(f"bw.cuda.{what}: expected a CUDA device, got {dev}")
    index = dev.index if dev.index is not None else current_device()
    count = device_count()
    if index >= count:
        raise RuntimeError(f"bw.cuda.{what}: cuda:{index} does not exist (this machine has {count} "
                           "CUDA device(s))")
    return index


def current_device() -> int:
    """The index of the current CUDA device (where CuPy allocates and launches by default)."""
    _cupy("current_device")
    return _backend.current_device_index()


def set_device(device: Any) -> None:
    """Make ``device`` (an index, ``'cuda:N'`` or a device) current for this thread.

    Ops on a tensor always run on the tensor's own GPU whatever is current; the current device
    matters for code that creates arrays without a device (``bw.cuda`` queries, CuPy code of your own).
    """
    _cupy("set_device")
    _backend.set_current_device(_index("set_device", device))


class device:  # noqa: N801 - PyTorch's name
    """Context manager that makes a CUDA device current, and puts the previous one back."""

    def __init__(self, device: Any) -> None:
        self.index = _index("device", device)
        self._previous: int | None = None

    def __enter__(self) -> device:
        self._previous = current_device()
        _backend.set_current_device(self.index)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            _backend.set_current_device(self._previous)


def get_device_name(device: Any = None) -> str:
    """The GPU's name as the driver reports it (e.g. ``'NVIDIA H100 80GB HBM3'``)."""
    cp = _cupy("get_device_name")
    name = cp.cuda.runtime.getDeviceProperties(_index("get_device_name", device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device: Any = None) -> None:
    """Wait for all work queued on the GPU (a no-op without CUDA, like a CPU barrier).

    This is a host sync: device-side checks that failed since the last one (an out-of-range
    embedding index, a bad class target) are reported here.
    """
    cp = _backend.cupy_module()
    if cp is None or _backend.cuda_device_count() == 0:
        return
    with cp.cuda.Device(_index("synchronize", device)):
        cp.cuda.runtime.deviceSynchronize()
    _backend.raise_deferred()


class Event:
    """A CUDA event, for timing GPU work without stalling it (``torch.cuda.Event``).

    ``start.record(); ...; end.record(); end.synchronize(); start.elapsed_time(end)`` gives the
    milliseconds between the two points of the GPU's queue.
    """

    def __init__(self, enable_timing: bool = True, blocking: bool = False) -> None:
        cp = _cupy("Event")
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing)
        self.enable_timing = enable_timing

    def record(self, stream: Any = None) -> None:
        """Put the event in ``stream``'s queue (the current stream by default); returns at once."""
        self._event.record(stream)

    def synchronize(self) -> None:
        """Wait on the host until the work queued before the event has finished."""
        self._event.synchronize()

    def query(self) -> bool:
        """True when the work recorded before the event has finished (does not wait)."""
        return bool(self._event.done)

    def elapsed_time(self, end: Event) -> float:
        """Milliseconds from this event to ``end`` (both recorded, ``end`` finished)."""
        cp = _cupy("Event.elapsed_time")
        if not (self.enable_timing and end.enable_timing):
            raise RuntimeError("Event.elapsed_time: both events need enable_timing=True")
        return float(cp.cuda.get_elapsed_time(self._event, end._event))


# -- memory: CuPy's pool ----------------------------------------------------------------

_peak: dict[int, int] = {}
_hooks: dict[str, Any] = {}


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU memory held by live arrays (CuPy's pool: used bytes) on ``device``."""
    cp = _cupy("memory_allocated")
    index = _index("memory_allocated", device)
    with cp.cuda.Device(index):
        used = int(cp.get_default_memory_pool().used_bytes())
    _peak[index] = max(_peak.get(index, 0), used)
    return used


def memory_reserved(device: Any = None) -> int:
    """Bytes CuPy's pool holds from the driver on ``device`` (used + cached for reuse)."""
    cp = _cupy("memory_reserved")
    with cp.cuda.Device(_index("memory_reserved", device)):
        return int(cp.get_default_memory_pool().total_bytes())


def max_memory_allocated(device: Any = None) -> int:
    """Peak of :func:`memory_allocated` since :func:`reset_peak_memory_stats`.

    CuPy's pool keeps no peak, so the first :func:`reset_peak_memory_stats` installs a pool hook
    that samples the used bytes after every allocation (exact, but it costs a Python call per
    allocation: measure peaks in a run you do not time). Without the hook, the peak is the largest
    value this module has seen.
    """
    index = _index("max_memory_allocated", device)
    memory_allocated(index)
    hook = _hooks.get("peak")
    if hook is not None:
        _peak[index] = max(_peak.get(index, 0), hook.peaks.get(index, 0))
    return _peak.get(index, 0)


def reset_peak_memory_stats(device: Any = None) -> None:
    """Start peak tracking afresh (installs the peak hook the first time)."""
    cp = _cupy("reset_peak_memory_stats")
    index = _index("reset_peak_memory_stats", device)
    hook = _hooks.get("peak")
    if hook is None:
        hook = _hooks["peak"] = _backend.peak_memory_hook()
    with cp.cuda.Device(index):
        used = int(cp.get_default_memory_pool().used_bytes())
    hook.peaks[index] = used
    _peak[index] = used


def empty_cache() -> None:
    """Return CuPy's cached, unused GPU (and pinned host) memory to the driver."""
    cp = _backend.cupy_module()
    if cp is not None and _backend.cuda_device_count() > 0:
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed every device's generator (brickwork seeds all devices together)."""
    from brickwork import random

    random.manual_seed(seed)


manual_seed_all = manual_seed
