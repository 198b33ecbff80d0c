"""The fused activations against PyTorch (values and gradients, large inputs, 0-d) and gradcheck."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from brickwork.ops.activation import erf
from oracle import check_double_against_torch, check_op

rng = np.random.default_rng(9)

CASES = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    "selu": (F.selu, TF.selu),
    "celu": (lambda x: F.celu(x, 0.5), lambda x: TF.celu(x, 0.5)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "mish": (F.mish, TF.mish),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, 2, 3), lambda x: TF.softplus(x, 2, 3)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0)),
    "relu6": (F.relu6, TF.relu6),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "relu": (F.relu, TF.relu),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
    "softsign": (F.softsign, TF.softsign),
    "tanhshrink": (F.tanhshrink, TF.tanhshrink),
    "threshold": (lambda x: F.threshold(x, 0.1, -2.0), lambda x: TF.threshold(x, 0.1, -2.0)),
    "softmin": (lambda x: F.softmin(x, -1), lambda x: TF.softmin(x, -1)),
    "glu": (lambda x: F.glu(x, -1), lambda x: TF.glu(x, -1)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_activation(name, device):
    ours, theirs = CASES[name]
    # away from every case's kinks (0, +-3, hardtanh's -0.5 and 2, threshold's 0.1, relu6's 6),
    # so central differences are valid; a generator per case keeps the draw independent of order
    x = np.random.default_rng(zlib.crc32(name.encode())).standard_normal((3, 4)) * 3
    for kink in (0.0, 3.0, -3.0, -0.5, 2.0, 0.1, 6.0, -6.0):
        x[np.abs(x - kink) < 0.05] = 0.7
    check_op(ours, theirs, [x], device)
    if name != "glu":
        check_op(ours, theirs, [np.array(0.7)], device, gradcheck=False)
        check_op(ours, theirs, [np.zeros((0, 3))], device, gradcheck=False)


@pytest.mark.parametrize("name", [n for n in CASES if n not in ("glu", "softmin")])
def test_activation_is_stable_for_large_inputs(name, device):
    ours, theirs = CASES[name]
    big = np.array([-1e4, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 1e4])
    if name != "mish":
        check_op(ours, theirs, [big], device, gradcheck=False)
        return
    # torch's second derivative of mish is NaN at 1e4 (its limit there is 0): compared without
    # that point, and ours must be the limit
    check_op(ours, theirs, [big], device, gradcheck=False, double=False)
    check_double_against_torch(ours, theirs, [big[:-1]], device)
    x = bw.tensor([1e4], dtype=bw.float64, device=device, requires_grad=True)
    (g,) = bw.autograd.grad(ours(x).sum(), x, create_graph=True)
    (gg,) = bw.autograd.grad(g.sum(), x)
    assert g.item() == 1.0 and gg.item() == 0.0


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "hardtanh", "silu", "relu6", "hardswish", "mish",
                                  "selu", "celu", "hardsigmoid"])
def test_inplace_variants_match_and_rewrite_history(name, device):
    fn = getattr(F, name)
    x = bw.tensor(rng.standard_normal(6) * 3, dtype=bw.float32, device=device, requires_grad=True)
    want = fn(x * 1)
    y = x * 1
    out = fn(y, inplace=True)
    assert out is y
    np.testing.assert_allclose(y.detach().cpu().numpy(), want.detach().cpu().numpy(), rtol=1e-6)
    y.sum().backward()
    (expected,) = bw.autograd.grad(want.sum(), x)
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected.cpu().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "hardtanh", "silu", "relu6", "hardswish", "mish",
                                  "selu", "celu", "hardsigmoid"])
def test_inplace_variants_differentiate_twice(name, device):
    fn = getattr(F, name)
    x = bw.tensor(rng.standard_normal(6) * 3, dtype=bw.float64, device=device, requires_grad=True)
    v = bw.tensor(rng.standard_normal(6), dtype=bw.float64, device=device, requires_grad=True)
    second = []
    for inplace in (False, True):
        (g,) = bw.autograd.grad((fn(x * 1, inplace=inplace) * v).sum(), x, create_graph=True)
        gx, gv = bw.autograd.grad((g * g).sum(), (x, v), allow_unused=True)
        second.append([g.detach().cpu().numpy(), gv.cpu().numpy(),
                       np.zeros(6) if gx is None else gx.cpu().numpy()])
    for a, b in zip(*second):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_fast_float32_erf_is_accurate():
    xs = np.linspace(-6, 6, 20001).astype(np.float32)
    exact = np.array([math.erf(float(v)) for v in xs])
    assert np.abs(erf(np, xs).astype(np.float64) - exact).max() < 1e-6
    assert erf(np, xs).dtype == np.float32


def test_activations_keep_float32(device):
    x = bw.randn(4, device=device)
    for fn in (F.gelu, F.silu, F.elu, F.softplus, F.mish, F.leaky_relu, F.hardswish):
        assert fn(x).dtype == bw.float32


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(bw.ones(2), approximate="fast")
