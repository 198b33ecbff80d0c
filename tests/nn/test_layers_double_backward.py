"""Second derivatives of layers (activations, losses, norms, attention, transformer, recurrent,
linear) against PyTorch in float64, with copied (randomised) weights: the first gradient is taken
with ``create_graph=True`` w.r.t. the inputs and every parameter, projected on a random direction
and differentiated again w.r.t. the inputs, the parameters and the output cotangents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import copy_weights
from oracle import gradgradcheck_arrays

TOL = dict(rtol=1e-7, atol=1e-9)


def _flat(out: Any) -> list:
    if isinstance(out, (bw.Tensor, torch.Tensor)):
        return [out]
    flat = []
    for o in out:
        if isinstance(o, (tuple, list)):
            flat.extend(_flat(o))
        elif o is not None:
            flat.append(o)
    return flat


def _randomise(layer: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Parameters away from their (ones / zeros) initialisation, running statistics too, so that
    every second derivative is exercised."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in layer.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5 + 0.3)
        for name, b in layer.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen, dtype=b.dtype) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen, dtype=b.dtype) * 0.3)
    return layer


def _numpy(t: Any, shape: Sequence[int]) -> np.ndarray:
    if t is None:
        return np.zeros(tuple(shape))
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)
    return t.detach().cpu().numpy()


def check_layer_double(make_bw: Callable[[], bw.nn.Module], make_torch: Callable[[], torch.nn.Module],
                       arrays: Sequence[np.ndarray], device: Any, train: bool = False,
                       constant: Sequence[int] = (), call: Callable[..., Any] | None = None,
                       seed: int = 0) -> None:
    """Values, first gradients and second derivatives of ``call(layer, *inputs)`` against torch.

    Float inputs require grad unless their index is in ``constant``; integer ones (targets,
    masks) are constants. ``call`` defaults to ``layer(*inputs)``.
    """
    call = call or (lambda layer, *xs: layer(*xs))
    t_layer = _randomise(make_torch().double(), seed)
    b_layer = make_bw().double()
    copy_weights(t_layer, b_layer)
    b_layer.to(device)
    t_layer.train(train)
    b_layer.train(train)
    grads = [a.dtype.kind == "f" and i not in constant for i, a in enumerate(arrays)]
    b_in = [bw.tensor(a, device=device, requires_grad=g) for a, g in zip(arrays, grads)]
    t_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    with sdpa_kernel(SDPBackend.MATH):  # (torch's fused CPU attention has no double backward)
        t_out = _flat(call(t_layer, *t_in))
    b_out = _flat(call(b_layer, *b_in))
    assert len(b_out) == len(t_out)
    for i, (bo, to) in enumerate(zip(b_out, t_out)):
        np.testing.assert_allclose(_numpy(bo, to.shape), _numpy(to, to.shape), err_msg=f"output {i}", **TOL)
    names = [n for n, _ in t_layer.named_parameters()]
    assert names == [n for n, _ in b_layer.named_parameters()]
    b_params, t_params = dict(b_layer.named_parameters()), dict(t_layer.named_parameters())
    what = [f"input {i}" for i, g in enumerate(grads) if g] + names
    b_wrt = [t for t in b_in if t.requires_grad] + [b_params[n] for n in names]
    t_wrt = [t for t in t_in if t.requires_grad] + [t_params[n] for n in names]
    rng = np.random.default_rng(seed + 1)
    pairs = [(bo, to) for bo, to in zip(b_out, t_out) if to.requires_grad]
    assert all(bo.requires_grad for bo, _ in pairs)
    vs = [rng.standard_normal(tuple(to.shape)) for _, to in pairs]
    b_v = [bw.tensor(v, device=device, requires_grad=True) for v in vs]
    t_v = [torch.tensor(v, requires_grad=True) for v in vs]
    t_g = torch.autograd.grad([to for _, to in pairs], t_wrt, t_v, create_graph=True, allow_unused=True)
    b_g = bw.autograd.grad([bo for bo, _ in pairs], b_wrt, b_v, create_graph=True, allow_unused=True)
    for name, bg, tg, t in zip(what, b_g, t_g, t_wrt):
        np.testing.assert_allclose(_numpy(bg, t.shape), _numpy(tg, t.shape),
                                   err_msg=f"first gradient of {name}", **TOL)
    us = [rng.standard_normal(tuple(t.shape)) for t in t_wrt]
    t_terms = [(g * torch.tensor(u)).sum() for g, u in zip(t_g, us) if g is not None and g.requires_grad]
    b_terms = [(g * bw.tensor(u, device=device)).sum() for g, u in zip(b_g, us)
               if g is not None and g.requires_grad]
    assert t_terms, "nothing to differentiate twice"
    t_h = torch.autograd.grad(sum(t_terms), t_wrt + t_v, allow_unused=True)
    b_h = (bw.autograd.grad(sum(b_terms), b_wrt + b_v, allow_unused=True) if b_terms
           else [None] * len(t_h))
    for name, bh, th, t in zip(what + [f"cotangent {i}" for i in range(len(vs))], b_h, t_h,
                               t_wrt + t_v):
        np.testing.assert_allclose(_numpy(bh, t.shape), _numpy(th, t.shape),
                                   err_msg=f"second derivative w.r.t. {name}", **TOL)


rng = np.random.default_rng(43)


def _away_from_kinks(shape: tuple[int, ...], scale: float = 2.0) -> np.ndarray:
    x = rng.standard_normal(shape) * scale
    for kink in (0.0, 3.0, -3.0, -1.0, 1.0, 0.1, 6.0, -6.0):
        x[np.abs(x - kink) < 0.05] = 0.7
    return x


# ---------------------------------------------------------------------------
# activations

ACTIVATIONS = [
    ("ReLU", {}), ("SELU", {}), ("SiLU", {}), ("Mish", {}), ("Hardsigmoid", {}), ("Hardswish", {}),
    ("Sigmoid", {}), ("Tanh", {}), ("LogSigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}),
    ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", dict(alpha=0.7)), ("CELU", dict(alpha=0.5)),
    ("GELU", {}), ("GELU", dict(approximate="tanh")), ("Softplus", dict(beta=2.0, threshold=3.0)),
    ("Softmax", dict(dim=1)), ("LogSoftmax", dict(dim=-1)), ("Softmin", dict(dim=1)),
    ("Hardtanh", dict(min_val=-0.5, max_val=2.0)), ("ReLU6", {}),
    ("Threshold", dict(threshold=0.1, value=-2.0)),
    ("PReLU", dict(num_parameters=4)), ("GLU", dict(dim=-1)),
]


class _TorchFunction(torch.nn.Module):
    """A torch reference written as a composite, where torch has no double backward of its own."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


