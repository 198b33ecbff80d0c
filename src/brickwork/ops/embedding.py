"""Embedding lookup (a gather of rows) and one-hot encoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _backend
from brickwork._sync import sync_point
from brickwork.autograd import Function, _wrap, no_grad
from brickwork.ops._util import as_size
from brickwork.tensor import Tensor

__all__ = ["embedding", "one_hot"]


class Embedding(Function):
    """``weight[indices]``; the gradient is scatter-added into the rows that were read.

    The row ``padding_idx`` gets no gradient; with ``scale_grad_by_freq`` each
    row's gradient is divided by how often it occurs in the batch.
    """

    op_name = "embedding"

    def forward(self, weight: Any, indices: Any, padding_idx: int | None,
                scale_grad_by_freq: bool) -> Any:
        self.indices, self.num_rows = indices, weight.shape[0]
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        dim = g.shape[-1]
        flat = self.indices.reshape(-1)
        rows = g.reshape(-1, dim)
        if self.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=self.num_rows)
            rows = rows / counts[flat][:, None].astype(g.dtype)
        gw = xp.zeros((self.num_rows, dim), dtype=g.dtype)
        xp.add.at(gw, flat, rows)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return (gw,)


def _index_array(input: Any, op: str) -> Any:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: indices must be an integer tensor, got {type(input).__name__}")
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}: expected indices of an integer dtype (Long or Int), got {input.dtype}"
        )
    return input._data


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (``(num_embeddings, dim)``) selected by the integer ``input``.

    ``padding_idx`` (may be negative) marks a row that receives no gradient.
    With ``max_norm``, the rows that are read are first renormalised in place
    (without recording history) to norm at most ``max_norm``, as PyTorch does.

    >>> import brickwork as bw
    >>> w = bw.arange(6.0).reshape(3, 2)
    >>> embedding(bw.tensor([2, 0]), w)
    tensor([[4., 5.],
            [0., 1.]])
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported by brickwork")
    if input._device is not weight._device:
        from brickwork.autograd import DeviceMismatchError

        raise DeviceMismatchError("embedding", [input._device, weight._device])
    indices = _index_array(input, "embedding")
    if weight._data.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D, got shape {tuple(weight.shape)}")
    n = weight._data.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings {n}")
        padding_idx = padding_idx % n
    if input._device.type == "cpu" and indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"embedding: index {bad} is out of range for a weight with {n} rows "
                f"(input of shape {tuple(input.shape)})"
            )
    elif indices.size:  # on a GPU: checked there, reported at the next host sync (no sync here)
        with input._device.activate():
            _backend.check_on_device(
                (indices.min() < 0) | (indices.max() >= n),
                f"embedding: an index is out of range for a weight with {n} rows "
                f"(input of shape {tuple(input.shape)})")
    if max_norm is not None:
        _renorm_rows(weight, indices, float(max_norm), float(norm_type))
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx,
                           scale_grad_by_freq=bool(scale_grad_by_freq))


def _renorm_rows(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    xp = weight._device.xp
    with no_grad():
        rows = xp.unique(indices.reshape(-1))
        w = weight._data
        norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] *= scale[:, None]
        weight._version[0] += 1


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(*, num_classes)`` int64 tensor with a 1 at each index (``num_classes=-1``: max + 1).

    >>> import brickwork as bw
    >>> one_hot(bw.tensor([0, 2]))
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    indices = _index_array(tensor, "one_hot")
    num_classes = as_size(num_classes, "one_hot", "num_classes")
    xp = tensor._device.xp
    with tensor._device.activate():
        if num_classes == -1:  # the result's size depends on the data: a host sync, as in PyTorch
            sync_point("one_hot(num_classes=-1) (the result's size depends on the data)")
            num_classes = int(indices.max()) + 1 if indices.size else 0
        if indices.size:  # (on a GPU checked there, reported at the next host sync)
            _backend.check_on_device((indices.min() < 0) | (indices.max() >= num_classes),
                                     f"one_hot: class values must be in [0, {num_classes})", RuntimeError)
        out = (indices[..., None] == xp.arange(num_classes)).astype(np.int64)
    return _wrap(out, tensor._device)
