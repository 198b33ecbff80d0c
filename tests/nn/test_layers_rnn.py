"""RNN / LSTM / GRU and their cells against PyTorch with a copied state dict: outputs, final
states, and gradients of inputs, initial states and every parameter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import check_layer, copy_weights

rng = np.random.default_rng(37)

CONFIGS = [
    ("RNN", {}),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=2, batch_first=True)),
    ("LSTM", dict(bidirectional=True, proj_size=2)),
    ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
    ("GRU", dict(batch_first=True)),
]


def _close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}{k}" for n, k in CONFIGS])
@pytest.mark.parametrize("batched", [True, False])
def test_recurrent_layer_matches_pytorch(name, kw, batched):
    t_layer = getattr(torch.nn, name)(3, 4, **kw).double()
    b_layer = getattr(nn, name)(3, 4, **kw).double()
    copy_weights(t_layer, b_layer)
    directions = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    out_size = kw.get("proj_size", 0) or 4
    if batched:
        x = rng.standard_normal((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
        h_shape = (directions * layers, 2, out_size)
    else:
        x = rng.standard_normal((5, 3))
        h_shape = (directions * layers, out_size)
    bx, tx = bw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    h0 = rng.standard_normal(h_shape)
    b_states = [bw.tensor(h0, requires_grad=True)]
    t_states = [torch.tensor(h0, requires_grad=True)]
    if name == "LSTM":
        c0 = rng.standard_normal(h_shape[:-1] + (4,))
        b_states.append(bw.tensor(c0, requires_grad=True))
        t_states.append(torch.tensor(c0, requires_grad=True))
    b_hx = tuple(b_states) if name == "LSTM" else b_states[0]
    t_hx = tuple(t_states) if name == "LSTM" else t_states[0]
    b_out, b_final = b_layer(bx, b_hx)
    t_out, t_final = t_layer(tx, t_hx)
    _close(b_out, t_out)
    b_final = list(b_final) if name == "LSTM" else [b_final]
    t_final = list(t_final) if name == "LSTM" else [t_final]
    for b, t in zip(b_final, t_final):
        _close(b, t)
    v = rng.standard_normal(tuple(t_out.shape))
    ((b_out * bw.tensor(v)).sum() + sum((s * s).sum() for s in b_final)).backward()
    ((t_out * torch.tensor(v)).sum() + sum((s * s).sum() for s in t_final)).backward()
    _close(bx.grad, tx.grad)
    for b, t in zip(b_states, t_states):
        _close(b.grad, t.grad)
    t_params = dict(t_layer.named_parameters())
    for pname, p in b_layer.named_parameters():
        _close(p.grad, t_params[pname].grad)
    # default (zero) initial state
    _close(b_layer(bx)[0], t_layer(tx)[0])


def test_lstm_float32_parity_via_the_shared_checker(device):
    check_layer(lambda: nn.LSTM(3, 4, batch_first=True), lambda: torch.nn.LSTM(3, 4, batch_first=True),
                [rng.standard_normal((2, 4, 3))], device, dtypes=(np.float32,))


def test_dropout_between_layers_only_in_training():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = bw.randn(5, 2, 3)
    lstm.eval()
    a, b = lstm(x)[0], lstm(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    lstm.train()
    bw.manual_seed(1)
    c = lstm(x)[0]
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_pytorch(name):
    t_cell = getattr(torch.nn, name)(3, 4).double()
    b_cell = getattr(nn, name)(3, 4).double()
    copy_weights(t_cell, b_cell)
    x = rng.standard_normal((2, 3))
    b_out, t_out = b_cell(bw.tensor(x)), t_cell(torch.tensor(x))
    if name == "LSTMCell":
        b_out, t_out = b_out[0], t_out[0]
    _close(b_out, t_out)
    unbatched = b_cell(bw.tensor(x[0]))
    assert (unbatched[0] if name == "LSTMCell" else unbatched).shape == (4,)


def test_hidden_state_shape_errors():
    gru = nn.GRU(3, 4, num_layers=2)
    with pytest.raises(RuntimeError, match=r"expected hx of shape \(2, 1, 4\), got \(1, 1, 4\)"):
        gru(bw.zeros(5, 1, 3), bw.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)


def test_flat_weight_names_are_torchs():
    """d2l's init_seq2seq walks module._flat_weights_names and initialises module._parameters[name]."""
    for cls, kw in ((bw.nn.GRU, {}), (bw.nn.LSTM, {"bidirectional": True, "num_layers": 2}),
                    (bw.nn.LSTM, {"proj_size": 2}), (bw.nn.RNN, {"bias": False})):
        b, t = cls(5, 4, **kw), getattr(torch.nn, cls.__name__)(5, 4, **kw)
        assert b._flat_weights_names == t._flat_weights_names
        assert b._all_weights == t._all_weights
        for name in b._flat_weights_names:
            if "weight" in name:
                bw.nn.init.xavier_uniform_(b._parameters[name])
