"""The d2l "Builders' Guide" chapter (layers, parameters, init, lazy init, custom layers,
file I/O, GPUs), written for PyTorch, runs by swapping the import.

The code below is PyTorch tutorial code; only the first lines differ from the book.
"""

from __future__ import annotations

import textwrap

import pytest

HEADER = """
import brickwork as torch
from brickwork import nn
from brickwork.nn import functional as F
"""

LAYERS_AND_MODULES = """
net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
X = torch.rand(2, 20)
assert net(X).shape == (2, 10)

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.out = nn.LazyLinear(10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))

net = MLP()
assert net(X).shape == (2, 10)

class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)

    def forward(self, X):
        for module in self.children():
            X = module(X)
        return X

net = MySequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
assert net(X).shape == (2, 10)

class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = torch.rand((20, 20))
        self.linear = nn.LazyLinear(20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()

net = FixedHiddenMLP()
assert net(X).shape == ()

class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.LazyLinear(64), nn.ReLU(),
                                 nn.LazyLinear(32), nn.ReLU())
        self.linear = nn.LazyLinear(16)

    def forward(self, X):
        return self.linear(self.net(X))

chimera = nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMLP())
chimera(X)
"""

PARAMETERS = """
net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
X = torch.rand(size=(2, 4))
assert net(X).shape == (2, 1)
sd = net[2].state_dict()
assert list(sd) == ["weight", "bias"]
assert type(net[2].bias) == nn.Parameter
net[2].bias.data
assert net[2].weight.grad == None
assert [(name, param.shape) for name, param in net.named_parameters()] == [
    ("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)), ("2.bias", (1,))]

shared = nn.LazyLinear(8)
net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                    nn.LazyLinear(1))
net(X)
assert (net[2].weight.data[0] == net[4].weight.data[0]).all()
net[2].weight.data[0, 0] = 100
assert (net[2].weight.data[0] == net[4].weight.data[0]).all()
assert net[4].weight.data[0, 0] == 100
"""

INITIALISATION = """
net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
X = torch.rand(size=(2, 4))
net(X).shape

def init_normal(module):
    if type(module) == nn.Linear:
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)

net.apply(init_normal)
assert net[0].bias.data[0] == 0 and abs(net[0].weight.data[0]).max() < 0.1

def init_constant(module):
    if type(module) == nn.Linear:
        nn.init.constant_(module.weight, 1)
        nn.init.zeros_(module.bias)

net.apply(init_constant)
assert (net[0].weight.data == 1).all()

def init_xavier(module):
    if type(module) == nn.Linear:
        nn.init.xavier_uniform_(module.weight)

def init_42(module):
    if type(module) == nn.Linear:
        nn.init.constant_(module.weight, 42)

net[0].apply(init_xavier)
net[2].apply(init_42)
assert (net[2].weight.data == 42).all()

def my_init(module):
    if type(module) == nn.Linear:
        print("Init", *[(name, param.shape) for name, param in module.named_parameters()][0])
        nn.init.uniform_(module.weight, -10, 10)
        module.weight.data *= module.weight.data.abs() >= 5

net.apply(my_init)
w = net[0].weight[:2]
assert ((w.abs() >= 5) | (w == 0)).all()
net[0].weight.data[:] += 1
net[0].weight.data[0, 0] = 42
assert net[0].weight.data[0][0] == 42
"""

LAZY = """
net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
print(net[0].weight)
X = torch.rand(2, 20)
net(X)
assert net[0].weight.shape == (256, 20)
"""

CUSTOM_LAYERS = """
class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean()

layer = CenteredLayer()
assert layer(torch.tensor([1.0, 2, 3, 4, 5])).tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
net = nn.Sequential(nn.LazyLinear(128), CenteredLayer())
Y = net(torch.rand(4, 8))
assert abs(Y.mean().item()) < 1e-5

class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))

    def forward(self, X):
        linear = torch.matmul(X, self.weight.data) + self.bias.data
        return F.relu(linear)

linear = MyLinear(5, 3)
linear.weight
assert linear(torch.rand(2, 5)).shape == (2, 3)
net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
assert net(torch.rand(2, 64)).shape == (2, 1)
"""

FILES = """
x = torch.arange(4)
torch.save(x, 'x-file')
x2 = torch.load('x-file')
assert (x2 == x).all() and x2.dtype == torch.int64

y = torch.zeros(4)
torch.save([x, y], 'x-files')
x2, y2 = torch.load('x-files')
assert (y2 == y).all()

mydict = {'x': x, 'y': y}
torch.save(mydict, 'mydict')
mydict2 = torch.load('mydict')
assert (mydict2['x'] == x).all()

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.output = nn.LazyLinear(10)

    def forward(self, x):
        return self.output(F.relu(self.hidden(x)))

net = MLP()
X = torch.randn(size=(2, 20))
Y = net(X)
torch.save(net.state_dict(), 'mlp.params')
clone = MLP()
clone.load_state_dict(torch.load('mlp.params'))
clone.eval()
Y_clone = clone(X)
assert (Y_clone == Y).all()
"""

GPUS = """
def cpu():
    return torch.device('cpu')

def gpu(i=0):
    return torch.device(f'cuda:{i}')

cpu(), gpu(), gpu(1)

def num_gpus():
    return torch.cuda.device_count()

def try_gpu(i=0):
    if num_gpus() >= i + 1:
        return gpu(i)
    return cpu()

def try_all_gpus():
    return [gpu(i) for i in range(num_gpus())]

try_gpu(), try_gpu(10), try_all_gpus()
x = torch.tensor([1, 2, 3])
assert x.device == cpu()
X = torch.ones(2, 3, device=try_gpu())
net = nn.Sequential(nn.LazyLinear(1))
net = net.to(device=try_gpu())
net(X)
assert net[0].weight.data.device == X.device
"""

SECTIONS = {
    "layers_and_modules": LAYERS_AND_MODULES,
    "parameters": PARAMETERS,
    "initialisation": INITIALISATION,
    "lazy": LAZY,
    "custom_layers": CUSTOM_LAYERS,
    "files": FILES,
    "gpus": GPUS,
}


@pytest.mark.parametrize("name", list(SECTIONS))
def test_builders_guide_section_runs_unchanged(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = textwrap.dedent(HEADER) + textwrap.dedent(SECTIONS[name])
    exec(compile(code, f"<d2l {name}>", "exec"), {"__name__": "d2l"})
