"""``mpiexec -n N python -m brickwork train ...`` trains data-parallel, and resumes exactly."""

from __future__ import annotations

import brickwork as bw

TRAIN = ["brickwork", "train", "--model", "mlp", "--dataset", "digits", "--device", "cpu", "--no-progress"]


def test_cli_trains_data_parallel_and_resumes_like_an_uninterrupted_run(run_mpi, tmp_path):
    first = run_mpi(2, "-m", *TRAIN, "--epochs", "1", "--out", str(tmp_path / "a")).stdout
    assert first.count("data parallel on 2 processes") == 1  # rank 0 reports, once
    assert first.count("test accuracy") == 1
    resumed = run_mpi(2, "-m", *TRAIN, "--epochs", "2", "--out", str(tmp_path / "a"), "--resume").stdout
    assert resumed.count("resumed from") == 1 and "1 epoch(s) to go of 2" in resumed
    run_mpi(2, "-m", *TRAIN, "--epochs", "2", "--out", str(tmp_path / "b"))
    a = bw.load(tmp_path / "a" / "checkpoint.safetensors")
    b = bw.load(tmp_path / "b" / "checkpoint.safetensors")
    assert len(a["history"]["records"]) == len(b["history"]["records"]) == 2
    assert list(a["model"]) == list(b["model"])
    for key in a["model"]:
        assert bw.equal(a["model"][key], b["model"][key]), key
    accuracy = float(resumed.rsplit("test accuracy:", 1)[1])
    assert accuracy > 0.8
