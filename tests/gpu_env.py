"""The GPU the device tests run on: the real one when CuPy sees a GPU, else CuPy simulated on NumPy.

``gpu`` (a fixture) yields a :class:`GpuEnv`. On a machine without a GPU it installs
``tests/fake_cupy.py`` for the test (two simulated GPUs) and removes it afterwards, so
these tests exercise the GPU code paths in every CI run; on a GPU machine they run on the
real GPU, and ``no_syncs()`` is enforced by CuPy itself (``cupyx.allow_synchronize``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import brickwork as bw
from brickwork import _backend, random


class GpuEnv:
    def __init__(self, simulated: bool) -> None:
        self.simulated = simulated
        self.count = bw.cuda.device_count()
        self.cp = _backend.cupy_module()

    @contextlib.contextmanager
    def no_syncs(self) -> Iterator[None]:
        """Fail if anything inside reads device memory into the host (a host sync): CuPy's own
        ``cupyx.allow_synchronize(False)`` (the simulation raises the same way)."""
        with _backend.forbid_syncs():
            yield

    def need(self, n: int) -> None:
        if self.count < n:
            pytest.skip(f"needs {n} CUDA GPUs, this machine has {self.count}")


def _reset_backend() -> None:
    _backend._cupy = None
    _backend._cupy_error = None
    _backend._deferred.clear()
    _backend._in_flight.clear()
    for dev in list(_backend.Device._interned.values()):
        if dev.type == "cuda":
            dev._xp = None
    for dev in [d for d in random._defaults if d.type == "cuda"]:
        del random._defaults[dev]
    bw.cuda._hooks.clear()
    bw.cuda._peak.clear()


@pytest.fixture(name="gpu")
def gpu_fixture() -> Iterator[GpuEnv]:
    if getattr(sys.modules.get("cupy"), "is_fake", False):  # the whole session is simulated
        yield GpuEnv(simulated=True)
        return
    if bw.cuda.is_available():
        yield GpuEnv(simulated=False)
        return
    import fake_cupy

    _reset_backend()
    fake_cupy.install()
    fake_cupy.stats.reset()
    try:
        assert bw.cuda.device_count() == fake_cupy.DEVICE_COUNT
        yield GpuEnv(simulated=True)
    finally:
        fake_cupy.uninstall()
        _reset_backend()
        for dev in list(_backend.Device._interned.values()):
            if dev.type == "cuda":
                dev._xp = None


def to_host(t: Any) -> Any:
    return t.detach().cpu().numpy()
