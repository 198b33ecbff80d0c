"""Recorded arrays: how one ``backward`` serves both first- and higher-order gradients.

Every op's ``backward`` is written once, against the NumPy interface: arithmetic operators,
array methods (``reshape``, ``sum(axis=, keepdims=)``, ``astype``...) and functions of the
array module ``self.xp`` (``xp.where``, ``xp.exp``, ``xp.einsum``...). For a first-order
backward (the default) those are raw NumPy or CuPy arrays and the backward runs exactly as
fast as it always has.

With ``create_graph=True`` the engine hands the same ``backward`` :class:`Traced` values
instead: the incoming gradient and the op's saved inputs and output, each wrapping a
brickwork tensor that is part of the graph. ``self.xp`` becomes a :class:`TracedXP`, an
array module whose functions run brickwork's differentiable ops when any argument is
traced, and the real array module's otherwise. What the backward computes is then itself
recorded, so gradients of gradients, to any order, come out of the ordinary engine.

Values a backward derives in ``forward`` (masks, indices, shapes) stay raw arrays and act
as constants; an op that saves a differentiable intermediate must recompute it from its
traced inputs, or list it in ``Function.double_backward_constants`` when it really is a
constant (a dropout mask), or raise. The engine refuses a node whose floating-point saved
arrays it cannot account for, naming the op, so a missing case is an error, never a
silently wrong second derivative.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Traced", "TracedXP", "input_of", "is_traced", "tensor_of", "untrace"]


def is_traced(x: Any) -> bool:
    """True when ``x`` is a recorded value (a backward running with ``create_graph=True``)."""
    return type(x) is Traced


class Traced:
    """A brickwork tensor dressed as a NumPy array, for backward code that runs recorded."""

    __slots__ = ("t",)
    __array_priority__ = 10000  # CuPy's and NumPy's operators defer to ours
    __array_ufunc__ = None  # NumPy: ndarray <op> Traced calls Traced's reflected operator

    def __init__(self, t: Any) -> None:
        self.t = t

    # ---- what NumPy code reads off an array
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.t._data.shape)

    @property
    def ndim(self) -> int:
        return self.t._data.ndim

    @property
    def size(self) -> int:
        return self.t._data.size

    @property
    def dtype(self) -> Any:
        return self.t._data.dtype

    @property
    def data_array(self) -> Any:
        """The raw array underneath (a constant; use for masks and comparisons)."""
        return self.t._data

    def __len__(self) -> int:
        return len(self.t._data)

    def __repr__(self) -> str:
        return f"Traced({self.t!r})"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "a recorded gradient (create_graph=True) reached a NumPy function that brickwork "
            "cannot record; this op's backward is not twice differentiable yet"
        )

    def __bool__(self) -> bool:
        return bool(self.t._data)

    # ---- arithmetic: recorded
    def __add__(self, o: Any) -> Traced:
        return _call(_ops().add, self, o)

    def __radd__(self, o: Any) -> Traced:
        return _call(_ops().add, o, self)

    def __sub__(self, o: Any) -> Traced:
        return _call(_ops().sub, self, o)

    def __rsub__(self, o: Any) -> Traced:
        return _call(_ops().sub, o, self)

    def __mul__(self, o: Any) -> Traced:
        return _call(_ops().mul, self, o)

    def __rmul__(self, o: Any) -> Traced:
        return _call(_ops().mul, o, self)

    def __truediv__(self, o: Any) -> Traced:
        return _call(_ops().div, self, o)

    def __rtruediv__(self, o: Any) -> Traced:
        return _call(_ops().div, o, self)

    def __pow__(self, o: Any) -> Traced:
        return _call(_ops().pow, self, o)

    def __rpow__(self, o: Any) -> Traced:
        return _call(_ops().pow, o, self)

    def __matmul__(self, o: Any) -> Traced:
        return _call(_ops().matmul, self, o)

    def __rmatmul__(self, o: Any) -> Traced:
        return _call(_ops().matmul, o, self)

    def __neg__(self) -> Traced:
        return Traced(-self.t)

    def __pos__(self) -> Traced:
        return self

    def __abs__(self) -> Traced:
        return Traced(_ops().abs(self.t))

    # in-place spellings rebind this wrapper (the graph gets a new node; nothing is overwritten)
    def __iadd__(self, o: Any) -> Traced:
        self.t = (self + o).t
        return self

    def __isub__(self, o: Any) -> Traced:
        self.t = (self - o).t
        return self

    def __imul__(self, o: Any) -> Traced:
        self.t = (self * o).t
        return self

    def __itruediv__(self, o: Any) -> Traced:
        self.t = (self / o).t
        return self

    # ---- comparisons: not differentiable, so raw boolean arrays
    def __lt__(self, o: Any) -> Any:
        return self.t._data < untrace(o)

    def __le__(self, o: Any) -> Any:
        return self.t._data <= untrace(o)

    def __gt__(self, o: Any) -> Any:
        return self.t._data > untrace(o)

    def __ge__(self, o: Any) -> Any:
        return self.t._data >= untrace(o)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self.t._data == untrace(o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self.t._data != untrace(o)

    __hash__ = None  # type: ignore[assignment]

    # ---- indexing
    def __getitem__(self, index: Any) -> Traced:
        return Traced(self.t[_index(self.t, index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        # recorded out of place: a copy with the slice replaced (the saved tensor stays intact)
        new = self.t.clone()
        new[_index(self.t, index)] = _as_tensor(value, self.t)
        self.t = new

    # ---- array methods
    @property
    def T(self) -> Traced:  # noqa: N802 - NumPy's name
        return Traced(self.t.permute(*reversed(range(self.ndim))))

    def reshape(self, *shape: Any, order: str = "C") -> Traced:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Traced(self.t.reshape(*shape))

    def ravel(self) -> Traced:
        return Traced(self.t.reshape(-1))

    def transpose(self, *axes: Any) -> Traced:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        return Traced(self.t.permute(*axes))

    def swapaxes(self, a: int, b: int) -> Traced:
        return Traced(self.t.transpose(a, b))

    def squeeze(self, axis: Any = None) -> Traced:
        return Traced(_squeeze(self.t, axis))

    def sum(self, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any) -> Traced:
        return Traced(_sum(self.t, axis, keepdims, dtype))

    def mean(self, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any) -> Traced:
        n = self.size if axis is None else int(np.prod([self.shape[a] for a in _axes(axis)]))
        return Traced(_sum(self.t, axis, keepdims, dtype) / builtins.max(n, 1))

    def max(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Traced:
        return Traced(_reduce(_ops().amax, self.t, axis, keepdims))

    def min(self, axis: Any = None, keepdims: bool = False, **kw: Any) -> Traced:
        return Traced(_reduce(_ops().amin, self.t, axis, keepdims))

    def astype(self, dtype: Any, copy: bool = True, **kw: Any) -> Traced:
        return Traced(_cast(self.t, dtype))

    def copy(self, order: str = "K") -> Traced:
        return Traced(self.t)  # (a new wrapper: in-place operators rebind the wrapper they are given)

    def conj(self) -> Traced:
        return self

    def dot(self, o: Any) -> Traced:
        return _call(_ops().matmul, self, o)

    def any(self, *a: Any, **k: Any) -> Any:
        return self.t._data.any(*a, **k)

    def all(self, *a: Any, **k: Any) -> Any:
        return self.t._data.all(*a, **k)

    def item(self) -> Any:
        return self.t._data.item()

    def tolist(self) -> Any:
        return self.t._data.tolist()

    def nonzero(self) -> Any:
        return self.t._data.nonzero()

    def take(self, indices: Any, axis: Any = None, **kw: Any) -> Traced:
        return _take(self, indices, axis)

    def argmax(self, *a: Any, **k: Any) -> Any:
        return self.t._data.argmax(*a, **k)

    def argmin(self, *a: Any, **k: Any) -> Any:
        return self.t._data.argmin(*a, **k)


# ---------------------------------------------------------------------------
# conversions


def _ops() -> Any:
    import brickwork

    return brickwork


def untrace(x: Any) -> Any:
    """The raw array of a traced value (anything else unchanged)."""
    return x.t._data if type(x) is Traced else x


def tensor_of(x: Any, like: Any) -> Any:
    """A brickwork tensor for a backward's result: traced values give theirs; raw arrays (constants)
    and scalars become tensors on ``like``'s device that do not require grad."""
    return _as_tensor(x, like)


