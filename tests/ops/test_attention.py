"""scaled_dot_product_attention (masks, causal, scale) and the fused masked softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from brickwork.ops.attention import masked_softmax
from oracle import check_op

rng = np.random.default_rng(19)


def _qkv(length=4, source=6):
    return [rng.standard_normal((2, 3, length, 5)), rng.standard_normal((2, 3, source, 5)),
            rng.standard_normal((2, 3, source, 7))]


def test_sdpa_plain_and_scaled(device):
    check_op(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, _qkv(3, 2), device)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, scale=0.3), _qkv(), device,
             gradcheck=False)


def test_sdpa_causal(device):
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), _qkv(6, 6),
             device, gradcheck=False)


def test_sdpa_bool_and_float_masks(device):
    allowed = rng.random((4, 6)) > 0.3
    allowed[:, 0] = True
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, bw.tensor(allowed, device=q.device)),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, torch.tensor(allowed)), _qkv(),
             device, gradcheck=False)
    # a float mask is added to the scores, and receives a gradient
    check_op(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
             lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, m),
             _qkv(2, 3) + [rng.standard_normal((2, 3))], device)


def test_sdpa_fully_masked_row_gives_zeros_like_pytorch(device):
    allowed = np.ones((4, 6), dtype=bool)
    allowed[1] = False
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, bw.tensor(allowed, device=q.device)),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, torch.tensor(allowed)), _qkv(),
             device, gradcheck=False)


def test_sdpa_grouped_query_heads(device):
    q, k, v = rng.standard_normal((1, 4, 3, 2)), rng.standard_normal((1, 2, 5, 2)), \
        rng.standard_normal((1, 2, 5, 2))
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True), [q, k, v],
             device, gradcheck=False)


def test_masked_softmax_matches_softmax_and_gradcheck(device):
    mask = np.where(rng.random((3, 4)) > 0.5, -np.inf, 0.0)
    mask[:, 0] = 0.0
    check_op(lambda s: masked_softmax(s, bw.tensor(mask, dtype=s.dtype, device=s.device)),
             lambda s: torch.softmax(s + torch.tensor(mask, dtype=s.dtype), -1),
             [rng.standard_normal((2, 3, 4))], device)
    check_op(masked_softmax, lambda s: torch.softmax(s, -1), [rng.standard_normal((2, 5))], device)


def test_sdpa_shape_errors(device):
    with pytest.raises(RuntimeError, match="do not fit"):
        F.scaled_dot_product_attention(bw.zeros(1, 2, 3, device=device), bw.zeros(1, 2, 4, device=device),
                                       bw.zeros(1, 2, 4, device=device))
