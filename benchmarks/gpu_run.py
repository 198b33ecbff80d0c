"""GPU speed and memory of brickwork against PyTorch CUDA, on the same GPU in the same run.

The workloads of the speed issue at GPU-sized batches: an MLP (batch 4096), d2l's LeNet (batch
1024), a small ResNet of residual blocks (batch 256, 3x32x32) and one Transformer encoder layer
(batch 64, 64 tokens of width 256). Each is one training step (forward, cross-entropy or MSE,
backward, SGD with momentum) on identical weights and data in both frameworks.

Timing: CUDA events (``torch.cuda.Event`` / ``bw.cuda.Event``) around ``--steps`` steps after
``--warmup`` steps (the warm-up also compiles CuPy's kernels), best of ``--rounds`` rounds,
frameworks interleaved round by round. Ratio = torch time / brickwork time (>= 0.8 is the target).
Peak memory: ``max_memory_allocated`` of each framework over one extra step, measured separately
from the timed rounds (brickwork's peak hook costs a Python call per allocation); target: brickwork
<= 1.3x PyTorch.

``--pin-memory`` also times one epoch of a DataLoader over an array-backed dataset to the GPU with
``pin_memory=False`` and ``True`` (``non_blocking`` copies), the figure that decides whether pinning
is worth turning on. ``--device cpu --smoke`` runs everything tiny on the CPU (wall-clock timing),
to check this script on a machine without a GPU.

    PYTHONPATH=src python benchmarks/gpu_run.py --json gpu-results/gpu_results.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import brickwork as bw

try:
    import torch
except ImportError:  # the comparison needs PyTorch; brickwork never imports it
    torch = None

TARGET_RATIO, TARGET_MEMORY = 0.8, 1.3


# -- the workloads (written once; lib is brickwork or torch) -------------------------------------


def mlp(lib: Any, smoke: bool) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32 if smoke else 256), nn.ReLU(),
                         nn.Linear(32 if smoke else 256, 10))


def lenet(lib: Any, smoke: bool) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def resnet(lib: Any, smoke: bool) -> Any:
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        def __init__(self, cin: int, c: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, c, 3, padding=1, stride=stride)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1)
            self.conv3 = nn.Conv2d(cin, c, 1, stride=stride) if stride != 1 or cin != c else None
            self.bn1, self.bn2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)

        def forward(self, X: Any) -> Any:
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            return F.relu(Y + (self.conv3(X) if self.conv3 is not None else X))

    c = 4 if smoke else 32
    return nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                         Residual(c, c), Residual(c, c), Residual(c, 2 * c, stride=2),
                         Residual(2 * c, 2 * c), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(2 * c, 10))


def transformer(lib: Any, smoke: bool) -> Any:
    d = 32 if smoke else 256
    return lib.nn.TransformerEncoderLayer(d_model=d, nhead=4, dim_feedforward=4 * d, dropout=0.0,
                                          batch_first=True)


# name: (model, input shape at GPU batch, input shape when smoke, loss)
WORKLOADS: dict[str, tuple[Callable[[Any, bool], Any], tuple[int, ...], tuple[int, ...], str]] = {
    "mlp": (mlp, (4096, 1, 28, 28), (64, 1, 28, 28), "ce"),
    "lenet": (lenet, (1024, 1, 28, 28), (16, 1, 28, 28), "ce"),
    "resnet_block": (resnet, (256, 3, 32, 32), (4, 3, 16, 16), "ce"),
    "transformer_layer": (transformer, (64, 64, 256), (4, 8, 32), "mse"),
}


# -- one framework -------------------------------------------------------------------------------


class Runner:
    """A model, its optimiser and one batch, on one framework and device; ``step()`` trains once."""

    def __init__(self, lib: Any, name: str, device: str, smoke: bool, weights: dict[str, np.ndarray],
                 data: dict[str, np.ndarray]) -> None:
        make, _, _, loss = WORKLOADS[name]
        self.lib, self.loss = lib, loss
        self.model = make(lib, smoke)
        with lib.no_grad():
            for pname, p in self.model.named_parameters():
                p.copy_(lib.from_numpy(weights[pname]))
        self.model.to(device)
        self.opt = lib.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = lib.tensor(data["x"], device=device)
        self.y = lib.tensor(data["y"], device=device)

    def step(self) -> Any:
        F = self.lib.nn.functional
        out = self.model(self.x)
        loss = F.cross_entropy(out, self.y) if self.loss == "ce" else F.mse_loss(out, self.y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss


def _weights_and_data(name: str, smoke: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    make, shape, smoke_shape, loss = WORKLOADS[name]
    shape = smoke_shape if smoke else shape
    rng = np.random.default_rng(0)
    model = make(bw, smoke)  # parameter names and shapes (the same in both frameworks)
    weights = {}
    for pname, p in model.named_parameters():
        fan_in = int(np.prod(p.shape[1:])) if p.dim() >= 2 else None
        if pname.endswith("weight") and p.dim() == 1:
            weights[pname] = np.ones(tuple(p.shape), np.float32)  # norm scales
        else:
            bound = 1.0 / math.sqrt(fan_in or p.shape[0])
            weights[pname] = rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, shape[0]) if loss == "ce" else rng.standard_normal(shape).astype(np.float32)
    return weights, {"x": x, "y": y}


class Clock:
    """CUDA events around a block of GPU work, or the wall clock on the CPU."""

    def __init__(self, lib: Any, device: str) -> None:
        self.lib, self.gpu = lib, device.startswith("cuda")

    def time(self, fn: Callable[[], Any], steps: int) -> float:
        """Milliseconds per call of ``fn`` over ``steps`` calls."""
        if not self.gpu:
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            return (time.perf_counter() - start) * 1000.0 / steps
        start, end = self.lib.cuda.Event(enable_timing=True), self.lib.cuda.Event(enable_timing=True)
        self.lib.cuda.synchronize()
        start.record()
        for _ in range(steps):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / steps


def peak_bytes(lib: Any, runner: Runner) -> int | None:
    if not hasattr(lib, "cuda") or not str(runner.x.device).startswith("cuda"):
        return None
    lib.cuda.synchronize()
    lib.cuda.reset_peak_memory_stats()
    runner.step()
    lib.cuda.synchronize()
    return int(lib.cuda.max_memory_allocated())


def bench_workload(name: str, device: str, smoke: bool, warmup: int, steps: int, rounds: int) -> dict:
    weights, data = _weights_and_data(name, smoke)
    runners = {"brickwork": Runner(bw, name, device, smoke, weights, data)}
    if torch is not None and (not device.startswith("cuda") or torch.cuda.is_available()):
        torch.backends.cudnn.benchmark = True  # PyTorch at its usual best
        runners["torch"] = Runner(torch, name, device, smoke, weights, data)
    first = {k: float(r.step().item()) for k, r in runners.items()}  # same weights: same first loss
    for r in runners.values():
        for _ in range(warmup):
            r.step()
    best = {k: math.inf for k in runners}
    for _ in range(rounds):
        for k, r in runners.items():
            best[k] = min(best[k], Clock(r.lib, device).time(r.step, steps))
    peaks = {k: peak_bytes(r.lib, r) for k, r in runners.items()}
    row: dict[str, Any] = {"workload": name, "batch": WORKLOADS[name][2 if smoke else 1][0],
                           "first_loss": first, "ms_per_step": best, "peak_bytes": peaks}
    if "torch" in runners:
        reference = max(abs(first["torch"]), 1e-12)
        row["first_loss_rel_diff"] = abs(first["brickwork"] - first["torch"]) / reference
        row["ratio"] = best["torch"] / best["brickwork"]
        row["ratio_ok"] = row["ratio"] >= TARGET_RATIO
        if peaks["torch"]:
            row["memory_ratio"] = peaks["brickwork"] / peaks["torch"]
            row["memory_ok"] = row["memory_ratio"] <= TARGET_MEMORY
    return row


def bench_pin_memory(device: str, smoke: bool, rounds: int) -> dict:
    """One epoch of DataLoader -> GPU with and without pinned memory (and the model step between)."""
    n, batch = (512, 64) if smoke else (60000, 1024)
    rng = np.random.default_rng(0)
    ds = bw.data.TensorDataset(bw.tensor(rng.standard_normal((n, 1, 28, 28)).astype(np.float32)),
                               bw.tensor(rng.integers(0, 10, n)))
    model = mlp(bw, smoke).to(device)
    out: dict[str, Any] = {"samples": n, "batch": batch}
    for pin in (False, True):
        loader = bw.data.DataLoader(ds, batch_size=batch, shuffle=True, pin_memory=pin)

        def epoch(loader: Any = loader) -> None:
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                with bw.no_grad():
                    model(x)

        epoch()  # warm-up
        out[f"epoch_ms_pin_{pin}".lower()] = min(Clock(bw, device).time(epoch, 1) for _ in range(rounds))
    out["pinned_speedup"] = out["epoch_ms_pin_false"] / out["epoch_ms_pin_true"]
    return out


def environment(device: str) -> dict:
    env: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__,
                           "brickwork_device": device, "machine": platform.machine()}
    if device.startswith("cuda"):
        from brickwork import _backend

        env["cupy"] = _backend.cupy_module().__version__
        env["gpu"] = bw.cuda.get_device_name()
    if torch is not None:
        env["torch"] = torch.__version__
        env["torch_cuda"] = torch.version.cuda
    return env


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = [f"GPU: {env.get('gpu', 'none (CPU run)')}; CuPy {env.get('cupy', '-')}, PyTorch "
             f"{env.get('torch', '-')} (CUDA {env.get('torch_cuda', '-')}), NumPy {env['numpy']}.", "",
             "| workload | batch | torch ms/step | brickwork ms/step | ratio torch/bw (>= 0.8) | "
             "peak MiB torch | peak MiB bw | bw/torch memory (<= 1.3) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    mib = 1024 * 1024
    for row in results["workloads"]:
        t, b = row["ms_per_step"].get("torch"), row["ms_per_step"]["brickwork"]
        pt, pb = row["peak_bytes"].get("torch"), row["peak_bytes"]["brickwork"]
        ratio, memory = row.get("ratio", float("nan")), row.get("memory_ratio", float("nan"))
        lines.append(
            f"| {row['workload']} | {row['batch']} | {t:.3f} | {b:.3f} | {ratio:.2f} | "
            f"{(pt or 0) / mib:.1f} | {(pb or 0) / mib:.1f} | {memory:.2f} |"
            if t is not None else
            f"| {row['workload']} | {row['batch']} | - | {b:.3f} | - | - | {(pb or 0) / mib:.1f} | - |")
    pin = results.get("pin_memory")
    if pin:
        lines += ["", f"DataLoader epoch to the GPU ({pin['samples']} samples, batch {pin['batch']}): "
                      f"{pin['epoch_ms_pin_false']:.1f} ms pageable, "
                      f"{pin['epoch_ms_pin_true']:.1f} ms pinned (speed-up {pin['pinned_speedup']:.2f}x)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (for checking the script)")
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pin-memory", action="store_true", help="also time pinned DataLoader copies")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write a RESULTS.md-ready table here")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not bw.cuda.is_available():
        print(f"gpu_run: no CUDA GPU is available to brickwork (device {args.device} requested); "
              "use --device cpu --smoke to check the script without one", file=sys.stderr)
        return 2
    if torch is not None and args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_run: this PyTorch has no CUDA: brickwork's times are reported without ratios",
              file=sys.stderr)
    results: dict[str, Any] = {"environment": environment(args.device), "workloads": []}
    for name in args.workloads:
        row = bench_workload(name, args.device, args.smoke, args.warmup, args.steps, args.rounds)
        results["workloads"].append(row)
        print(json.dumps(row), flush=True)
    if args.pin_memory and args.device.startswith("cuda"):
        results["pin_memory"] = bench_pin_memory(args.device, args.smoke, args.rounds)
        print(json.dumps(results["pin_memory"]), flush=True)
    table = markdown(results)
    print(table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
