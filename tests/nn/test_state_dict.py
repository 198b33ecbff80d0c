"""state_dict and transactional load_state_dict."""

from __future__ import annotations

import numpy as np
import pytest

import brickwork as bw
from brickwork import nn
from tests.nn._layers import LazyDense, ReLU


def mlp():
    net = nn.Sequential(LazyDense(20, 64), ReLU(), LazyDense(64, 10))
    net.register_buffer("steps", bw.zeros((), dtype=bw.int64))
    net.register_buffer("cache", bw.zeros(3), persistent=False)
    return net


def test_keys_values_share_storage_and_no_history():
    net = mlp()
    sd = net.state_dict()
    assert list(sd) == ["steps", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(not v.requires_grad for v in sd.values())
    net[0].bias.data[0] = 3.0
    assert sd["0.bias"][0].item() == 3.0
    kept = net.state_dict(keep_vars=True)
    assert kept["0.weight"] is net[0].weight


def test_round_trip_into_existing_parameters():
    src, dst = mlp(), mlp()
    ids = [id(p) for p in dst.parameters()]
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert [id(p) for p in dst.parameters()] == ids
    x = bw.rand(2, 20)
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_all_problems_reported_and_nothing_changes():
    net = mlp()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    sd = {k: v.clone() + 1 for k, v in mlp().state_dict().items()}
    sd["0.weight"] = bw.zeros(3, 3)
    del sd["2.bias"]
    sd["extra.weight"] = bw.zeros(1)
    sd["2.weight"] = bw.zeros(10, 64, dtype=bw.int64)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "2.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for 0.weight: checkpoint has (3, 3), model has (64, 20)" in msg
    assert "dtype mismatch for 2.weight: checkpoint has int64, model has float32" in msg
    assert "nothing was changed" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])  # 0.bias was valid, still untouched


def test_non_strict_returns_missing_and_unexpected():
    net = mlp()
    sd = mlp().state_dict()
    del sd["0.bias"]
    sd["bogus"] = bw.ones(1)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["0.bias"] and unexpected == ["bogus"]
    np.testing.assert_array_equal(net[2].weight.detach().numpy(), sd["2.weight"].numpy())
    bad = mlp().state_dict()
    bad["0.bias"] = bw.zeros(5)
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        net.load_state_dict(bad, strict=False)


def test_float64_checkpoint_casts_into_float32_model():
    net = mlp()
    sd = {k: (v.double() if v.is_floating_point() else v) for k, v in mlp().state_dict().items()}
    net.load_state_dict(sd)
    assert net[0].weight.dtype == bw.float32
    np.testing.assert_allclose(net[0].weight.detach().numpy(), sd["0.weight"].numpy(), rtol=1e-6)


def test_numpy_arrays_are_accepted_and_junk_is_reported():
    net = mlp()
    sd = {k: v.numpy() for k, v in mlp().state_dict().items()}
    net.load_state_dict(sd)
    sd["0.bias"] = [1, 2, 3]
    with pytest.raises(RuntimeError, match="type mismatch for 0.bias"):
        net.load_state_dict(sd)
