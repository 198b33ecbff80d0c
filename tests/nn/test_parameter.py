"""Parameter: type, printing, .data and .grad, writing through .data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn


def test_type_and_repr_like_pytorch():
    p = nn.Parameter(bw.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert type(p) is nn.Parameter and isinstance(p, bw.Tensor)
    t = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert repr(p) == repr(t)
    assert p.requires_grad and p.is_leaf and p.grad is None
    frozen = nn.Parameter(bw.ones(2), requires_grad=False)
    assert not frozen.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(bw.tensor([1, 2]))


def test_parameter_shares_storage_with_its_tensor():
    t = bw.zeros(3)
    p = nn.Parameter(t)
    t[0] = 5.0
    assert p[0].item() == 5.0


def test_ops_on_parameters_give_plain_tensors():
    p = nn.Parameter(bw.ones(2))
    y = p * 2
    assert type(y) is bw.Tensor and y.grad_fn is not None


def test_direct_assignment_through_data_changes_the_parameter():
    w = nn.Parameter(bw.arange(6, dtype=bw.float32).reshape(2, 3) - 2.5)
    w.data[:] += 1
    np.testing.assert_allclose(w.detach().numpy(), np.arange(6).reshape(2, 3) - 1.5)
    w.data[0, 0] = 42
    assert w[0, 0].item() == 42
    w.data *= w.data.abs() >= 1
    assert w.detach().numpy()[0, 2] == 0.0  # |-0.5| < 1 was zeroed
    assert w[0, 0].item() == 42
    assert w.grad_fn is None and w.requires_grad


def test_grad_accumulates_and_data_has_no_history():
    w = nn.Parameter(bw.ones(3))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [5.0, 5.0, 5.0]
    d = w.data
    assert not d.requires_grad and d.grad_fn is None


def test_pending_parameter_protocol():
    p = nn.Parameter.pending((4, None))
    assert p.is_pending and nn.is_pending(p) and p.template == (4, None)
    assert p.dtype == bw.float32 and p.device == bw.device("cpu")
    assert "UninitializedParameter" in repr(p)
    for use in (lambda: p + 1, lambda: p.shape, lambda: p.data + 1, lambda: p.data.numpy(),
                lambda: p.detach().numpy(), lambda: p.sum()):
        with pytest.raises(nn.UninitializedParameterError):
            use()
    with pytest.raises(RuntimeError, match="does not fit"):
        p.materialize((5, 3))
    assert p.materialize((4, 3)) is p
    assert p.shape == (4, 3) and not p.is_pending
