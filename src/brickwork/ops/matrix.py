"""Grids, diagonals and matrix products: meshgrid, diag, diagonal, trace, block_diag,
tril_indices/triu_indices, kron, tensordot, cross, cdist, addmm, baddbmm, rot90.

Composites of tested ops, except ``Diagonal`` (one primitive; ``diag`` and ``trace`` build on it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import dtypes
from brickwork.autograd import Function, _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import linalg as la
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops._util import norm_dim, promote
from brickwork.tensor import Tensor

__all__ = ["meshgrid", "diag", "diagonal", "trace", "block_diag", "tril_indices",
           "triu_indices", "kron", "tensordot", "cross", "cdist", "addmm", "baddbmm", "rot90"]


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: ``indexing='ij'`` (matrix, the default) or ``'xy'``
    (Cartesian: the first two dims swapped).

    >>> import brickwork as bw
    >>> xs, ys = bw.meshgrid(bw.arange(3), bw.arange(2), indexing="xy")
    >>> xs.shape
    brickwork.Size([2, 3])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(f"meshgrid: expects 0-D or 1-D tensors, got shape {tuple(t._data.shape)}")
    flat = [sh.reshape(t, -1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t._data.shape[0] for t in flat)
    n = len(flat)
    grids = [sh.expand(sh.reshape(t, *[-1 if i == k else 1 for i in range(n)]), *shape)
             for k, t in enumerate(flat)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


class Diagonal(Function):
    """The ``offset``-th diagonal of the planes ``(axis1, axis2)``, as the last dim (a copy)."""

    def forward(self, x: Any, offset: int, axis1: int, axis2: int) -> Any:
        self.shape, self.offset, self.axes = x.shape, offset, (axis1, axis2)
        return self.xp.diagonal(x, offset, axis1, axis2).copy()

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        out = xp.zeros(self.shape, dtype=g.dtype)
        planes = xp.moveaxis(out, self.axes, (-2, -1))
        n = g.shape[-1]
        rows = xp.arange(n) + max(-self.offset, 0)
        cols = xp.arange(n) + max(self.offset, 0)
        planes[..., rows, cols] = g
        return (xp.moveaxis(planes, (-2, -1), self.axes),)  # (for arrays: a view of out, same strides)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset``-th diagonal of each ``(dim1, dim2)`` plane, appended as the last dim."""
    nd = input._data.ndim
    a1, a2 = norm_dim(dim1, nd, "diagonal"), norm_dim(dim2, nd, "diagonal")
    if a1 == a2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({dim1}, {dim2})")
    return Diagonal.apply(input, offset=offset, axis1=a1, axis2=a2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input becomes the ``diagonal``-th diagonal of a square matrix; of a 2-D input, its
    ``diagonal``-th diagonal is returned.

    >>> import brickwork as bw
    >>> bw.diag(bw.tensor([1, 2]))
    tensor([[1, 0],
            [0, 2]])
    """
    nd = input._data.ndim
    if nd == 1:
        n = input._data.shape[0]
        size = n + abs(diagonal)
        flat_positions = (np.arange(n) + max(-diagonal, 0)) * size + np.arange(n) + max(diagonal, 0)
        zeros = _wrap(input._device.xp.zeros(size * size, dtype=input._data.dtype), input._device)
        index = _wrap(input._device.xp.asarray(flat_positions.astype(np.int64)), input._device)
        return sh.reshape(sh.scatter(zeros, 0, index, input), size, size)
    if nd == 2:
        return Diagonal.apply(input, offset=diagonal, axis1=0, axis2=1)
    raise RuntimeError(f"diag: expects a 1-D or 2-D tensor, got shape {tuple(input._data.shape)}")


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor (integer traces are int64, as in PyTorch)."""
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expects a 2-D tensor, got shape {tuple(input._data.shape)}")
    d = Diagonal.apply(input, offset=0, axis1=0, axis2=1)
    return rd.sum(d)


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix from the given blocks (0-D and 1-D blocks count as one row)."""
    if not tensors:
        raise RuntimeError("block_diag: expects at least one tensor")
    blocks = []
    for t in tensors:
        if t._data.ndim > 2:
            raise RuntimeError(f"block_diag: blocks must have at most 2 dims, got {tuple(t._data.shape)}")
        blocks.append(sh.reshape(t, 1, -1) if t._data.ndim < 2 else t)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = dtypes.promote_types(dtype, b.dtype)
    width = sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        cols = b._data.shape[1]
        rows.append(sh.pad(b.to(dtype), (left, width - left - cols)))
        left += cols
    return sh.cat(rows, 0)


def _tri_indices(row: int, col: int, offset: int, upper: bool, dtype: Any, device: Any) -> Tensor:
    from brickwork.creation import tensor

    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    return tensor(np.stack([rows, cols]).astype(np.int64), dtype=dtype or dtypes.int64, device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 **kwargs: Any) -> Tensor:
    """The ``(2, N)`` row and column indices of the lower triangle of a ``row x col`` matrix."""
    return _tri_indices(row, col, offset, False, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 **kwargs: Any) -> Tensor:
    """The ``(2, N)`` row and column indices of the upper triangle of a ``row x col`` matrix."""
    return _tri_indices(row, col, offset, True, dtype, device)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: every entry of ``input`` scales a copy of ``other``."""
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + tuple(input._data.shape)
    sb = (1,) * (nd - other._data.ndim) + tuple(other._data.shape)
    a = sh.reshape(input, *[s for d in sa for s in (d, 1)])
    b = sh.reshape(other, *[s for d in sb for s in (1, d)])
    return sh.reshape(ew.mul(a, b), *[x * y for x, y in zip(sa, sb)])


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Contract the last ``dims`` dims of ``a`` with the first of ``b``, or the listed pairs
    ``dims=([a dims], [b dims])``."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot: dims must be non-negative, got {dims}")
        da = list(range(a._data.ndim - dims, a._data.ndim))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [norm_dim(d, a._data.ndim, "tensordot") for d in da]
    db = [norm_dim(d, b._data.ndim, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a._data.shape[i] != b._data.shape[j]:
            raise RuntimeError(f"tensordot: contracted dims differ in size: dim {i} of {tuple(a.shape)} "
                               f"and dim {j} of {tuple(b.shape)}")
    free_a = [d for d in range(a._data.ndim) if d not in da]
    free_b = [d for d in range(b._data.ndim) if d not in db]
    k = int(np.prod([a._data.shape[d] for d in da]))
    left = sh.reshape(sh.permute(a, *(free_a + da)), -1, k) if a._data.ndim else sh.reshape(a, 1, 1)
    right = sh.reshape(sh.permute(b, *(db + free_b)), k, -1) if b._data.ndim else sh.reshape(b, 1, 1)
    out = la.matmul(left, right)
    return sh.reshape(out, *([a._data.shape[d] for d in free_a] + [b._data.shape[d] for d in free_b]))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (default: the first dim of size 3, as
    ``torch.cross``; ``linalg.cross`` defaults to the last)."""
    a, b = sh.broadcast_tensors(*promote(input, other, "cross"))
    if dim is None:
        sizes = a._data.shape
        if 3 not in sizes:
            raise RuntimeError(f"cross: no dimension of size 3 in shape {tuple(sizes)}")
        dim = list(sizes).index(3)
    axis = norm_dim(dim, a._data.ndim, "cross")
    if a._data.shape[axis] != 3:
        raise RuntimeError(f"cross: dimension {dim} must have size 3, got {a._data.shape[axis]}")
    ax = [sh.narrow(a, axis, i, 1) for i in range(3)]
    bx = [sh.narrow(b, axis, i, 1) for i in range(3)]
    parts = [ew.sub(ew.mul(ax[(i + 1) % 3], bx[(i + 2) % 3]), ew.mul(ax[(i + 2) % 3], bx[(i + 1) % 3]))
             for i in range(3)]
    return sh.cat(parts, axis)


def _safe_root(s: Tensor, p: float) -> Tensor:
    """``s ** (1 / p)`` whose gradient is 0 (not inf or NaN) where ``s`` is 0, as PyTorch's norms."""
    zero = ew.eq(s, 0)
    root = ew.pow(ew.where(zero, 1.0, s), 1.0 / p)
    return ew.where(zero, 0.0, root)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """Pairwise p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    if x1._data.ndim < 2 or x2._data.ndim < 2 or x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"cdist: expects (..., P, M) and (..., R, M), got {tuple(x1.shape)} and "
                           f"{tuple(x2.shape)}")
    if p < 0:
        raise RuntimeError(f"cdist: p must be non-negative, got {p}")
    diff = ew.abs(ew.sub(sh.unsqueeze(x1, -2), sh.unsqueeze(x2, -3)))
    if p == 0:
        return rd.sum(ew.ne(diff, 0).to(x1.dtype), -1)
    if p == float("inf"):
        return rd.amax(diff, -1)
    if p == 1:
        return rd.sum(diff, -1)
    return _safe_root(rd.sum(ew.pow(diff, p), -1), p)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (``input`` is ignored when ``beta`` is 0)."""
    if mat1._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be 2-D, got {tuple(mat1.shape)} and "
                           f"{tuple(mat2.shape)}")
    return _scaled_sum(input, la.mm(mat1, mat2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` for batches of matrices."""
    return _scaled_sum(input, la.bmm(batch1, batch2), beta, alpha)


def _scaled_sum(input: Tensor, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    scaled = product if alpha == 1 else ew.mul(product, alpha)
    if beta == 0:  # as PyTorch: input is not read (its NaNs do not propagate)
        return scaled
    return ew.add(scaled, input if beta == 1 else ew.mul(input, beta))


def rot90(input: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane ``dims``, from the first dim towards the second."""
    if len(dims) != 2:
        raise RuntimeError(f"rot90: dims must name 2 dimensions, got {dims!r}")
    nd = input._data.ndim
    d0, d1 = (norm_dim(d, nd, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: the two dims must differ, got {dims!r}")
    k %= 4
    if k == 1:
        return sh.transpose(sh.flip(input, (d1,)), d0, d1)
    if k == 2:
        return sh.flip(input, (d0, d1))
    if k == 3:
        return sh.transpose(sh.flip(input, (d0,)), d0, d1)
    return sh.clone(input)
