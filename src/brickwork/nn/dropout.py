"""Dropout layers: active in training mode, the identity in evaluation mode."""

from __future__ import annotations

from typing import Any

from brickwork.nn import functional as F
from brickwork.nn.module import Module
from brickwork.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class Dropout(Module):
    """Zero elements with probability ``p`` while training (scaling the rest by ``1/(1-p)``).

    >>> import brickwork as bw
    >>> drop = Dropout(0.5)
    >>> drop
    Dropout(p=0.5, inplace=False)
    >>> x = bw.ones(3)
    >>> drop.eval()(x) is x
    True
    """

    _fn: Any = staticmethod(F.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"p": self.p, "inplace": self.inplace}


class Dropout1d(Dropout):
    """Zero whole channels of ``(N, C, L)`` inputs with probability ``p``."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(Dropout):
    """Zero whole channels of ``(N, C, H, W)`` inputs with probability ``p``."""

    _fn = staticmethod(F.dropout2d)


class Dropout3d(Dropout):
    """Zero whole channels of ``(N, C, D, H, W)`` inputs with probability ``p``."""

    _fn = staticmethod(F.dropout3d)
