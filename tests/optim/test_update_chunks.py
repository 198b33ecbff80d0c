"""Large parameters take the chunked in-place update (optim/optimizer._add_scaled): same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork.optim.optimizer import _CHUNK, _add_scaled


@pytest.mark.parametrize("shape", [(3,), (_CHUNK,), (_CHUNK + 7,), (300, 250)])
def test_add_scaled_is_bit_equal_to_the_plain_expression(shape):
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    expected = p - np.float32(0.01) * g
    _add_scaled(np, p, -0.01, g)
    assert np.array_equal(p, expected)


def test_sgd_on_a_large_parameter_matches_torch():
    rng = np.random.default_rng(1)
    w0, grads = rng.standard_normal((400, 300)), [rng.standard_normal((400, 300)) for _ in range(3)]
    p = bw.nn.Parameter(bw.tensor(w0.astype(np.float32)))
    tp = torch.nn.Parameter(torch.tensor(w0.astype(np.float32)))
    opt, topt = bw.optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    for g in grads:
        p.grad, tp.grad = bw.tensor(g.astype(np.float32)), torch.tensor(g.astype(np.float32))
        opt.step()
        topt.step()
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-6)
