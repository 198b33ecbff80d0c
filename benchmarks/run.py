"""brickwork against PyTorch's CPU build, side by side: time per step and peak memory.

    python benchmarks/run.py                        # every workload (make bench), ~20-30 minutes
    python benchmarks/run.py --only mlp_train,mlp_infer_b1 --pairs 11
    python benchmarks/run.py --threads 1            # the headline configuration only
    python benchmarks/run.py --smoke                # tiny sizes, one pair: checks that it runs (CI)

Method
------
* Own processes: every measurement runs in a fresh Python process that imports
  exactly one framework (``--child``), so neither framework's threads, allocator
  settings or caches touch the other's figures. The parent imports neither.
* Same work: each workload (benchmarks/workloads.py) is built by the same code
  in both frameworks, with the same weights (drawn from one NumPy generator by
  parameter name) and the same data arrays; before timing, one process per
  framework writes its outputs (and first training loss) to a ``.npy`` file, and
  the parent checks that they agree.
* Pairs: for each workload and thread count, the two frameworks' processes
  alternate, A B B A A B ..., ``--pairs`` times (default 5). Each pair gives one
  ratio torch / brickwork (above 1, brickwork is faster); the report gives the
  median ratio and its min-max over the pairs.
* Threads and clocks: with one thread (OPENBLAS/OMP/MKL_NUM_THREADS=1 in the
  child's environment and ``torch.set_num_threads(1)``) a process's CPU time is
  the steady figure on a shared machine: it is the headline. With two threads
  wall-clock time is reported, with the load average around each pair, and it is
  marked unreliable when the load exceeded the core count (idle BLAS/OpenMP
  workers spin, so two-thread wall times swing on a loaded machine).
* Inside a child: a tiny convolution and matrix product load the framework's
  kernel libraries (their code is not the step's memory), the model, optimiser
  and data are built, the resident set size is taken as the baseline and the
  peak RSS (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``) over the
  first steps, minus that baseline, is the
  memory the step needs (activations, gradients, optimiser state, workspaces,
  allocator caches). Those first steps are also the warm-up; then blocks of steps
  are timed and the child reports the median time per step. A workload marked
  ``fresh`` times its very first calls instead (no warm-up): a fresh-process
  inference, where one-off costs of the first calls would show.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, Workload, build  # noqa: E402

HERE = os.path.abspath(__file__)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# --isa avx2: every library both frameworks use held to AVX2 kernels, as on a CPU without AVX-512
# (NumPy's own ufunc loops are not limited: NumPy has no switch for that)
ISA_LIMITS = {"avx2": {"OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                       "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}}

# ---------------------------------------------------------------------------
# machine and BLAS description


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS: name, version, threads and the kernel OpenBLAS chose (via its own API)."""
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


def vector_extensions() -> str:
    """The SIMD extensions the CPU reports (the kernels BLAS and oneDNN can use)."""
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
              "amx_tile", "neon", "asimd", "sve")
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(f for f in wanted if f in flags) or "none of " + ",".join(wanted)
    except OSError:
        pass
    return "unknown"


