"""Small layers written against the public protocol, for testing the nn core on its own."""

from __future__ import annotations

import math

import brickwork as bw
from brickwork import nn


class LazyDense(nn.Module):
    """A custom lazy layer following nn/README.md: pending weight, infer_shape, size property."""

    infer_calls = 0

    def __init__(self, in_features, out_features):
        super().__init__()
        self.out_features = out_features
        if in_features is None:
            self.weight = nn.Parameter.pending((out_features, None))
        else:
            self.weight = nn.Parameter(bw.empty(out_features, in_features))
            self.reset_parameters()
        self.bias = nn.Parameter(bw.zeros(out_features))

    @property
    def in_features(self):
        return None if self.weight.is_pending else self.weight.shape[1]

    def infer_shape(self, x):
        type(self).infer_calls += 1
        self.weight.materialize((self.out_features, x.shape[-1]))

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"LazyDense was built for in_features={self.in_features} but received input with "
                f"last dimension {x.shape[-1]}"
            )
        return x @ self.weight.T + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features or '?'}, out_features={self.out_features}"


class LazyNorm(nn.Module):
    """A lazy layer with a pending buffer too."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter.pending((None,))
        self.register_buffer("count", nn.Buffer.pending((None,)))

    def infer_shape(self, x):
        self.scale.materialize((x.shape[-1],))
        self.count.materialize((x.shape[-1],))

    def reset_parameters(self):
        nn.init.ones_(self.scale)

    def forward(self, x):
        with bw.no_grad():
            self.count += 1
        return x * self.scale


class ReLU(nn.Module):
    def forward(self, x):
        return bw.relu(x)
