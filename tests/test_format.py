"""Printing: repr(tensor) has PyTorch's layout, checked string by string against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw

CASES = [
    [1.0, 2.0, 3.0], [[1.5, -2.25], [3.0, 4.0]], 3.14159, 0.0, -0.5, [1, 2, 3], [[1, -20], [300, 4]],
    [True, False], [1e-5, 1.0], [1e10, 1.0], [123456.0, 1.0], [0.1, 0.25], [float("nan"), 1.0, float("inf")],
    [float("-inf"), 2.0], [1.0, 1000.0], [1.0, 1001.0], [1e8, 1.0], [1e9, 2.0], [0.0001, 1.0],
    [1.2345e-5, 5.0],
    list(range(30)), np.linspace(-1, 1, 25).tolist(), np.arange(24.0).reshape(2, 3, 4).tolist(),
    np.arange(2000.0).reshape(40, 50).tolist(), np.arange(1500).tolist(), [123456789, 1], [100.0, 2.5],
    (np.arange(12.0).reshape(3, 4) - 5.5).tolist(), [[[]]], [], np.arange(7.0).reshape(7, 1).tolist(),
    (np.arange(3000.0).reshape(10, 10, 30) / 7).tolist(),
]


@pytest.mark.parametrize("dtype", [None, "float64", "float16", "int32"])
@pytest.mark.parametrize("data", CASES, ids=lambda d: repr(d)[:40])
def test_repr_matches_torch(data, dtype):
    try:
        t = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    except (TypeError, RuntimeError):
        pytest.skip("torch cannot build this case")
    if dtype == "int32" and t.is_floating_point():
        pytest.skip("floats are not cast to int32")
    b = bw.tensor(t.numpy())
    assert repr(b) == repr(t).replace("torch.", "brickwork.")


def test_repr_of_autograd_tensors():
    for t in (torch.ones(2, requires_grad=True), torch.ones(3, dtype=torch.float64, requires_grad=True),
              torch.arange(40.0).reshape(4, 10).requires_grad_()):
        b = bw.tensor(t.detach().numpy(), requires_grad=True)
        assert repr(b) == repr(t).replace("torch.", "brickwork.")
    x, tx = bw.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    for bfn in (lambda a: a * 2, lambda a: a + 1, lambda a: (a * a).sum(), lambda a: a.mean()):
        assert repr(bfn(x)) == repr(bfn(tx)).replace("torch.", "brickwork.")


def test_repr_of_empty_and_scalar_tensors():
    for t in (torch.zeros(0, 3), torch.zeros(2, 0, dtype=torch.float64), torch.tensor([], dtype=torch.int64),
              torch.tensor(5), torch.tensor(True), torch.tensor(2.5, dtype=torch.float16)):
        assert repr(bw.tensor(t.numpy())) == repr(t).replace("torch.", "brickwork.")


def test_repr_names_a_non_cpu_device():
    from brickwork.autograd import _wrap

    # a tensor that claims to live on cuda:0 (its array is NumPy), printed like PyTorch prints GPU tensors
    fake = _wrap(np.array([1.0, 2.0], dtype=np.float32), bw.device("cuda:0"))
    assert repr(fake) == "tensor([1., 2.], device='cuda:0')"
    fake.requires_grad = True
    assert repr(fake) == "tensor([1., 2.], device='cuda:0', requires_grad=True)"


def test_set_printoptions():
    x = bw.tensor([1.23456789, 2.0])
    try:
        bw.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.00])"
    finally:
        bw.set_printoptions(precision=4)
    assert repr(x) == "tensor([1.2346, 2.0000])"
    big = bw.arange(10)
    try:
        bw.set_printoptions(threshold=5, edgeitems=2)
        assert repr(big) == "tensor([0, 1,  ..., 8, 9])"
    finally:
        bw.set_printoptions(threshold=1000, edgeitems=3)


def test_str_and_format():
    x = bw.tensor([1.0, 2.0])
    assert str(x) == repr(x) and f"{x}" == repr(x)
    assert f"{bw.tensor(2.0):.3f}" == "2.000"
