"""Dropout: the mask's statistics, scaling, gradient, eval mode, feature dropout, seeding."""

from __future__ import annotations

import numpy as np
import pytest

import brickwork as bw
import brickwork.nn.functional as F


def test_dropout_zeroes_about_p_and_scales_the_rest(device):
    x = bw.ones(200, 100, device=device, requires_grad=True)
    y = F.dropout(x, 0.3)
    values = y.detach().cpu().numpy()
    kept = values != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(values[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), values)  # gradient = the same mask


def test_dropout_outside_training_and_p_zero_return_the_input(device):
    x = bw.ones(3, device=device)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_p_one_gives_zeros(device):
    x = bw.ones(5, device=device, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert not y.detach().cpu().numpy().any()
    y.sum().backward()
    assert not x.grad.cpu().numpy().any()


def test_dropout_is_reproducible_with_manual_seed(device):
    bw.manual_seed(5)
    a = F.dropout(bw.ones(50, device=device), 0.5).cpu().numpy()
    bw.manual_seed(5)
    b = F.dropout(bw.ones(50, device=device), 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn,shape,spatial", [(F.dropout1d, (4, 30, 5), 1), (F.dropout2d, (4, 30, 3, 3), 2),
                                              (F.dropout3d, (2, 30, 2, 2, 2), 3),
                                              (F.dropout2d, (30, 3, 3), 2)])
def test_feature_dropout_drops_whole_channels(fn, shape, spatial, device):
    y = fn(bw.ones(*shape, device=device), 0.5).cpu().numpy()
    per_channel = y.reshape(shape[:len(shape) - spatial] + (-1,))
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # each channel all kept or all dropped
    assert 0 < (per_channel[..., 0] == 0).mean() < 1


def test_dropout_inplace_and_float32(device):
    x = bw.ones(10, device=device)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and y.dtype == bw.float32


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(bw.ones(2), 1.5)


@pytest.mark.parametrize("inplace", [False, True])
def test_dropout_differentiates_twice_with_the_same_mask(inplace, device):
    rng = np.random.default_rng(3)
    x0 = bw.tensor(rng.random((6, 5)) + 0.5, dtype=bw.float64, device=device, requires_grad=True)
    u = bw.tensor(rng.standard_normal((6, 5)), dtype=bw.float64, device=device)
    x = x0 * 1
    y = F.dropout(x, 0.4, inplace=inplace)
    m = (y / x0).detach()  # the scaled mask: 0 or 1 / 0.6
    (g,) = bw.autograd.grad((y * y * y).sum(), x0, create_graph=True)  # 3 m³ x²
    (h,) = bw.autograd.grad((g * u).sum(), x0)  # 6 m³ x u
    xs, ms, us = (t.detach().cpu().numpy() for t in (x0, m, u))
    np.testing.assert_allclose(g.detach().cpu().numpy(), 3 * ms ** 3 * xs ** 2, rtol=1e-12)
    np.testing.assert_allclose(h.cpu().numpy(), 6 * ms ** 3 * xs * us, rtol=1e-12)
