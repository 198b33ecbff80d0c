"""Host-sync accounting: every implicit read of a tensor's value into Python.

``item()``, ``float(t)``, ``bool(t)`` (so ``if loss > 0:``), ``tolist()``,
``numpy()`` and printing make the host wait for the device. On a GPU that
stalls the pipeline; inside :func:`sync_guard` such reads raise, warn or are
counted, on every device, so a training loop can be proven sync-free on a
CPU-only machine. Explicit transfers (``.cpu()``, ``.to('cpu')``) are allowed.

Guards are per thread, like grad mode: a guard watches the thread that entered it, so a data-loading
or logging thread can still call ``.item()`` while the training thread runs guarded.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from brickwork import _backend

__all__ = ["SyncError", "sync_guard"]


class SyncError(RuntimeError):
    """An implicit device-to-host read happened inside ``sync_guard('error')``."""


class _Guards(threading.local):
    """The active guards of one thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[sync_guard] = []


_guards = _Guards()


def sync_point(what: str) -> None:
    """Called by every implicit read; cheap when no guard is active. A read waits for the device, so
    it is also where device-side checks that failed since the last sync are reported."""
    active = _guards.stack
    if active:
        active[-1]._hit(what)
    if _backend._deferred:
        _backend.raise_deferred()


class sync_guard:  # noqa: N801 - a context manager named like a function, as PyTorch does
    """Catch implicit host syncs: ``mode`` is ``"error"``, ``"warn"`` or ``"count"``.

    >>> import brickwork as bw
    >>> x = bw.ones(3)
    >>> with bw.sync_guard("count") as guard:
    ...     total = (x * 2).sum()
    ...     _ = float(total)
    >>> guard.count
    1
    """

    def __init__(self, mode: str = "error") -> None:
        if mode not in ("error", "warn", "count"):
            raise ValueError(f"sync_guard: mode must be 'error', 'warn' or 'count', got {mode!r}")
        self.mode = mode
        self.count = 0
        self.calls: list[str] = []

    def _hit(self, what: str) -> None:
        self.count += 1
        self.calls.append(what)
        if self.mode == "error":
            raise SyncError(
                f"implicit host sync: {what} reads a tensor's value into Python inside "
                "sync_guard('error'); keep the value on the device (accumulate metrics as "
                "tensors) and read it once, outside the guarded region"
            )
        if self.mode == "warn":
            warnings.warn(f"implicit host sync: {what}", stacklevel=4)

    def __enter__(self) -> sync_guard:
        _guards.stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _guards.stack.remove(self)


class allow_sync:  # noqa: N801
    """Suspend the active guards (for deliberate reads such as end-of-epoch metrics)."""

    def __enter__(self) -> None:
        self._saved = list(_guards.stack)
        _guards.stack.clear()

    def __exit__(self, *exc: Any) -> None:
        _guards.stack.extend(self._saved)
