"""Deferred (lazy) initialisation: each bullet of the spec is its own test."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import brickwork as bw
from brickwork import nn
from tests.nn._layers import LazyDense, LazyNorm, ReLU


def lazy_mlp():
    return nn.Sequential(LazyDense(None, 16), ReLU(), LazyDense(None, 4))


def test_pending_parameters_are_real_members():
    net = lazy_mlp()
    params = list(net.parameters())
    assert len(params) == 4
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"] or \
        [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sum(nn.is_pending(p) for p in params) == 2


def test_shapes_inferred_layer_by_layer_in_place():
    net = lazy_mlp()
    before = [id(p) for p in net.parameters()]
    net(bw.rand(3, 7))
    assert [id(p) for p in net.parameters()] == before  # the same Parameter objects
    assert net[0].weight.shape == (16, 7)
    assert net[2].weight.shape == (4, 16)
    assert net[0].in_features == 7 and net[2].in_features == 16


def test_materialises_exactly_once():
    LazyDense.infer_calls = 0
    net = lazy_mlp()
    w = net[0].weight
    net(bw.rand(2, 5))
    first = w.detach().numpy().copy()
    net(bw.rand(2, 5))
    net(bw.rand(4, 5))
    assert LazyDense.infer_calls == 2  # one per lazy layer, at the first forward only
    np.testing.assert_array_equal(w.detach().numpy(), first)


def test_default_init_runs_at_materialisation():
    net = lazy_mlp()
    net(bw.rand(2, 9))
    w = net[0].weight.detach().numpy()
    bound = 1 / np.sqrt(9)  # kaiming_uniform(a=sqrt(5)) bound for fan_in 9
    assert w.std() > 0 and np.abs(w).max() <= bound


def test_init_on_pending_is_recorded_and_applied_later():
    net = lazy_mlp()
    nn.init.constant_(net[0].weight, 0.5)
    assert net[0].weight.is_pending
    net(bw.rand(2, 3))
    assert (net[0].weight.detach().numpy() == 0.5).all()


def test_apply_with_type_check_before_first_forward():
    net = lazy_mlp()

    def init_fn(m):
        if type(m) is LazyDense:  # no class swapping: the type stays the same
            nn.init.xavier_uniform_(m.weight)
            nn.init.constant_(m.bias, 0.1)

    net.apply(init_fn)
    net(bw.rand(2, 6))
    w = net[0].weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (6 + 16))
    assert (net[2].bias.detach().numpy() == np.float32(0.1)).all()


def test_optimizer_built_before_first_forward():
    net = lazy_mlp()
    params = list(net.parameters())
    net(bw.rand(2, 3)).sum().backward()
    with bw.no_grad():
        for p in params:  # a plain SGD step through the references taken before materialisation
            p -= 0.1 * p.grad
    assert all(p.grad is not None for p in params)
    assert params[0] is net[0].weight


def test_deepcopy_of_pending_model():
    net = lazy_mlp()
    nn.init.constant_(net[0].weight, 2.0)
    twin = copy.deepcopy(net)
    twin(bw.rand(1, 3))
    assert net[0].weight.is_pending and not twin[0].weight.is_pending
    assert (twin[0].weight.detach().numpy() == 2.0).all()
    net(bw.rand(1, 5))
    assert net[0].weight.shape == (16, 5)


def test_tying_before_materialisation():
    shared = LazyDense(None, 8)
    net = nn.Sequential(LazyDense(None, 8), shared, ReLU(), shared)
    assert len(list(net.parameters())) == 4
    net(bw.rand(2, 3))
    assert net[1].weight is net[3].weight
    assert net[1].weight.shape == (8, 8)


def test_load_state_dict_into_pending_model_needs_no_forward():
    src = lazy_mlp()
    src(bw.rand(2, 5))
    dst = lazy_mlp()
    params = list(dst.parameters())
    dst.load_state_dict(src.state_dict())
    assert [id(p) for p in dst.parameters()] == [id(p) for p in params]
    assert not any(nn.is_pending(p) for p in dst.parameters())
    assert dst[0].in_features == 5
    x = bw.rand(3, 5)
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_load_state_dict_discards_recorded_inits():
    src = lazy_mlp()
    src(bw.rand(1, 4))
    dst = lazy_mlp()
    nn.init.constant_(dst[0].weight, 7.0)
    dst.load_state_dict(src.state_dict())
    dst(bw.rand(1, 4))
    np.testing.assert_array_equal(dst[0].weight.detach().numpy(), src[0].weight.detach().numpy())


def test_using_pending_values_names_the_path():
    net = lazy_mlp()
    with pytest.raises(nn.UninitializedParameterError, match=r"'0\.weight'.*forward pass"):
        net.state_dict()
    with pytest.raises(nn.UninitializedParameterError, match="weight"):
        net[2].weight.data.sum()
    with pytest.raises(nn.UninitializedParameterError):
        net[2].weight.detach().numpy()
    with pytest.raises(nn.UninitializedParameterError):
        net[0].weight * 2


def test_initialisers_through_data_of_a_pending_parameter_are_replayed():
    """d2l's ``self.net = nn.LazyLinear(1); self.net.weight.data.normal_(0, 0.01)``."""
    layer = nn.LazyLinear(2)
    assert layer.weight.data.normal_(0.0, 0.01) is not None
    layer.bias.data.fill_(0.5)
    with pytest.raises(nn.UninitializedParameterError, match="read through .data"):
        layer.weight.data.shape
    layer(bw.ones(3, 4))
    assert bw.allclose(layer.bias, bw.full((2,), 0.5))
    assert float(layer.weight.abs().max()) < 0.1  # N(0, 0.01), not the default U(-1/2, 1/2)
    zeroed = nn.LazyLinear(3)
    zeroed.weight.data.uniform_(-1.0, 1.0)
    zeroed.weight.data.zero_()
    zeroed(bw.ones(1, 2))
    assert not zeroed.weight.detach().numpy().any()


def test_early_use_inside_a_forward_names_the_path():
    class Early(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(LazyDense(None, 3))

        def forward(self, x):
            return x @ self.inner[0].weight.T  # uses the weight before inner() ever ran

    with pytest.raises(nn.UninitializedParameterError, match=r"inner\.0\.weight"):
        Early()(bw.rand(2, 4))


def test_size_mismatch_after_materialisation_names_layer_and_sizes():
    net = lazy_mlp()
    net(bw.rand(2, 5))
    with pytest.raises(ValueError, match=r"in 0 \(LazyDense\).*in_features=5.*last dimension 6"):
        net(bw.rand(2, 6))


def test_print_shows_unknown_sizes():
    net = lazy_mlp()
    assert "LazyDense(in_features=?, out_features=16)" in repr(net)
    net(bw.rand(1, 2))
    assert "LazyDense(in_features=2, out_features=16)" in repr(net)


def test_pending_buffers_and_no_class_swap():
    layer = LazyNorm()
    assert type(layer) is LazyNorm
    y = layer(bw.ones(2, 3))
    assert type(layer) is LazyNorm
    assert layer.count.tolist() == [1.0, 1.0, 1.0]
    assert y.shape == (2, 3)
    assert list(layer.state_dict()) == ["scale", "count"]


def test_module_without_infer_shape_explains():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter.pending((None,))

        def forward(self, x):
            return x * self.w

    with pytest.raises(RuntimeError, match="no infer_shape"):
        Broken()(bw.ones(2))


def test_to_moves_pending_dtype():
    net = lazy_mlp().double()
    net(bw.rand(2, 3, dtype=bw.float64))
    assert net[0].weight.dtype == bw.float64
