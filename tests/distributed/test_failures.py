"""A rank that fails ends the whole job, with its traceback, instead of hanging the others."""

from __future__ import annotations

import time

import pytest


@pytest.mark.parametrize("mode, message", [("raise", "ValueError: rank 1 failed on purpose"),
                                           ("ddp", "FloatingPointError: rank 1: loss is nan, stopping")])
def test_a_rank_that_raises_aborts_the_job(run_mpi, mode, message):
    start = time.monotonic()
    done = run_mpi(2, "failure_worker.py", mode, check=False)
    assert done.returncode != 0
    assert message in done.stderr
    assert "[brickwork rank 1/2] uncaught exception; aborting all ranks" in done.stderr
    assert "finished (it should not have)" not in done.stdout
    assert time.monotonic() - start < 30  # ended by the abort, not by the test's timeout
