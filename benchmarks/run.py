"""brickwork against PyTorch's CPU build, side by side: time per step and peak memory.

    python benchmarks/run.py                  # every workload (make bench), ~2 minutes
    python benchmarks/run.py --only mlp_train,mlp_infer_b1 --rounds 21
    python benchmarks/run.py --smoke          # tiny sizes, a few steps: checks that it runs (CI)

Method
------
* Same work: each workload (benchmarks/workloads.py) is built by the same code
  in both frameworks, with the same weights (drawn from one NumPy generator by
  parameter name) and the same data arrays; before timing, the script checks
  that both give the same outputs and the same first training loss.
* Same threads: PyTorch is given as many intra-op threads as NumPy's BLAS uses
  (``torch.set_num_threads``); both numbers are printed. Thread settings of the
  user (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS...) are respected, never changed.
* Time: after warm-up steps, blocks of steps alternate between the frameworks
  in one process (brickwork, torch, torch, brickwork, ...) so that both see the
  same machine load; the time per step is the median over the blocks of
  wall-clock time / steps. ``ratio`` = torch / brickwork: above 1, brickwork is faster.
* Peak memory: each framework and workload runs in a fresh subprocess that
  imports only that framework, builds the model, optimiser and data, and then
  records its resident set size (RSS); the peak RSS (Linux VmHWM, reset to the
  current RSS through /proc/self/clear_refs) over the next steps, minus that
  baseline, is what the step needs: activations, gradients, optimiser state,
  workspaces and allocator caches, as the operating system sees them. The model,
  data and the frameworks' import footprint cancel out.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, Workload, build  # noqa: E402

# ---------------------------------------------------------------------------
# machine and BLAS description


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS: name, version and the number of threads it uses (via OpenBLAS's own API)."""
    info: dict[str, Any] = {"name": "unknown", "version": "", "threads": None, "core": ""}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["name"], info["version"] = blas.get("name", "unknown"), blas.get("version", "")
    except Exception:
        pass
    for path in _loaded_libraries():
        if "blas" not in os.path.basename(path).lower():
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get_threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if get_threads is None:
                    continue
                info["threads"] = int(get_threads())
                corename = getattr(lib, f"{prefix}_get_corename{suffix}", None)
                if corename is not None:
                    corename.restype = ctypes.c_char_p
                    info["core"] = corename().decode()
                return info
    return info