def _as_tensor(x: Any, like: Any) -> Any:
    from brickwork.autograd import _wrap
    from brickwork.tensor import Tensor

    if type(x) is Traced:
        return x.t
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.generic,)):
        return _wrap(x, like._device)
    xp = like._device.xp
    if isinstance(x, np.generic):
        return _wrap(xp.asarray(x), like._device)
    return x  # Python scalar: ops take it as is


def input_of(fn: Any, index: int, value: Any) -> Traced:
    """Input ``index`` of node ``fn``, in ``fn``'s recorded backward, as a traced value that holds
    ``value`` (of the input's shape) and continues the graph where the input came from.

    For a fused op that kept, instead of the input itself, an array that differs from it by a
    constant (batch norm's centred input; a shift does not change any derivative of a
    normalisation): its recorded backward rebuilds what it needs from this, and the first-order
    path keeps no extra array. A constant input (one that needs no gradient) gives a constant.
    """
    from brickwork import _backend
    from brickwork.autograd._engine import _graph_tensor, _wrap
    from brickwork.tensor import Tensor

    src = fn.next[index]
    device = _backend.device_of_array(value)
    if src is None:
        return Traced(_wrap(value, device))
    if isinstance(src, Tensor):  # a leaf: the gradient reaches it through a pass-through node
        return Traced(_graph_tensor(value, None, device, src))
    return Traced(_graph_tensor(value, src, device))


