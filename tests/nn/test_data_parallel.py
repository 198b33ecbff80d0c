"""nn.DataParallel on the CPU (no GPU): a transparent wrapper with PyTorch's naming. The
several-GPU path (scatter, replicate, gather, gradients into the original parameters) is tested in
tests/test_device_suite.py on two (real or simulated) GPUs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn

pytestmark = pytest.mark.skipif(bw.cuda.is_available(), reason="the CPU-only behaviour of DataParallel")


def test_wrapper_is_transparent_on_the_cpu_and_prefixes_state_keys_like_pytorch():
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model = nn.DataParallel(inner)
    t_model = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                                        torch.nn.Linear(4, 2)))
    assert model.module is inner and model.device_ids == []
    assert list(model.state_dict()) == list(t_model.state_dict())
    assert repr(model) == repr(t_model)
    model.load_state_dict({k: bw.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(model(bw.tensor(x)).detach().numpy(),
                               t_model(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    out = model(bw.tensor(x))
    out.sum().backward()
    assert all(p.grad is not None for p in inner.parameters())


def test_keyword_arguments_and_functional_form_pass_through():
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = nn.DataParallel(layer)
    tgt, memory = bw.randn(2, 3, 8), bw.randn(2, 4, 8)
    np.testing.assert_array_equal(model(tgt, memory=memory).detach().numpy(),
                                  layer(tgt, memory).detach().numpy())
    linear = nn.Linear(3, 2)
    x = bw.randn(4, 3)
    np.testing.assert_array_equal(nn.parallel.data_parallel(linear, x).detach().numpy(),
                                  linear(x).detach().numpy())
