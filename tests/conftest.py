"""Shared fixtures: the device under test, and reproducible seeds.

``BRICKWORK_TEST_DEVICE=cuda`` (or ``pytest --device cuda``) runs the
device-independent tests on a GPU; without one those runs are skipped with a
stated reason, never passed silently.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import brickwork as bw

# test files in subfolders import the oracle as ``from oracle import check_op`` (pytest runs with
# --import-mode=importlib, which does not put test folders on sys.path by itself)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("BRICKWORK_TEST_FAKE_CUPY"):
        # CuPy simulated on NumPy (tests/fake_cupy.py): runs the GPU code paths on a machine without
        # a GPU. It checks device plumbing, never GPU numerics or speed
        import fake_cupy

        fake_cupy.install()
    # `import brickwork` silences NumPy's inf/nan RuntimeWarnings raised from brickwork's own code (as
    # PyTorch computes inf/nan silently); pytest drops warning filters added while it collects, so the
    # same filter is stated here for the test session
    config.addinivalue_line(
        "filterwarnings",
        r"ignore:(divide by zero|invalid value|overflow) encountered:RuntimeWarning:brickwork",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        default=os.environ.get("BRICKWORK_TEST_DEVICE", "cpu"),
        help="device for device-independent tests: cpu or cuda[:N]",
    )


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> bw.device:
    name = request.config.getoption("--device")
    dev = bw.device(name)
    if dev.type == "cuda" and bw.cuda.device_count() == 0:
        pytest.skip(f"test device {name} requested but no CUDA GPU is available here")
    return dev.resolved()


@pytest.fixture(autouse=True)
def _seed() -> None:
    bw.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _device_checks():
    # a GPU reports failed device-side checks at the next host sync: report them in the test that
    # caused them, not in a later one
    yield
    from brickwork import _backend

    if _backend._deferred:
        _backend.raise_deferred()


def pytest_report_header(config: pytest.Config) -> str:
    fake = " (SIMULATED: fake CuPy on NumPy, not a GPU)" if os.environ.get("BRICKWORK_TEST_FAKE_CUPY") else ""
    return f"brickwork test device: {config.getoption('--device')}{fake}"
