"""Tied parameters: one object, gradients add up, listed once, kept by load_state_dict."""

from __future__ import annotations

import copy

import numpy as np

import brickwork as bw
from brickwork import nn
from tests.nn._layers import LazyDense, ReLU


def test_shared_module_uses_the_same_object():
    shared = LazyDense(4, 4)
    net = nn.Sequential(LazyDense(3, 4), ReLU(), shared, ReLU(), shared, LazyDense(4, 1))
    assert net[2].weight is net[4].weight
    assert len(list(net.parameters())) == 6
    net[2].weight.data[0, 0] = 100.0
    assert net[4].weight[0, 0].item() == 100.0


def test_gradient_is_the_sum_of_every_use():
    bw.manual_seed(1)
    shared = LazyDense(4, 4)
    tied = nn.Sequential(LazyDense(3, 4), ReLU(), shared, ReLU(), shared, LazyDense(4, 1))
    untied = copy.deepcopy(tied)
    untied[4] = copy.deepcopy(shared)  # same values, separate parameters
    assert untied[2].weight is not untied[4].weight
    x = bw.rand(5, 3)
    tied(x).sum().backward()
    untied(x).sum().backward()
    expected = untied[2].weight.grad.numpy() + untied[4].weight.grad.numpy()
    np.testing.assert_allclose(tied[2].weight.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(untied[2].weight.grad.numpy(), expected)


def test_one_parameter_assigned_to_two_modules():
    a, b = LazyDense(2, 2), LazyDense(2, 2)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    assert len(list(net.parameters())) == 3
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_state_dict_lists_every_name_and_load_keeps_the_tie():
    shared = LazyDense(3, 3)
    net = nn.Sequential(shared, ReLU(), shared)
    sd = net.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sd["0.weight"] is sd["2.weight"]  # one tensor object per tied parameter
    fresh_shared = LazyDense(3, 3)
    fresh = nn.Sequential(fresh_shared, ReLU(), fresh_shared)
    w = fresh_shared.weight
    fresh.load_state_dict(sd)
    assert fresh[0].weight is fresh[2].weight is w
    np.testing.assert_array_equal(w.detach().numpy(), shared.weight.detach().numpy())


def test_conflicting_values_for_a_tied_parameter_are_reported():
    shared = LazyDense(2, 2)
    net = nn.Sequential(shared, shared)
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    sd["1.weight"] = sd["1.weight"] + 1
    before = shared.weight.detach().numpy().copy()
    try:
        net.load_state_dict(sd)
    except RuntimeError as e:
        assert "tied" in str(e) and "0.weight" in str(e) and "1.weight" in str(e)
    else:
        raise AssertionError("expected an error")
    np.testing.assert_array_equal(shared.weight.detach().numpy(), before)
