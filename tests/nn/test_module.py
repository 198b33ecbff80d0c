"""Module: registration, hooks, traversal, modes, moves, deepcopy, printing."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn


class Affine(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(bw.randn(n_out, n_in))
        self.bias = nn.Parameter(bw.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


class HandSequential(nn.Module):
    """The d2l-style hand-written Sequential that writes _modules directly."""

    def __init__(self, *blocks):
        super().__init__()
        for i, block in enumerate(blocks):
            self._modules[str(i)] = block

    def forward(self, x):
        for block in self._modules.values():
            x = block(x)
        return x


def test_assignment_registers_by_type():
    m = Affine(3, 2)
    assert list(m._parameters) == ["weight", "bias"]
    m.child = Affine(2, 2)
    m.const = bw.ones(2)  # a plain tensor stays a plain attribute
    assert list(m._modules) == ["child"]
    assert "const" not in m._buffers and m.const is not None
    m.register_buffer("running", bw.zeros(2))
    m.register_buffer("scratch", bw.zeros(2), persistent=False)
    assert list(m._buffers) == ["running", "scratch"]
    assert "scratch" not in m.state_dict() and "running" in m.state_dict()
    m.extra = nn.Buffer(bw.ones(1))
    assert "extra" in m._buffers


def test_writing_modules_dict_directly_works():
    net = HandSequential(Affine(4, 8), Affine(8, 2))
    assert net(bw.ones(3, 4)).shape == (3, 2)
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_reassigning_parameter_to_non_parameter_raises():
    m = Affine(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = bw.ones(2, 2)
    m.weight = None
    assert m.weight is None and "weight" in m._parameters
    with pytest.raises(TypeError, match="child module"):
        parent = nn.Sequential(Affine(2, 2))
        parent._modules["0"]  # exists
        setattr(parent, "0", 5)


def test_register_before_init_and_bad_names():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(bw.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", nn.Parameter(bw.ones(1)))
    with pytest.raises(TypeError, match="brickwork.nn.Parameter or None required"):
        m.register_parameter("w", bw.ones(1))
    m.add_module("sub", Affine(1, 1))
    m.register_module("sub2", Affine(1, 1))
    assert list(m._modules) == ["sub", "sub2"]


def test_missing_forward_and_unknown_attribute():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(bw.ones(1))
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'nope'"):
        Affine(1, 1).nope


def test_control_flow_reuse_and_constants():
    class FancyMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.rand_weight = bw.rand(4, 4)  # constant, not a parameter
            self.linear = Affine(4, 4)

        def forward(self, X):
            X = self.linear(X)
            X = bw.relu(X @ self.rand_weight + 1)
            X = self.linear(X)  # the same block used twice
            while X.abs().sum() > 1:
                X = X / 2
            if X.sum() < 0.8:
                X = X * 10
            return X.sum()

    net = FancyMLP()
    out = net(bw.rand(2, 4))
    out.backward()
    assert len(list(net.parameters())) == 2
    assert net.linear.weight.grad is not None


def test_forward_hooks_and_removal():
    m = Affine(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(bw.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), (m.bias + 1).detach().numpy()[None])
    assert calls == [(1, 2)]
    h1.remove()
    h2.remove()
    out = m(bw.ones(1, 2))
    assert calls == [(1, 2)]
    np.testing.assert_allclose(out.detach().numpy(), (bw.ones(1, 2) @ m.weight.T + m.bias).detach().numpy())


def _tree():
    shared = Affine(3, 3)
    net = nn.Sequential(Affine(2, 3), shared, nn.Sequential(shared, Affine(3, 1)))
    net.register_buffer("stat", bw.zeros(1))
    return net, shared


def test_traversal():
    net, shared = _tree()
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    assert len(list(net.children())) == 3
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "0", "1", "2", "2.1"]  # the shared module once
    all_names = [n for n, _ in net.named_modules(remove_duplicate=False)]
    assert all_names == ["", "0", "1", "2", "2.0", "2.1"]
    pnames = [n for n, _ in net.named_parameters()]
    assert pnames == ["0.weight", "0.bias", "1.weight", "1.bias", "2.1.weight", "2.1.bias"]
    every = [n for n, _ in net.named_parameters(remove_duplicate=False)]
    assert "2.0.weight" in every and len(every) == 8
    assert len(list(net.parameters())) == 6
    assert list(net.named_parameters(recurse=False)) == []
    assert [n for n, _ in net.named_buffers()] == ["stat"]
    assert len(list(net.buffers())) == 1
    assert net.get_submodule("2.1") is net[2][1]
    assert net.get_parameter("2.0.weight") is shared.weight
    assert net.get_buffer("stat") is net.stat
    with pytest.raises(AttributeError, match="has no submodule 'x'"):
        net.get_submodule("2.x")
    with pytest.raises(AttributeError, match="no parameter 'nope'"):
        net.get_parameter("0.nope")


def test_nested_access_by_index_and_name():
    net = nn.Sequential(Affine(4, 8), nn.Sequential(Affine(8, 8), Affine(8, 1)))
    assert net[1][0].weight.shape == (8, 8)
    assert type(net[1][1].bias) is nn.Parameter
    assert net[1][1].bias.grad is None
    assert net.state_dict()["1.1.bias"].shape == (1,)
    net(bw.ones(2, 4)).sum().backward()
    assert net[1][1].bias.grad.shape == (1,)


def test_apply_train_eval_zero_grad_requires_grad():
    net, _ = _tree()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    # children first; a shared module is visited once per use, as in PyTorch
    assert seen[-1] == "Sequential" and seen.count("Affine") == 4
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(bw.ones(1, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_in_place_keeps_identity_and_ties():
    net, shared = _tree()
    params = list(net.parameters())
    w = shared.weight
    assert net.double() is net
    assert all(p.dtype == bw.float64 for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net[2][0].weight is w and w.dtype == bw.float64
    net.float()
    assert net.stat.dtype == bw.float32
    net.half()
    assert w.dtype == bw.float16
    assert net.to(bw.device("cpu")) is net
    assert net.cpu() is net
    with pytest.raises(TypeError, match="floating point"):
        net.to(bw.int64)


def test_to_cuda_without_gpu_fails_clearly():
    if bw.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA"):
        Affine(2, 2).cuda()


def test_deepcopy_preserves_tying_inside_the_copy():
    net, shared = _tree()
    copied = copy.deepcopy(net)
    assert copied[1] is copied[2][0]
    assert copied[1] is not shared
    assert copied[1].weight is not shared.weight
    np.testing.assert_array_equal(copied[1].weight.detach().numpy(), shared.weight.detach().numpy())
    copied[1].weight.data[0, 0] = 99.0
    assert shared.weight[0, 0].item() != 99.0
    assert copied[2][0].weight[0, 0].item() == 99.0


def test_repr_matches_pytorch_layout():
    class TBlock(torch.nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def extra_repr(self):
            return f"n={self.n}"

    class BBlock(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def extra_repr(self):
            return f"n={self.n}"

    class TTwo(torch.nn.Module):
        def extra_repr(self):
            return "first line\nsecond line"

    class BTwo(nn.Module):
        def extra_repr(self):
            return "first line\nsecond line"

    t = torch.nn.Sequential(TBlock(1), torch.nn.Sequential(TBlock(2), TTwo()), torch.nn.ModuleList(
        [TBlock(3), TBlock(3), TBlock(3), TBlock(4)]), torch.nn.ModuleDict({"a": TBlock(5)}))
    b = nn.Sequential(BBlock(1), nn.Sequential(BBlock(2), BTwo()), nn.ModuleList(
        [BBlock(3), BBlock(3), BBlock(3), BBlock(4)]), nn.ModuleDict({"a": BBlock(5)}))
    expected = repr(t).replace("TBlock", "BBlock").replace("TTwo", "BTwo")
    assert repr(b) == expected


def test_device_mismatch_inside_a_model_names_path_and_parameter():
    # Without a GPU, fake one parameter's device: the check itself is what is tested.
    class Dense(Affine):
        def forward(self, x):
            return nn.functional.linear(x, self.weight, self.bias)

    net = nn.Sequential(Dense(2, 3), nn.Sequential(Dense(3, 2)))
    w = net[1][0].weight
    w._device = bw.device("cuda:0")
    with pytest.raises(RuntimeError) as info:
        net(bw.ones(1, 2))
    msg = str(info.value)
    assert msg.startswith("in 1.0 (Dense): input is on cpu but 1.0.weight is on cuda:0"), msg
    assert isinstance(info.value, bw.autograd.DeviceMismatchError)
