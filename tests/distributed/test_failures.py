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


def _timed(run_mpi, mode):
    start = time.monotonic()
    done = run_mpi(2, "failure_worker.py", mode, check=False)
    return done, time.monotonic() - start


def test_a_rank_that_exits_while_another_waits_ends_the_job_with_one_error(run_mpi):
    done, took = _timed(run_mpi, "exit")
    assert done.returncode != 0, done.stdout + done.stderr
    assert ("DistributedError: all_reduce: the ranks disagree (rank 0: all_reduce of float32 (3,) with SUM; "
            "rank 1: left the group (destroy_process_group, or the end of its program))") in done.stderr
    assert "[brickwork rank 1/2] the end of the program: the ranks disagree" in done.stderr
    assert "aborting all ranks so that none waits forever" in done.stderr
    assert "finished (it should not have)" not in done.stdout
    assert took < 30


def test_without_checks_a_rank_that_exits_without_destroy_aborts_the_job(run_mpi):
    done, took = _timed(run_mpi, "exit-unchecked")
    assert done.returncode != 0
    assert "[brickwork rank 1/2] the program ended without destroy_process_group() and collective checks " \
           "are off" in done.stderr
    assert took < 30


@pytest.mark.parametrize("mode", ["timeout", "timeout-unchecked"])
def test_the_opt_in_timeout_ends_a_collective_that_waits_too_long(run_mpi, mode):
    done, took = _timed(run_mpi, mode)
    assert done.returncode != 0
    assert "DistributedError: " in done.stderr and "not complete after 1 s" in done.stderr
    assert "[brickwork rank 0/2] uncaught exception; aborting all ranks" in done.stderr
    assert took < 20  # rank 1 sleeps 30 s: the timeout ended the job, not rank 1


@pytest.mark.parametrize("mode", ["all-exit", "one-destroys"])
def test_ranks_that_all_end_exit_cleanly_without_destroy(run_mpi, mode):
    done, _ = _timed(run_mpi, mode)
    assert done.returncode == 0, done.stderr
    assert "rank 0 done" in done.stdout and "rank 1 done" in done.stdout
    assert "aborting" not in done.stderr
