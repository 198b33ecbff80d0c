"""The benchmark workloads, written once for both frameworks.

brickwork follows PyTorch's names, so every workload is built by the same code
with ``lib`` being either ``brickwork`` or ``torch``. The weights are not each
framework's own random initialisation: :func:`init_weights` draws them from
one NumPy generator by parameter name (PyTorch's default ranges), so both
frameworks train the same model on the same data, and :mod:`run` checks that
their first losses (or outputs) agree before timing anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Workload", "WORKLOADS", "build", "init_weights"]


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    target: float | None  # ratio torch/brickwork the issue asks for (None: reported only)
    make: Callable[[Any, bool], Any]  # (lib, smoke) -> model
    data: Callable[[np.random.Generator, bool], dict[str, np.ndarray]]
    kind: str  # "train_ce" | "train_mse" | "infer" | "chain" | "chain_grad"
    fresh: bool = False  # time the first calls of a fresh process (no warm-up)


# ---------------------------------------------------------------------------
# models (lib is brickwork or torch)


def mlp(lib: Any, smoke: bool) -> Any:
    nn = lib.nn
    hidden = 16 if smoke else 256
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def lenet_d2l(lib: Any, smoke: bool) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def lenet_modern(lib: Any, smoke: bool) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(3, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def alexnet(lib: Any, smoke: bool) -> Any:
    """d2l's AlexNet for 1-channel 224x224 images (the modern-CNN chapter's training cells).
    Smoke: 67x67 inputs, which leave 256x1x1 before the classifier, and narrow dense layers."""
    nn = lib.nn
    features, hidden = (256, 64) if smoke else (6400, 4096)
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, 10),
    )


def resnet_small(lib: Any, smoke: bool) -> Any:
    """d2l's ResNet building blocks: a 3x3 stem, two stages of two residual blocks (the second
    stage halves the resolution and doubles the channels, with a 1x1 shortcut), global pooling."""
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, stride=stride)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.conv3 = (nn.Conv2d(in_channels, channels, 1, stride=stride)
                          if stride != 1 or in_channels != channels else None)
            self.bn1 = nn.BatchNorm2d(channels)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, X: Any) -> Any:
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3 is not None:
                X = self.conv3(X)
            return F.relu(Y + X)

    c = 4 if smoke else 32
    return nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
        Residual(c, c), Residual(c, c),
        Residual(c, 2 * c, stride=2), Residual(2 * c, 2 * c),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(2 * c, 10),
    )


def transformer_layer(lib: Any, smoke: bool) -> Any:
    d_model, heads = (32, 4) if smoke else (256, 4)
    return lib.nn.TransformerEncoderLayer(d_model=d_model, nhead=heads, batch_first=True)


class ElementwiseChain:
    """Twenty small elementwise ops (dispatch overhead: the arrays are tiny)."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib

    def __call__(self, a: Any, b: Any, c: Any) -> Any:
        x = a * b
        x = x + c
        x = x.tanh()
        x = x * 0.5
        x = x + a
        x = x.relu()
        x = x - b
        x = x.sigmoid()
        x = x * c
        x = x.abs()
        x = x + 1.0
        x = x.sqrt()
        x = x.log()
        x = x * a
        x = x.exp()
        x = x / 2.0
        x = x - c
        x = x.neg()
        x = x.clamp(-3.0, 3.0)
        x = x * x
        return x


def chain(lib: Any, smoke: bool) -> Any:
    return ElementwiseChain(lib)


# ---------------------------------------------------------------------------
# data (NumPy; each framework wraps the same arrays)


def _images(shape: tuple[int, ...], classes: int = 10,
            smoke_shape: tuple[int, ...] | None = None) -> Callable[..., dict[str, np.ndarray]]:
    def make(rng: np.random.Generator, smoke: bool) -> dict[str, np.ndarray]:
        batch = min(shape[0], 8) if smoke else shape[0]
        x = rng.standard_normal((batch,) + (smoke_shape if smoke and smoke_shape else shape[1:]),
                                dtype=np.float32)
        y = rng.integers(0, classes, size=batch, dtype=np.int64)
        return {"x": x, "y": y}

    return make


def _sequences(rng: np.random.Generator, smoke: bool) -> dict[str, np.ndarray]:
    batch, length, d = (4, 8, 32) if smoke else (32, 128, 256)
    return {"x": rng.standard_normal((batch, length, d), dtype=np.float32),
            "target": rng.standard_normal((batch, length, d), dtype=np.float32)}


def _chain_data(rng: np.random.Generator, smoke: bool) -> dict[str, np.ndarray]:
    n = 1000
    return {k: rng.standard_normal(n, dtype=np.float32) for k in "abc"}


WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("mlp_train", "MLP 784-256-10 training step (SGD, cross-entropy), batch 256", 1.3,
             mlp, _images((256, 1, 28, 28)), "train_ce"),
    Workload("lenet_d2l_train", "d2l LeNet (sigmoid, avg-pool) training step, 1x28x28, batch 256", 1.2,
             lenet_d2l, _images((256, 1, 28, 28)), "train_ce"),
    Workload("lenet_modern_train", "modern LeNet (ReLU, max-pool) training step, 3x32x32, batch 128",
             1.0, lenet_modern, _images((128, 3, 32, 32)), "train_ce"),
    Workload("resnet_train", "small ResNet (stem + 4 residual blocks, 32/64 ch, BatchNorm) training "
             "step, 3x32x32, batch 128", 1.1, resnet_small, _images((128, 3, 32, 32)), "train_ce"),
    Workload("alexnet_train_b16", "d2l AlexNet training step, 1x224x224, batch 16", 1.0,
             alexnet, _images((16, 1, 224, 224), smoke_shape=(1, 67, 67)), "train_ce"),
    Workload("alexnet_train_b128", "d2l AlexNet training step, 1x224x224, batch 128", 1.0,
             alexnet, _images((128, 1, 224, 224), smoke_shape=(1, 67, 67)), "train_ce"),
    Workload("transformer_train", "TransformerEncoderLayer(d_model 256, 4 heads) training step, "
             "seq 128, batch 32", 1.1, transformer_layer, _sequences, "train_mse"),
    Workload("mlp_infer_b256", "MLP inference (no_grad), batch 256", 1.0,
             mlp, _images((256, 1, 28, 28)), "infer"),
    Workload("mlp_infer_b256_fresh", "MLP inference (no_grad), batch 256, the first 10 calls of a "
             "fresh process (median)", 1.0, mlp, _images((256, 1, 28, 28)), "infer", fresh=True),
    Workload("mlp_infer_b1", "MLP inference (no_grad), batch 1", 1.0,
             mlp, _images((1, 1, 28, 28)), "infer"),
    Workload("elementwise_chain", "20 elementwise ops on 1,000-element tensors (forward)", None,
             chain, _chain_data, "chain"),
    Workload("elementwise_chain_grad", "the same chain recorded for autograd, plus backward", None,
             chain, _chain_data, "chain_grad"),
]}


# ---------------------------------------------------------------------------
# weights and steps


def init_weights(lib: Any, model: Any, seed: int = 0) -> None:
    """Overwrite every parameter with values drawn by name from one NumPy generator.

    PyTorch's default ranges: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights
    and biases (a bias takes its layer's fan-in), ones and zeros for norm layers.
    """
    if not hasattr(model, "named_parameters"):
        return
    params = list(model.named_parameters())
    fan_in = {}
    for name, p in params:
        if p.dim() >= 2:
            fan_in[name.rsplit(".", 1)[0]] = int(np.prod(p.shape[1:]))
    state = {}
    for name, p in params:
        rng = np.random.default_rng([seed, _stable_hash(name)])
        owner, leaf = name.rsplit(".", 1) if "." in name else ("", name)
        shape = tuple(p.shape)
        if p.dim() >= 2 or owner in fan_in:
            bound = 1.0 / math.sqrt(fan_in.get(owner, shape[-1] if shape else 1))
            arr = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        elif leaf == "weight":  # norm scales
            arr = np.ones(shape, np.float32)
        else:
            arr = np.zeros(shape, np.float32)
        state[name] = arr
    with lib.no_grad():
        for name, p in params:
            p.copy_(lib.from_numpy(state[name]))


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode(), "little") % (2**63)


def build(lib: Any, workload: Workload, smoke: bool, seed: int = 0) -> tuple[Callable[[], Any], Any]:
    """The step function for ``workload`` in ``lib``, and the model (for checks).

    Each call of the step runs one training step (zero_grad, forward, loss,
    backward, SGD update), one inference forward, or one pass over the chain.
    It returns the loss or output tensor of that step.
    """
    model = workload.make(lib, smoke)
    init_weights(lib, model, seed)
    arrays = workload.data(np.random.default_rng(seed), smoke)
    tensors = {k: lib.from_numpy(v) for k, v in arrays.items()}
    F = lib.nn.functional
    if workload.kind in ("train_ce", "train_mse"):
        opt = lib.optim.SGD(model.parameters(), lr=0.01)
        x = tensors["x"]
        target = tensors["y"] if workload.kind == "train_ce" else tensors["target"]
        loss_fn = F.cross_entropy if workload.kind == "train_ce" else F.mse_loss

        def step() -> Any:
            opt.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            opt.step()
            return loss

        return step, model
    if workload.kind == "infer":
        model.eval()
        x = tensors["x"]

        def infer() -> Any:
            with lib.no_grad():
                return model(x)

        return infer, model
    a, b, c = tensors["a"], tensors["b"], tensors["c"]
    if workload.kind == "chain":
        return (lambda: model(a, b, c)), model
    for t in (a, b, c):
        t.requires_grad_(True)

    def chain_grad() -> Any:
        for t in (a, b, c):
            t.grad = None
        out = model(a, b, c).sum()
        out.backward()
        return out

    return chain_grad, model
