"""Linear, Conv, Embedding, Dropout modules: default initialisation (PyTorch's distributions),
train vs eval, padding_idx, size errors naming the layer, device/dtype factory arguments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn


def _uniform_within(t, bound):
    a = t.detach().numpy()
    assert np.abs(a).max() <= bound + 1e-7
    if a.size >= 1000:  # enough samples to see U(-bound, bound)'s spread
        assert np.abs(a).max() > 0.95 * bound
        assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_linear_default_init_is_pytorchs():
    layer = nn.Linear(20, 256)
    _uniform_within(layer.weight, 1 / math.sqrt(20))
    _uniform_within(layer.bias, 1 / math.sqrt(20))
    assert type(layer.weight) is nn.Parameter and layer.weight.dtype == bw.float32


def test_conv_default_init_is_pytorchs():
    conv = nn.Conv2d(6, 16, 5)
    _uniform_within(conv.weight, 1 / math.sqrt(6 * 25))
    _uniform_within(conv.bias, 1 / math.sqrt(6 * 25))
    tconv = nn.ConvTranspose2d(6, 16, 3)
    _uniform_within(tconv.weight, 1 / math.sqrt(16 * 9))  # PyTorch's fan_in of (in, out, k, k)


def test_rnn_and_embedding_default_init():
    rnn = nn.LSTM(10, 64)
    for p in rnn.parameters():
        assert np.abs(p.detach().numpy()).max() <= 1 / 8 + 1e-7
    emb = nn.Embedding(1000, 16, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert not w[3].any()
    assert abs(w.std() - 1.0) < 0.05 and abs(w.mean()) < 0.05


def test_mha_default_init():
    mha = nn.MultiheadAttention(16, 4)
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform on (3E, E)
    assert np.abs(mha.in_proj_weight.detach().numpy()).max() <= bound + 1e-7
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()


def test_factory_arguments():
    layer = nn.Linear(3, 2, dtype=bw.float64, device="cpu")
    assert layer.weight.dtype == bw.float64 and layer.bias.dtype == bw.float64
    assert nn.Conv2d(1, 2, 3, dtype=bw.float64).weight.dtype == bw.float64
    assert nn.BatchNorm1d(3, dtype=bw.float64).running_mean.dtype == bw.float64


def test_dropout_module_train_and_eval():
    drop = nn.Dropout(0.5)
    x = bw.ones(1000)
    y = drop(x)
    assert 300 < int((y.numpy() == 0).sum()) < 700
    drop.eval()
    assert drop(x) is x
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    net.eval()
    out = net(bw.ones(2, 4))
    np.testing.assert_allclose(out.detach().numpy(), net[0](bw.ones(2, 4)).detach().numpy())


def test_embedding_module_padding_idx_and_from_pretrained():
    emb = nn.Embedding(5, 3, padding_idx=0)
    emb(bw.tensor([[0, 1, 0]])).sum().backward()
    assert not emb.weight.grad.numpy()[0].any() and emb.weight.grad.numpy()[1].all()
    table = bw.arange(6.0).reshape(3, 2)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(bw.tensor([2])).numpy(), [[4.0, 5.0]])


def test_embedding_matches_pytorch_with_copied_weights():
    t = torch.nn.Embedding(7, 4, padding_idx=2, max_norm=1.5)
    b = nn.Embedding(7, 4, padding_idx=2, max_norm=1.5)
    b.load_state_dict({"weight": bw.tensor(t.weight.detach().numpy())})
    idx = np.array([[1, 2, 6], [6, 0, 1]])
    np.testing.assert_allclose(b(bw.tensor(idx)).detach().numpy(), t(torch.tensor(idx)).detach().numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("layer,x,message", [
    (lambda: nn.Linear(4, 2), (3, 5), "Linear was built for in_features=4 but received an input with "
                                      r"in_features=5 \(input of shape \(3, 5\)\)"),
    (lambda: nn.Conv2d(3, 2, 3), (1, 4, 5, 5), "Conv2d was built for in_channels=3 but received an input "
                                               "with in_channels=4"),
    (lambda: nn.LSTM(3, 2), (4, 1, 5), "LSTM was built for input_size=3 but received an input with "
                                       "input_size=5"),
])
def test_size_errors_name_layer_built_and_received(layer, x, message):
    net = nn.Sequential(nn.Identity(), layer())
    with pytest.raises(RuntimeError, match=message) as info:
        net(bw.zeros(*x))
    assert str(info.value).startswith("in 1 (")  # the module path, added by Module.__call__


def test_save_model_round_trip_of_catalogue_layers(tmp_path):
    path = str(tmp_path / "model.safetensors")
    models = [
        nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.LazyLinear(8), nn.GELU("tanh"), nn.Dropout(0.2), nn.Linear(8, 3)),
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                              norm=nn.LayerNorm(8)),
        nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
    ]
    inputs = [bw.randn(2, 1, 6, 6), bw.randn(2, 3, 8), bw.randn(2, 5, 3)]
    for model, x in zip(models, inputs):
        model.eval()
        want = model(x)
        bw.save_model(model, path)
        again = bw.load_model(path).eval()
        assert repr(again) == repr(model)
        got = again(x)
        want, got = (want[0], got[0]) if isinstance(want, tuple) else (want, got)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    loss = nn.CrossEntropyLoss(weight=bw.tensor([1.0, 2.0, 3.0]), label_smoothing=0.1)
    bw.save_model(loss, path)
    again = bw.load_model(path)
    assert again.weight.tolist() == [1.0, 2.0, 3.0] and again.label_smoothing == 0.1


def test_tied_embedding_and_decoder_weights_sum_their_gradients():
    emb, dec = nn.Embedding(6, 4), nn.Linear(4, 6, bias=False)
    dec.weight = emb.weight  # weight tying, as in language models
    twin_emb, twin_dec = nn.Embedding(6, 4), nn.Linear(4, 6, bias=False)
    with bw.no_grad():
        twin_emb.weight.copy_(emb.weight)
        twin_dec.weight.copy_(emb.weight)
    idx = bw.tensor([[1, 2, 2, 5]])
    dec(emb(idx)).sum().backward()
    twin_dec(twin_emb(idx)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(),
                               (twin_emb.weight.grad + twin_dec.weight.grad).numpy(), rtol=1e-6)


LAYER_SIZES = {
    "Linear_in": lambda nn, n: nn.Linear(n, 3), "Linear_out": lambda nn, n: nn.Linear(2, n),
    "Bilinear": lambda nn, n: nn.Bilinear(2, n, 3), "Conv2d_in": lambda nn, n: nn.Conv2d(n, 2, 3),
    "Conv1d_out": lambda nn, n: nn.Conv1d(1, n, 3), "Conv2d_kernel": lambda nn, n: nn.Conv2d(1, 2, n),
    "ConvTranspose2d": lambda nn, n: nn.ConvTranspose2d(n, 2, 3),
    "Embedding": lambda nn, n: nn.Embedding(n, 4), "BatchNorm2d": lambda nn, n: nn.BatchNorm2d(n),
    "GroupNorm": lambda nn, n: nn.GroupNorm(1, n), "LSTM": lambda nn, n: nn.LSTM(2, n),
    "GRUCell": lambda nn, n: nn.GRUCell(n, 3),
    "MultiheadAttention": lambda nn, n: nn.MultiheadAttention(n, 2),
}


def test_output_sizes_and_class_counts_must_be_integers_like_torch():
    x = bw.ones(1, 2, 4, 4)
    for fn, tx in ((lambda lib, t: lib.nn.AdaptiveAvgPool2d(2.5)(t), torch.ones(1, 2, 4, 4)),
                   (lambda lib, t: lib.nn.functional.adaptive_max_pool2d(t, (2.0, 2)),
                    torch.ones(1, 2, 4, 4)),
                   (lambda lib, t: lib.nn.functional.one_hot(t, 3.0), torch.tensor([1]))):
        with pytest.raises(TypeError):
            fn(torch, tx)
        with pytest.raises(TypeError, match="must be an integer, got 2.5|must be an integer, got 2.0|"
                                            "num_classes must be an integer, got 3.0"):
            fn(bw, x if tx.ndim == 4 else bw.tensor([1]))


@pytest.mark.parametrize("name", list(LAYER_SIZES))
@pytest.mark.parametrize("bad", [2.5, 4.0])
def test_layer_sizes_must_be_integers_like_torch(name, bad):
    # issue 12 item 10: nn.Linear(2.5, 3) used to build a Linear(2, 3); PyTorch raises TypeError, or
    # ValueError (or an assert) where a divisibility check comes first (Conv, GroupNorm, MultiheadAttention)
    with pytest.raises((TypeError, ValueError, AssertionError)):
        LAYER_SIZES[name](torch.nn, bad)
    with pytest.raises(TypeError, match=f"{name.split('_')[0]}: .* must be an integer, got {bad}"):
        LAYER_SIZES[name](nn, bad)


def test_layer_sizes_accept_numpy_integers():
    layer = nn.Linear(np.int64(2), np.int32(3))
    assert layer.weight.shape == (3, 2) and type(layer.in_features) is int and type(layer.out_features) is int
