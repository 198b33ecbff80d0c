"""Order statistics and running products: median, kthvalue, quantile, cumprod, diff.

Order statistics are gathers from a stable sort, so their gradient is the gather's (it flows to
the element picked); ``cumprod`` is one primitive with its backward beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import Function, _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops._util import norm_dim, numpy_names
from brickwork.ops.reduce import values_indices
from brickwork.tensor import Tensor

__all__ = ["median", "nanmedian", "kthvalue", "quantile", "nanquantile", "cumprod", "diff"]


def _kth_along(input: Tensor, k: int, dim: int, keepdim: bool, op: str) -> Any:
    """The ``k``-th smallest (0-based) along ``dim`` and its index; NaN counts as the largest."""
    if input._data.ndim == 0:
        return values_indices(input.clone(), _wrap(input._device.xp.zeros((), dtype=np.int64), input._device))
    axis = norm_dim(dim, input._data.ndim, op)
    order = rd.argsort(input, axis, stable=True)
    index = sh.narrow(order, axis, k, 1)
    values = sh.gather(input, axis, index)
    if not keepdim:
        values, index = sh.squeeze(values, axis), sh.squeeze(index, axis)
    return values_indices(values, index)


@numpy_names
def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (of an even count, the smaller middle value), as PyTorch; with ``dim``,
    ``(values, indices)``. NaN propagates: a row with a NaN has the median NaN.

    >>> import brickwork as bw
    >>> bw.tensor([4.0, 1.0, 3.0, 2.0]).median()
    tensor(2.)
    """
    if dim is None:
        flat = sh.reshape(input, -1)
        n = flat._data.shape[0]
        if n == 0:
            raise RuntimeError("median: cannot compute the median of an empty tensor without dim")
        return _with_nan(flat, 0, False, _kth_along(flat, (n - 1) // 2, 0, False, "median"))[0]
    n = input._data.shape[norm_dim(dim, input._data.ndim, "median")] if input._data.ndim else 1
    if n == 0:
        raise IndexError(f"median: dimension {dim} is empty")
    return _with_nan(input, dim, keepdim, _kth_along(input, (n - 1) // 2, dim, keepdim, "median"))


def _with_nan(input: Tensor, dim: int, keepdim: bool, result: Any) -> Any:
    """Where a row holds a NaN, the result is that NaN (PyTorch's median and kthvalue)."""
    if input._data.dtype.kind != "f" or input._data.ndim == 0:
        return result
    nan = ew.isnan(input)
    xp = input._device.xp
    if xp is np and not np.isnan(input._data).any():  # a shortcut on the host only: no device read
        return result
    axis = norm_dim(dim, input._data.ndim, "median")
    has_nan = rd.any(nan, axis, keepdim)
    first_nan = rd.argmax(nan.to(input.dtype), axis, keepdim)
    nan_value = sh.gather(input, axis, first_nan if keepdim else sh.unsqueeze(first_nan, axis))
    nan_value = nan_value if keepdim else sh.squeeze(nan_value, axis)
    return values_indices(ew.where(has_nan, nan_value, result[0]), ew.where(has_nan, first_nan, result[1]))


@numpy_names
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of the values that are not NaN (NaN where a row has none); with ``dim``,
    ``(values, indices)``. Each row's rank is found on the device (no host read).

    >>> import brickwork as bw
    >>> x = bw.tensor([[float("nan"), 1.0, 3.0], [2.0, float("nan"), float("nan")]])
    >>> values, indices = x.nanmedian(1)
    >>> values, indices
    (tensor([1., 2.]), tensor([1, 0]))
    """
    if dim is None:
        return nanmedian(sh.reshape(input, -1), 0)[0]
    if input._data.ndim == 0:
        return _kth_along(input, 0, 0, keepdim, "nanmedian")
    axis = norm_dim(dim, input._data.ndim, "nanmedian")
    n = input._data.shape[axis]
    if n == 0:
        raise IndexError(f"nanmedian: dimension {dim} is empty")
    if input._data.dtype.kind != "f":
        return _kth_along(input, (n - 1) // 2, axis, keepdim, "nanmedian")
    # NaN sorts last, so the median of a row's c values is its ((c - 1) // 2)-th smallest
    count = rd.sum(ew.logical_not(ew.isnan(input)), axis, True)
    rank = ew.floor_divide(ew.clamp(ew.sub(count, 1), min=0), 2)
    order = rd.argsort(input, axis, stable=True)
    index = sh.gather(order, axis, rank)
    values = sh.gather(input, axis, index)
    if not keepdim:
        values, index = sh.squeeze(values, axis), sh.squeeze(index, axis)
    return values_indices(values, index)


@numpy_names
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The ``k``-th smallest element (``k`` counts from 1) along ``dim``, as ``(values, indices)``."""
    n = input._data.shape[norm_dim(dim, input._data.ndim, "kthvalue")] if input._data.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k={k} is out of range for dimension {dim} of size {n}")
    return _with_nan(input, dim, keepdim, _kth_along(input, k - 1, dim, keepdim, "kthvalue"))


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


@numpy_names
def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-quantiles (``q`` a number or a 1-D tensor in [0, 1]) along ``dim`` (or of all
    values); ``interpolation`` between the two nearest ranks: linear, lower, higher, midpoint,
    nearest. A 1-D ``q`` adds a leading dim. Rows holding a NaN give NaN.

    >>> import brickwork as bw
    >>> bw.quantile(bw.tensor([0.0, 1.0, 2.0, 3.0]), 0.5)
    tensor(1.5000)
    """
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


@numpy_names
def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """:func:`quantile` of the values that are not NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


def _quantile(input: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"quantile: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"quantile: expects a float or double tensor, got {input.dtype}")
    xp = input._device.xp
    scalar_q = not isinstance(q, Tensor)
    if scalar_q and not all(0 <= v <= 1 for v in np.asarray(q, dtype=np.float64).reshape(-1)):
        raise RuntimeError("quantile: q values must be in the range [0, 1]")
    q_arr = xp.asarray(q if scalar_q else q._data, dtype=input._data.dtype).reshape(-1)
    if not scalar_q and q_arr.size:  # a tensor q is checked where it lives (on a GPU: at the next sync)
        with input._device.activate():
            _backend.check_on_device(((q_arr < 0) | (q_arr > 1)).any(),
                                     "quantile: q values must be in the range [0, 1]", RuntimeError)
    if isinstance(q, Tensor) and q._data.ndim > 1:
        raise RuntimeError("quantile: q must be a scalar or a 1-D tensor")
    x = input
    if dim is None:
        x, axis = sh.reshape(input, -1), 0
    else:
        axis = norm_dim(dim, input._data.ndim, "quantile")
        if x._data.ndim == 0:
            x = sh.reshape(x, 1)
    x = sh.movedim(x, axis, -1)  # (..., n)
    n = x._data.shape[-1]
    if n == 0:
        raise RuntimeError("quantile: the input is empty along the reduced dimension")
    sorted_x = rd.sort(x, -1)[0]  # NaNs last
    nan_rows = ew.isnan(x)._data
    if ignore_nan:
        count = (~nan_rows).sum(axis=-1, keepdims=True)  # (..., 1)
    else:
        count = xp.full(x._data.shape[:-1] + (1,), n)
    # ranks: (..., len(q)); positions q * (count - 1)
    rank = q_arr * (xp.maximum(count, 1) - 1).astype(q_arr.dtype)
    below = xp.floor(rank).astype(np.int64)
    above = xp.ceil(rank).astype(np.int64)
    if interpolation == "lower":
        result = sh.gather(sorted_x, -1, _wrap(below, x._device))
    elif interpolation == "higher":
        result = sh.gather(sorted_x, -1, _wrap(above, x._device))
    elif interpolation == "nearest":
        result = sh.gather(sorted_x, -1, _wrap(xp.round(rank).astype(np.int64), x._device))
    else:
        lo = sh.gather(sorted_x, -1, _wrap(below, x._device))
        hi = sh.gather(sorted_x, -1, _wrap(above, x._device))
        weight = 0.5 if interpolation == "midpoint" else _wrap((rank - below).astype(rank.dtype), x._device)
        result = ew.add(lo, ew.mul(ew.sub(hi, lo), weight))
    bad = count == 0 if ignore_nan else nan_rows.any(axis=-1, keepdims=True)
    if xp is not np or bad.any():  # (a shortcut that reads the data: on the host only)
        result = ew.where(_wrap(xp.broadcast_to(bad, result._data.shape), x._device), float("nan"), result)
    # result: (..., len(q)) -> q first, then the kept dims
    result = sh.movedim(result, -1, 0)
    if keepdim:
        if dim is None:
            result = sh.reshape(result, result._data.shape[:1] + (1,) * input._data.ndim)
        elif input._data.ndim:
            result = sh.unsqueeze(result, axis + 1)
    if scalar_q:
        result = sh.squeeze(result, 0)
    return result


class CumProd(Function):
    """Running product along ``axis``. Backward: ``sum_{i >= j} g_i * prod_{k <= i, k != j} x_k``,
    by division where no factor is zero, else computed position by position."""

    saved_inputs = (0,)
    saves_output = True

    def forward(self, x: Any, axis: int) -> Any:
        self.x, self.axis = x, axis
        self.out = self.xp.cumprod(x, axis=axis)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp, axis = self.xp, self.axis
        x = xp.moveaxis(self.x, axis, -1)
        out = xp.moveaxis(self.out, axis, -1)
        g = xp.moveaxis(g, axis, -1)

        def reverse_cumsum(a: Any) -> Any:
            return xp.flip(xp.cumsum(xp.flip(a, -1), axis=-1), -1)

        if xp is np and not (x == 0).any():  # (the test reads the data: on the host only)
            grad = reverse_cumsum(g * out) / x
        else:
            # zero-safe, no host read: grad_j = prod_{k<j} x_k * S_j, S_j = g_j + x_{j+1} S_{j+1}
            n = x.shape[-1]
            tail = xp.empty_like(g)
            if n:
                tail[..., n - 1] = g[..., n - 1]
            for j in range(n - 2, -1, -1):
                tail[..., j] = g[..., j] + x[..., j + 1] * tail[..., j + 1]
            before = xp.concatenate([xp.ones_like(x[..., :1]), xp.cumprod(x[..., :-1], axis=-1)], axis=-1)
            grad = before[..., :n] * tail
        return (xp.moveaxis(grad, -1, axis),)


@numpy_names
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """The running product along ``dim`` (integers accumulate in int64, as in PyTorch).

    >>> import brickwork as bw
    >>> bw.cumprod(bw.tensor([1, 2, 3]), 0)
    tensor([1, 2, 6])
    """
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.long()
    axis = norm_dim(dim, input._data.ndim, "cumprod")
    if input._data.ndim == 0:
        return input.clone()
    return CumProd.apply(input, axis=axis)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` are joined first);
    for bool tensors the difference is ``!=``, as in PyTorch."""
    if input._data.ndim == 0:
        raise RuntimeError("diff: expects a tensor with at least 1 dimension")
    axis = norm_dim(dim, input._data.ndim, "diff")
    x = input
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        parts = [p if isinstance(p, Tensor) else sh.expand(_wrap(x._device.xp.asarray(p, dtype=x._data.dtype),
                                                                 x._device), *_scalar_shape(x, axis))
                 for p in parts]
        x = sh.cat(parts, axis)
    for _ in range(n):
        size = x._data.shape[axis]
        if size == 0:
            break
        later, earlier = sh.narrow(x, axis, 1, size - 1), sh.narrow(x, axis, 0, size - 1)
        x = ew.ne(later, earlier) if x._data.dtype.kind == "b" else ew.sub(later, earlier)
    return x


def _scalar_shape(x: Tensor, axis: int) -> tuple[int, ...]:
    shape = list(x._data.shape)
    shape[axis] = 1
    return tuple(shape)