# torch has no double backward of hardsigmoid: its definition, relu6(x + 3) / 6, stands in
TORCH_COMPOSITES = {"Hardsigmoid": lambda: _TorchFunction(lambda x: torch.nn.functional.relu6(x + 3) / 6)}


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{n}{k}" for n, k in ACTIVATIONS])
def test_activation_layers_twice(name, kw, device):
    make_torch = TORCH_COMPOSITES.get(name, lambda: getattr(torch.nn, name)(**kw))
    check_layer_double(lambda: getattr(nn, name)(**kw), make_torch, [_away_from_kinks((3, 4))], device)


# ---------------------------------------------------------------------------
# losses


def _classes(shape: tuple[int, ...], c: int, ignore: bool = True) -> np.ndarray:
    t = rng.integers(0, c, shape)
    if ignore and t.size > 2:
        t.flat[1] = -100
    return t


def _probabilities(shape: tuple[int, ...]) -> np.ndarray:
    p = rng.random(shape) + 0.05
    return p / p.sum(1, keepdims=True)


def _signs(shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) > 0.5, 1.0, -1.0)


W5 = rng.random(5) + 0.2
PW = rng.random(5) * 2 + 0.2


def _loss_cases() -> list:
    x, x4 = rng.standard_normal((4, 5)) * 2, rng.standard_normal((3, 5, 2, 2))
    sig = 1 / (1 + np.exp(-rng.standard_normal((4, 5)) * 2))
    y = rng.standard_normal((4, 5))
    # (name, options, inputs[, constant inputs: torch does not differentiate w.r.t. them])
    return [
        ("CrossEntropyLoss", {}, [x, _classes((4,), 5)]),
        ("CrossEntropyLoss", dict(reduction="sum", label_smoothing=0.2), [x4, _classes((3, 2, 2), 5)]),
        ("CrossEntropyLoss", dict(weight=W5, reduction="none"), [x, _classes((4,), 5)]),
        ("CrossEntropyLoss", dict(weight=W5, label_smoothing=0.3), [x, _classes((4,), 5)]),
        ("CrossEntropyLoss", dict(label_smoothing=0.1), [x, _probabilities((4, 5))]),
        ("NLLLoss", dict(weight=W5), [x, _classes((4,), 5)]),
        ("NLLLoss", dict(reduction="sum"), [x4, _classes((3, 2, 2), 5)]),
        ("BCELoss", {}, [sig, rng.random((4, 5))]),
        ("BCELoss", dict(reduction="none"), [sig, rng.random((4, 5))]),
        ("BCEWithLogitsLoss", {}, [x, rng.random((4, 5))]),
        ("BCEWithLogitsLoss", dict(pos_weight=PW, reduction="sum"), [x, rng.random((4, 5))]),
        ("MSELoss", {}, [x, y]),
        ("L1Loss", dict(reduction="sum"), [x, y]),
        ("SmoothL1Loss", dict(beta=0.5), [x, y]),
        ("HuberLoss", dict(delta=0.7), [x, y]),
        ("KLDivLoss", dict(reduction="batchmean"), [x, _probabilities((4, 5))]),
        ("KLDivLoss", dict(log_target=True), [x, np.log(_probabilities((4, 5)))]),
        ("MarginRankingLoss", dict(margin=0.3), [x[:, 0], y[:, 0], _signs((4,))]),
        ("HingeEmbeddingLoss", {}, [x, _signs((4, 5))]),
        ("CosineEmbeddingLoss", dict(margin=-0.5), [x, y, _signs((4,))]),
        ("SoftMarginLoss", {}, [x, _signs((4, 5))], (1,)),
        ("MultiLabelSoftMarginLoss", {}, [x, (rng.random((4, 5)) > 0.5).astype(np.float64)]),
        ("MultiMarginLoss", dict(p=2, margin=0.7), [x, _classes((4,), 5, ignore=False)]),
        ("MultiLabelMarginLoss", {}, [x, np.array([[3, 0, -1, 1, 1], [1, -1, 0, 0, 0],
                                                   [4, 3, 2, 1, 0], [2, 2, -1, 0, 0]])]),
        ("TripletMarginLoss", dict(margin=2.0), [x, y, rng.standard_normal((4, 5))]),
        ("TripletMarginWithDistanceLoss", dict(margin=2.0, swap=True), [x, y, rng.standard_normal((4, 5))]),
        ("PoissonNLLLoss", {}, [x, rng.random((4, 5)) * 3]),
        ("PoissonNLLLoss", dict(log_input=False, full=True), [sig * 3, rng.random((4, 5)) * 3]),
        ("GaussianNLLLoss", {}, [x, y, rng.random((4, 5)) + 0.2]),
    ]