def _call(fn: Callable, a: Any, b: Any) -> Traced:
    """A binary op where either side may be a scalar, a raw array or traced."""
    like = a.t if type(a) is Traced else b.t
    ta, tb = _as_tensor(a, like), _as_tensor(b, like)
    if not _is_tensor(ta):
        ta = _scalar_tensor(ta, tb)
    if not _is_tensor(tb) and fn is not _ops().pow:
        tb = _scalar_tensor(tb, ta)
    return Traced(fn(ta, tb))


def _is_tensor(x: Any) -> bool:
    from brickwork.tensor import Tensor

    return isinstance(x, Tensor)


def _scalar_tensor(value: Any, like: Any) -> Any:
    """A Python scalar operand, as a 0-d tensor of ``like``'s dtype (NumPy keeps an array's dtype
    against Python scalars, which is what backward code relies on)."""
    from brickwork.autograd import _wrap

    xp = like._device.xp
    with like._device.activate():
        return _wrap(xp.asarray(value, dtype=like._data.dtype), like._device)


def _index(t: Any, index: Any) -> Any:
    """An index for a brickwork tensor from a NumPy-style one (raw index arrays become tensors)."""
    from brickwork.autograd import _wrap

    def conv(i: Any) -> Any:
        if type(i) is Traced:
            return i.t
        if hasattr(i, "dtype") and hasattr(i, "shape") and not isinstance(i, np.generic):
            return _wrap(i, t._device)
        return i

    if isinstance(index, tuple):
        return tuple(conv(i) for i in index)
    return conv(index)


def _axes(axis: Any) -> tuple[int, ...]:
    if axis is None:
        return ()
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) for a in axis)
    return (int(axis),)


def _sum(t: Any, axis: Any, keepdims: bool, dtype: Any = None) -> Any:
    if dtype is not None:
        t = _cast(t, dtype)
    if axis is None:
        out = t.sum()
        return out.reshape((1,) * t.ndim) if keepdims else out
    if isinstance(axis, (tuple, list)) and len(axis) == 0:
        return t
    return t.sum(dim=_axes(axis), keepdim=keepdims)


def _reduce(fn: Callable, t: Any, axis: Any, keepdims: bool) -> Any:
    if axis is None:
        out = fn(t)
        return out.reshape((1,) * t.ndim) if keepdims else out
    return fn(t, dim=_axes(axis), keepdim=keepdims)


