"""The benchmark script runs end to end (tiny sizes, one pair of processes). Timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "run.py")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from workloads import WORKLOADS  # noqa: E402


def _run(*args: str, tmp_path) -> tuple[dict, str]:
    out = tmp_path / "results.json"
    res = subprocess.run([sys.executable, SCRIPT, "--smoke", "--json", str(out), *args],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "| workload |" in res.stdout
    return json.loads(out.read_text()), res.stdout


def test_every_workload_runs_in_both_frameworks_in_own_processes_and_agrees(tmp_path):
    data, stdout = _run(tmp_path=tmp_path)
    assert [row["workload"] for row in data["rows"]] == list(WORKLOADS)
    for row in data["rows"]:
        assert row["bw_s"] > 0 and row["torch_s"] > 0
        assert row["check_rel_diff"] < 1e-3  # the same model, weights and data in both
        assert row["threads"] == 1 and row["clock"] == "cpu" and len(row["ratios"]) == row["pairs"] == 1
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    machine = data["machine"]
    assert machine["numpy"] and machine["vector"] and machine["cpu"]
    assert "vector extensions" in stdout


def test_the_parent_process_imports_neither_framework():
    bench = os.path.join(ROOT, "benchmarks")
    res = subprocess.run([sys.executable, "-c",
                          f"import sys; sys.path.insert(0, {bench!r})\n"
                          "import run\n"
                          "print('torch' in sys.modules, 'brickwork' in sys.modules)"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.stdout.split()[-2:] == ["False", "False"], res.stdout + res.stderr


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="peak RSS needs Linux /proc")
def test_peak_memory_is_measured_in_the_timing_processes(tmp_path):
    data, _ = _run("--only", "mlp_train", tmp_path=tmp_path)
    (row,) = data["rows"]
    assert row["bw_mib"] >= 0 and row["torch_mib"] >= 0
