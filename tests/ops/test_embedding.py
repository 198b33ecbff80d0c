"""embedding (padding_idx, scale_grad_by_freq, max_norm) and one_hot against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from oracle import check_op, gradgradcheck_arrays

rng = np.random.default_rng(17)
INDICES = np.array([[0, 2, 2], [4, 1, 2]])


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("freq", [False, True])
def test_embedding(padding_idx, freq, device):
    kw = dict(padding_idx=padding_idx, scale_grad_by_freq=freq)
    weight = rng.standard_normal((5, 3))

    def bw_fn(w):
        return F.embedding(bw.tensor(INDICES, device=w.device), w, **kw)

    # PyTorch's double backward ignores scale_grad_by_freq (its own gradgradcheck fails there), so
    # with it the second derivatives are checked by central differences only
    check_op(bw_fn, lambda w: TF.embedding(torch.tensor(INDICES), w, **kw), [weight], device,
             gradcheck=padding_idx is None and not freq,  # those two change the gradient by design
             double=not freq)
    # the first gradient is still a function of the cotangent, whatever it means: check its derivative
    gradgradcheck_arrays(bw_fn, [weight], device)


def test_embedding_padding_row_gets_no_gradient(device):
    w = bw.randn(5, 3, device=device, requires_grad=True)
    F.embedding(bw.tensor([[1, 1, 0]], device=device), w, padding_idx=1).sum().backward()
    grad = w.grad.cpu().numpy()
    assert not grad[1].any() and grad[0].all()


def test_embedding_shapes_and_scalar_index(device):
    w = bw.randn(5, 3, device=device)
    assert F.embedding(bw.tensor(2, device=device), w).shape == (3,)
    assert F.embedding(bw.zeros(0, 4, dtype=bw.int64, device=device), w).shape == (0, 4, 3)


def test_embedding_max_norm_renormalises_rows_in_place(device):
    arr = rng.standard_normal((5, 3)) * 3
    w = bw.tensor(arr, device=device)
    tw = torch.tensor(arr)
    out = F.embedding(bw.tensor(INDICES, device=device), w, max_norm=1.0)
    want = TF.embedding(torch.tensor(INDICES), tw, max_norm=1.0)
    np.testing.assert_allclose(out.cpu().numpy(), want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w.cpu().numpy(), tw.numpy(), rtol=1e-6)


def test_embedding_errors(device):
    w = bw.randn(5, 3, device=device)
    # (on a GPU the check runs there and is reported at the next host sync: .cpu() here)
    with pytest.raises(IndexError, match="index 5 is out of range for a weight with 5 rows"
                       if device.type == "cpu" else "out of range for a weight with 5 rows"):
        F.embedding(bw.tensor([5], device=device), w).cpu()
    with pytest.raises(RuntimeError, match="integer dtype"):
        F.embedding(bw.tensor([1.0], device=device), w)


def test_one_hot(device):
    t = np.array([[0, 2], [1, 1]])
    got = F.one_hot(bw.tensor(t, device=device), 4)
    np.testing.assert_array_equal(got.cpu().numpy(), TF.one_hot(torch.tensor(t), 4).numpy())
    assert got.dtype == bw.int64
    assert F.one_hot(bw.tensor([0, 2], device=device)).shape == (2, 3)
    with pytest.raises(RuntimeError, match="class values must be in"):  # (GPU: at the next sync)
        F.one_hot(bw.tensor([3], device=device), 3).cpu()