def _loaded_libraries() -> list[str]:
    try:
        with open("/proc/self/maps") as fh:
            return sorted({line.split()[-1] for line in fh if line.rstrip().endswith(".so")
                           or ".so." in line})
    except OSError:
        return []


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loadavg() -> str:
    """The 1-minute load average (other processes compete for the cores on shared machines)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def git_commit(path: str) -> str:
    """The commit of the git checkout holding ``path`` (the brickwork package that was imported)."""
    where = os.path.dirname(os.path.abspath(path))
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=where, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                               capture_output=True, text=True, timeout=10, cwd=where)
        return (out.stdout.strip() or "unknown") + ("+local changes" if dirty.stdout.strip() else "")
    except Exception:
        return "unknown"


def import_framework(name: str, threads: int | None) -> Any:
    if name == "torch":
        import torch

        if threads:
            torch.set_num_threads(threads)
        return torch
    import brickwork

    return brickwork


# ---------------------------------------------------------------------------
# checks: both frameworks compute the same thing


def _numpy(out: Any) -> np.ndarray:
    out = out.detach() if hasattr(out, "detach") else out
    return np.asarray(out.numpy(), dtype=np.float64)


def check_same(workload: Workload, libs: dict[str, Any], smoke: bool) -> float:
    """Largest relative difference between the frameworks' results (outputs in eval mode, and for
    training workloads without dropout the first training loss). Raises when they disagree."""
    worst = 0.0
    results: dict[str, list[np.ndarray]] = {}
    for name, lib in libs.items():
        step, model = build(lib, workload, smoke)
        arrays = workload.data(np.random.default_rng(0), smoke)
        got = []
        if workload.kind.startswith("train"):
            model.eval()
            with lib.no_grad():
                got.append(_numpy(model(lib.from_numpy(arrays["x"]))))
            model.train()
            if not any("Dropout" in type(m).__name__ for m in model.modules()):
                got.append(_numpy(step()))
        else:
            got.append(_numpy(step()))
        results[name] = got
    for a, b in zip(results["brickwork"], results["torch"]):
        scale = max(float(np.abs(b).max()), 1e-6) if b.size else 1.0
        diff = float(np.abs(a - b).max()) / scale if a.size else 0.0
        if a.shape != b.shape or not diff < 1e-3:
            raise AssertionError(f"{workload.name}: brickwork and torch disagree (shapes {a.shape} "
                                 f"and {b.shape}, relative difference {diff:.3g})")
        worst = max(worst, diff)
    return worst


# ---------------------------------------------------------------------------
# timing


_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def time_block(step: Any, steps: int) -> float:
    start = _clock()
    for _ in range(steps):
        step()
    return (_clock() - start) / steps


def time_workload(workload: Workload, libs: dict[str, Any], smoke: bool, rounds: int,
                  block_seconds: float) -> dict[str, Any]:
    steps_fns = {name: build(lib, workload, smoke)[0] for name, lib in libs.items()}
    for fn in steps_fns.values():  # warm-up: caches, lazy inits, allocator pools
        time_block(fn, 2)
    once = max(time_block(fn, 1) for fn in steps_fns.values())
    steps = 1 if smoke else max(1, min(1000, round(block_seconds / max(once, 1e-7))))
    times: dict[str, list[float]] = {name: [] for name in libs}
    order = list(libs)
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            times[name].append(time_block(steps_fns[name], steps))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    spread = {name: (min(ts), max(ts)) for name, ts in times.items()}
    return {"bw_s": med["brickwork"], "torch_s": med["torch"],
            "ratio": med["torch"] / med["brickwork"], "steps_per_block": steps, "rounds": rounds,
            "bw_range_s": spread["brickwork"], "torch_range_s": spread["torch"]}


# ---------------------------------------------------------------------------
# peak memory (in a fresh subprocess per framework and workload)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(workload_name: str, framework: str, smoke: bool, steps: int, threads: int) -> None:
    lib = import_framework(framework, threads)
    step, _ = build(lib, WORKLOADS[workload_name], smoke)
    gc.collect()
    baseline = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets VmHWM (the peak RSS) to the current RSS
    for _ in range(steps):
        step()
    peak = _status_kib("VmHWM")
    print(json.dumps({"baseline_kib": baseline, "peak_increase_kib": max(0, peak - baseline)}))


def measure_memory(workload: Workload, smoke: bool, steps: int, threads: int) -> dict[str, float]:
    out = {}
    for framework in ("brickwork", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", workload.name, framework,
               "--memory-steps", str(steps), "--threads", str(threads)]
        if smoke:
            cmd.append("--smoke")
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if res.returncode != 0:
            raise RuntimeError(f"memory run of {workload.name} in {framework} failed:\n{res.stderr}")
        data = json.loads(res.stdout.strip().splitlines()[-1])
        out[framework] = data["peak_increase_kib"] / 1024
    return {"bw_mib": out["brickwork"], "torch_mib": out["torch"]}


def memory_supported() -> bool:
    return os.path.exists("/proc/self/clear_refs") and os.path.exists("/proc/self/status")


# ---------------------------------------------------------------------------
# report


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def report(rows: list[dict[str, Any]], machine: dict[str, Any], smoke: bool = False) -> str:
    lines = [
        f"machine: {machine['cpu']}, {machine['cores']} cores; python {machine['python']}",
        f"numpy {machine['numpy']} with {machine['blas']} ({machine['blas_threads']} threads, "
        f"core {machine['blas_core'] or '?'}); torch {machine['torch']} "
        f"({machine['torch_threads']} threads); brickwork at {machine['commit']}",
        f"load average (1 min) before: {machine['load_before']}"
        + (f", after: {machine['load_after']}" if "load_after" in machine else ""),
        "",
        "| workload | brickwork ms/step | torch ms/step | ratio torch/bw | target | "
        "bw peak MiB | torch peak MiB | mem bw/torch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        w: Workload = r["workload"]
        if w.target is None:
            target = ""
        elif smoke:
            target = f"≥ {w.target:g} (not judged: smoke sizes)"
        else:
            target = f"≥ {w.target:g} " + ("met" if r["ratio"] >= w.target else "**not met**")
        if "bw_mib" in r:
            mem_ratio = r["bw_mib"] / r["torch_mib"] if r["torch_mib"] > 0 else float("inf")
            mem = (f"{r['bw_mib']:.1f} | {r['torch_mib']:.1f} | {mem_ratio:.2f}"
                   + ("" if mem_ratio <= 1.2 or r["torch_mib"] < 1 else " **over 1.2**"))
        else:
            mem = " | | "
        lines.append(f"| {w.name} | {_ms(r['bw_s'])} | {_ms(r['torch_s'])} | {r['ratio']:.2f} | "
                     f"{target} | {mem} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and few steps (CI)")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed blocks per framework (default 11; 2 with --smoke)")
    parser.add_argument("--block-seconds", type=float, default=0.25,
                        help="about how long one timed block of steps runs (default 0.25)")
    parser.add_argument("--clock", choices=sorted(_CLOCKS), default="wall",
                        help="wall (default) or cpu: this process's CPU time, steadier on a loaded "
                             "machine but only meaningful with one thread (OPENBLAS_NUM_THREADS=1)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--json", default="", help="also write the results to this JSON file")
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, metavar=("WORKLOAD", "FRAMEWORK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], args.smoke, args.memory_steps,
                     args.threads)
        return 0

    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    rounds = args.rounds or (2 if args.smoke else 11)
    global _clock
    _clock = _CLOCKS[args.clock]

    blas = blas_info()
    threads = blas["threads"] or os.cpu_count() or 1
    libs = {"brickwork": import_framework("brickwork", None),
            "torch": import_framework("torch", threads)}
    machine = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "blas": f"{blas['name']} {blas['version']}".strip(),
        "blas_threads": blas["threads"], "blas_core": blas["core"],
        "torch": libs["torch"].__version__, "torch_threads": libs["torch"].get_num_threads(),
        "commit": git_commit(libs["brickwork"].__file__), "load_before": _loadavg(),
    }
    print(report([], machine).split("\n\n")[0], flush=True)
    rows = []
    for name in names:
        workload = WORKLOADS[name]
        diff = check_same(workload, libs, args.smoke)
        row: dict[str, Any] = {"workload": workload, "check_rel_diff": diff}
        row.update(time_workload(workload, libs, args.smoke, rounds, args.block_seconds))
        if not args.no_memory and memory_supported():
            row.update(measure_memory(workload, args.smoke, args.memory_steps, threads))
        rows.append(row)
        print(f"  {name}: brickwork {_ms(row['bw_s'])} ms, torch {_ms(row['torch_s'])} ms, "
              f"ratio {row['ratio']:.2f} (same results: rel. diff {diff:.1e})", flush=True)
    machine["load_after"] = _loadavg()
    print()
    print(report(rows, machine, args.smoke))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine, "command": " ".join([sys.executable] + sys.argv),
                       "rows": [{**{k: v for k, v in r.items() if k != "workload"},
                                 "workload": r["workload"].name} for r in rows]}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
