"""Every catalogue layer against its PyTorch twin with copied weights: outputs, input gradients
and parameter gradients in float32 and float64; printed form and state-dict keys; get_config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import check_config_round_trip, check_layer, check_repr_and_state_keys

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

rng = np.random.default_rng(23)


def _x(*shape):
    return rng.standard_normal(shape)


def _idx(high, *shape):
    return rng.integers(0, high, shape)


# (id, constructor name, args, kwargs, inputs); the same call builds both twins
CASES = [
    ("identity", "Identity", (), {}, [(2, 3)]),
    ("linear", "Linear", (5, 3), {}, [(2, 5)]),
    ("linear_3d_nobias", "Linear", (5, 3), dict(bias=False), [(2, 4, 5)]),
    ("bilinear", "Bilinear", (3, 4, 2), {}, [(5, 3), (5, 4)]),
    ("flatten", "Flatten", (), {}, [(2, 3, 4)]),
    ("unflatten", "Unflatten", (1, (2, 3)), {}, [(4, 6)]),
    ("conv1d", "Conv1d", (3, 4, 3), dict(stride=2, padding=1), [(2, 3, 9)]),
    ("conv1d_same_reflect", "Conv1d", (2, 4, 4), dict(padding="same", padding_mode="reflect"),
     [(2, 2, 7)]),
    ("conv2d", "Conv2d", (3, 4, 3), dict(stride=2, padding=1), [(2, 3, 7, 6)]),
    ("conv2d_groups_dilation", "Conv2d", (4, 6, (3, 2)), dict(groups=2, dilation=(2, 1), bias=False),
     [(2, 4, 8, 7)]),
    ("conv2d_same", "Conv2d", (2, 3, 4), dict(padding="same"), [(1, 2, 6, 5)]),
    ("conv2d_circular", "Conv2d", (2, 3, 3), dict(padding=1, padding_mode="circular"), [(1, 2, 5, 5)]),
    ("conv2d_replicate", "Conv2d", (2, 3, 3), dict(padding=(1, 2), padding_mode="replicate"),
     [(1, 2, 5, 5)]),
    ("conv_transpose1d", "ConvTranspose1d", (3, 2, 3), dict(stride=2, output_padding=1), [(2, 3, 5)]),
    ("conv_transpose2d", "ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2),
     [(2, 4, 3, 4)]),
    ("maxpool1d", "MaxPool1d", (3,), dict(stride=2, padding=1), [(2, 3, 9)]),
    ("maxpool2d", "MaxPool2d", (2,), {}, [(2, 3, 6, 6)]),
    ("maxpool2d_ceil", "MaxPool2d", (3,), dict(stride=2, ceil_mode=True), [(2, 3, 8, 7)]),
    ("avgpool1d", "AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), [(2, 3, 9)]),
    ("avgpool2d", "AvgPool2d", (2,), {}, [(2, 3, 6, 6)]),
    ("avgpool2d_pad", "AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), [(2, 3, 7, 8)]),
    ("adaptive_avg", "AdaptiveAvgPool2d", ((1, 1),), {}, [(2, 3, 5, 6)]),
    ("adaptive_avg_uneven", "AdaptiveAvgPool2d", ((3, 4),), {}, [(2, 3, 5, 6)]),
    ("adaptive_max", "AdaptiveMaxPool2d", ((2, 3),), {}, [(2, 3, 5, 7)]),
    ("adaptive_avg1d", "AdaptiveAvgPool1d", (3,), {}, [(2, 3, 7)]),
    ("adaptive_max1d", "AdaptiveMaxPool1d", (3,), {}, [(2, 3, 7)]),
    ("layernorm", "LayerNorm", ((3, 4),), dict(eps=1e-3), [(2, 3, 4)]),
    ("layernorm_nobias", "LayerNorm", (4,), dict(bias=False), [(2, 4)]),
    ("groupnorm", "GroupNorm", (2, 6), {}, [(3, 6, 2, 2)]),
    ("relu", "ReLU", (), {}, [(3, 4)]),
    ("relu6", "ReLU6", (), {}, [(3, 4)]),
    ("leaky_relu", "LeakyReLU", (0.2,), {}, [(3, 4)]),
    ("elu", "ELU", (0.5,), {}, [(3, 4)]),
    ("selu", "SELU", (), {}, [(3, 4)]),
    ("celu", "CELU", (0.7,), {}, [(3, 4)]),
    ("gelu", "GELU", (), {}, [(3, 4)]),
    ("gelu_tanh", "GELU", ("tanh",), {}, [(3, 4)]),
    ("silu", "SiLU", (), {}, [(3, 4)]),
    ("mish", "Mish", (), {}, [(3, 4)]),
    ("sigmoid", "Sigmoid", (), {}, [(3, 4)]),
    ("tanh", "Tanh", (), {}, [(3, 4)]),
    ("softplus", "Softplus", (), dict(beta=2.0, threshold=5.0), [(3, 4)]),
    ("softmax", "Softmax", (), dict(dim=1), [(3, 4)]),
    ("logsoftmax", "LogSoftmax", (), dict(dim=-1), [(3, 4)]),
    ("softmin", "Softmin", (), dict(dim=0), [(3, 4)]),
    ("hardtanh", "Hardtanh", (-0.5, 2.0), {}, [(3, 4)]),
    ("hardsigmoid", "Hardsigmoid", (), {}, [(3, 4)]),
    ("hardswish", "Hardswish", (), {}, [(3, 4)]),
    ("logsigmoid", "LogSigmoid", (), {}, [(3, 4)]),
    ("softsign", "Softsign", (), {}, [(3, 4)]),
    ("tanhshrink", "Tanhshrink", (), {}, [(3, 4)]),
    ("threshold", "Threshold", (0.1, -1.0), {}, [(3, 4)]),
    ("prelu", "PReLU", (3,), {}, [(2, 3, 4)]),
    ("glu", "GLU", (), {}, [(3, 4)]),
    ("dropout_eval", "Dropout", (0.5,), {}, [(3, 4)]),
]


def _inputs(shapes):
    return [_x(*s) for s in shapes]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_pytorch(case, device):
    _, name, args, kwargs, shapes = case
    inputs = _inputs(shapes)
    check_layer(lambda: getattr(nn, name)(*args, **kwargs), lambda: getattr(torch.nn, name)(*args, **kwargs),
                inputs, device)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_prints_and_names_state_like_pytorch(case):
    _, name, args, kwargs, _ = case
    b_layer, t_layer = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    check_repr_and_state_keys(b_layer, t_layer)
    check_config_round_trip(b_layer)


REPR_ONLY = [
    ("Conv2d", (1, 6), dict(kernel_size=5, padding=2)),
    ("Conv2d", (4, 8, 3), dict(padding="valid", stride=(2, 1))),
    ("ConvTranspose2d", (3, 8, 3), dict(stride=2, output_padding=1, dilation=2)),
    ("BatchNorm2d", (16,), {}),
    ("BatchNorm1d", (4,), dict(momentum=None, affine=False, track_running_stats=False)),
    ("BatchNorm2d", (4,), dict(bias=False)),
    ("GroupNorm", (2, 6), dict(affine=False)),
    ("LayerNorm", (5,), dict(elementwise_affine=False)),
    ("Dropout", (), {}),
    ("Dropout2d", (0.2, True), {}),
    ("ReLU", (True,), {}),
    ("LeakyReLU", (0.2, True), {}),
    ("ELU", (), dict(alpha=0.5, inplace=True)),
    ("Hardtanh", (-2, 2, True), {}),
    ("ReLU6", (True,), {}),
    ("SiLU", (True,), {}),
    ("Softmax", (), {}),
    ("Embedding", (10, 3), dict(padding_idx=-1)),
    ("Embedding", (10, 3), dict(max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True)),
    ("CrossEntropyLoss", (), dict(label_smoothing=0.1)),
    ("MSELoss", (), {}),
    ("BCEWithLogitsLoss", (), {}),
    ("HuberLoss", (), dict(delta=0.5)),
    ("RNN", (3, 4), dict(num_layers=2, nonlinearity="relu", bias=False, batch_first=True,
                         dropout=0.5, bidirectional=True)),
    ("LSTM", (3, 4), dict(proj_size=2)),
    ("GRU", (3, 4), {}),
    ("RNNCell", (3, 4), dict(nonlinearity="relu")),
    ("LSTMCell", (3, 4), dict(bias=False)),
    ("GRUCell", (3, 4), {}),
    ("MultiheadAttention", (8, 2), dict(kdim=3, vdim=5, bias=False)),
    ("MultiheadAttention", (8, 2), dict(add_bias_kv=True)),
    ("TransformerEncoderLayer", (8, 2, 16), dict(norm_first=True, activation="gelu")),
    ("Bilinear", (2, 3, 4), dict(bias=False)),
    ("Unflatten", (1, (2, 3)), {}),
]


@pytest.mark.parametrize("case", REPR_ONLY, ids=[f"{c[0]}{c[1]}{c[2]}" for c in REPR_ONLY])
def test_more_configurations_print_like_pytorch(case):
    name, args, kwargs = case
    check_repr_and_state_keys(getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs))
    check_config_round_trip(getattr(nn, name)(*args, **kwargs))


def test_transformer_encoder_prints_like_pytorch():
    b = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2, norm=torch.nn.LayerNorm(8),
                                    enable_nested_tensor=False)
    check_repr_and_state_keys(b, t)


def test_loss_weights_are_buffers_like_pytorch():
    w = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    b = nn.CrossEntropyLoss(weight=bw.tensor(w))
    t = torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(b.state_dict()) == list(t.state_dict()) == ["weight"]
    b2 = nn.BCEWithLogitsLoss(pos_weight=bw.ones(3))
    t2 = torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))
    assert list(b2.state_dict()) == list(t2.state_dict()) == ["pos_weight"]


def test_lazy_constructors_build_the_same_classes():
    pairs = [(nn.LazyLinear(4), nn.Linear), (nn.LazyConv1d(4, 3), nn.Conv1d),
             (nn.LazyConv2d(4, 3), nn.Conv2d), (nn.LazyConvTranspose2d(4, 3), nn.ConvTranspose2d),
             (nn.LazyBatchNorm1d(), nn.BatchNorm1d), (nn.LazyBatchNorm2d(), nn.BatchNorm2d)]
    for layer, cls in pairs:
        assert type(layer) is cls
