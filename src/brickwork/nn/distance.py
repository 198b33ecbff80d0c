"""Distance layers: CosineSimilarity and PairwiseDistance (wrappers over the F.* functions)."""

from __future__ import annotations

from brickwork.nn import functional as F
from brickwork.nn.module import Module
from brickwork.ops import loss_extra
from brickwork.tensor import Tensor

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim`` (norms clamped at ``eps``).

    >>> import brickwork as bw
    >>> CosineSimilarity(dim=0)(bw.tensor([1.0, 0.0]), bw.tensor([2.0, 0.0]))
    tensor(1.)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"dim": self.dim, "eps": self.eps}


class PairwiseDistance(Module):
    """``‖x1 - x2 + eps‖_p`` over the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return loss_extra.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"p": self.norm, "eps": self.eps, "keepdim": self.keepdim}