def _squeeze(t: Any, axis: Any) -> Any:
    if axis is None:
        return t.reshape(*[s for s in t._data.shape if s != 1])
    shape = list(t._data.shape)
    for a in sorted((a % len(shape) for a in _axes(axis)), reverse=True):
        del shape[a]
    return t.reshape(*shape)


def _cast(t: Any, dtype: Any) -> Any:
    from brickwork import dtypes

    np_dtype = np.dtype(dtype)
    if np_dtype == t._data.dtype:
        return t
    return t.to(dtypes.from_numpy_dtype(np_dtype))


# ---------------------------------------------------------------------------
# the array module of a recorded backward


def _unary(name: str) -> Callable:
    def run(x: Any, *args: Any, **kwargs: Any) -> Traced:
        return Traced(getattr(_ops(), name)(x.t))

    return run


def _where(cond: Any, a: Any, b: Any) -> Traced:
    like = next(v.t for v in (a, b, cond) if type(v) is Traced)
    cond = untrace(cond)
    ta, tb = _as_tensor(a, like), _as_tensor(b, like)
    dtype = like._data.dtype
    if not _is_tensor(ta):
        ta = _scalar_tensor(ta, like) if dtype.kind == "f" else ta
    if not _is_tensor(tb):
        tb = _scalar_tensor(tb, like) if dtype.kind == "f" else tb
    from brickwork.autograd import _wrap

    return Traced(_ops().where(_wrap(like._device.xp.asarray(cond), like._device), ta, tb))


def _broadcast_to(x: Any, shape: Any) -> Traced:
    return Traced(_ops().broadcast_to(x.t, tuple(shape)))


def _like_zeros(x: Any, dtype: Any = None, **kw: Any) -> Any:
    return _constant(x.t._device.xp.zeros(x.shape, dtype=dtype or x.dtype))


def _like_ones(x: Any, dtype: Any = None, **kw: Any) -> Any:
    return _constant(x.t._device.xp.ones(x.shape, dtype=dtype or x.dtype))


def _constant(arr: Any) -> Traced:
    """A new array of a recorded backward, as a traced constant: code that fills it in place
    (``out[index] = g``, ``xp.add.at(out, index, g)``) is then recorded too."""
    from brickwork import _backend
    from brickwork.autograd import _wrap

    return Traced(_wrap(arr, _backend.device_of_array(arr)))


def _creator(name: str) -> Callable:
    def make(real: Callable) -> Callable:
        def run(*args: Any, **kwargs: Any) -> Traced:
            args = tuple(untrace(a) for a in args)
            return _constant(real(*args, **{k: untrace(v) for k, v in kwargs.items()}))

        return run

    return make


class _IndexAdd:
    """``xp.add.at(out, index, values)`` on a traced ``out``: rebinds it to a recorded sum."""

    @staticmethod
    def at(out: Any, index: Any, values: Any) -> None:
        if type(out) is not Traced:
            raise TypeError("xp.add.at into a raw array cannot be recorded (create_graph=True); "
                            "create the array with xp.zeros in the backward")
        vals = _as_tensor(values, out.t)
        if not _is_tensor(vals):
            vals = _scalar_tensor(vals, out.t)
        global IndexAdd
        if IndexAdd is None:
            IndexAdd = _define_index_add()
        out.t = IndexAdd.apply(out.t, vals, index=untrace_index(index))


def untrace_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(untrace(i) for i in index)
    return untrace(index)


def _tensors(seq: Any) -> list[Any]:
    like = next(v.t for v in seq if type(v) is Traced)
    return [_as_tensor(v, like) for v in seq]


def _concatenate(seq: Any, axis: int = 0, **kw: Any) -> Traced:
    return Traced(_ops().cat(_tensors(seq), dim=axis))


def _stack(seq: Any, axis: int = 0, **kw: Any) -> Traced:
    return Traced(_ops().stack(_tensors(seq), dim=axis))


def _matmul(a: Any, b: Any, **kw: Any) -> Traced:
    return _call(_ops().matmul, a, b)


