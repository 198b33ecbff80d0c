"""CUDA devices: availability, counts, synchronisation, timing events, memory.

Everything here works on a machine without a GPU: ``is_available()`` is
False, ``device_count()`` is 0, and the rest raise a clear error if used.
"""

from __future__ import annotations

from typing import Any

from brickwork import _backend

__all__ = [
    "is_available", "device_count", "synchronize", "current_device", "Event",
    "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "empty_cache",
    "manual_seed", "manual_seed_all",
]


def is_available() -> bool:
    """True when CuPy imports and at least one CUDA GPU is present."""
    return _backend.cuda_device_count() > 0


def device_count() -> int:
    return _backend.cuda_device_count()


def _cupy(what: str) -> Any:
    cp = _backend.cupy_module()
    if cp is None or _backend.cuda_device_count() == 0:
        raise RuntimeError(f"bw.cuda.{what}: CUDA is not available on this machine (0 CUDA devices)")
    return cp


def current_device() -> int:
    return int(_cupy("current_device").cuda.runtime.getDevice())


def synchronize(device: Any = None) -> None:
    """Wait for all work queued on the GPU (no-op without CUDA, like a CPU barrier)."""
    cp = _backend.cupy_module()
    if cp is None or _backend.cuda_device_count() == 0:
        return
    index = 0 if device is None else (_backend.Device(device).index or 0)
    with cp.cuda.Device(index):
        cp.cuda.runtime.deviceSynchronize()


class Event:
    """A CUDA event for timing: ``record()``, ``synchronize()``, ``elapsed_time(end)`` in ms."""

    def __init__(self, enable_timing: bool = True) -> None:
        cp = _cupy("Event")
        self._event = cp.cuda.Event(disable_timing=not enable_timing)

    def record(self, stream: Any = None) -> None:
        self._event.record(stream)

    def synchronize(self) -> None:
        self._event.synchronize()

    def elapsed_time(self, end: Event) -> float:
        cp = _cupy("Event.elapsed_time")
        return float(cp.cuda.get_elapsed_time(self._event, end._event))


_peak = {"bytes": 0}


def memory_allocated(device: Any = None) -> int:
    """Bytes in use in CuPy's memory pool."""
    used = int(_cupy("memory_allocated").get_default_memory_pool().used_bytes())
    _peak["bytes"] = max(_peak["bytes"], used)
    return used


def max_memory_allocated(device: Any = None) -> int:
    """Peak bytes used in CuPy's pool since the last reset, as sampled at allocation checks.

    CuPy's pool has no built-in peak counter; brickwork tracks it through a
    pool hook installed by :func:`reset_peak_memory_stats`.
    """
    cp = _cupy("max_memory_allocated")
    memory_allocated(device)
    hook = _hooks.get("peak")
    if hook is not None:
        _peak["bytes"] = max(_peak["bytes"], hook.peak)
    del cp
    return _peak["bytes"]


_hooks: dict[str, Any] = {}


def reset_peak_memory_stats(device: Any = None) -> None:
    """Start peak tracking afresh (installs a CuPy memory hook the first time)."""
    cp = _cupy("reset_peak_memory_stats")
    hook = _hooks.get("peak")
    if hook is None:
        hook = _backend.peak_memory_hook()
        _hooks["peak"] = hook
    hook.peak = int(cp.get_default_memory_pool().used_bytes())
    _peak["bytes"] = hook.peak


def empty_cache() -> None:
    """Return CuPy's cached, unused GPU memory to the driver."""
    cp = _backend.cupy_module()
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    from brickwork import random

    random.manual_seed(seed)


manual_seed_all = manual_seed
