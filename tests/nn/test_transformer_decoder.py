"""TransformerDecoderLayer, TransformerDecoder and Transformer against PyTorch with its state
dict loaded: every mask argument (tgt/memory masks, key padding masks, causal), norm_first,
batch_first, activations, unbatched inputs; generate_square_subsequent_mask; save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import copy_weights

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")]

rng = np.random.default_rng(47)
E, H, FF = 8, 2, 16
N, S, T = 3, 6, 5


def _masks(kind):
    """(tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask) as numpy or None."""
    causal = np.triu(np.full((T, T), -np.inf), 1)
    tgt_pad = rng.random((N, T)) > 0.7
    tgt_pad[:, 0] = False
    mem_pad = rng.random((N, S)) > 0.6
    mem_pad[:, 0] = False
    if kind == "none":
        return None, None, None, None
    if kind == "causal":
        return causal, None, None, None
    if kind == "causal_bool":
        return np.triu(np.ones((T, T), dtype=bool), 1), None, None, None
    if kind == "memory":
        return None, rng.standard_normal((T, S)), None, None
    if kind == "padding":
        return None, None, tgt_pad, mem_pad
    return causal, rng.random((T, S)) > 0.8, tgt_pad, mem_pad  # "all"


def _tensors(lib, arrays, grad=False):
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        elif lib is bw:
            out.append(bw.tensor(a, requires_grad=grad and a.dtype.kind == "f"))
        else:
            out.append(torch.tensor(a, requires_grad=grad and a.dtype.kind == "f"))
    return out


def _compare_outputs(b_out, t_out, b_inputs, t_inputs, b_model, t_model):
    np.testing.assert_allclose(b_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    seed = rng.standard_normal(tuple(t_out.shape))
    (b_out * bw.tensor(seed)).sum().backward()
    (t_out * torch.tensor(seed)).sum().backward()
    for bi, ti in zip(b_inputs, t_inputs):
        np.testing.assert_allclose(bi.grad.numpy(), ti.grad.numpy(), rtol=1e-7, atol=1e-9)
    t_params = dict(t_model.named_parameters())
    for name, p in b_model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-6, atol=1e-9,
                                   err_msg=name)


LAYER_CONFIGS = [dict(), dict(batch_first=True), dict(norm_first=True), dict(activation="gelu"),
                 dict(bias=False, layer_norm_eps=1e-3)]


@pytest.mark.parametrize("kw", LAYER_CONFIGS, ids=str)
@pytest.mark.parametrize("masks", ["none", "causal", "causal_bool", "memory", "padding", "all"])
def test_decoder_layer_matches_pytorch(kw, masks):
    t_layer = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, **kw).double()
    b_layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, **kw).to(bw.float64)
    copy_weights(t_layer, b_layer)
    first = kw.get("batch_first", False)
    tgt = rng.standard_normal((N, T, E) if first else (T, N, E))
    memory = rng.standard_normal((N, S, E) if first else (S, N, E))
    mask_arrays = _masks(masks)
    bt, bm = _tensors(bw, [tgt, memory], grad=True)
    tt, tm = _tensors(torch, [tgt, memory], grad=True)
    b_out = b_layer(bt, bm, *_tensors(bw, mask_arrays))
    t_out = t_layer(tt, tm, *_tensors(torch, mask_arrays))
    _compare_outputs(b_out, t_out, [bt, bm], [tt, tm], b_layer, t_layer)


@pytest.mark.parametrize("masks", ["none", "causal", "all"])
@pytest.mark.parametrize("norm", [True, False])
def test_decoder_stack_matches_pytorch(masks, norm):
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2,
                                        norm=torch.nn.LayerNorm(E) if norm else None).double()
    b_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2,
                                  norm=nn.LayerNorm(E) if norm else None).to(bw.float64)
    copy_weights(t_dec, b_dec)
    tgt, memory = rng.standard_normal((T, N, E)), rng.standard_normal((S, N, E))
    mask_arrays = _masks(masks)
    bt, bm = _tensors(bw, [tgt, memory], grad=True)
    tt, tm = _tensors(torch, [tgt, memory], grad=True)
    b_out = b_dec(bt, bm, *_tensors(bw, mask_arrays))
    t_out = t_dec(tt, tm, *_tensors(torch, mask_arrays))
    _compare_outputs(b_out, t_out, [bt, bm], [tt, tm], b_dec, t_dec)


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True, norm_first=True, activation="gelu")], ids=str)
def test_transformer_loads_pytorch_state_dict_and_matches(kw):
    t_model = torch.nn.Transformer(E, H, 2, 2, FF, dropout=0.0, **kw).double()
    b_model = nn.Transformer(E, H, 2, 2, FF, dropout=0.0, **kw).to(bw.float64)
    assert list(b_model.state_dict()) == list(t_model.state_dict())
    assert repr(b_model) == repr(t_model)
    copy_weights(t_model, b_model)
    first = kw.get("batch_first", False)
    src = rng.standard_normal((N, S, E) if first else (S, N, E))
    tgt = rng.standard_normal((N, T, E) if first else (T, N, E))
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=bw.float64)
    t_tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    np.testing.assert_array_equal(tgt_mask.numpy(), t_tgt_mask.numpy())
    src_pad = rng.random((N, S)) > 0.7
    src_pad[:, 0] = False
    bs, bt = _tensors(bw, [src, tgt], grad=True)
    ts, tt = _tensors(torch, [src, tgt], grad=True)
    b_out = b_model(bs, bt, tgt_mask=tgt_mask, src_key_padding_mask=bw.tensor(src_pad),
                    memory_key_padding_mask=bw.tensor(src_pad))
    t_out = t_model(ts, tt, tgt_mask=t_tgt_mask, src_key_padding_mask=torch.tensor(src_pad),
                    memory_key_padding_mask=torch.tensor(src_pad))
    _compare_outputs(b_out, t_out, [bs, bt], [ts, tt], b_model, t_model)


def test_transformer_unbatched_and_default_init_like_pytorch():
    model = nn.Transformer(E, H, 1, 1, FF, dropout=0.0)
    out = model(bw.randn(S, E), bw.randn(T, E))
    assert tuple(out.shape) == (T, E)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6.0 / (E + FF))  # xavier_uniform_ on every matrix, as PyTorch's _reset_parameters
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_transformer_checks_batch_and_feature_sizes():
    model = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        model(bw.randn(S, 2, E), bw.randn(T, 3, E))
    with pytest.raises(RuntimeError, match="d_model=8"):
        model(bw.randn(S, 2, 4), bw.randn(T, 2, 4))


def test_decoder_layer_rejects_unknown_activation_and_custom_transformer_cannot_be_saved():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerDecoderLayer(E, H, activation="swish")
    custom = nn.Transformer(E, H, custom_encoder=nn.Identity(), num_decoder_layers=1, dim_feedforward=FF)
    with pytest.raises(TypeError, match="custom_encoder"):
        custom.get_config()


def test_transformer_save_and_load_model_round_trip(tmp_path):
    model = nn.Transformer(E, H, 1, 2, FF, dropout=0.0, batch_first=True)
    model.eval()
    path = tmp_path / "transformer.safetensors"
    bw.save_model(model, path)
    again = bw.load_model(path)
    again.eval()
    src, tgt = bw.randn(2, S, E), bw.randn(2, T, E)
    np.testing.assert_allclose(again(src, tgt).detach().numpy(), model(src, tgt).detach().numpy(), rtol=1e-6)


def test_a_few_training_steps_follow_pytorch():
    """Seq2seq training end to end: same weights, same data, SGD; the losses agree step by step."""
    t_model = torch.nn.Transformer(E, H, 1, 1, FF, dropout=0.0, batch_first=True).double()
    b_model = nn.Transformer(E, H, 1, 1, FF, dropout=0.0, batch_first=True).to(bw.float64)
    copy_weights(t_model, b_model)
    t_head, b_head = torch.nn.Linear(E, 7).double(), nn.Linear(E, 7).to(bw.float64)
    copy_weights(t_head, b_head)
    t_opt = torch.optim.SGD([*t_model.parameters(), *t_head.parameters()], lr=0.1)
    b_opt = bw.optim.SGD([*b_model.parameters(), *b_head.parameters()], lr=0.1)
    src, tgt = rng.standard_normal((2, S, E)), rng.standard_normal((2, T, E))
    labels = rng.integers(0, 7, (2, T))
    mask_b = nn.Transformer.generate_square_subsequent_mask(T, dtype=bw.float64)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    for _ in range(3):
        t_opt.zero_grad()
        b_opt.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(
            t_head(t_model(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask_t)).reshape(-1, 7),
            torch.tensor(labels).reshape(-1))
        b_loss = bw.nn.functional.cross_entropy(
            b_head(b_model(bw.tensor(src), bw.tensor(tgt), tgt_mask=mask_b)).reshape(-1, 7),
            bw.tensor(labels).reshape(-1))
        np.testing.assert_allclose(b_loss.item(), t_loss.item(), rtol=1e-10)
        t_loss.backward()
        b_loss.backward()
        t_opt.step()
        b_opt.step()
