"""bw.utils.summary, and the torch.utils.data alias."""

from __future__ import annotations

import torch

import brickwork as bw
from brickwork import nn
from brickwork.utils import summary


def _lenet_pair():
    b = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.LazyConv2d(16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.LazyLinear(120), nn.ReLU(), nn.LazyLinear(10))
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
                            torch.nn.Linear(120, 10))
    return b, t


def test_summary_of_a_lazy_cnn_matches_torch_shapes_and_counts():
    net, ref = _lenet_pair()
    assert any(p.is_pending for p in net.parameters())
    result = summary(net, (2, 1, 28, 28))
    assert not any(p.is_pending for p in net.parameters())  # the forward materialised it
    x = torch.zeros(2, 1, 28, 28)
    expected = []
    for layer in ref:
        x = layer(x)
        expected.append((type(layer).__name__, tuple(x.shape), sum(p.numel() for p in layer.parameters())))
    got = [(r["type"], r["output_shape"], r["params"]) for r in result.rows]
    assert got == expected
    assert result.total_params == sum(p.numel() for p in ref.parameters()) == 51902
    text = str(result)
    assert "3 (Conv2d)" in text and "[2, 16, 10, 10]" in text and "Total params: 51,902" in text
    assert repr(result) == text


def test_tied_parameters_are_counted_once_with_a_note():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.decoder.weight = self.encoder.weight
            self.unused = nn.Linear(3, 3)

        def forward(self, x):
            return self.decoder(self.encoder(x).relu())

    result = summary(Tied(), input_data=bw.ones(1, 4))
    assert result.total_params == 16 + 4 + 4 + 12
    assert [r["params"] for r in result.rows] == [20, 4]
    assert result.tied == [("decoder.weight", "encoder.weight")]
    text = str(result)
    assert "'decoder.weight' is tied to 'encoder.weight'" in text
    assert "not called" in text and "unused" in text


def test_summary_keeps_the_mode_and_the_batch_norm_statistics():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = net[1].running_mean.numpy().copy()
    summary(net, (5, 3))
    assert net.training
    assert (net[1].running_mean.numpy() == before).all()
    result = summary(net, (5, 3))
    assert result.trainable_params == result.total_params == 12 + 4 + 4 + 4


def test_summary_of_a_plain_module_and_several_inputs():
    class Add(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(bw.ones(3))

        def forward(self, a, b):
            return a * self.scale + b

    result = summary(Add(), [(2, 3), (2, 3)])
    assert result.rows == [{"name": "Add", "type": "Add", "output_shape": (2, 3), "params": 3}]
    assert "input [2, 3], [2, 3]" in str(result)


def test_utils_data_is_the_data_package():
    import brickwork.utils.data as again

    from brickwork.utils import data

    assert data is bw.data is again
    assert bw.utils.data.DataLoader is bw.data.DataLoader


def test_summary_rows_add_up_with_multihead_attention_and_a_module_used_twice():
    shared = bw.nn.Linear(8, 8)

    class Net(bw.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = bw.nn.MultiheadAttention(8, 2, batch_first=True)
            self.body = bw.nn.Sequential(shared, bw.nn.ReLU(), bw.nn.Linear(8, 8), shared)

        def forward(self, x):
            return self.body(self.attn(x, x, x)[0])

    net = Net()
    result = summary(net, (2, 5, 8))
    names = [r["name"] for r in result.rows]
    assert names == ["attn", "attn.out_proj", "body.0", "body.1", "body.2", "body.3"]
    assert sum(r["params"] for r in result.rows) == result.total_params == sum(
        p.numel() for p in net.parameters())
    types = {r["name"]: r["type"] for r in result.rows}
    assert types["attn"] == "MultiheadAttention" and types["attn.out_proj"] == "Linear"
    assert "NonDynamicallyQuantizable" not in str(result)
    assert [r["params"] for r in result.rows if r["name"].startswith("body.")] == [72, 0, 72, 0]
