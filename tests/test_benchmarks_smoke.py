"""The benchmark script runs end to end (tiny sizes, a few steps). Timings are never asserted."""

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


def _run(*args: str, tmp_path) -> dict:
    out = tmp_path / "results.json"
    res = subprocess.run([sys.executable, SCRIPT, "--smoke", "--json", str(out), *args],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "| workload |" in res.stdout
    return json.loads(out.read_text())


def test_every_workload_runs_in_both_frameworks_and_agrees(tmp_path):
    data = _run("--no-memory", tmp_path=tmp_path)
    assert [row["workload"] for row in data["rows"]] == list(WORKLOADS)
    for row in data["rows"]:
        assert row["bw_s"] > 0 and row["torch_s"] > 0
        assert row["check_rel_diff"] < 1e-3  # the same model, weights and data in both
    machine = data["machine"]
    assert machine["torch_threads"] >= 1 and machine["numpy"]


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="peak RSS needs Linux /proc")
def test_peak_memory_is_measured_in_subprocesses(tmp_path):
    data = _run("--only", "mlp_train", tmp_path=tmp_path)
    (row,) = data["rows"]
    assert row["bw_mib"] >= 0 and row["torch_mib"] >= 0