LOSSES = _loss_cases()


def _weighted(lib: Any, kw: dict) -> dict:
    return {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


# torch has no double backward of these two; ours (composites) are checked by central differences
NOT_TWICE_IN_TORCH = ("MultiMarginLoss", "MultiLabelMarginLoss")


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's KLDivLoss notice
@pytest.mark.parametrize("case", range(len(LOSSES)),
                         ids=[f"{c[0]}{sorted(c[1])}" for c in LOSSES])
def test_loss_layers_twice(case, device):
    name, kw, arrays, *constant = LOSSES[case]
    if name in NOT_TWICE_IN_TORCH:
        layer = getattr(nn, name)(**kw)
        gradgradcheck_arrays(lambda x: layer(x, bw.tensor(arrays[1], device=x.device)), arrays[:1], device)
        return
    # torch takes class weights and pos_weight as constants (they are buffers here)
    check_layer_double(lambda: getattr(nn, name)(**_weighted(bw, kw)),
                       lambda: getattr(torch.nn, name)(**_weighted(torch, kw)), arrays, device,
                       constant=constant[0] if constant else ())


# ---------------------------------------------------------------------------
# normalisation


NORMS = [
    ("BatchNorm1d", (3,), {}, (4, 3)),
    ("BatchNorm1d", (3,), dict(affine=False), (4, 3, 5)),
    ("BatchNorm2d", (3,), dict(momentum=None), (4, 3, 2, 2)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (2, 3, 2, 3)),
    ("BatchNorm3d", (3,), dict(bias=False), (2, 3, 2, 2, 2)),
    ("LayerNorm", ((4,),), {}, (3, 2, 4)),
    ("LayerNorm", ((2, 4),), dict(bias=False, eps=1e-3), (3, 2, 4)),
    ("LayerNorm", ((4,),), dict(elementwise_affine=False), (3, 4)),
    ("GroupNorm", (2, 6), {}, (2, 6, 3)),
    ("GroupNorm", (3, 6), dict(affine=False), (2, 6, 2, 2)),
    ("InstanceNorm1d", (3,), dict(affine=True), (2, 3, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 2, 3)),
    ("InstanceNorm3d", (3,), {}, (2, 3, 2, 2, 2)),
    ("RMSNorm", ((4,),), {}, (3, 2, 4)),
    ("RMSNorm", ((2, 4),), dict(eps=1e-3, elementwise_affine=False), (3, 2, 4)),
]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name,args,kw,shape", NORMS, ids=[f"{n}{a}{k}" for n, a, k, _ in NORMS])
def test_norm_layers_twice(name, args, kw, shape, train, device):
    check_layer_double(lambda: getattr(nn, name)(*args, **kw), lambda: getattr(torch.nn, name)(*args, **kw),
                       [rng.standard_normal(shape)], device, train=train)


# ---------------------------------------------------------------------------
# attention and transformer layers

E, H = 8, 2


def _bool_mask(shape: tuple[int, ...]) -> np.ndarray:
    m = rng.random(shape) > 0.7
    m[..., 0] = False
    return m


MHA = [
    (dict(), dict(), False),
    (dict(batch_first=True), dict(average_attn_weights=False), True),
    (dict(kdim=3, vdim=5, bias=False), dict(need_weights=False), False),
    (dict(add_bias_kv=True, add_zero_attn=True), dict(), True),
]


@pytest.mark.parametrize("kw,call_kw,masked", MHA, ids=[f"{k}{c}{m}" for k, c, m in MHA])
def test_multihead_attention_twice(kw, call_kw, masked, device):
    n, tgt, src = 2, 3, 4
    batch_first = kw.get("batch_first", False)

    def shaped(length, dim):
        return rng.standard_normal((n, length, dim) if batch_first else (length, n, dim))

    arrays = [shaped(tgt, E), shaped(src, kw.get("kdim", E)), shaped(src, kw.get("vdim", E))]
    if masked:
        arrays += [_bool_mask((n, src)), _bool_mask((tgt, src))]

    def call(layer, q, k, v, *masks):
        extra = dict(key_padding_mask=masks[0], attn_mask=masks[1]) if masks else {}
        return layer(q, k, v, **extra, **call_kw)

    check_layer_double(lambda: nn.MultiheadAttention(E, H, **kw),
                       lambda: torch.nn.MultiheadAttention(E, H, **kw), arrays, device, call=call)


ENCODERS = [dict(), dict(norm_first=True, activation="gelu", batch_first=True)]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("kw", ENCODERS, ids=str)
def test_transformer_encoder_layer_twice(kw, train, device):
    arrays = [rng.standard_normal((2, 3, E) if kw.get("batch_first") else (3, 2, E)), _bool_mask((2, 3))]

    def call(layer, x, padding):
        return layer(x, src_key_padding_mask=padding)

    check_layer_double(lambda: nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **kw),
                       lambda: torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **kw),
                       arrays, device, train=train, call=call)