def _loadavg() -> float:
    """The 1-minute load average (other processes compete for the cores on shared machines)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def git_commit() -> str:
    """The commit of the brickwork checkout these benchmarks belong to."""
    where = os.path.dirname(HERE)
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=where, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".."],
                               capture_output=True, text=True, timeout=10, cwd=where)
        return (out.stdout.strip() or "unknown") + ("+local changes" if dirty.stdout.strip() else "")
    except Exception:
        return "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------
# the child: one framework, one workload, one process


def import_framework(name: str, threads: int) -> Any:
    if name == "torch":
        import torch

        torch.set_num_threads(threads)
        return torch
    import brickwork

    return brickwork


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _numpy(out: Any) -> np.ndarray:
    out = out.detach() if hasattr(out, "detach") else out
    return np.asarray(out.numpy(), dtype=np.float64)


def child_check(workload: Workload, framework: str, smoke: bool, out_path: str) -> dict[str, Any]:
    """Outputs in eval mode (and, for training workloads without dropout, the first loss), saved as
    one .npy file of concatenated float64 values plus their shapes."""
    lib = import_framework(framework, 1)
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
    np.save(out_path, np.concatenate([g.ravel() for g in got]) if got else np.zeros(0))
    return {"shapes": [list(g.shape) for g in got]}


def load_kernel_libraries(lib: Any) -> None:
    """One tiny convolution and one 128x128x128 matrix product (large enough for brickwork to
    hand it to oneDNN's GEMM), so that the framework has loaded its kernel libraries (MKL,
    oneDNN) and generated their first code before the memory baseline is taken: the step's
    peak then counts data (activations, gradients, workspaces), not library code, for both
    frameworks alike. Not done for ``fresh`` workloads, which time first calls."""
    lib.nn.functional.conv2d(lib.ones(1, 1, 8, 8), lib.ones(1, 1, 3, 3))
    lib.ones(128, 128) @ lib.ones(128, 128)


def child_time(workload: Workload, framework: str, smoke: bool, threads: int, clock: str,
               seconds: float, memory_steps: int) -> dict[str, Any]:
    lib = import_framework(framework, threads)
    tick = time.process_time if clock == "cpu" else time.perf_counter
    if not workload.fresh:
        load_kernel_libraries(lib)
    step, _ = build(lib, workload, smoke)
    gc.collect()
    result: dict[str, Any] = {}
    if workload.fresh:  # the very first calls, in a process that has run nothing else
        calls = 3 if smoke else 10
        times = []
        for _ in range(calls):
            start = tick()
            step()
            times.append(tick() - start)
        result.update(step_s=statistics.median(times), first_s=times[0], steps=calls)
        return result
    memory = os.path.exists("/proc/self/clear_refs")
    if memory:
        baseline = _status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM (the peak RSS) to the current RSS
    start = tick()
    for _ in range(memory_steps):  # also the warm-up: caches, lazy inits, allocator pools
        step()
    once = (tick() - start) / memory_steps
    if memory:
        result["peak_mib"] = max(0, _status_kib("VmHWM") - baseline) / 1024
    blocks = 1 if smoke else 5
    per_block = 1 if smoke else max(1, min(1000, round(seconds / blocks / max(once, 1e-7))))
    times = []
    for _ in range(blocks):
        start = tick()
        for _ in range(per_block):
            step()
        times.append((tick() - start) / per_block)
    result.update(step_s=statistics.median(times), steps=blocks * per_block)
    return result


# ---------------------------------------------------------------------------
# the parent: processes, pairs, ratios


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    return env


def run_child(args: list[str], threads: int) -> dict[str, Any]:
    cmd = [sys.executable, HERE, "--child", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=_child_env(threads))
    if res.returncode != 0:
        raise RuntimeError(f"benchmark child {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def check_same(workload: Workload, smoke: bool) -> float:
    """Largest relative difference between the frameworks' results. Raises when they disagree."""
    with tempfile.TemporaryDirectory() as tmp:
        values, shapes = {}, {}
        for framework in ("brickwork", "torch"):
            path = os.path.join(tmp, f"{framework}.npy")
            info = run_child(["check", workload.name, framework, path] + (["--smoke"] if smoke else []), 1)
            values[framework], shapes[framework] = np.load(path), info["shapes"]
    a, b = values["brickwork"], values["torch"]
    if shapes["brickwork"] != shapes["torch"]:
        raise AssertionError(f"{workload.name}: output shapes differ: brickwork {shapes['brickwork']}, "
                             f"torch {shapes['torch']}")
    scale = max(float(np.abs(b).max()), 1e-6) if b.size else 1.0
    diff = float(np.abs(a - b).max()) / scale if a.size else 0.0
    if not diff < 1e-3:
        raise AssertionError(f"{workload.name}: brickwork and torch disagree (relative difference "
                             f"{diff:.3g})")
    return diff


def time_pairs(workload: Workload, smoke: bool, threads: int, pairs: int, seconds: float,
               memory_steps: int) -> dict[str, Any]:
    clock = "cpu" if threads == 1 else "wall"
    ratios, runs, loads = [], {"brickwork": [], "torch": []}, []
    for p in range(pairs):
        order = ("brickwork", "torch") if p % 2 == 0 else ("torch", "brickwork")
        load_before = _loadavg()
        got = {}
        for framework in order:
            args = ["time", workload.name, framework, "--threads", str(threads), "--clock", clock,
                    "--block-seconds", str(seconds), "--memory-steps", str(memory_steps)]
            got[framework] = run_child(args + (["--smoke"] if smoke else []), threads)
            runs[framework].append(got[framework])
        loads.append(max(load_before, _loadavg()))
        ratios.append(got["torch"]["step_s"] / got["brickwork"]["step_s"])
    row: dict[str, Any] = {
        "threads": threads, "clock": clock, "pairs": pairs,
        "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "ratios": ratios, "max_load": max(loads),
        "unreliable": clock == "wall" and max(loads) > (os.cpu_count() or 1),
    }
    for framework, key in (("brickwork", "bw"), ("torch", "torch")):
        row[f"{key}_s"] = statistics.median(r["step_s"] for r in runs[framework])
        peaks = [r["peak_mib"] for r in runs[framework] if "peak_mib" in r]
        if peaks:
            row[f"{key}_mib"] = statistics.median(peaks)
    return row


# ---------------------------------------------------------------------------
# report


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def describe(machine: dict[str, Any]) -> str:
    return "\n".join([
        f"machine: {machine['cpu']}, {machine['cores']} cores, vector extensions: {machine['vector']}",
        f"python {machine['python']}; numpy {machine['numpy']} with {machine['blas']} "
        f"(OpenBLAS kernel {machine['blas_core'] or '?'}; OPENBLAS_CORETYPE="
        f"{machine['coretype'] or 'unset'}); torch {machine['torch']}; brickwork at {machine['commit']}",
        *([f"ISA limit: {machine['isa']}"] if machine.get("isa") else []),
        f"load average (1 min) before: {machine['load_before']:.2f}"
        + (f", after: {machine['load_after']:.2f}" if "load_after" in machine else ""),
    ])