def _einsum(eq: str, *operands: Any, **kw: Any) -> Traced:
    return Traced(_ops().einsum(eq, *_tensors(operands)))


def _tensordot(a: Any, b: Any, axes: Any = 2) -> Traced:
    ta, tb = _tensors([a, b])
    return Traced(_ops().tensordot(ta, tb, dims=axes))


def _moveaxis(x: Any, source: Any, destination: Any) -> Traced:
    return Traced(_ops().movedim(x.t, source, destination))


def _swapaxes(x: Any, a: int, b: int) -> Traced:
    return x.swapaxes(a, b)


def _transpose(x: Any, axes: Any = None) -> Traced:
    return x.transpose(*(axes or ()))


def _expand_dims(x: Any, axis: Any) -> Traced:
    t = x.t
    for a in sorted(_axes(axis)):
        t = t.unsqueeze(a)
    return Traced(t)


def _flip(x: Any, axis: Any = None) -> Traced:
    axes = tuple(range(x.ndim)) if axis is None else _axes(axis)
    return Traced(_ops().flip(x.t, axes))


def _cumsum(x: Any, axis: Any = None, dtype: Any = None, **kw: Any) -> Traced:
    t = x.t if axis is not None else x.t.reshape(-1)
    return Traced(_ops().cumsum(t, 0 if axis is None else axis))


def _cumprod(x: Any, axis: Any = None, dtype: Any = None, **kw: Any) -> Traced:
    t = x.t if axis is not None else x.t.reshape(-1)
    return Traced(_ops().cumprod(t, 0 if axis is None else axis))


def _sum_fn(x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any) -> Traced:
    return x.sum(axis=axis, dtype=dtype, keepdims=keepdims)


def _reshape(x: Any, shape: Any, **kw: Any) -> Traced:
    return x.reshape(shape)


def _take_along_axis(x: Any, idx: Any, axis: int) -> Traced:
    from brickwork.autograd import _wrap

    idx = untrace(idx)
    t = x.t
    axis = axis % x.ndim
    # NumPy broadcasts the other axes of both; gather does not
    other = [builtins.max(s, f) for s, f in zip(t._data.shape, idx.shape)]
    t_shape = tuple(s if i == axis else o for i, (s, o) in enumerate(zip(t._data.shape, other)))
    i_shape = tuple(f if i == axis else o for i, (f, o) in enumerate(zip(idx.shape, other)))
    if tuple(t._data.shape) != t_shape:
        t = _ops().broadcast_to(t, t_shape)
    if tuple(idx.shape) != i_shape:
        idx = x.t._device.xp.broadcast_to(idx, i_shape)
    return Traced(_ops().gather(t, axis, _wrap(idx.astype(np.int64, copy=False), x.t._device)))


def _pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0, **kw: Any) -> Traced:
    if mode != "constant" or constant_values != 0:
        raise TypeError(f"xp.pad(mode={mode!r}) cannot be recorded (create_graph=True)")
    from brickwork.ops.shape import ConstantPad

    pairs = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    widths = tuple((int(lo), int(hi)) for lo, hi in pairs)
    return Traced(ConstantPad.apply(x.t, widths=widths, value=0))


def _take(x: Any, indices: Any, axis: Any = None, **kw: Any) -> Traced:
    """``xp.take``: an index_select of the flattened indices, reshaped as NumPy shapes the result."""
    from brickwork.autograd import _wrap

    t = x.t
    if axis is None:
        t, axis = t.reshape(-1), 0
    axis = int(axis) % t.ndim
    idx = t._device.xp.asarray(untrace(indices)).astype(np.int64, copy=False)
    out = _ops().index_select(t, axis, _wrap(idx.reshape(-1), t._device))
    shape = tuple(t._data.shape[:axis]) + tuple(idx.shape) + tuple(t._data.shape[axis + 1:])
    return Traced(out.reshape(shape))


def _tril(x: Any, k: int = 0) -> Traced:
    return Traced(_ops().tril(x.t, k))


def _triu(x: Any, k: int = 0) -> Traced:
    return Traced(_ops().triu(x.t, k))


