"""blas_threads: a block's BLAS thread count, via threadpoolctl or OpenBLAS's own API; the user's wins."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from brickwork import _blas
from brickwork._blas import USER_THREAD_VARIABLES, blas_threads


@pytest.fixture
def no_user_choice(monkeypatch):
    for name in USER_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _counts() -> list[int]:
    """The thread count of every OpenBLAS in the process, read through its own getter."""
    return [get() for _, get in _blas._loaded_openblas()]


needs_openblas = pytest.mark.skipif(not _blas._loaded_openblas(),
                                    reason="NumPy here is not linked to a loadable OpenBLAS")


@needs_openblas
@pytest.mark.parametrize("route", ["threadpoolctl", "openblas"])
def test_the_block_runs_on_the_given_threads_and_the_count_is_restored(no_user_choice, monkeypatch, route):
    if route == "threadpoolctl":
        pytest.importorskip("threadpoolctl")
    else:
        monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if not installed
    before = _counts()
    with blas_threads(1) as how:
        assert _counts() == [1] * len(before)
        assert how == f"BLAS on 1 thread(s) ({'threadpoolctl' if route == 'threadpoolctl' else 'OpenBLAS'})"
        a = np.ones((64, 64))
        np.testing.assert_array_equal(a @ a, np.full((64, 64), 64.0))  # BLAS still works
    assert _counts() == before


@needs_openblas
@pytest.mark.parametrize("variable", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_a_count_the_user_chose_is_left_alone(no_user_choice, monkeypatch, variable):
    monkeypatch.setenv(variable, "2")
    before = _counts()
    with blas_threads(1) as how:
        assert _counts() == before
    assert how == f"BLAS threads left as chosen ({variable}=2)"


def test_without_any_route_nothing_changes(no_user_choice, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    monkeypatch.setattr(_blas, "_loaded_openblas", lambda: [])
    with blas_threads(1) as how:
        assert "unchanged" in how
