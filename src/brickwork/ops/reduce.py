"""Reductions: sum, mean, var/std, prod, max/min, argmax/argmin, logsumexp, cumsum, norm."""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from brickwork._traced import is_traced
from brickwork.autograd import Function, _wrap
from brickwork.ops._util import along_axis_index, as_float, norm_dim, norm_dims, numpy_names
from brickwork.tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])  # max/min/sort/topk results


def _expand_back(g: Any, axes: tuple[int, ...] | None, keepdim: bool, shape: tuple[int, ...]) -> Any:
    """Broadcast a reduced gradient back over the input's shape."""
    xp_g = g
    if axes is not None and not keepdim and axes:
        for ax in axes:
            xp_g = _expand_dims(xp_g, ax)
    elif axes is None and not keepdim:
        xp_g = xp_g.reshape((1,) * len(shape))
    return xp_g


def _expand_dims(a: Any, ax: int) -> Any:
    return a.reshape(a.shape[:ax] + (1,) + a.shape[ax:])


class Sum(Function):
    def forward(self, x: Any, axes: Any, keepdim: bool, dtype: Any) -> Any:
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        self.in_dtype = x.dtype
        return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, g: Any) -> tuple[Any, ...]:
        g = _expand_back(g, self.axes, self.keepdim, self.shape)
        return (self.xp.broadcast_to(g, self.shape).astype(self.in_dtype, copy=False),)


class Mean(Function):
    def forward(self, x: Any, axes: Any, keepdim: bool) -> Any:
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
        self.n = n
        with np.errstate(invalid="ignore", divide="ignore"):
            return x.mean(axis=axes, keepdims=keepdim) if n else self.xp.full(
                _reduced_shape(x.shape, axes, keepdim), np.nan, dtype=x.dtype)

    def backward(self, g: Any) -> tuple[Any, ...]:
        g = _expand_back(g, self.axes, self.keepdim, self.shape)
        return (self.xp.broadcast_to(g / builtins.max(self.n, 1), self.shape),)


def _reduced_shape(shape: tuple[int, ...], axes: Any, keepdim: bool) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape) if keepdim else ()
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class Prod(Function):
    saved_inputs = (0,)

    def forward(self, x: Any, axis: Any, keepdim: bool) -> Any:
        self.x, self.axis, self.keepdim = x, axis, keepdim
        return x.prod(axis=axis, keepdims=keepdim)

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp, x, axis = self.xp, self.x, self.axis
        if axis is None:
            flat = x.reshape(-1)
            others = _prod_of_others(xp, flat, 0).reshape(x.shape)
            return (g.reshape((1,) * x.ndim) * others,)
        others = _prod_of_others(xp, x, axis)
        if not self.keepdim:
            g = _expand_dims(g, axis)
        return (g * others,)


def _prod_of_others(xp: Any, x: Any, axis: int) -> Any:
    """For each element, the product of all other elements along ``axis`` (zeros handled): the
    running product before it times the running product after it."""
    n = x.shape[axis]
    if not n:
        return x
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones(ones_shape, dtype=x.dtype)
    head = (slice(None),) * axis + (slice(0, n - 1),)  # all but the last along axis
    left = xp.cumprod(xp.concatenate([one, x[head]], axis=axis), axis=axis)
    rev = xp.flip(x, axis=axis)
    right = xp.cumprod(xp.concatenate([one, rev[head]], axis=axis), axis=axis)
    return left * xp.flip(right, axis=axis)


class MaxMin(Function):
    """Reduction to the maximum or minimum; ties share the gradient equally.

    With ``nan_ties`` (``max()``/``min()`` over all elements, as PyTorch) a NaN result's gradient
    goes to the NaN elements, shared equally; without it (``amax``/``amin``, as PyTorch) it is NaN.
    """

    saved_inputs = (0,)
    saves_output = True

    def forward(self, x: Any, axes: Any, keepdim: bool, is_max: bool, nan_ties: bool = False) -> Any:
        empty = [a for a in (range(x.ndim) if axes is None else axes) if x.shape[a] == 0]
        if empty or (x.size == 0 and x.ndim == 0):
            raise RuntimeError(
                f"{'max' if is_max else 'min'}(): cannot reduce dimension {empty[0]} of size 0 of a "
                f"tensor of shape {tuple(x.shape)} (the operation has no identity)"
            )
        self.x, self.axes, self.keepdim, self.nan_ties = x, axes, keepdim, nan_ties
        self.out = x.max(axis=axes, keepdims=keepdim) if is_max else x.min(axis=axes, keepdims=keepdim)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        out = _expand_back(self.out, self.axes, self.keepdim, self.x.shape)
        g = _expand_back(g, self.axes, self.keepdim, self.x.shape)
        hit = self.x == out
        if self.nan_ties and self.x.dtype.kind in "fc":
            hit |= self.xp.isnan(self.x) & self.xp.isnan(out)
        count = hit.sum(axis=self.axes, keepdims=True)
        return (g * hit / count,)