def _roll(x: Any, shift: Any, axis: Any = None) -> Traced:
    return Traced(_ops().roll(x.t, shift, axis))


def _maximum(a: Any, b: Any, **kw: Any) -> Traced:
    return _call(_ops().maximum, a, b)


def _minimum(a: Any, b: Any, **kw: Any) -> Traced:
    return _call(_ops().minimum, a, b)


def _power(a: Any, b: Any, **kw: Any) -> Traced:
    return _call(_ops().pow, a, b)


def _binary(name: str) -> Callable:
    def run(a: Any, b: Any, out: Any = None, **kw: Any) -> Traced:
        if out is not None:
            raise TypeError(f"xp.{name}(..., out=) cannot be recorded (create_graph=True)")
        return _call(getattr(_ops(), name), a, b)

    return run


def _clip(x: Any, lo: Any = None, hi: Any = None, **kw: Any) -> Traced:
    return Traced(_ops().clamp(x.t, untrace(lo), untrace(hi)))


def _asarray(x: Any, dtype: Any = None, **kw: Any) -> Traced:
    return x if dtype is None else x.astype(dtype)


def _identity(x: Any, *a: Any, **k: Any) -> Traced:
    return x


def _raw(name: str) -> Callable:
    """A function whose result is not differentiable (a mask, a sign): computed on the raw data."""

    def run(*args: Any, **kwargs: Any) -> Any:
        return getattr(_xp_of(args), name)(*[untrace(a) for a in args],
                                           **{k: untrace(v) for k, v in kwargs.items()})

    return run


def _xp_of(args: Any) -> Any:
    for a in args:
        if type(a) is Traced:
            return a.t._device.xp
    return np


def _inv(x: Any) -> Traced:
    return Traced(_ops().linalg.inv(x.t))


def _solve(a: Any, b: Any) -> Traced:
    ta, tb = _tensors([a, b])
    return Traced(_ops().linalg.solve(ta, tb))


def _svd(a: Any, full_matrices: bool = True, **kw: Any) -> tuple[Traced, Traced, Traced]:
    u, s, vh = _ops().linalg.svd(a.t, full_matrices=full_matrices)
    return Traced(u), Traced(s), Traced(vh)


def _det(a: Any) -> Traced:
    return Traced(_ops().linalg.det(a.t))


_HANDLERS: dict[str, Callable] = {
    "where": _where, "broadcast_to": _broadcast_to, "zeros_like": _like_zeros,
    "empty_like": _like_zeros, "ones_like": _like_ones, "concatenate": _concatenate,
    "stack": _stack, "matmul": _matmul, "dot": _matmul, "einsum": _einsum,
    "tensordot": _tensordot, "moveaxis": _moveaxis, "swapaxes": _swapaxes,
    "transpose": _transpose, "expand_dims": _expand_dims, "flip": _flip, "cumsum": _cumsum,
    "cumprod": _cumprod, "pad": _pad, "take": _take,
    "sum": _sum_fn, "reshape": _reshape, "take_along_axis": _take_along_axis, "tril": _tril,
    "triu": _triu, "roll": _roll, "maximum": _maximum, "minimum": _minimum, "power": _power,
    "clip": _clip, "asarray": _asarray, "ascontiguousarray": _identity, "array": _asarray,
    "add": _binary("add"), "subtract": _binary("sub"), "multiply": _binary("mul"),
    "divide": _binary("div"), "true_divide": _binary("div"), "negative": lambda x, **k: -x,
    "abs": _unary("abs"), "absolute": _unary("abs"), "square": lambda x, **k: x * x,
    "sign": _raw("sign"), "isnan": _raw("isnan"), "isfinite": _raw("isfinite"),
    "isinf": _raw("isinf"), "signbit": _raw("signbit"), "equal": _raw("equal"),
    "greater": _raw("greater"), "less": _raw("less"), "floor": _raw("floor"),
    "floor_divide": _raw("floor_divide"),
    "argmax": _raw("argmax"), "argmin": _raw("argmin"), "argsort": _raw("argsort"),
    "any": _raw("any"), "all": _raw("all"), "count_nonzero": _raw("count_nonzero"),
    "shape": lambda x: x.shape, "ndim": lambda x: x.ndim,
}
for _name in ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "expm1", "log1p",
              "reciprocal", "rsqrt", "log2", "log10", "sinh", "cosh", "arctan", "erf", "lgamma",
              "digamma"):
    _HANDLERS.setdefault(_name, _unary(_name))