def test_transformer_decoder_layer_twice(device):
    arrays = [rng.standard_normal((3, 2, E)), rng.standard_normal((4, 2, E))]
    check_layer_double(lambda: nn.TransformerDecoderLayer(E, H, 16, dropout=0.0),
                       lambda: torch.nn.TransformerDecoderLayer(E, H, 16, dropout=0.0),
                       arrays, device, train=True)


# ---------------------------------------------------------------------------
# recurrent layers

RECURRENT = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True)),
    ("LSTM", dict(num_layers=2, proj_size=2)),
    ("GRU", dict(bidirectional=True, bias=False)),
    ("GRU", dict(num_layers=2)),
]


@pytest.mark.parametrize("name,kw", RECURRENT, ids=[f"{n}{k}" for n, k in RECURRENT])
def test_recurrent_layers_twice(name, kw, device):
    directions = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    out_size = kw.get("proj_size", 0) or 4
    x = rng.standard_normal((2, 3, 3) if kw.get("batch_first") else (3, 2, 3))
    arrays = [x, rng.standard_normal((directions * layers, 2, out_size))]
    if name == "LSTM":
        arrays.append(rng.standard_normal((directions * layers, 2, 4)))

    def call(layer, x, h, *c):
        return layer(x, (h, c[0]) if c else h)

    check_layer_double(lambda: getattr(nn, name)(3, 4, **kw), lambda: getattr(torch.nn, name)(3, 4, **kw),
                       arrays, device, call=call)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_recurrent_cells_twice(name, device):
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 4))]
    if name == "LSTMCell":
        arrays.append(rng.standard_normal((2, 4)))

    def call(layer, x, h, *c):
        return layer(x, (h, c[0]) if c else h)

    check_layer_double(lambda: getattr(nn, name)(3, 4), lambda: getattr(torch.nn, name)(3, 4), arrays, device,
                       call=call)


