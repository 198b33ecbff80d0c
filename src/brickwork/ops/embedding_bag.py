"""``embedding_bag``: sums, means or maxima of bags of embedding rows, without building the
per-index embeddings of each bag as separate tensors.

Bags are given as a 2-D input (one bag per row) or a 1-D input with
``offsets`` (where each bag starts). Sum and mean scatter-add the rows into
their bag (no host read of the offsets); max gathers each bag's rows into a
padded ``(bags, longest, dim)`` block, which needs the bag lengths on the host
(one read of ``offsets`` when the input is 1-D). Entries equal to
``padding_idx`` are left out (not counted in a mean); an empty bag is zeros.
A composite of embedding, scatter_add, index_select and max.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import creation
from brickwork.autograd import _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops.embedding import embedding
from brickwork.tensor import Tensor

__all__ = ["embedding_bag"]


def _bags(op: str, input: Tensor, offsets: Tensor | None,
          include_last_offset: bool) -> tuple[Any, Any, int]:
    """Flat indices, the bag of each flat entry (``xp`` arrays) and the number of bags."""
    xp = input._device.xp
    data = input._data
    if data.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None when the input is 2-D (one bag per row), "
                             f"got input of shape {tuple(input.shape)}")
        bags, length = data.shape
        return data.reshape(-1), xp.repeat(xp.arange(bags), length), bags
    if data.ndim != 1:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D, got shape "
                         f"{tuple(input.shape)}")
    if offsets is None:
        raise ValueError(f"{op}: offsets are needed when the input is 1-D")
    starts = offsets._data.reshape(-1)
    if starts.dtype.kind not in "iu":
        raise TypeError(f"{op}: offsets must be integers, got {offsets.dtype}")
    if include_last_offset:
        starts = starts[:-1]
    bags = int(starts.shape[0])
    bag = xp.searchsorted(starts, xp.arange(data.shape[0]), side="right") - 1
    return data, bag, bags


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Reduce (``sum``, ``mean`` or ``max``) the embedding rows of each bag to one vector.

    >>> import brickwork as bw
    >>> w = bw.arange(6.0).reshape(3, 2)
    >>> embedding_bag(bw.tensor([0, 2, 1]), w, bw.tensor([0, 2]), mode="sum")
    tensor([[4., 6.],
            [2., 3.]])
    """
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' "
                                  f"(as in PyTorch), got mode={mode!r}")
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(input.shape):
        raise ValueError(f"{op}: per_sample_weights of shape {tuple(per_sample_weights.shape)} "
                         f"must have the input's shape {tuple(input.shape)}")
    flat, bag, bags = _bags(op, input, offsets, include_last_offset)
    xp = input._device.xp
    rows = weight._data.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings {rows}")
        padding_idx %= rows
    flat_t = _wrap(flat, input._device)
    vectors = embedding(flat_t, weight, None, max_norm, norm_type, scale_grad_by_freq)   # (n, D)
    keep = flat != padding_idx if padding_idx is not None else xp.ones(flat.shape, dtype=bool)
    dim = weight._data.shape[1]
    if mode == "max":
        return _bag_max(input, vectors, keep, bag, bags, offsets, include_last_offset)
    if per_sample_weights is not None:
        vectors = vectors * per_sample_weights.reshape(-1, 1)
    vectors = ew.where(_wrap(keep[:, None], input._device), vectors, vectors * 0)
    target = creation.zeros(bags, dim, dtype=vectors.dtype, device=vectors.device)
    index = _wrap(xp.broadcast_to(bag[:, None], (bag.shape[0], dim)).copy(), input._device)
    total = sh.scatter_add(target, 0, index, vectors)
    if mode == "sum":
        return total
    counts = xp.zeros(bags, dtype=vectors._data.dtype)
    xp.add.at(counts, bag, keep.astype(counts.dtype))
    return total / _wrap(xp.maximum(counts, 1)[:, None], input._device)


def _bag_max(input: Tensor, vectors: Tensor, keep: Any, bag: Any, bags: int,
             offsets: Tensor | None, include_last_offset: bool) -> Tensor:
    """Each bag's rows in a padded block (pad rows are -inf), then the max over the bag."""
    xp = input._device.xp
    n, dim = vectors._data.shape
    if input._data.ndim == 2:
        longest = input._data.shape[1]
        slots = xp.arange(n).reshape(bags, longest)
    else:
        starts = offsets.cpu().numpy().reshape(-1)  # the bag lengths: a host read on a GPU
        if include_last_offset:
            starts = starts[:-1]
        ends = np.append(starts[1:], n)
        lengths = ends - starts
        longest = int(lengths.max(initial=0))
        slot = np.full((bags, max(longest, 1)), n, dtype=np.int64)
        for b in range(bags):
            slot[b, :lengths[b]] = np.arange(starts[b], ends[b])
        slots = xp.asarray(slot)
    filler = creation.full((1, dim), -np.inf, dtype=vectors.dtype, device=vectors.device)
    pool = ew.where(_wrap(keep[:, None], input._device), vectors, filler.expand(n, dim))
    block = sh.index_select(sh.cat([pool, filler], 0), 0, _wrap(slots.reshape(-1), input._device))
    best = rd.max(block.reshape(bags, -1, dim), dim=1)[0] if bags else block.reshape(0, dim)
    kept = xp.zeros(bags, dtype=vectors._data.dtype)  # (CuPy's add.at takes no int64)
    xp.add.at(kept, bag, keep.astype(kept.dtype))
    empty = creation.zeros(bags, dim, dtype=vectors.dtype, device=vectors.device)
    return ew.where(_wrap((kept > 0)[:, None], input._device), best, empty)
