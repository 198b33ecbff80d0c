"""batch_norm, layer_norm and group_norm (fused backward) against PyTorch and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from oracle import check_op

rng = np.random.default_rng(7)


def _data(*shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, training, device):
    mean, var = _data(3), rng.random(3) + 0.5

    def run(lib, x, w, b):
        rm = lib.tensor(mean.copy(), dtype=x.dtype, device=x.device)
        rv = lib.tensor(var.copy(), dtype=x.dtype, device=x.device)
        return lib.nn.functional.batch_norm(x, rm, rv, w, b, training, 0.3, 1e-3)

    check_op(lambda x, w, b: run(bw, x, w, b), lambda x, w, b: run(torch, x, w, b),
             [_data(*shape), _data(3), _data(3)], device, gradcheck=shape != (2, 3, 4, 5))
    check_op(lambda x: run(bw, x, None, None), lambda x: run(torch, x, None, None), [_data(*shape)],
             device, gradcheck=False)
    check_op(lambda x, b: run(bw, x, None, b), lambda x, b: run(torch, x, None, b),
             [_data(*shape), _data(3)], device, gradcheck=False)


def test_batch_norm_updates_running_statistics_like_pytorch(device):
    x = _data(6, 3, 2, 2)
    b_mean, b_var = bw.zeros(3, device=device), bw.ones(3, device=device)
    t_mean, t_var = torch.zeros(3), torch.ones(3)
    version = b_mean._version[0]
    F.batch_norm(bw.tensor(x, dtype=bw.float32, device=device), b_mean, b_var, training=True,
                 momentum=0.25)
    TF.batch_norm(torch.tensor(x, dtype=torch.float32), t_mean, t_var, training=True, momentum=0.25)
    np.testing.assert_allclose(b_mean.cpu().numpy(), t_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b_var.cpu().numpy(), t_var.numpy(), rtol=1e-5)  # unbiased variance
    assert b_mean._version[0] > version


def test_batch_norm_reads_channel_major_memory(device):
    x = _data(3, 4, 5, 6)
    check_op(lambda x: F.batch_norm(x.permute(1, 0, 2, 3), None, None, training=True),
             lambda x: TF.batch_norm(x.permute(1, 0, 2, 3), None, None, training=True), [x], device,
             gradcheck=False)


def test_batch_norm_errors(device):
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(bw.zeros(1, 3, device=device), None, None, training=True)
    with pytest.raises(RuntimeError, match="must be given in evaluation mode"):
        F.batch_norm(bw.zeros(2, 3, device=device), None, None, training=False)
    with pytest.raises(RuntimeError, match=r"weight has shape \(4,\) .* 3 channels"):
        F.batch_norm(bw.zeros(2, 3, device=device), None, None, bw.ones(4, device=device),
                     training=True)


@pytest.mark.parametrize("shape,normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (4,)),
                                              ((3,), (3,)), ((0, 4), (4,))], ids=str)
def test_layer_norm(shape, normalized, device):
    x, w, b = _data(*shape), _data(*normalized), _data(*normalized)
    big = int(np.prod(shape)) > 0
    check_op(lambda x, w, b: F.layer_norm(x, normalized, w, b, 1e-3),
             lambda x, w, b: TF.layer_norm(x, normalized, w, b, 1e-3), [x, w, b], device,
             gradcheck=big)
    check_op(lambda x: F.layer_norm(x, normalized), lambda x: TF.layer_norm(x, normalized), [x],
             device, gradcheck=big)
    check_op(lambda x, b: F.layer_norm(x, normalized, None, b),
             lambda x, b: TF.layer_norm(x, normalized, None, b), [x, b], device, gradcheck=False)


def test_layer_norm_rejects_wrong_trailing_shape(device):
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\].*\(2, 3\)"):
        F.layer_norm(bw.zeros(2, 3, device=device), (4,))


@pytest.mark.parametrize("shape,groups", [((2, 6), 3), ((2, 6, 5), 2), ((2, 6, 3, 2), 6),
                                          ((2, 6, 3, 2), 1)], ids=str)
def test_group_norm(shape, groups, device):
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b, 1e-3),
             lambda x, w, b: TF.group_norm(x, groups, w, b, 1e-3), [_data(*shape), _data(6), _data(6)],
             device)
    check_op(lambda x: F.group_norm(x, groups), lambda x: TF.group_norm(x, groups), [_data(*shape)],
             device, gradcheck=False)


def test_group_norm_rejects_indivisible_channels(device):
    with pytest.raises(RuntimeError, match=r"channels \(6\) to be divisible by num_groups \(4\)"):
        F.group_norm(bw.zeros(2, 6, device=device), 4)


def _batch_innermost(x):
    """The same values with a convolution output's memory layout ((C, H, W, B) memory)."""
    return x.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_on_batch_innermost_memory(training, device):
    # per-channel rows of (C, H, W, B) memory, with the gradient in NCHW order (mixed layouts)
    # or in the same batch-innermost order (one dot product per channel)
    mean, var = _data(3), rng.random(3) + 0.5

    def run(lib, x, w, b, layout):
        rm = lib.tensor(mean.copy(), dtype=x.dtype, device=x.device)
        rv = lib.tensor(var.copy(), dtype=x.dtype, device=x.device)
        return layout(lib.nn.functional.batch_norm(layout(x), rm, rv, w, b, training, 0.3, 1e-3))

    def same(x):
        return x

    for outer in (same, _batch_innermost):
        check_op(lambda x, w, b: run(bw, x, w, b, lambda t: outer(_batch_innermost(t))),
                 lambda x, w, b: run(torch, x, w, b, same),
                 [_data(4, 3, 2, 5), _data(3), _data(3)], device, gradcheck=False)


def test_grad_fn_names_print_as_torch():
    """d2l's transformer section prints a layer-norm output: the grad_fn reads as torch's."""
    import re

    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    for name, bw_fn, torch_fn in (
        ("layer_norm", lambda t: bw.nn.functional.layer_norm(t, (4,)),
         lambda t: torch.nn.functional.layer_norm(t, (4,))),
        ("batch_norm", lambda t: bw.nn.BatchNorm1d(3)(t), lambda t: torch.nn.BatchNorm1d(3)(t)),
        ("group_norm", lambda t: bw.nn.functional.group_norm(t, 1),
         lambda t: torch.nn.functional.group_norm(t, 1)),
    ):
        b = bw_fn(bw.tensor(x, requires_grad=True))
        t = torch_fn(torch.tensor(x, requires_grad=True))
        assert re.findall(r"grad_fn=<\w+>", repr(b)) == re.findall(r"grad_fn=<\w+>", repr(t)), name