class MaxMinDim(Function):
    """Values of ``max(dim)`` / ``min(dim)`` at given indices; the gradient goes to those indices."""

    def forward(self, x: Any, idx: Any, axis: int, keepdim: bool) -> Any:
        self.idx, self.axis, self.keepdim, self.shape = idx, axis, keepdim, x.shape
        vals = self.xp.take_along_axis(x, idx, axis=axis)
        return vals if keepdim else vals.reshape(vals.shape[:axis] + vals.shape[axis + 1:])

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        if not self.keepdim:
            g = _expand_dims(g, self.axis)
        out = xp.zeros(self.shape, dtype=g.dtype)
        out[along_axis_index(xp, self.idx, self.axis)] = g
        return (out, None)


class LogSumExp(Function):
    saved_inputs = (0,)
    saves_output = True

    def forward(self, x: Any, axes: Any, keepdim: bool) -> Any:
        xp = self.xp
        m = x.max(axis=axes, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, dtype=x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        self.x, self.axes, self.keepdim = x, axes, keepdim
        self.out = out if keepdim else out.reshape(_reduced_shape(x.shape, axes, False))
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        g = _expand_back(g, self.axes, self.keepdim, self.x.shape)
        out = _expand_back(self.out, self.axes, self.keepdim, self.x.shape)
        with np.errstate(invalid="ignore"):
            return (g * self.xp.exp(self.x - out),)


class CumSum(Function):
    def forward(self, x: Any, axis: int) -> Any:
        self.axis = axis
        return self.xp.cumsum(x, axis=axis, dtype=x.dtype if x.dtype.kind == "f" else np.int64)

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        return (xp.flip(xp.cumsum(xp.flip(g, self.axis), axis=self.axis), self.axis),)


class Norm2(Function):
    """Euclidean norm; its gradient is 0 (not NaN) where the norm is 0, as in PyTorch."""

    saved_inputs = (0,)
    saves_output = True

    def forward(self, x: Any, axes: Any, keepdim: bool) -> Any:
        self.x, self.axes, self.keepdim = x, axes, keepdim
        self.out = self.xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        out = _expand_back(self.out, self.axes, self.keepdim, self.x.shape)
        g = _expand_back(g, self.axes, self.keepdim, self.x.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            if is_traced(g):
                # recorded (create_graph=True): PyTorch's form, g * (x / norm) masked where the norm
                # is 0, whose derivatives are its second derivatives (nan at a zero vector); the
                # form below divides the reduced g instead of the whole x, for speed
                return (g * self.xp.where(out == 0, 0, self.x / out),)
            scale = self.xp.where(out == 0, 0, g / out)
        return (self.x * scale,)


# ---------------------------------------------------------------------------
# functions


@numpy_names
def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None); bools and ints sum to int64.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.sum(), x.sum(0)
    (tensor(10.), tensor([4., 6.]))
    >>> x.sum(1, keepdim=True)
    tensor([[3.],
            [7.]])
    >>> bw.tensor([True, True, False]).sum()
    tensor(2)
    """
    axes = norm_dims(dim, input._data.ndim, "sum")
    np_dtype = None
    if dtype is not None:
        from brickwork import dtypes

        np_dtype = dtypes.as_dtype(dtype).np
    elif input._data.dtype.kind in "biu":
        np_dtype = np.int64
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype)


@numpy_names
def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean over ``dim``; integer tensors need ``dtype=`` (as in PyTorch).

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.mean(), x.mean(dim=0)
    (tensor(2.5000), tensor([2., 3.]))
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean(): could not infer output dtype; input dtype must be floating point, got "
            f"{input.dtype} (use .float() or dtype=)"
        )
    axes = norm_dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, axes=axes, keepdim=keepdim)


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


class Var(Function):
    """Variance with ``correction`` over ``axes``. Backward as PyTorch's:
    ``2 / (n - correction) * g * (x - mean)``, except that a full reduction without degrees of
    freedom gets nan (where ``x`` is its mean) or inf, a constant in ``x``."""

    saved_inputs = (0,)

    def forward(self, x: Any, axes: Any, keepdim: bool, n: int, correction: float) -> Any:
        self.x, self.axes, self.keepdim, self.n, self.correction = x, axes, keepdim, n, correction
        with np.errstate(invalid="ignore", divide="ignore"):
            centred = x - x.mean(axis=axes, keepdims=True) if n else x
            return (centred * centred).sum(axis=axes, keepdims=keepdim) / _safe_denominator(n - correction)

    def backward(self, g: Any) -> tuple[Any, ...]:
        x = self.x
        g = _expand_back(g, self.axes, self.keepdim, x.shape)
        dof = self.n - self.correction
        if dof <= 0 and (self.axes is None or x.ndim == 0):
            with np.errstate(invalid="ignore"):
                return (g * self.xp.where(x == x.mean(), np.nan, np.inf).astype(g.dtype),)
        scale = 2.0 / dof if dof else float("inf")
        with np.errstate(invalid="ignore"):
            mean = x.mean(axis=self.axes, keepdims=True) if self.n else x
            return ((g * scale) * (x - mean),)


@numpy_names
def var(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Variance with PyTorch's ``correction`` (default 1, Bessel) / ``unbiased`` semantics.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.var(), x.var(0, correction=0)
    (tensor(1.6667), tensor([1., 1.]))
    """
    if isinstance(dim, bool):  # var(x, False): the old positional 'unbiased'
        dim, unbiased = None, dim
    x = as_float(input)
    axes = norm_dims(dim, x._data.ndim, "var")
    n = x._data.size if axes is None else int(np.prod([x._data.shape[a] for a in axes]))
    return Var.apply(x, axes=axes, keepdim=keepdim, n=n, correction=_correction(unbiased, correction))


def _safe_denominator(d: float) -> float:
    # PyTorch returns inf/nan when n - correction <= 0; division by 0.0 does the same
    return d if d > 0 else 0.0


class SqrtOfVariance(Function):
    """``sqrt`` for :func:`std`: its gradient is 0 (not inf) where the deviation is 0, as in PyTorch."""

    saves_output = True

    def forward(self, v: Any) -> Any:
        self.out = self.xp.sqrt(v)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        out = self.out
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.xp.where(out == 0, 0, g / (2 * out)).astype(g.dtype, copy=False),)


