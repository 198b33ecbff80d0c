"""Counting, searching and set ops: unique, bincount, histc, searchsorted, bucketize, isin.

None of them has a gradient (as in PyTorch); indices and counts are int64 (int32 on request).
Results whose size depends on the data (unique, bincount) read it on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork._sync import sync_point
from brickwork.autograd import _wrap
from brickwork.ops._util import norm_dim
from brickwork.tensor import Tensor

__all__ = ["unique", "unique_consecutive", "bincount", "histc", "searchsorted", "bucketize", "isin"]


def _as_tensor(x: Any, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return _wrap(like._device.xp.asarray(x), like._device)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct values (or slices along ``dim``), in ascending order; optionally the index of
    each element's value in them (``inverse``, input's shape) and how often each occurs.

    (brickwork always sorts; PyTorch's ``sorted=False`` leaves the order unspecified.)

    >>> import brickwork as bw
    >>> bw.unique(bw.tensor([3, 1, 3, 2]), return_counts=True)
    (tensor([1, 2, 3]), tensor([1, 1, 2]))
    """
    xp = input._device.xp
    data = input._data
    sync_point("unique (the result's size depends on the data)")
    if dim is None:
        values, inverse, counts = xp.unique(data.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(data.shape)
    else:
        axis = norm_dim(dim, data.ndim, "unique")
        values, inverse, counts = xp.unique(data, return_inverse=True, return_counts=True, axis=axis)
        inverse = inverse.reshape(-1)
    out = [_wrap(values, input._device)]
    if return_inverse:
        out.append(_wrap(inverse.astype(np.int64), input._device))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64), input._device))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Collapse runs of equal consecutive values (or slices along ``dim``)."""
    xp = input._device.xp
    data = input._data
    sync_point("unique_consecutive (the result's size depends on the data)")
    if dim is None:
        data = data.reshape(-1)
        axis = 0
    else:
        axis = norm_dim(dim, data.ndim, "unique_consecutive")
    moved = xp.moveaxis(data, axis, 0).reshape(data.shape[axis] if data.ndim else 1, -1)
    n = moved.shape[0]
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (moved[1:] != moved[:-1]).any(axis=1)
    first = xp.nonzero(starts)[0]
    values = xp.take(data, first, axis=axis)
    out = [_wrap(values, input._device)]
    if return_inverse:
        inverse = xp.cumsum(starts) - 1
        out.append(_wrap(inverse.reshape(input._data.shape if dim is None else -1).astype(np.int64),
                         input._device))
    if return_counts:
        counts = xp.diff(xp.concatenate([first, xp.asarray([n])]))
        out.append(_wrap(counts.astype(np.int64), input._device))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs in the 1-D ``input`` (or the sum of its weights).

    >>> import brickwork as bw
    >>> bw.bincount(bw.tensor([0, 2, 2]))
    tensor([1, 0, 2])
    """
    data = input._data
    if data.ndim != 1 or data.dtype.kind not in "iub":
        raise RuntimeError(f"bincount: expects a 1-D tensor of non-negative integers, got {input.dtype} "
                           f"of shape {tuple(data.shape)}")
    xp = input._device.xp
    sync_point("bincount (the result's size depends on the data)")
    if data.size and int(data.min()) < 0:
        raise RuntimeError("bincount: input values must be non-negative")
    if weights is None:
        return _wrap(xp.bincount(data, minlength=minlength).astype(np.int64), input._device)
    w = weights._data
    if w.shape != data.shape:
        raise RuntimeError(f"bincount: weights of shape {tuple(w.shape)} must match the input's "
                           f"shape {tuple(data.shape)}")
    # PyTorch: float weights keep their dtype, other weights count in float64
    dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return _wrap(xp.bincount(data, weights=w, minlength=minlength).astype(dtype), input._device)


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``bins`` equal bins over ``[min, max]`` (the data's range when both are 0);
    values outside are ignored. The counts have the input's (floating) dtype."""
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError(f"histc: expects a floating point tensor, got {input.dtype}")
    xp = input._device.xp
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        sync_point("histc with min == max (the data's range is read)")
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc: max ({max}) must be larger than min ({min})")
    flat = data.reshape(-1)
    inside = flat[(flat >= lo) & (flat <= hi)]
    index = ((inside - lo) * (bins / (hi - lo))).astype(np.int64)
    index = xp.minimum(index, bins - 1)  # the right edge belongs to the last bin
    return _wrap(xp.bincount(index, minlength=bins).astype(data.dtype), input._device)


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each value of ``input`` would be inserted in ``sorted_sequence`` (along its last dim,
    each row of ``input`` in the matching row of the sequence) to keep it sorted."""
    values = _as_tensor(input, sorted_sequence)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side='left' contradicts right=True")
        right = side == "right"
    seq = sorted_sequence._data
    if sorter is not None:
        seq = sorted_sequence._device.xp.take_along_axis(seq, sorter._data, axis=-1)
    xp = sorted_sequence._device.xp
    how = "right" if right else "left"
    dtype = np.int32 if out_int32 else np.int64
    if seq.ndim == 1:
        out = xp.searchsorted(seq, values._data, side=how)
    else:
        if seq.shape[:-1] != values._data.shape[:-1]:
            raise RuntimeError(f"searchsorted: the leading dims of the sequence {tuple(seq.shape)} and "
                               f"of the input {tuple(values._data.shape)} must match")
        rows = seq.reshape(-1, seq.shape[-1])
        vals = values._data.reshape(rows.shape[0], -1)
        out = xp.stack([xp.searchsorted(r, v, side=how) for r, v in zip(rows, vals)]) if rows.shape[0] \
            else xp.zeros(vals.shape, dtype=dtype)
        out = out.reshape(values._data.shape)
    return _wrap(xp.asarray(out).astype(dtype), sorted_sequence._device)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value: ``i`` with ``boundaries[i-1] < x <= boundaries[i]`` (``right=True``:
    ``boundaries[i-1] <= x < boundaries[i]``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {tuple(boundaries._data.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` occurs in ``test_elements`` (a bool tensor)."""
    like = elements if isinstance(elements, Tensor) else test_elements
    a = _as_tensor(elements, like)._data
    b = _as_tensor(test_elements, like)._data
    xp = like._device.xp
    return _wrap(xp.isin(a, b.reshape(-1), invert=invert), like._device)
