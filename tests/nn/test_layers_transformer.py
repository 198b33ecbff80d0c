"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against PyTorch with copied
weights: all mask kinds, need_weights / average_attn_weights, kdim/vdim, bias_kv, zero_attn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import check_layer, copy_weights

rng = np.random.default_rng(41)
E, H = 8, 2


def _close(a, b):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9)


def _masks(kind, n, tgt, src):
    attn = padding = None
    if kind in ("bool", "both"):
        attn = rng.random((tgt, src)) > 0.7
        attn[:, 0] = False
    if kind == "float":
        attn = rng.standard_normal((tgt, src))
    if kind == "3d":
        attn = rng.standard_normal((n * H, tgt, src))
    if kind in ("padding", "both"):
        padding = rng.random((n, src)) > 0.7
        padding[:, 0] = False
    if kind == "float_padding":
        padding = rng.standard_normal((n, src))
    return attn, padding


MHA_CONFIGS = [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(bias=False),
               dict(add_bias_kv=True), dict(add_zero_attn=True, batch_first=True)]


@pytest.mark.parametrize("kw", MHA_CONFIGS, ids=str)
@pytest.mark.parametrize("masks", ["none", "bool", "float", "3d", "padding", "both", "float_padding"])
def test_multihead_attention_matches_pytorch(kw, masks):
    t_mha = torch.nn.MultiheadAttention(E, H, **kw).double()
    b_mha = nn.MultiheadAttention(E, H, **kw).double()
    copy_weights(t_mha, b_mha)
    self_attention = "kdim" not in kw and masks != "3d"
    n, tgt = 3, 4
    src = tgt if self_attention else 6

    def shaped(length, dim):
        return rng.standard_normal((n, length, dim) if kw.get("batch_first") else (length, n, dim))

    q = shaped(tgt, E)
    bq, tq = bw.tensor(q, requires_grad=True), torch.tensor(q, requires_grad=True)
    if self_attention:
        bk = bv = bq
        tk = tv = tq
    else:
        k, v = shaped(src, kw.get("kdim", E)), shaped(src, kw.get("vdim", E))
        bk, tk = bw.tensor(k, requires_grad=True), torch.tensor(k, requires_grad=True)
        bv, tv = bw.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    attn, padding = _masks(masks, n, tgt, src)

    def b_mask(a):
        return None if a is None else bw.tensor(a)

    def t_mask(a):
        return None if a is None else torch.tensor(a)

    for need_weights, average in [(True, True), (True, False), (False, True)]:
        b_out, b_w = b_mha(bq, bk, bv, key_padding_mask=b_mask(padding), attn_mask=b_mask(attn),
                           need_weights=need_weights, average_attn_weights=average)
        t_out, t_w = t_mha(tq, tk, tv, key_padding_mask=t_mask(padding), attn_mask=t_mask(attn),
                           need_weights=need_weights, average_attn_weights=average)
        _close(b_out, t_out)
        _close(b_w, t_w)
    g = rng.standard_normal(tuple(t_out.shape))
    (b_out * bw.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    for b, t in ([(bq, tq)] if self_attention else [(bq, tq), (bk, tk), (bv, tv)]):
        _close(b.grad, t.grad)
    t_params = dict(t_mha.named_parameters())
    for name, p in b_mha.named_parameters():
        _close(p.grad, t_params[name].grad)


def test_multihead_attention_unbatched_and_float32(device):
    t_mha, b_mha = torch.nn.MultiheadAttention(E, H).double(), nn.MultiheadAttention(E, H).double()
    copy_weights(t_mha, b_mha)
    x = rng.standard_normal((4, E))
    padding = np.array([False, False, True, False])
    for kpm in (None, padding):
        b = b_mha(bw.tensor(x), bw.tensor(x), bw.tensor(x),
                  key_padding_mask=None if kpm is None else bw.tensor(kpm))
        t = t_mha(torch.tensor(x), torch.tensor(x), torch.tensor(x),
                  key_padding_mask=None if kpm is None else torch.tensor(kpm))
        _close(b[0], t[0])
        _close(b[1], t[1])
    x3 = rng.standard_normal((5, 2, E))
    check_layer(lambda: nn.MultiheadAttention(E, H), lambda: torch.nn.MultiheadAttention(E, H),
                [x3, x3, x3], device, dtypes=(np.float32,))


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(E, H)
    with pytest.raises(RuntimeError, match="is_causal=True needs attn_mask"):
        mha(bw.zeros(3, 1, E), bw.zeros(3, 1, E), bw.zeros(3, 1, E), is_causal=True)
    with pytest.raises(RuntimeError, match="query has embed_dim 4, expected 8"):
        mha(bw.zeros(3, 1, 4), bw.zeros(3, 1, 4), bw.zeros(3, 1, 4))


LAYER_CONFIGS = [dict(), dict(batch_first=True, norm_first=True, activation="gelu"), dict(bias=False)]


@pytest.mark.parametrize("kw", LAYER_CONFIGS, ids=str)
def test_transformer_encoder_layer_matches_pytorch(kw):
    t_layer = torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **kw).double()
    b_layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **kw).double()
    copy_weights(t_layer, b_layer)
    batch_first = kw.get("batch_first", False)
    x = rng.standard_normal((3, 5, E))
    seq = 5 if batch_first else 3
    batch = x.shape[0] if batch_first else x.shape[1]
    padding = np.zeros((batch, seq), bool)
    padding[:, -1] = True
    causal = torch.nn.Transformer.generate_square_subsequent_mask(seq).double().numpy()
    for extra in ({}, {"src_key_padding_mask": padding}, {"src_mask": causal},
                  {"src_mask": causal, "is_causal": True}):
        bx, tx = bw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        b_kw = {k: bw.tensor(v) if isinstance(v, np.ndarray) else v for k, v in extra.items()}
        t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in extra.items()}
        b_out, t_out = b_layer(bx, **b_kw), t_layer(tx, **t_kw)
        _close(b_out, t_out)
        g = rng.standard_normal(tuple(t_out.shape))
        (b_out * bw.tensor(g)).sum().backward()
        (t_out * torch.tensor(g)).sum().backward()
        _close(bx.grad, tx.grad)
        t_params = dict(t_layer.named_parameters())
        for name, p in b_layer.named_parameters():
            _close(p.grad, t_params[name].grad)
            p.grad = None
            t_params[name].grad = None


def test_transformer_encoder_stack_matches_pytorch():
    t_layer = torch.nn.TransformerEncoderLayer(E, H, 16, batch_first=True)
    t_enc = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(E),
                                        enable_nested_tensor=False).double().eval()
    b_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, 16, batch_first=True), 2,
                                  norm=nn.LayerNorm(E)).double().eval()
    copy_weights(t_enc, b_enc)
    assert b_enc.layers[0] is not b_enc.layers[1]  # deep copies, as in PyTorch
    x = rng.standard_normal((3, 5, E))
    _close(b_enc(bw.tensor(x)), t_enc(torch.tensor(x)))


def test_encoder_layer_dropout_is_active_only_in_training():
    layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.5, batch_first=True)
    x = bw.randn(2, 3, E)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.train()
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
