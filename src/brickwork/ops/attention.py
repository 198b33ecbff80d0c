"""Attention's softmax: ``softmax(scores + mask)`` fused into one node.

A row whose every score is masked (-inf) gives all-zero weights (and zero
gradients) instead of NaN, as PyTorch's scaled_dot_product_attention does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork.autograd import Function
from brickwork.ops._util import sum_to
from brickwork.tensor import Tensor

__all__ = ["masked_softmax"]


class MaskedSoftmax(Function):
    """Softmax over the last axis of ``scores + mask`` (mask broadcastable, optional)."""

    op_name = "softmax"
    saves_output = True

    def forward(self, scores: Any, mask: Any = None) -> Any:
        xp = self.xp
        self.mask_shape = None if mask is None else mask.shape
        s = scores + mask if mask is not None else scores.copy()
        top = s.max(axis=-1, keepdims=True)
        if mask is not None:
            top[top == -np.inf] = 0  # fully masked rows: exp(-inf) = 0 everywhere
        s -= top
        e = xp.exp(s, out=s)
        total = e.sum(axis=-1, keepdims=True)
        if mask is not None:
            total[total == 0] = 1
        e /= total
        self.out = e
        return e

    def backward(self, g: Any) -> tuple[Any, ...]:
        y = self.out
        gy = g * y
        gs = gy - y * gy.sum(axis=-1, keepdims=True)
        if self.mask_shape is None:
            return (gs,)
        return (gs, sum_to(gs, self.mask_shape) if self.needs_input_grad[1] else None)


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """``softmax(scores + mask, dim=-1)`` with fully masked rows giving zeros.

    >>> import brickwork as bw
    >>> masked_softmax(bw.zeros(1, 2), bw.tensor([[0.0, float("-inf")]]))
    tensor([[1., 0.]])
    """
    if scores._data.ndim == 0:
        raise RuntimeError("masked_softmax: scores must have at least one dimension")
    if mask is None:
        return MaskedSoftmax.apply(scores)
    return MaskedSoftmax.apply(scores, mask)
