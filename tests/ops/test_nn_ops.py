"""softmax, log_softmax and linear against PyTorch (forward and gradient) and gradcheck.

(The convolution, pooling, normalisation and loss kernels have their own test files.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import brickwork as bw
from oracle import check_against_torch, check_op

rng = np.random.default_rng(11)


def _data(*shape, scale=1.0):
    return rng.standard_normal(shape) * scale


SOFTMAX_CASES = [((4,), 0), ((2, 5), 1), ((2, 5), 0), ((2, 3, 4), -1), ((2, 3, 4), 1), ((), 0), ((0, 3), 1),
                 ((3, 0), 1)]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, case, device):
    shape, dim = case
    arr = _data(*shape)
    check_op(lambda x: getattr(bw, name)(x, dim), lambda x: getattr(torch, name)(x, dim), [arr], device,
             gradcheck=arr.size > 0)
    check_op(lambda x: getattr(x, name)(dim), lambda x: getattr(x, name)(dim), [arr], device, gradcheck=False)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_stable_and_non_contiguous(name, device):
    big = np.array([[1000.0, 0.0, -1000.0], [500.0, 500.0, 500.0]])
    check_op(lambda x: getattr(x, name)(-1), lambda x: getattr(x, name)(-1), [big], device, gradcheck=False)
    check_op(lambda x: getattr(x.T, name)(1), lambda x: getattr(x.T, name)(1), [_data(3, 4)], device)
    with_inf = np.array([[-np.inf, 0.0, 1.0]])
    check_against_torch(lambda x: getattr(x, name)(1), lambda x: getattr(x, name)(1), [with_inf], device,
                        grad=False)


def test_softmax_dtype_and_integer_input(device):
    check_op(lambda x: x.softmax(0, dtype=bw.float64), lambda x: x.softmax(0, dtype=torch.float64),
             [_data(3)], device, dtypes=(np.float32,), gradcheck=False)
    ints = bw.tensor([1, 2, 3], device=device)
    assert ints.softmax(0).dtype == bw.float32


def test_softmax_implicit_dim_matches_pytorch_legacy_choice(device):
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        arr = _data(*shape)
        with pytest.warns(UserWarning):
            want = F.softmax(torch.tensor(arr), dim=None, _stacklevel=3)
        got = bw.softmax(bw.tensor(arr, device=device))
        np.testing.assert_allclose(got.detach().cpu().numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shapes", [((4, 3), (2, 3), (2,)), ((4, 3), (2, 3), None), ((3,), (2, 3), (2,)),
                                    ((2, 5, 3), (4, 3), (4,)), ((0, 3), (2, 3), (2,))], ids=str)
def test_linear(shapes, device):
    xs, ws, bs = shapes
    arrays = [_data(*xs), _data(*ws)] + ([_data(*bs)] if bs else [])
    check_op(_bw_linear, F.linear, arrays, device,
             gradcheck=_data(*xs).size > 0)


def _bw_linear(x, w, b=None):
    from brickwork.ops.nn_ops import linear

    return linear(x, w, b)


def test_linear_non_contiguous(device):
    check_op(lambda x, w, b: _bw_linear(x.T, w, b), lambda x, w, b: F.linear(x.T, w, b),
             [_data(3, 4), _data(2, 3), _data(2)], device)
    check_op(lambda x, w: _bw_linear(x, w.T), lambda x, w: F.linear(x, w.T), [_data(4, 3), _data(3, 2)],
             device)


def test_linear_errors_name_shapes_and_dtypes():
    with pytest.raises(RuntimeError, match=r"\(4, 3\).*\(2, 5\)"):
        _bw_linear(bw.ones(4, 3), bw.ones(2, 5))
    with pytest.raises(RuntimeError, match="float64.*float32"):
        _bw_linear(bw.ones(4, 3, dtype=bw.float64), bw.ones(2, 3))
