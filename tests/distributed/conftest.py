"""Launching workers under MPI, and the in-process world of one rank.

Multi-process tests start ``mpiexec -n N python workers/<script>.py ...``
with a timeout, so a hang fails the test instead of hanging CI. The launcher
is the one from the ``mpich`` wheel installed next to this Python (the
``mpi`` and ``test`` extras install it). Without mpi4py these tests are
skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import brickwork.distributed as dist

WORKERS = Path(__file__).parent / "workers"
TIMEOUT_S = 60  # a run takes about a second; only a hang gets near this
_LAUNCHER_PREFIXES = ("PMI_", "PMIX_", "OMPI_", "MPI_LOCAL", "HYDRA_", "MV2_")


def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    return shutil.which("mpiexec")


@pytest.fixture(scope="session")
def mpi4py_module():
    return pytest.importorskip("mpi4py.MPI",
                               reason="needs mpi4py and an MPI library: pip install 'brickwork[mpi]'")


@pytest.fixture(scope="session")
def run_mpi(mpi4py_module) -> Callable[..., subprocess.CompletedProcess]:
    """``run_mpi(n, "worker.py", *args)``: run a worker (or a script's path) on n processes."""
    launcher = _mpiexec()
    if launcher is None:
        pytest.skip("needs mpiexec (the mpich wheel: pip install 'brickwork[mpi]')")

    def run(n: int, script: str, *args: str, check: bool = True,
            cwd: Any = None) -> subprocess.CompletedProcess:
        # never inherit the identity a parent launcher may have given this pytest process
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_PREFIXES)}
        env["PYTHONUNBUFFERED"] = "1"
        target = ["-m", *args] if script == "-m" else [str(WORKERS / script), *args]  # -m: a module
        command = [launcher, "-n", str(n), sys.executable, *target]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                                  cwd=cwd)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"{' '.join(command[1:])} did not finish within {TIMEOUT_S} s (a hang):\n"
                f"{exc.stdout}\n{exc.stderr}"
            ) from exc
        if check and done.returncode != 0:
            raise AssertionError(
                f"{script} {' '.join(args)} on {n} processes failed with exit code {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    return run


@pytest.fixture
def world(mpi4py_module) -> Iterator[None]:
    """This pytest process as a world of one rank (MPI singleton), left uninitialised afterwards."""
    dist.init_process_group("mpi")
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
