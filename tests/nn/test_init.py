"""nn.init: distributions, PyTorch's fan/gain conventions, no history, deferred on pending."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_pytorch(name, param):
    assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3), (12, 6, 5)])
def test_fans_match_pytorch(shape):
    from brickwork.nn.init import _calculate_fan_in_and_fan_out

    t = torch.empty(shape)
    assert _calculate_fan_in_and_fan_out(bw.empty(shape)) == torch.nn.init._calculate_fan_in_and_fan_out(t)


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def test_uniform_normal_constant_ones_zeros():
    w = bw.empty(200, 100)
    assert nn.init.uniform_(w, -2, 3) is w
    mean, _, lo, hi = _stats(w)
    assert -2 <= lo and hi < 3 and abs(mean - 0.5) < 0.05
    nn.init.normal_(w, 1.0, 0.5)
    mean, std, _, _ = _stats(w)
    assert abs(mean - 1.0) < 0.01 and abs(std - 0.5) < 0.01
    nn.init.constant_(w, 0.25)
    assert (w.detach().numpy() == 0.25).all()
    nn.init.ones_(w)
    assert (w.detach().numpy() == 1).all()
    nn.init.zeros_(w)
    assert not w.detach().numpy().any()


@pytest.mark.parametrize("shape", [(256, 128), (32, 16, 3, 3)])
def test_xavier_and_kaiming_bounds_and_stds(shape):
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    w = bw.empty(shape)
    nn.init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    _, std, lo, hi = _stats(w)
    assert -bound <= lo and hi <= bound and abs(std - bound / math.sqrt(3)) < 0.05 * bound
    nn.init.xavier_normal_(w)
    assert abs(_stats(w)[1] - math.sqrt(2 / (fan_in + fan_out))) < 0.05 * math.sqrt(2 / (fan_in + fan_out))
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    bound = math.sqrt(3) * math.sqrt(2 / (1 + 5)) / math.sqrt(fan_in)
    _, _, lo, hi = _stats(w)
    assert -bound <= lo and hi <= bound and hi > 0.9 * bound
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(_stats(w)[1] - math.sqrt(2 / fan_out)) < 0.05 * math.sqrt(2 / fan_out)


def test_trunc_normal_orthogonal_eye_dirac():
    w = bw.empty(300, 300)
    nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=-0.5, b=0.5)
    _, _, lo, hi = _stats(w)
    assert -0.5 <= lo and hi <= 0.5
    q = bw.empty(6, 10)
    nn.init.orthogonal_(q, gain=2.0)
    np.testing.assert_allclose((q @ q.T).detach().numpy(), 4 * np.eye(6), atol=1e-5)
    e = bw.empty(3, 5)
    nn.init.eye_(e)
    np.testing.assert_array_equal(e.numpy(), torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    for shape, groups in [((4, 2, 3, 3), 1), ((6, 3, 5), 2), ((4, 4, 3, 3, 3), 1)]:
        d = bw.empty(shape)
        nn.init.dirac_(d, groups)
        np.testing.assert_array_equal(d.numpy(), torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


def test_init_records_no_history_and_keeps_requires_grad():
    p = nn.Parameter(bw.ones(4, 3))
    y = p * 2  # p is part of a graph
    nn.init.xavier_uniform_(p)
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    del y


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(bw.empty(3))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_uniform_(bw.empty(2, 2), mode="fan_avg")


def test_seeded_init_is_reproducible():
    a, b = bw.empty(5, 5), bw.empty(5, 5)
    bw.manual_seed(3)
    nn.init.kaiming_normal_(a)
    bw.manual_seed(3)
    nn.init.kaiming_normal_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
