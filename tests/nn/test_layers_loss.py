"""Loss modules against PyTorch's (weights as buffers, ignore_index, label smoothing, reductions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn

rng = np.random.default_rng(31)


def _compare(b_loss, t_loss, b_args, t_args, grad_of=(0,)):
    bo, to = b_loss(*b_args), t_loss(*t_args)
    np.testing.assert_allclose(bo.detach().numpy(), to.detach().numpy(), rtol=1e-7, atol=1e-10)
    bo.sum().backward()
    to.sum().backward()
    for i in grad_of:
        np.testing.assert_allclose(b_args[i].grad.numpy(), t_args[i].grad.numpy(), rtol=1e-7, atol=1e-10)


def _pair(arr, grad=True):
    return bw.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_and_nll_modules(reduction):
    w = rng.random(5) + 0.1
    t = np.array([[0, 4, -100], [2, 2, 1]])
    bx, tx = _pair(rng.standard_normal((2, 5, 3)))
    kw = dict(ignore_index=-100, reduction=reduction)
    _compare(nn.CrossEntropyLoss(bw.tensor(w), label_smoothing=0.1, **kw),
             torch.nn.CrossEntropyLoss(torch.tensor(w), label_smoothing=0.1, **kw),
             [bx, bw.tensor(t)], [tx, torch.tensor(t)])
    bx, tx = _pair(rng.standard_normal((2, 5, 3)))
    _compare(nn.NLLLoss(bw.tensor(w), **kw), torch.nn.NLLLoss(torch.tensor(w), **kw),
             [bx, bw.tensor(t)], [tx, torch.tensor(t)])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_binary_and_regression_modules(reduction):
    x, y, w = rng.standard_normal((3, 4)), rng.random((3, 4)), rng.random((3, 4))
    p = 1 / (1 + np.exp(-x))
    T = torch.nn
    mode = "batchmean" if reduction == "mean" else reduction
    cases = [
        (nn.BCELoss(bw.tensor(w), reduction=reduction), T.BCELoss(torch.tensor(w), reduction=reduction), p),
        (nn.BCEWithLogitsLoss(bw.tensor(w), reduction=reduction, pos_weight=bw.tensor(w[0] * 2)),
         T.BCEWithLogitsLoss(torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(w[0] * 2)), x),
        (nn.MSELoss(reduction=reduction), T.MSELoss(reduction=reduction), x),
        (nn.L1Loss(reduction=reduction), T.L1Loss(reduction=reduction), x),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.5), T.SmoothL1Loss(reduction=reduction, beta=0.5), x),
        (nn.HuberLoss(reduction=reduction, delta=0.7), T.HuberLoss(reduction=reduction, delta=0.7), x),
        (nn.KLDivLoss(reduction=mode), T.KLDivLoss(reduction=mode), x),
    ]
    for b_loss, t_loss, inp in cases:
        bx, tx = _pair(inp)
        by, ty = _pair(y)
        _compare(b_loss, t_loss, [bx, by], [tx, ty], grad_of=(0, 1))


def test_loss_weight_buffer_moves_with_the_module():
    loss = nn.CrossEntropyLoss(weight=bw.tensor([1.0, 2.0]))
    loss.double()
    assert loss.weight.dtype == bw.float64
    out = loss(bw.zeros(3, 2, dtype=bw.float64), bw.tensor([0, 1, 1]))
    assert out.dtype == bw.float64
