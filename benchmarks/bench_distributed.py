"""Data-parallel scaling and all-reduce bandwidth of brickwork.distributed over MPI.

Run ``python benchmarks/bench_distributed.py`` (no launcher): it starts itself
with ``mpiexec -n 1`` and ``mpiexec -n 2`` (``--procs`` to change), then prints

- scaling efficiency of DistributedDataParallel training, for the MLP
  (784-256-10) and d2l's LeNet on 1x28x28 inputs, the models of the
  ``mlp_train`` and ``lenet_d2l_train`` workloads of ``benchmarks/run.py``
  (synthetic data, so nothing is downloaded): each
  rank trains on its own batch of ``--batch`` samples (weak scaling), and
  efficiency = throughput with n processes / (n x throughput with one);
- all-reduce bandwidth through ``bw.distributed.all_reduce`` against a plain
  mpi4py ``Allreduce(MPI.IN_PLACE, ...)`` of the same NumPy buffer (the
  engine's own limit), with brickwork's shape check on (the default) and off,
  and through DDP's bucket path (the backend call DDP makes per bucket).

Each process is limited to one BLAS/OpenMP thread (set before NumPy loads),
so that n processes use n cores and 1 process uses one; ``--threads`` changes
that. A worker can also be run directly: ``mpiexec -n 2 python
benchmarks/bench_distributed.py --worker`` prints its JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def _set_threads(n: str) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = n


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--procs", default="1,2", help="process counts to compare (default 1,2)")
    parser.add_argument("--batch", type=int, default=64, help="samples per rank per step (default 64)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    parser.add_argument("--sizes-mb", default="1,16,64", help="all-reduce buffer sizes in MiB")
    parser.add_argument("--repeats", type=int, default=30, help="timed all-reduces per size and method")
    parser.add_argument("--threads", default="1", help="BLAS threads per process (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="repeat everything, keep the best (default 3)")
    parser.add_argument("--worker", action="store_true", help="run as one rank (under mpiexec)")
    parser.add_argument("--what", default="ddp:MLP", help="the worker's measurement: ddp:MODEL, "
                        "alone:MODEL (MLP or LeNet) or allreduce")
    return parser.parse_args()


# -- worker (one rank) ---------------------------------------------------------------------


def _models():
    from brickwork import nn

    def mlp():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    def lenet():  # d2l's LeNet (sigmoid, average pooling)
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, 10),
        )

    return {"MLP": mlp, "LeNet": lenet}


WINDOWS = 3
_MODEL_NAMES = ("MLP", "LeNet")


def _train_throughput(factory, batch: int, steps: int, ddp: bool = True) -> float:
    """Samples per second over all ranks for forward + backward + SGD step (slowest rank's time).

    ``ddp=False``: the same loop with each rank training its own model, no communication at all:
    what these cores can do at this moment, the ceiling for DDP on this machine.
    """
    import time

    import brickwork as bw
    import brickwork.distributed as dist
    from brickwork import nn

    rank, world = dist.get_rank(), dist.get_world_size()
    bw.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(factory()) if ddp else factory()
    opt = bw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = bw.Generator().manual_seed(rank)
    X = bw.randn(batch, 1, 28, 28, generator=g)
    y = bw.randint(0, 10, (batch,), generator=g)

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(WINDOWS):  # the best of a few windows: this machine's neighbours add noise
        dist.barrier()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        dist.barrier()
        elapsed = bw.tensor([time.perf_counter() - start], dtype=bw.float64)
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        best = min(best, elapsed.item())
    return world * batch * steps / best


def _allreduce_times(size_mb: float, repeats: int) -> dict[str, float]:
    """Best seconds per all-reduce of a float32 buffer, by method, the methods interleaved."""
    import time

    import numpy as np
    from mpi4py import MPI

    import brickwork as bw
    import brickwork.distributed as dist
    from brickwork.distributed.process_group import default_group

    n = int(size_mb * (1 << 20)) // 4
    t = bw.ones(n)
    arr = t.numpy()  # the same memory: every method reduces the very same buffer
    comm = MPI.COMM_WORLD
    group = default_group("bench")
    backend = group.backend

    def plain() -> None:
        comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)

    def brickwork_checked() -> None:
        group.check_shapes = True
        dist.all_reduce(t)

    def brickwork_unchecked() -> None:
        group.check_shapes = False
        dist.all_reduce(t)

    def ddp_bucket() -> None:  # what DDP's reducer does per bucket
        backend.allreduce(arr, dist.ReduceOp.SUM).wait()

    methods = {"mpi4py": plain, "brickwork": brickwork_checked, "brickwork_nocheck": brickwork_unchecked,
               "ddp_bucket": ddp_bucket}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for fn in methods.values():
        fn()  # warm up (first-touch, MPI buffers)
    for _ in range(repeats):
        for name, fn in methods.items():
            comm.Barrier()
            start = time.perf_counter()
            fn()
            elapsed = np.array([time.perf_counter() - start])
            comm.Allreduce(MPI.IN_PLACE, elapsed, op=MPI.MAX)
            times[name].append(float(elapsed[0]))
    group.check_shapes = True
    return {name: float(np.min(v)) for name, v in times.items()}


def worker(args: argparse.Namespace) -> None:
    """One measurement per launch (``--what ddp:MLP``, ``alone:LeNet``, ``allreduce``), so that no
    measurement runs in a process that an earlier one has warmed or fragmented."""
    import brickwork.distributed as dist

    dist.init_process_group("mpi")
    if args.what == "allreduce":
        sizes = args.sizes_mb.split(",")
        result: object = {size: _allreduce_times(float(size), args.repeats) for size in sizes}
    else:
        mode, name = args.what.split(":")
        result = _train_throughput(_models()[name], args.batch, args.steps, ddp=mode == "ddp")
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


# -- driver ------------------------------------------------------------------------------


def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else "mpiexec"


def driver(args: argparse.Namespace) -> None:
    procs = [int(p) for p in args.procs.split(",")]
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())

    def launch(n: int, what: str) -> object:
        command = [_mpiexec(), "-n", str(n), sys.executable, __file__, "--worker", "--what", what,
                   "--batch", str(args.batch), "--steps", str(args.steps), "--sizes-mb", args.sizes_mb,
                   "--repeats", str(args.repeats), "--threads", args.threads]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line[len("RESULT "):])

    # every measurement is repeated in --rounds rounds, interleaved, and the best is kept: on a
    # machine shared with other programs, the best is the closest to what the code itself costs
    results: dict = {n: {"throughput": {}, "alone": {}, "allreduce": {}} for n in procs}
    for _ in range(args.rounds):
        for n in procs:
            for name in _MODEL_NAMES:
                for kind, mode in (("throughput", "ddp"), ("alone", "alone")):
                    if kind == "alone" and n == 1:
                        continue
                    value = launch(n, f"{mode}:{name}")
                    results[n][kind][name] = max(results[n][kind].get(name, 0.0), value)
            if n > 1:
                for size, times in launch(n, "allreduce").items():
                    best = results[n]["allreduce"].setdefault(size, times)
                    for method, t in times.items():
                        best[method] = min(best[method], t)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before/after: {load_before} / {load} (other programs share these cores)")
    print(f"brickwork.distributed over MPI: {os.cpu_count()} CPU cores, {args.threads} BLAS thread(s) "
          f"per process, {args.batch} samples per rank per step, best of {args.rounds} rounds of "
          f"{WINDOWS} x {args.steps} steps")
    print("\nDDP training throughput (samples/s over all ranks); scaling efficiency = throughput with n "
          "processes / (n x throughput with 1);\n'no-comm' = the same n processes training separately "
          "(no communication: what the cores give at the moment), and DDP's share of it")
    base = results[procs[0]]["throughput"]
    header = f"{'workload':10s}" + "".join(f"{f'{n} proc':>12s}" for n in procs)
    for n in procs[1:]:
        header += f"{f'eff. {n}':>10s}{f'no-comm {n}':>14s}{'DDP/no-comm':>13s}"
    print(header)
    for name in base:
        row = f"{name:10s}" + "".join(f"{results[n]['throughput'][name]:12.0f}" for n in procs)
        for n in procs[1:]:
            ddp, alone = results[n]["throughput"][name], results[n]["alone"][name]
            row += f"{ddp / (n * base[name]) * 100:9.0f}%{alone:14.0f}{ddp / alone * 100:12.0f}%"
        print(row)

    for n in procs:
        if not results[n]["allreduce"]:
            continue
        print(f"\nall-reduce of float32 buffers, {n} processes: best time of {args.rounds} x {args.repeats}, "
              "algorithm bandwidth (bytes / time), brickwork's overhead over plain mpi4py")
        print(f"{'MiB':>5s} {'mpi4py':>16s} {'bw.all_reduce':>22s} {'...no shape check':>22s} "
              f"{'DDP bucket path':>22s}")
        for size, t in results[n]["allreduce"].items():
            nbytes = float(size) * (1 << 20)

            cells = [f"{t[name] * 1e3:7.2f} ms {(t[name] / t['mpi4py'] - 1) * 100:+6.1f}%"
                     for name in ("brickwork", "brickwork_nocheck", "ddp_bucket")]
            print(f"{size:>5s} {t['mpi4py'] * 1e3:7.2f} ms {nbytes / t['mpi4py'] / 1e9:5.2f} GB/s "
                  + " ".join(f"{c:>22s}" for c in cells))


def main() -> None:
    args = _parse()
    _set_threads(args.threads)  # before NumPy is imported (by brickwork, in the worker)
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
