"""Model-level interop with PyTorch and save_model with brickwork's built-in layers."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import torch

import brickwork as bw
from brickwork import nn

pytestmark = pytest.mark.skipif(
    not (hasattr(nn, "Linear") and hasattr(nn, "Conv2d")), reason="nn.Linear / nn.Conv2d not available yet"
)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 5 * 5, 10)
        self.head = torch.nn.Linear(10, 10, bias=False)

    def forward(self, x):
        return self.head(torch.relu(self.fc(torch.relu(self.conv(x)).flatten(1))))


class BrickNet(nn.Module):
    def __init__(self, lazy=False):
        super().__init__()
        self.conv = nn.Conv2d(None if lazy else 3, 4, 3, padding=1)
        self.fc = nn.Linear(None if lazy else 4 * 5 * 5, 10)
        self.head = nn.Linear(10, 10, bias=False)

    def forward(self, x):
        return self.head(self.fc(self.conv(x).relu().flatten(1)).relu())


def test_pytorch_state_dict_gives_same_outputs_in_brickwork(tmp_path):
    torch.manual_seed(0)
    reference = TorchNet()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(reference.state_dict(), path)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    for lazy in (False, True):  # a lazy model is materialised by load_state_dict
        model = BrickNet(lazy=lazy)
        model.load_state_dict(bw.load(path))
        out = model(bw.tensor(x)).detach().numpy()
        expected = reference(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_brickwork_state_dict_loads_into_pytorch(tmp_path):
    model = BrickNet()
    path = tmp_path / "bw.safetensors"
    bw.save(model.state_dict(), path)
    reference = TorchNet()
    reference.load_state_dict(safetensors.torch.load_file(path))
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    expected = reference(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(model(bw.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_save_model_with_builtin_layers_and_lazy_layers(tmp_path):
    net = nn.Sequential(nn.Linear(None, 8), nn.Linear(8, 3, bias=False))
    x = bw.randn(4, 6)
    y = net(x)
    path = tmp_path / "builtin.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert repr(again) == repr(net)
    assert type(again[0]) is nn.Linear and again[0].in_features == 6
    np.testing.assert_allclose(again(x).detach().numpy(), y.detach().numpy())


def test_save_model_conv_keeps_tuple_arguments(tmp_path):
    net = nn.Sequential(nn.Conv2d(2, 3, (1, 3), stride=(1, 2), padding=1))
    path = tmp_path / "conv.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert again[0].kernel_size == net[0].kernel_size and again[0].stride == net[0].stride
    x = bw.randn(1, 2, 4, 7)
    np.testing.assert_allclose(again(x).detach().numpy(), net(x).detach().numpy())
