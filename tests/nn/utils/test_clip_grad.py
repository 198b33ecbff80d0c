"""Gradient clipping and parameter/vector conversion against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (), (2, 0)]


def _pairs(dtype=np.float32, scale=1.0, shapes=SHAPES):
    rng = np.random.default_rng(0)
    b, t = [], []
    for shape in shapes:
        grad = (rng.standard_normal(shape) * scale).astype(dtype)
        bp = bw.zeros(shape, dtype=bw.float32 if dtype == np.float32 else bw.float64, requires_grad=True)
        bp.grad = bw.tensor(grad)
        tp = torch.zeros(shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                         requires_grad=True)
        tp.grad = torch.tensor(grad)
        b.append(bp)
        t.append(tp)
    return b, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    # torch cannot take the infinity norm of an empty gradient; brickwork counts it as 0
    b, t = _pairs(dtype, shapes=SHAPES if norm_type != math.inf else SHAPES[:-1])
    b_total = clip_grad_norm_(b, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
    assert b_total.dtype == (bw.float32 if dtype == np.float32 else bw.float64)
    assert b_total.shape == ()
    np.testing.assert_allclose(b_total.numpy(), t_total.numpy(), **tol)
    for bp, tp in zip(b, t):
        assert bp.grad.dtype == bp.dtype
        np.testing.assert_allclose(bp.grad.numpy(), tp.grad.numpy(), **tol)


def test_clip_grad_norm_really_clips_and_leaves_small_gradients_alone():
    b, _ = _pairs(scale=10.0)
    before = [p.grad.numpy().copy() for p in b]
    clip_grad_norm_(b, 1.0)
    after_norm = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in b))
    assert after_norm == pytest.approx(1.0, rel=1e-4)
    small, _ = _pairs(scale=1e-3)
    kept = [p.grad.numpy().copy() for p in small]
    clip_grad_norm_(small, 1.0)
    for p, k in zip(small, kept):
        np.testing.assert_array_equal(p.grad.numpy(), k)
    assert not np.array_equal(before[0], b[0].grad.numpy())


def test_clip_grad_norm_is_sync_free_and_skips_missing_grads():
    w = bw.ones(3, requires_grad=True)
    unused = bw.ones(2, requires_grad=True)
    (w * 10).sum().backward()
    with bw.sync_guard("error"):
        total = clip_grad_norm_([w, unused, w], 1.0)  # w twice: clipped once
    assert unused.grad is None
    np.testing.assert_allclose(total.numpy(), math.sqrt(300), rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), np.full(3, 1 / math.sqrt(3)), rtol=1e-5)


def test_clip_grad_norm_without_grads_and_nonfinite():
    assert float(clip_grad_norm_([bw.ones(2, requires_grad=True)], 1.0)) == 0.0
    w = bw.ones(2, requires_grad=True)
    w.grad = bw.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)


def test_get_total_norm():
    assert float(get_total_norm([bw.tensor([3.0]), bw.tensor([[4.0]])])) == pytest.approx(5.0)
    assert float(get_total_norm([bw.tensor([-3.0]), bw.zeros(0)], math.inf)) == 3.0


def test_clip_grad_value_matches_torch():
    b, t = _pairs(scale=3.0)
    clip_grad_value_(b, 1.5)
    torch.nn.utils.clip_grad_value_(t, 1.5)
    for bp, tp in zip(b, t):
        np.testing.assert_array_equal(bp.grad.numpy(), tp.grad.numpy())
    assert max(float(np.abs(p.grad.numpy()).max(initial=0)) for p in b) == 1.5


def test_parameters_to_vector_and_back():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(2, 3), (4,), ()]]
    params = [bw.tensor(a, requires_grad=True) for a in arrays]
    vec = parameters_to_vector(params)
    t_vec = torch.nn.utils.parameters_to_vector([torch.tensor(a) for a in arrays])
    np.testing.assert_array_equal(vec.detach().numpy(), t_vec.numpy())
    (vec * bw.arange(11, dtype=bw.float32)).sum().backward()
    np.testing.assert_array_equal(params[0].grad.numpy().reshape(-1), np.arange(6))
    data = [p._data for p in params]
    with bw.no_grad():
        vector_to_parameters(bw.arange(11, dtype=bw.float32), params)
    assert all(p._data is d for p, d in zip(params, data))  # same arrays, written in place
    np.testing.assert_array_equal(params[1].detach().numpy(), [6, 7, 8, 9])
    with pytest.raises(ValueError, match="1-d vector of 11 elements"):
        vector_to_parameters(bw.zeros(3), params)