@numpy_names
def std(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Standard deviation (see :func:`var`).

    >>> import brickwork as bw
    >>> bw.tensor([1.0, 2.0, 3.0, 4.0]).std()
    tensor(1.2910)
    >>> bw.tensor([1.0, 2.0, 3.0, 4.0]).std(correction=0)
    tensor(1.1180)
    """
    return SqrtOfVariance.apply(var(input, dim, unbiased, keepdim, correction=correction))


@numpy_names
def var_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` in one call; the arguments are those of :func:`var`.

    >>> import brickwork as bw
    >>> bw.var_mean(bw.tensor([[1.0, 2.0], [3.0, 4.0]]), 0)
    (tensor([2., 2.]), tensor([2., 3.]))
    """
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(as_float(input), dim, keepdim))


@numpy_names
def std_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` in one call; the arguments are those of :func:`var`."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(as_float(input), dim, keepdim))


@numpy_names
def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product of the elements over one ``dim`` (all when None); bool and uint8 inputs give int64.

    >>> import brickwork as bw
    >>> bw.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1)
    tensor([ 2., 12.])
    """
    if dtype is not None:
        input = input.to(dtype)
    axis = None if dim is None else norm_dim(dim, input._data.ndim, "prod")
    if input._data.dtype.kind in "bu":
        input = input.long()
    return Prod.apply(input, axis=axis, keepdim=keepdim)


def _max_min(input: Tensor, dim: Any, keepdim: bool, is_max: bool) -> Any:
    from brickwork.ops import elementwise

    name = "max" if is_max else "min"
    if isinstance(dim, Tensor):  # torch.max(a, b): elementwise
        return elementwise.maximum(input, dim) if is_max else elementwise.minimum(input, dim)
    if dim is None:
        return MaxMin.apply(input, axes=None, keepdim=False, is_max=is_max, nan_ties=True)
    axis = norm_dim(dim, input._data.ndim, name)
    data, xp = input._data, input._device.xp
    if data.ndim == 0:
        return values_indices(input.clone(), _wrap(xp.zeros((), np.int64), input._device))
    if data.shape[axis] == 0:
        raise IndexError(f"{name}(): cannot reduce dimension {axis} of size 0")
    idx = xp.argmax(data, axis=axis, keepdims=True) if is_max else xp.argmin(data, axis=axis, keepdims=True)
    values = MaxMinDim.apply(input, _wrap(idx, input._device), axis=axis, keepdim=keepdim)
    if not keepdim:
        idx = idx.reshape(idx.shape[:axis] + idx.shape[axis + 1:])
    return values_indices(values, _wrap(idx.astype(np.int64, copy=False), input._device))


@numpy_names
def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``max()`` -> value; ``max(dim)`` -> (values, indices); ``max(a, b)`` -> elementwise.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 4.0], [3.0, 2.0]])
    >>> x.max()
    tensor(4.)
    >>> x.max(dim=1)
    values_indices(values=tensor([4., 3.]), indices=tensor([1, 0]))
    """
    return _max_min(input, dim, keepdim, True)


@numpy_names
def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``min()`` -> value; ``min(dim)`` -> (values, indices); ``min(a, b)`` -> elementwise.

    >>> import brickwork as bw
    >>> values, indices = bw.tensor([[1.0, 4.0], [3.0, 2.0]]).min(0)
    >>> values, indices
    (tensor([1., 2.]), tensor([0, 1]))
    """
    return _max_min(input, dim, keepdim, False)


@numpy_names
def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (an int, a tuple, or all dims when omitted), values only.

    Unlike :func:`max` with a ``dim`` it returns no indices and accepts several dims.

    >>> import brickwork as bw
    >>> bw.amax(bw.tensor([[1.0, 2.0], [3.0, 4.0]]), 0)
    tensor([3., 4.])
    """
    axes = None if dim in ((), None) else norm_dims(dim, input._data.ndim, "amax")
    return MaxMin.apply(input, axes=axes, keepdim=keepdim, is_max=True)


@numpy_names
def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (an int, a tuple, or all dims when omitted), values only; see :func:`amax`."""
    axes = None if dim in ((), None) else norm_dims(dim, input._data.ndim, "amin")
    return MaxMin.apply(input, axes=axes, keepdim=keepdim, is_max=False)


def _arg(input: Tensor, dim: Any, keepdim: bool, is_max: bool) -> Tensor:
    xp = input._device.xp
    data = input._data
    name = "argmax" if is_max else "argmin"
    if data.size == 0:
        raise RuntimeError(f"{name}(): cannot reduce an empty tensor of shape {tuple(data.shape)}")
    if dim is None:
        idx = xp.argmax(data) if is_max else xp.argmin(data)
        idx = xp.asarray(idx, dtype=np.int64)
        if keepdim:
            idx = idx.reshape((1,) * data.ndim)
    else:
        axis = norm_dim(dim, data.ndim, name)
        idx = xp.argmax(data, axis=axis, keepdims=keepdim) if is_max else \
            xp.argmin(data, axis=axis, keepdims=keepdim)
        idx = idx.astype(np.int64, copy=False)
    return _wrap(xp.asarray(idx), input._device)


@numpy_names
def argmax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when ``dim`` is None), as int64.

    The first index wins among ties.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> bw.argmax(x), bw.argmax(x, 1)
    (tensor(3), tensor([1, 1]))
    """
    return _arg(input, dim, keepdim, True)


@numpy_names
def argmin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor when ``dim`` is None), as int64."""
    return _arg(input, dim, keepdim, False)


def _logical_reduce(input: Tensor, dim: Any, keepdim: bool, name: str) -> Tensor:
    data = input._data
    axes = norm_dims(dim, data.ndim, name)
    res = getattr(data, name)(axis=axes, keepdims=keepdim)
    return _wrap(input._device.xp.asarray(res), input._device)


@numpy_names
def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element is nonzero, over ``dim`` (all dims when None), as a bool tensor.

    >>> import brickwork as bw
    >>> bw.tensor([1, 0]).all(), bw.tensor([1, 2]).all()
    (tensor(False), tensor(True))
    """
    return _logical_reduce(input, dim, keepdim, "all")


@numpy_names
def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether any element is nonzero, over ``dim`` (all dims when None), as a bool tensor.

    >>> import brickwork as bw
    >>> bw.tensor([[True, False], [False, False]]).any(1)
    tensor([ True, False])
    """
    return _logical_reduce(input, dim, keepdim, "any")


@numpy_names
def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """Number of nonzero elements over ``dim`` (all when None), as int64.

    >>> import brickwork as bw
    >>> bw.count_nonzero(bw.tensor([[0, 1], [2, 3]]), 0)
    tensor([1, 2])
    """
    return sum(input != 0, dim=dim)


@numpy_names
def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably.

    >>> import brickwork as bw
    >>> bw.logsumexp(bw.tensor([0.0, 0.0]), 0)
    tensor(0.6931)
    >>> bw.logsumexp(bw.tensor([1000.0, 1000.0]), 0)  # no overflow
    tensor(1000.6932)
    """
    x = as_float(input)
    axes = norm_dims(dim, x._data.ndim, "logsumexp")
    return LogSumExp.apply(x, axes=axes, keepdim=keepdim)


@numpy_names
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim``; ``dtype`` casts the input first.

    >>> import brickwork as bw
    >>> bw.cumsum(bw.tensor([1, 2, 3]), 0)
    tensor([1, 3, 6])
    """
    if dtype is not None:
        input = input.to(dtype)
    axis = norm_dim(dim, input._data.ndim, "cumsum")
    if input._data.ndim == 0:
        return input.clone()
    return CumSum.apply(input, axis=axis)


@numpy_names
def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """Vector p-norm (``p`` = 2/'fro', 1, inf, -inf, 0 or any float) over ``dim``.

    >>> import brickwork as bw
    >>> bw.norm(bw.tensor([3.0, -4.0])), bw.norm(bw.tensor([3.0, -4.0]), p=1)
    (tensor(5.), tensor(7.))
    """
    from brickwork.ops import elementwise as ew

    x = as_float(input if dtype is None else input.to(dtype))
    axes = norm_dims(dim, x._data.ndim, "norm")
    if p in ("fro", 2, 2.0, None):
        return Norm2.apply(x, axes=axes, keepdim=keepdim)
    if p == "nuc":
        raise NotImplementedError("norm: the nuclear norm is not supported")
    if p in (float("inf"), "inf"):
        return amax(ew.abs(x), axes if axes is not None else (), keepdim)
    if p in (float("-inf"), "-inf"):
        return amin(ew.abs(x), axes if axes is not None else (), keepdim)
    if p == 0:
        return sum((x != 0).to(x.dtype), dim=axes, keepdim=keepdim)
    if p == 1:
        return sum(ew.abs(x), dim=axes, keepdim=keepdim)
    return sum(ew.abs(x) ** p, dim=axes, keepdim=keepdim) ** (1.0 / p)


# ---------------------------------------------------------------------------
# ordering: sort, argsort, topk (values are gathered, so their gradient is gather's)


def _order(input: Tensor, dim: int, descending: bool, op: str) -> tuple[Any, int]:
    """Stable sort indices along ``dim`` (ties keep their order, also when descending)."""
    data = input._data
    xp = input._device.xp
    if data.ndim == 0:
        return xp.zeros((), dtype=np.int64), 0
    axis = norm_dim(dim, data.ndim, op)
    if descending:
        data = -(data.astype(np.int64) if data.dtype.kind in "bu" else data)
    return xp.argsort(data, axis=axis, kind="stable").astype(np.int64, copy=False), axis


def _take(input: Tensor, idx: Any, axis: int) -> Tensor:
    from brickwork.ops.shape import gather

    if input._data.ndim == 0:
        return input.clone()
    return gather(input, axis, _wrap(idx, input._device))


@numpy_names
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim``; equal values keep their order.

    >>> import brickwork as bw
    >>> bw.tensor([3.0, 1.0, 2.0]).sort(descending=True)
    values_indices(values=tensor([3., 2., 1.]), indices=tensor([0, 2, 1]))
    """
    idx, axis = _order(input, dim, descending, "sort")
    return values_indices(_take(input, idx, axis), _wrap(idx, input._device))


@numpy_names
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (see :func:`sort`)."""
    return _wrap(_order(input, dim, descending, "argsort")[0], input._device)


@numpy_names
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``, as ``(values, indices)``.

    >>> import brickwork as bw
    >>> bw.tensor([[1.0, 5.0, 3.0]]).topk(2).indices
    tensor([[1, 2]])
    """
    n = input._data.shape[norm_dim(dim, input._data.ndim, "topk")] if input._data.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k} is out of range for dimension {dim} of size {n}")
    idx, axis = _order(input, dim, largest, "topk")
    if idx.ndim:
        xp = input._device.xp
        idx = xp.take(idx, xp.arange(k), axis=axis)
    return values_indices(_take(input, idx, axis), _wrap(idx, input._device))
