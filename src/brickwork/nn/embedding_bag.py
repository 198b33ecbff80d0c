"""EmbeddingBag: sums, means or maxima of bags of rows of a learnt table."""

from __future__ import annotations

from typing import Any

from brickwork.autograd import no_grad
from brickwork.nn import init
from brickwork.nn.linear import new_parameter
from brickwork.nn.module import Module
from brickwork.nn.parameter import Parameter
from brickwork.ops.embedding_bag import embedding_bag
from brickwork.tensor import Tensor

__all__ = ["EmbeddingBag"]


class EmbeddingBag(Module):
    """A ``(num_embeddings, embedding_dim)`` table whose rows are reduced per bag
    (``mode`` 'sum', 'mean' or 'max'); bags are rows of a 2-D input or given by ``offsets``.

    >>> import brickwork as bw
    >>> bag = EmbeddingBag(10, 3, mode="sum")
    >>> bag
    EmbeddingBag(10, 3, mode='sum')
    >>> bag(bw.tensor([1, 2, 4, 5, 4]), bw.tensor([0, 2])).shape
    brickwork.Size([2, 3])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {self.num_embeddings}")
            padding_idx %= self.num_embeddings
        if sparse:
            raise NotImplementedError("EmbeddingBag: sparse gradients are not supported by "
                                      "brickwork")
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, \
            scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = new_parameter((self.num_embeddings, self.embedding_dim), False, device,
                                        dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight has shape {tuple(_weight.shape)}, "
                                 f"expected ({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(_weight.detach())

    def reset_parameters(self) -> None:
        """Weight from N(0, 1), the ``padding_idx`` row set to zeros, as PyTorch."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        """Reduce the embeddings of each bag: one bag per row of a 2-d ``input``, or 1-d ``input``
        with ``offsets`` (where each bag starts). ``per_sample_weights`` (mode 'sum' only) scales each
        index's row; entries equal to ``padding_idx`` are left out.
        """
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse, per_sample_weights,
                             self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag holding ``embeddings`` (2-D); frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        bag = cls(rows, dim, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "max_norm": self.max_norm, "norm_type": self.norm_type,
                "scale_grad_by_freq": self.scale_grad_by_freq, "mode": self.mode,
                "include_last_offset": self.include_last_offset, "padding_idx": self.padding_idx}
