"""Shared helpers for ops: undoing broadcasting, dtype promotion, argument parsing."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from brickwork import dtypes
from brickwork.tensor import Tensor, _cast, _norm_dim

__all__ = ["sum_to", "promote", "result_type", "as_float", "norm_dim", "norm_dims", "as_size", "shape_args",
           "numpy_names", "along_axis_index", "memory_order", "empty_in_layout", "transposed_copy",
           "batch_outermost_copy"]


def sum_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` down to ``shape``: the one place where broadcasting is undone.

    >>> import numpy as np
    >>> sum_to(np.ones((2, 3)), (3,)).tolist()
    [2.0, 2.0, 2.0]
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if lead:
        grad = grad.reshape(shape)
    return grad


def memory_order(a: Any) -> tuple[int, ...]:
    """The axes of ``a`` from the outermost in memory to the innermost (C order: 0, 1, ...)."""
    if a.ndim < 2 or a.flags.c_contiguous:
        return tuple(range(a.ndim))
    return tuple(sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis])))  # stable


def empty_in_layout(xp: Any, like: Any, shape: tuple[int, ...] | None = None, dtype: Any = None,
                    order: tuple[int, ...] | None = None) -> Any:
    """An uninitialised array of ``shape`` whose axes lie in memory in the order of ``like``'s
    (or in ``order``, from :func:`memory_order`).

    Elementwise work between arrays with the same memory order streams through
    memory; between an NCHW array and a convolution's batch-innermost output it
    transposes, several times slower (measured). ``empty_like`` does this for
    equal shapes; this also covers padded or pooled shapes.

    >>> import numpy as np
    >>> x = np.zeros((2, 3, 4, 5)).transpose(3, 0, 1, 2)   # memory order: axes 1, 2, 3, 0
    >>> empty_in_layout(np, x, (6, 3, 4, 5)).transpose(1, 2, 3, 0).flags.c_contiguous
    True
    """
    shape = like.shape if shape is None else tuple(shape)
    dtype = like.dtype if dtype is None else dtype
    order = memory_order(like) if order is None else order
    if order == tuple(range(len(shape))):
        return xp.empty(shape, dtype=dtype)
    memory = xp.empty(tuple(shape[axis] for axis in order), dtype=dtype)
    return memory.transpose([order.index(axis) for axis in range(len(shape))])


def transposed_copy(xp: Any, a: Any) -> Any:
    """A C-contiguous copy of ``a.T`` for a C-contiguous 2-D array ``a``.

    A plain transposing copy reads ``a`` with a stride of one row; when that
    stride is a multiple of 512 bytes (a batch of 128 float32 values, or a
    3×32×32 image) successive reads collide in the L1 cache (4K aliasing) and
    the copy runs 2-5x slower than the memory allows. It is then done in slabs
    of rows (about 32 KiB, at least 8 rows), measured 2-5x faster: e.g.
    ``(128, 3072) -> (3072, 128)`` 0.79 -> 0.16 ms, ``(1176, 256) -> (256, 1176)``
    0.38 -> 0.11 ms.

    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> transposed_copy(np, a).tolist()
    [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    """
    rows, cols = a.shape
    row_bytes = a.strides[0]
    if row_bytes % 512 or rows < 16 or not cols or not a.flags.c_contiguous:
        return xp.ascontiguousarray(a.T)
    step = max(8, 32768 // row_bytes)
    out = xp.empty((cols, rows), dtype=a.dtype)
    for r0 in range(0, rows, step):
        out[:, r0:r0 + step] = a[r0:r0 + step].T
    return out


def batch_outermost_copy(xp: Any, a: Any) -> Any:
    """``a`` as a C-contiguous array; fast (:func:`transposed_copy`) for the batch-innermost
    memory of a convolution's output (axis 0 innermost, the other axes in order).

    >>> import numpy as np
    >>> x = np.arange(24.0).reshape(3, 4, 2).transpose(2, 0, 1)   # batch-innermost (2, 3, 4)
    >>> y = batch_outermost_copy(np, x)
    >>> bool(y.flags.c_contiguous and (y == x).all())
    True
    """
    if a.flags.c_contiguous or a.ndim < 2:
        return xp.ascontiguousarray(a)
    memory = a.transpose(tuple(range(1, a.ndim)) + (0,))
    if not memory.flags.c_contiguous:
        return xp.ascontiguousarray(a)
    return transposed_copy(xp, memory.reshape(-1, a.shape[0])).reshape(a.shape)


def along_axis_index(xp: Any, index: Any, axis: int) -> tuple[Any, ...]:
    """The full fancy index that ``take_along_axis(a, index, axis)`` reads, usable to write too.

    (NumPy's ``put_along_axis`` has no CuPy counterpart in every version; this works on both.)
    """
    grids = list(xp.ogrid[tuple(slice(0, s) for s in index.shape)]) if index.ndim else []
    grids[axis] = index
    return tuple(grids)


def _scalar_or_tensor(x: Any, like: Tensor, op: str) -> Any:
    """Python/NumPy scalars pass through; arrays and sequences become tensors."""
    tx = type(x)
    if tx is float or tx is int or tx is bool:
        return x
    if isinstance(x, (np.number, np.bool_)):
        # NumPy scalars count as Python scalars of their kind (as in PyTorch), not as typed values
        # (np.float64 is a float subclass, but NumPy would otherwise promote float32 to float64)
        return x.item()
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, np.ndarray):
        if like._device.type != "cpu":
            raise TypeError(
                f"{op}: got a NumPy array with a tensor on {like._device}; convert it with "
                "bw.tensor(array, device=...) (brickwork never moves data silently)"
            )
        return _from_np(x)
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__}")


def _from_np(arr: np.ndarray) -> Tensor:
    from brickwork.creation import tensor

    return tensor(arr)


def promote(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    """Cast the operands of a binary op to PyTorch's result dtype.

    At least one of ``a``, ``b`` is a Tensor; the other may be a Python scalar,
    which is left as is (NumPy's weak scalars then keep the tensor's dtype).
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            da, db = a._data.dtype, b._data.dtype
            if da == db:
                return a, b
            ta, tb = dtypes.from_numpy_dtype(da), dtypes.from_numpy_dtype(db)
            target = dtypes.result_type(ta, a._data.ndim == 0, tb, b._data.ndim == 0)
            if ta is not target:
                a = _cast(a, target)
            if tb is not target:
                b = _cast(b, target)
            return a, b
        b = _scalar_or_tensor(b, a, op)
        if isinstance(b, Tensor):
            return promote(a, b, op)
        return _promote_scalar(a, b), b
    a = _scalar_or_tensor(a, b, op)
    if isinstance(a, Tensor):
        return promote(a, b, op)
    return a, _promote_scalar(b, a)


def result_type(tensor1: Any, tensor2: Any) -> dtypes.DType:
    """The dtype PyTorch's promotion gives ``tensor1 op tensor2`` (tensors or Python scalars).

    >>> import brickwork as bw
    >>> bw.result_type(bw.tensor([1, 2]), 2.5)
    brickwork.float32
    >>> bw.result_type(bw.tensor([1, 2], dtype=bw.int32), bw.tensor(5))
    brickwork.int32
    """
    def describe(x: Any) -> tuple[dtypes.DType | None, bool, Any]:
        if isinstance(x, Tensor):
            return dtypes.from_numpy_dtype(x._data.dtype), x._data.ndim == 0, None
        if isinstance(x, (np.number, np.bool_)):
            x = x.item()
        return None, True, x

    ta, a0, va = describe(tensor1)
    tb, b0, vb = describe(tensor2)
    if ta is not None and tb is not None:
        return dtypes.result_type(ta, a0, tb, b0)
    if ta is not None:
        return dtypes.result_type_with_scalar(ta, vb)
    if tb is not None:
        return dtypes.result_type_with_scalar(tb, va)
    category = max(dtypes.scalar_category(va), dtypes.scalar_category(vb))
    return (dtypes.bool_, dtypes.int64, dtypes.float32)[category]


def _promote_scalar(t: Tensor, value: Any) -> Tensor:
    kind = t._data.dtype.kind
    if kind == "f":
        return t
    target = dtypes.result_type_with_scalar(dtypes.from_numpy_dtype(t._data.dtype), value)
    if target.np != t._data.dtype:
        return _cast(t, target)
    return t


def as_float(t: Tensor) -> Tensor:
    """Integer and bool tensors become float32 for ops defined on reals (exp, sqrt, ...)."""
    if t._data.dtype.kind in "fc":
        return t
    return _cast(t, dtypes.float32)


def norm_dim(dim: int, ndim: int, op: str) -> int:
    return _norm_dim(dim, ndim, op)


def norm_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """``None`` (all dims), an int, or a sequence of ints, normalised to a sorted tuple."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dims: tuple[int, ...] = (_norm_dim(int(dim), ndim, op),)
    else:
        dims = tuple(_norm_dim(int(d), ndim, op) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
        if not dims:
            return None  # dim=() or [] reduces over every dimension, as in PyTorch
    if ndim == 0:
        return ()  # a 0-d tensor accepts dim 0 / -1 (as PyTorch does); there is nothing to reduce
    return tuple(sorted(dims))


def as_size(value: Any, op: str, what: str = "each size") -> int:
    """One size as a Python int: ints, NumPy integers and integer one-element tensors, as PyTorch
    takes them; a float (even 2.0), a bool or a string is a TypeError, never truncated.

    >>> as_size(3, "zeros")
    3
    """
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, Tensor) and value._data.dtype.kind == "b"):
        raise TypeError(f"{op}: {what} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an integer, got {value!r} ({type(value).__name__})") from None


def shape_args(args: tuple, op: str) -> tuple[int, ...]:
    """Sizes given as varargs ``(2, 3)``, or one sequence ``((2, 3),)``: the one place sizes are parsed."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(as_size(a, op) for a in args)


def numpy_names(fn: Callable) -> Callable:
    """Accept NumPy's ``axis=`` and ``keepdims=`` for ``dim=`` and ``keepdim=``, as PyTorch does.

    Tutorial code writes ``X.sum(axis=0, keepdims=True)``; PyTorch's argument
    parser maps those names, so brickwork does too.

    >>> import brickwork as bw
    >>> bw.ones(2, 3).sum(axis=1, keepdims=True).shape
    brickwork.Size([2, 1])
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            if "axis" in kwargs:
                if "dim" in kwargs:
                    raise TypeError(f"{fn.__name__}(): got both dim= and its alias axis=")
                kwargs["dim"] = kwargs.pop("axis")
            if "keepdims" in kwargs:
                kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapper


def int_tuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a sequence (of length 1 or ``n``) as ``n`` ints: kernel sizes, strides, padding."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(as_size(v, op, name) for v in value)
    return (as_size(value, op, name),) * n