# ---------------------------------------------------------------------------
# linear layers and dropout outside training


@pytest.mark.parametrize("bias", [True, False])
def test_linear_and_bilinear_twice(bias, device):
    check_layer_double(lambda: nn.Linear(4, 3, bias=bias), lambda: torch.nn.Linear(4, 3, bias=bias),
                       [rng.standard_normal((2, 5, 4))], device)
    check_layer_double(lambda: nn.Bilinear(4, 2, 3, bias=bias), lambda: torch.nn.Bilinear(4, 2, 3, bias=bias),
                       [rng.standard_normal((5, 4)), rng.standard_normal((5, 2))], device)


@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"])
def test_dropout_layers_in_eval_twice(name, device):
    # (the identity outside training: composed with a Linear so there is a second derivative)
    def call(layer, x, w):
        return (layer(x * x) * w).sum(-1)

    shape = {"Dropout": (2, 3), "Dropout1d": (2, 3, 4), "Dropout2d": (2, 3, 2, 2),
             "Dropout3d": (2, 3, 2, 1, 2)}[name]
    check_layer_double(lambda: getattr(nn, name)(0.4), lambda: getattr(torch.nn, name)(0.4),
                       [rng.standard_normal(shape), rng.standard_normal(shape[-1:])], device, call=call)