class _TracedLinalg:
    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._real, name)
        fn = {"inv": _inv, "solve": _solve, "svd": _svd, "det": _det}.get(name)
        if fn is None:
            return real
        return _dispatch(fn, real)


def _any_traced(args: Any, kwargs: Any) -> bool:
    return (any(type(a) is Traced for a in args) or any(type(v) is Traced for v in kwargs.values())
            or any(isinstance(a, (list, tuple)) and any(type(v) is Traced for v in a) for a in args))


class _Dispatched:
    """``xp.name`` in a recorded backward: the handler for traced arguments, else the real function
    (whose other attributes, ``np.add.reduce`` and the like, stay reachable)."""

    __slots__ = ("handler", "real")

    def __init__(self, handler: Callable, real: Callable) -> None:
        self.handler, self.real = handler, real

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _any_traced(args, kwargs):
            return self.handler(*args, **kwargs)
        return self.real(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def method(*args: Any, **kwargs: Any) -> Any:
            if _any_traced(args, kwargs):
                raise TypeError(
                    f"xp.{getattr(self.real, '__name__', '?')}.{name} writes in place and cannot be "
                    "recorded (create_graph=True); this op's backward is not twice differentiable yet")
            return attr(*args, **kwargs)

        return method


def _dispatch(handler: Callable, real: Callable) -> _Dispatched:
    return _Dispatched(handler, real)


class TracedXP:
    """The array module a recorded backward sees: NumPy's or CuPy's, with every function that
    can get a traced argument running brickwork's differentiable op instead, and new arrays
    (``zeros``, ``ones``, ``full``...) made as traced constants."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.linalg = _TracedLinalg(real.linalg)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._real, name)
        fn: Any
        if name in ("zeros", "ones", "empty", "full"):
            fn = _creator(name)(real)
        elif name == "add":
            fn = _Dispatched(_binary("add"), real)
            fn = _AddWithAt(fn)
        else:
            handler = _HANDLERS.get(name)
            if handler is None:
                return real
            fn = _dispatch(handler, real)
        setattr(self, name, fn)  # (cached on the instance)
        return fn


class _AddWithAt:
    __slots__ = ("fn",)

    def __init__(self, fn: _Dispatched) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def at(self, out: Any, index: Any, values: Any) -> None:
        if type(out) is Traced or type(values) is Traced:
            _IndexAdd.at(out, index, values)
        else:
            self.fn.real.at(out, index, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fn, name)


def _sum_to_shape(g: Any, shape: tuple[int, ...]) -> Any:
    from brickwork.ops._util import sum_to

    return sum_to(g, shape)


def _define_index_add() -> type:
    from brickwork.autograd import Function

    class IndexAdd(Function):
        """``out = base; out[index] += values`` with repeats accumulating (NumPy's ``add.at``)."""

        def forward(self, base: Any, values: Any, index: Any) -> Any:
            self.index, self.values_shape = index, values.shape
            from brickwork import _backend

            out = base.copy()
            _backend.scatter_add(out, index, values)
            return out

        def backward(self, g: Any) -> tuple[Any, ...]:
            need_base, need_values = self.needs_input_grad
            gv = None
            if need_values:
                gv = g[self.index]
                if tuple(gv.shape) != tuple(self.values_shape):
                    gv = _sum_to_shape(gv, tuple(self.values_shape))
            return (g if need_base else None, gv)

    return IndexAdd


IndexAdd: Any = None


_XP_CACHE: dict[int, TracedXP] = {}


def traced_xp(real: Any) -> TracedXP:
    hit = _XP_CACHE.get(id(real))
    if hit is None:
        hit = _XP_CACHE[id(real)] = TracedXP(real)
    return hit
