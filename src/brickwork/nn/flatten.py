"""Flatten and Unflatten: reshapes as layers."""

from __future__ import annotations

import math
from typing import Any

from brickwork.nn.module import Module
from brickwork.ops.shape import Reshape
from brickwork.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one (default: all but the batch dim).

    >>> import brickwork as bw
    >>> Flatten()(bw.ones(2, 3, 4)).shape
    brickwork.Size([2, 12])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        shape = input._data.shape
        if self.start_dim == 1 and self.end_dim == -1 and len(shape) > 2:
            # the usual case, without flatten's argument parsing (measurable at batch 1)
            return Reshape.apply(input, shape=(shape[0], math.prod(shape[1:])))
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


class Unflatten(Module):
    """Expand dim ``dim`` into ``unflattened_size`` (which may contain one -1).

    >>> import brickwork as bw
    >>> Unflatten(1, (3, 4))(bw.ones(2, 12)).shape
    brickwork.Size([2, 3, 4])
    """

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        if isinstance(dim, str):
            raise NotImplementedError("Unflatten: named dimensions are not supported by brickwork")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size) if isinstance(unflattened_size, list) \
            else unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"dim": self.dim, "unflattened_size": self.unflattened_size}