def report(rows: list[dict[str, Any]], machine: dict[str, Any], smoke: bool = False) -> str:
    lines = [describe(machine), "",
             "ratio = torch / brickwork time per step (above 1: brickwork faster), median [min-max] over "
             "pairs of fresh processes; 1 thread: CPU time, 2+ threads: wall time", "",
             "| workload | threads | brickwork ms/step | torch ms/step | ratio [min-max] | target | "
             "bw peak MiB | torch peak MiB | mem bw/torch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        w: Workload = r["workload"]
        if w.target is None:
            target = ""
        elif smoke:
            target = f"≥ {w.target:g} (not judged: smoke)"
        elif r["threads"] != 1:
            target = f"≥ {w.target:g} (judged at 1 thread)"
        else:
            target = f"≥ {w.target:g} " + ("met" if r["ratio"] >= w.target else "**not met**")
        ratio = f"{r['ratio']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
        if r["unreliable"]:
            ratio += f" (unreliable: load {r['max_load']:.1f})"
        if "bw_mib" in r and "torch_mib" in r:
            mem_ratio = r["bw_mib"] / r["torch_mib"] if r["torch_mib"] > 0 else float("inf")
            mem = (f"{r['bw_mib']:.1f} | {r['torch_mib']:.1f} | {mem_ratio:.2f}"
                   + ("" if mem_ratio <= 1.2 or r["torch_mib"] < 1 else " **over 1.2**"))
        else:
            mem = " | | "
        lines.append(f"| {w.name} | {r['threads']} | {_ms(r['bw_s'])} | {_ms(r['torch_s'])} | {ratio} | "
                     f"{target} | {mem} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one pair, one thread (CI)")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--pairs", type=int, default=None,
                        help="alternating process pairs per workload and thread count (default 5)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated thread counts (default 1,2; 1 is the headline)")
    parser.add_argument("--block-seconds", type=float, default=1.0,
                        help="about how long the timed steps of one child run (default 1.0)")
    parser.add_argument("--memory-steps", type=int, default=2,
                        help="first steps over which the peak memory is taken (also the warm-up)")
    parser.add_argument("--json", default="", help="also write the results to this JSON file")
    parser.add_argument("--isa", choices=sorted(ISA_LIMITS), default=None,
                        help="hold every library of both frameworks to this instruction set's kernels "
                             "(the children's environment: " + "; ".join(
                                 f"{k}: " + " ".join(f"{n}={v}" for n, v in lim.items())
                                 for k, lim in ISA_LIMITS.items()) + ")")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, name, framework, *rest = args.child
        workload = WORKLOADS[name]
        if kind == "check":
            out = child_check(workload, framework, args.smoke, rest[0])
        else:
            threads = int(args.threads)
            out = child_time(workload, framework, args.smoke, threads, args.clock, args.block_seconds,
                             args.memory_steps)
        print(json.dumps(out))
        return 0

    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    thread_counts = [1] if args.smoke else [int(t) for t in args.threads.split(",") if t]
    pairs = args.pairs or (1 if args.smoke else 5)

    blas = blas_info()
    isa = ""
    if args.isa:
        os.environ.update(ISA_LIMITS[args.isa])  # the children inherit it; this process's NumPy is loaded
        isa = f"{args.isa}: " + " ".join(f"{n}={v}" for n, v in ISA_LIMITS[args.isa].items())
        blas["core"] = f"{ISA_LIMITS[args.isa]['OPENBLAS_CORETYPE']} (forced)"
    machine: dict[str, Any] = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "vector": vector_extensions(),
        "python": platform.python_version(), "numpy": np.__version__,
        "blas": f"{blas['name']} {blas['version']}".strip(), "blas_core": blas["core"],
        "coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "torch": _version("torch"),
        "commit": git_commit(), "load_before": _loadavg(), "isa": isa,
    }
    print(describe(machine), flush=True)
    rows = []
    for name in names:
        workload = WORKLOADS[name]
        diff = check_same(workload, args.smoke)
        for threads in thread_counts:
            row: dict[str, Any] = {"workload": workload, "check_rel_diff": diff}
            row.update(time_pairs(workload, args.smoke, threads, pairs, args.block_seconds,
                                  1 if args.smoke else max(1, args.memory_steps)))
            rows.append(row)
            print(f"  {name}, {threads} thread(s): brickwork {_ms(row['bw_s'])} ms, torch "
                  f"{_ms(row['torch_s'])} ms, ratio {row['ratio']:.2f} [{row['ratio_min']:.2f}-"
                  f"{row['ratio_max']:.2f}] (same results: rel. diff {diff:.1e})", flush=True)
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
