"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

import brickwork as bw
from brickwork import nn


class Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k

    def extra_repr(self):
        return f"k={self.k}"


def test_sequential_varargs_ordereddict_and_forward():
    net = nn.Sequential(Scale(2), Scale(3))
    assert net(bw.ones(2)).tolist() == [6.0, 6.0]
    named = nn.Sequential(OrderedDict([("twice", Scale(2)), ("thrice", Scale(3))]))
    assert list(named._modules) == ["twice", "thrice"]
    assert named.twice.k == 2
    assert named(bw.ones(1)).item() == 6.0


def test_sequential_indexing_and_editing():
    net = nn.Sequential(Scale(1), Scale(2), Scale(3), Scale(4))
    assert net[0].k == 1 and net[-1].k == 4
    sub = net[1:3]
    assert type(sub) is nn.Sequential and [m.k for m in sub] == [2, 3]
    assert list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        net[4]
    assert len(net) == 4 and [m.k for m in net] == [1, 2, 3, 4]
    net.append(Scale(5))
    net.insert(0, Scale(0))
    net.extend([Scale(6)])
    assert [m.k for m in net] == [0, 1, 2, 3, 4, 5, 6]
    assert list(net._modules) == [str(i) for i in range(7)]
    net[0] = Scale(10)
    assert net[0].k == 10
    del net[0]
    assert [m.k for m in net] == [1, 2, 3, 4, 5, 6]
    assert net.pop().k == 6


def test_module_list_and_dict():
    layers = nn.ModuleList([Scale(i) for i in range(3)])
    layers.append(Scale(3))
    layers += [Scale(4)]
    assert [m.k for m in layers] == [0, 1, 2, 3, 4]
    assert [m.k for m in layers[1:3]] == [1, 2] and isinstance(layers[1:3], nn.ModuleList)
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    with pytest.raises(NotImplementedError):
        layers(bw.ones(1))
    d = nn.ModuleDict({"a": Scale(1)})
    d["b"] = Scale(2)
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2
    assert [k for k, _ in d.items()] == ["a", "b"]
    assert d.pop("a").k == 1 and list(d.keys()) == ["b"]


def test_parameter_list_and_dict():
    plist = nn.ParameterList([nn.Parameter(bw.ones(2)), bw.zeros(3)])
    assert isinstance(plist[1], nn.Parameter)
    assert [n for n, _ in plist.named_parameters()] == ["0", "1"]
    plist.append(nn.Parameter(bw.ones(1)))
    assert len(plist) == 3
    pdict = nn.ParameterDict({"w": nn.Parameter(bw.ones(2, 2))})
    pdict["b"] = nn.Parameter(bw.zeros(2))
    assert [n for n, _ in pdict.named_parameters()] == ["w", "b"]
    tl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.zeros(3))])
    bl = nn.ParameterList([nn.Parameter(bw.ones(2)), nn.Parameter(bw.zeros(3))])
    assert repr(bl) == repr(tl).replace("torch.", "brickwork.")
    td = torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.ones(2, 2))})
    bd = nn.ParameterDict({"w": nn.Parameter(bw.ones(2, 2))})
    assert repr(bd) == repr(td).replace("torch.", "brickwork.")
    td["b"] = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    bd["b"] = nn.Parameter(bw.zeros(3, dtype=bw.float64))
    assert repr(bd) == repr(td).replace("torch.", "brickwork.")
