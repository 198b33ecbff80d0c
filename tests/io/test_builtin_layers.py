"""save_model / load_model round trip for brickwork's built-in layers (each through its get_config)."""

from __future__ import annotations

import numpy as np
import pytest

import brickwork as bw
from brickwork import nn


def _encoder(norm):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(8) if norm else None)


# (layer name that must exist in nn, factory, input shape or None for integer indices)
CASES = [
    ("Linear", lambda: nn.Linear(4, 3), (2, 4)),
    ("Linear", lambda: nn.Sequential(nn.LazyLinear(3), nn.Linear(3, 2, bias=False)), (2, 4)),
    ("Conv1d", lambda: nn.Conv1d(2, 3, 3, padding=1, stride=2), (1, 2, 8)),
    ("Conv2d", lambda: nn.Conv2d(2, 3, (1, 3), padding=(0, 1)), (1, 2, 4, 5)),
    ("Conv2d", lambda: nn.LazyConv2d(3, 3), (1, 2, 5, 5)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1), (1, 2, 4, 4)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3, momentum=0.5, eps=1e-3), (2, 3, 4, 4)),
    ("LayerNorm", lambda: nn.LayerNorm((3, 4)), (2, 3, 4)),
    ("GroupNorm", lambda: nn.GroupNorm(2, 4), (2, 4, 3)),
    ("Embedding", lambda: nn.Embedding(10, 4, padding_idx=0), None),
    ("PReLU", lambda: nn.Sequential(nn.PReLU(3), nn.LeakyReLU(0.2), nn.GELU(approximate="tanh")), (2, 3)),
    ("Flatten", lambda: nn.Sequential(nn.Flatten(1), nn.Unflatten(1, (4, 3)), nn.Softmax(dim=1)), (2, 3, 4)),
    ("MaxPool2d", lambda: nn.Sequential(nn.MaxPool2d(2, 1), nn.AdaptiveAvgPool2d((2, 2))), (1, 1, 4, 4)),
    ("Dropout", lambda: nn.Sequential(nn.Dropout(0.3), nn.Identity(), nn.Hardtanh(-2.0, 2.0)), (2, 3)),
    ("LSTM", lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), (2, 5, 3)),
    ("GRU", lambda: nn.GRU(3, 4), (5, 2, 3)),
    ("TransformerEncoder", lambda: _encoder(norm=False), (2, 5, 8)),
    ("TransformerEncoder", lambda: _encoder(norm=True), (2, 5, 8)),
]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("needs, make, shape", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_builtin_layer_round_trip(needs, make, shape, tmp_path):
    if not hasattr(nn, needs):
        pytest.skip(f"nn.{needs} is not available yet")
    model = make().eval()
    x = bw.randint(0, 10, (2, 3)) if shape is None else bw.randn(*shape)
    expected = _first(model(x)).detach().numpy()
    path = tmp_path / "model.safetensors"
    bw.save_model(model, path)
    again = bw.load_model(path)
    assert repr(again) == repr(model)
    assert not again.training
    np.testing.assert_allclose(_first(again(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-7)
