"""bw.cuda: what it does without a GPU (clear errors, zeros, no-ops), what it does with one (on the
real GPU when there is one, else on CuPy simulated on NumPy), and the GPU check script's behaviour
on a machine without a GPU."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import brickwork as bw
from gpu_env import gpu_fixture  # noqa: F401 - the fixture "gpu"

ROOT = pathlib.Path(__file__).resolve().parents[1]
_real_gpu = bw.cuda.is_available() and not getattr(sys.modules.get("cupy"), "is_fake", False)
no_gpu_here = pytest.mark.skipif(bw.cuda.is_available(), reason="checks the behaviour without a GPU")


@no_gpu_here
def test_without_a_gpu_queries_say_so():
    assert bw.cuda.is_available() is False and bw.cuda.device_count() == 0
    bw.cuda.synchronize()  # no-ops, like a CPU barrier
    bw.cuda.empty_cache()
    for name, call in [("current_device", bw.cuda.current_device),
                       ("set_device", lambda: bw.cuda.set_device(0)),
                       ("get_device_name", bw.cuda.get_device_name), ("Event", bw.cuda.Event),
                       ("memory_allocated", bw.cuda.memory_allocated),
                       ("memory_reserved", bw.cuda.memory_reserved),
                       ("max_memory_allocated", bw.cuda.max_memory_allocated),
                       ("reset_peak_memory_stats", bw.cuda.reset_peak_memory_stats),
                       ("device", lambda: bw.cuda.device(0))]:
        with pytest.raises(RuntimeError, match=rf"bw\.cuda\.{name}: CUDA is not available.*0 CUDA devices"):
            call()
    assert bw.try_gpu() == bw.device("cpu")


@no_gpu_here
def test_without_a_gpu_pinning_is_refused_or_skipped():
    with pytest.raises(RuntimeError, match="pin_memory: pinned host memory needs CUDA"):
        bw.ones(2).pin_memory()
    assert not bw.ones(2).is_pinned()
    ds = bw.data.TensorDataset(bw.arange(6.0))
    (x,) = next(iter(bw.data.DataLoader(ds, batch_size=3, pin_memory=True)))  # no effect here
    assert x.device == bw.device("cpu") and not x.is_pinned()


def test_current_device_and_switching(gpu):
    assert bw.cuda.current_device() == 0
    name = bw.cuda.get_device_name()
    assert isinstance(name, str) and name
    with pytest.raises(RuntimeError, match=r"cuda:7 does not exist \(this machine has \d+ CUDA"):
        bw.cuda.get_device_name("cuda:7")
    with pytest.raises(ValueError, match="expected a CUDA device, got cpu"):
        bw.cuda.synchronize("cpu")
    if gpu.count >= 2:
        with bw.cuda.device(1):
            assert bw.cuda.current_device() == 1
            x = bw.ones(3, device="cuda:0") * 2  # ops run on their tensor's GPU, whatever is current
            assert x.device == bw.device("cuda:0") and bw.cuda.current_device() == 1
        assert bw.cuda.current_device() == 0
        bw.cuda.set_device("cuda:1")
        assert bw.cuda.current_device() == 1
        bw.cuda.set_device(0)


def test_events_time_gpu_work(gpu):
    start, end = bw.cuda.Event(enable_timing=True), bw.cuda.Event(enable_timing=True)
    start.record()
    x = bw.randn(256, 256, device="cuda:0")
    for _ in range(3):
        x = x @ x * 1e-3
    end.record()
    end.synchronize()
    assert end.query() is True
    assert start.elapsed_time(end) >= 0.0
    untimed = bw.cuda.Event(enable_timing=False)
    untimed.record()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        start.elapsed_time(untimed)


def test_memory_counters(gpu):
    bw.cuda.synchronize()
    bw.cuda.reset_peak_memory_stats()
    base = bw.cuda.memory_allocated()
    x = bw.empty(512, 512, device="cuda:0")
    used = bw.cuda.memory_allocated("cuda:0")
    assert used >= base + x.numel() * 4
    assert bw.cuda.memory_reserved() >= used
    del x
    assert bw.cuda.max_memory_allocated() >= used
    bw.cuda.reset_peak_memory_stats()
    assert bw.cuda.max_memory_allocated() < used


def test_synchronize_reports_failed_device_checks_once(gpu):
    w = bw.randn(4, 2, device="cuda:0")
    bw.nn.functional.embedding(bw.tensor([4], device="cuda:0"), w)
    with pytest.raises(IndexError, match="out of range for a weight with 4 rows"):
        bw.cuda.synchronize()
    bw.cuda.synchronize()


def test_manual_seed_makes_gpu_draws_reproducible(gpu):
    bw.cuda.manual_seed(3)
    a = bw.rand(5, device="cuda:0").cpu().numpy()
    bw.cuda.manual_seed_all(3)
    b = bw.rand(5, device="cuda:0").cpu().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, bw.rand(5).numpy())  # the CPU stream is a different one


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi")
def test_gpu_check_script_without_a_gpu_stops_with_a_clear_message(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path))
    res = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no NVIDIA GPU found" in res.stdout and "Nothing was run" in res.stdout
    assert "no NVIDIA GPU found" in (tmp_path / "gpu_check.log").read_text()


@pytest.mark.skipif(_real_gpu, reason="checks the missing-CuPy path on a machine without CuPy")
def test_gpu_check_script_names_missing_packages(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    smi = fake_bin / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: Stand-in GPU (UUID: GPU-0)'\n")
    smi.chmod(0o755)
    env = dict(os.environ, OUT=str(tmp_path / "out"), PYTHON=sys.executable,
               PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    res = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True,
                         text=True, timeout=120)
    if res.returncode == 2:  # CuPy is installed here but finds no GPU: stopped one step later
        assert "brickwork cannot use the GPU" in res.stdout
        return
    assert res.returncode == 3, res.stdout + res.stderr
    assert "required package(s) missing" in res.stdout and "cupy" in res.stdout
    assert (tmp_path / "out" / "env.txt").exists()


def test_gpu_benchmark_script_runs_small_on_the_cpu(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_run.py"), "--device", "cpu",
                          "--smoke", "--workloads", "mlp", "--warmup", "1", "--steps", "1", "--rounds", "1",
                          "--json", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    import json

    row = json.loads(out.read_text())["workloads"][0]
    assert row["workload"] == "mlp" and row["first_loss_rel_diff"] < 1e-5  # same model in both
    assert "| mlp |" in res.stdout
