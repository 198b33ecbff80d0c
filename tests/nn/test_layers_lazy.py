"""Lazy catalogue layers: ``None`` sizes (and PyTorch's Lazy* names) build the same classes,
infer their shapes layer by layer at the first forward, initialise like PyTorch, print ``?``,
load state dicts without a forward pass, and reject inputs of another size afterwards."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import copy_weights


def lazy_lenet():
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(), nn.LazyLinear(10))


def torch_lenet():
    T = torch.nn
    return T.Sequential(T.Conv2d(1, 6, 5, padding=2), T.Sigmoid(), T.AvgPool2d(2, 2), T.Conv2d(6, 16, 5),
                        T.Sigmoid(), T.AvgPool2d(2, 2), T.Flatten(), T.Linear(400, 120), T.Sigmoid(),
                        T.Linear(120, 84), T.Sigmoid(), T.Linear(84, 10))


def test_lazy_names_build_the_plain_classes_before_and_after_forward():
    layer = nn.LazyLinear(3)
    assert type(layer) is nn.Linear and layer.in_features is None
    layer(bw.ones(2, 5))
    assert type(layer) is nn.Linear and layer.in_features == 5


def test_shapes_are_inferred_layer_by_layer_and_printed():
    net = lazy_lenet()
    assert "Conv2d(?, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))" in repr(net)
    assert "Linear(in_features=?, out_features=120, bias=True)" in repr(net)
    out = net(bw.randn(2, 1, 28, 28))
    assert out.shape == (2, 10)
    assert repr(net) == repr(torch_lenet())
    assert [tuple(p.shape) for p in net.parameters()] == [tuple(p.shape) for p in torch_lenet().parameters()]


def test_pending_parameters_are_members_and_an_optimizer_built_early_works():
    net = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    params = list(net.parameters())
    assert len(params) == 4 and all(p.is_pending for p in params)
    opt = bw.optim.SGD(net.parameters(), lr=0.1)
    x = bw.randn(3, 5)
    net(x).sum().backward()
    before = net[0].weight.detach().numpy().copy()
    opt.step()
    assert params[0] is net[0].weight and not np.allclose(before, net[0].weight.detach().numpy())


def test_default_init_after_inference_is_pytorchs():
    layer = nn.Linear(None, 512)
    layer(bw.ones(1, 64))
    bound = 1 / math.sqrt(64)
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(None, 8, 3)
    conv(bw.ones(1, 4, 5, 5))
    assert np.abs(conv.weight.detach().numpy()).max() <= 1 / math.sqrt(36)


def test_init_applied_before_the_first_forward_is_replayed():
    net = nn.Sequential(nn.LazyLinear(4), nn.LazyLinear(2))

    def init_fn(m):
        if type(m) is nn.Linear:  # works: no class swapping
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)

    net.apply(init_fn)
    net(bw.ones(1, 3))
    assert net[0].weight.tolist() == [[0.5] * 3] * 4 and net[1].bias.tolist() == [0.0, 0.0]


def test_input_of_another_size_after_materialisation_names_layer_and_sizes():
    net = nn.Sequential(nn.LazyLinear(4))
    net(bw.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"in 0 \(Linear\): Linear was built for in_features=3 but "
                                           r"received an input with in_features=7"):
        net(bw.ones(2, 7))
    conv = nn.Sequential(nn.LazyConv2d(2, 3))
    conv(bw.ones(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match="Conv2d was built for in_channels=3 but received an input with "
                                           "in_channels=1"):
        conv(bw.ones(1, 1, 5, 5))
    bn = nn.LazyBatchNorm1d()
    bn(bw.randn(4, 3))
    with pytest.raises(RuntimeError, match="BatchNorm1d was built for num_features=3"):
        bn(bw.randn(4, 5))


def test_using_a_pending_layer_too_early_says_how_to_fix_it():
    net = nn.Sequential(nn.Linear(2, 3), nn.LazyLinear(4))
    with pytest.raises(nn.UninitializedParameterError, match="1.weight.*forward pass"):
        net.state_dict()


def test_load_state_dict_materialises_without_a_forward_pass():
    t_net = torch_lenet()
    b_net = lazy_lenet()
    copy_weights(t_net, b_net)
    assert not any(p.is_pending for p in b_net.parameters())
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(b_net(bw.tensor(x)).detach().numpy(), t_net(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_lazy_batchnorm_buffers_and_deepcopy():
    bn = nn.BatchNorm2d(None)
    assert repr(bn).startswith("BatchNorm2d(?,")
    twin = copy.deepcopy(bn)
    bn(bw.randn(4, 3, 2, 2))
    assert bn.num_features == 3 and bn.running_var.shape == (3,)
    assert twin.running_var.is_pending  # the copy stays independent
    twin(bw.randn(2, 5, 2, 2))
    assert twin.num_features == 5 and twin.running_var.tolist() != [1.0] * 5


def test_lazy_norm_layers_other_than_batchnorm():
    ln = nn.LayerNorm(None)
    assert repr(ln) == "LayerNorm((?,), eps=1e-05, elementwise_affine=True, bias=True)"
    ln(bw.randn(2, 6))
    assert ln.normalized_shape == (6,) and ln.weight.tolist() == [1.0] * 6
    gn = nn.GroupNorm(2, None)
    gn(bw.randn(2, 4, 3))
    assert gn.num_channels == 4
    with pytest.raises(RuntimeError, match="not divisible by num_groups=2"):
        nn.GroupNorm(2, None)(bw.randn(2, 3, 3))


def test_lazy_transposed_and_1d_convolutions():
    up = nn.LazyConvTranspose2d(4, 2, stride=2)
    assert up(bw.ones(1, 3, 4, 4)).shape == (1, 4, 8, 8) and up.in_channels == 3
    conv1 = nn.LazyConv1d(5, 3, groups=1)
    assert conv1(bw.ones(2, 7, 9)).shape == (2, 5, 7) and conv1.weight.shape == (5, 7, 3)


def test_lazy_config_round_trip_keeps_laziness():
    layer = nn.LazyLinear(3)
    config = layer.get_config()
    assert config == {"in_features": None, "out_features": 3, "bias": True}
    assert nn.Linear(**config).weight.is_pending
