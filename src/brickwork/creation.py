"""Creating tensors: from data, filled, ranges, random, ``*_like`` and legacy types.

Sizes may be given as varargs, one sequence or ``size=``: ``zeros(2, 3)``,
``zeros((2, 3))``, ``zeros(size=(2, 3))``. Floating tensors default to
float32 and integer ones to int64.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from brickwork import _backend, _budget, dtypes
from brickwork.autograd import _wrap
from brickwork.ops._util import as_size, shape_args
from brickwork.random import Generator, rng_for
from brickwork.tensor import Tensor, to_array

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange",
    "linspace", "logspace", "rand", "randn", "randint", "randperm", "normal", "bernoulli",
    "multinomial", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
    "randn_like", "randint_like", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
    "BoolTensor", "HalfTensor", "ByteTensor", "ShortTensor", "CharTensor",
]


def _device(device: Any) -> _backend.Device:
    if device is None:
        return _backend.CPU
    return _backend.Device(device).resolved()


def _on_target_device(fn: Any) -> Any:
    """CuPy allocates (and its generators draw) on the current device: make the target GPU current
    (``device=`` or the input tensor's), and put the previous one back."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device = kwargs.get("device")
        if device is None and args and isinstance(args[0], Tensor):
            device = args[0]._device
        if device is None or _backend._cupy is None:
            return fn(*args, **kwargs)
        with _backend.Device(device).resolved().activate():
            return fn(*args, **kwargs)

    return wrapper


def _finish(arr: Any, device: _backend.Device, requires_grad: bool) -> Tensor:
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    t = _wrap(arr, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size: tuple, size_kw: Any, op: str) -> tuple[int, ...]:
    if size_kw is not None:
        if size:
            raise TypeError(f"{op}: size given both positionally and as size=")
        size = (size_kw,)
    shape = shape_args(size, op)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: negative dimension {s} in size {shape}")
    _budget.charge(shape, op)  # io: bw.load_model bounds what a file's constructor arguments allocate
    return shape


def _dtype(dtype: Any, default: dtypes.DType | None = None) -> dtypes.DType:
    if dtype is None:
        return dtypes.DEFAULT_FLOAT if default is None else default
    return dtypes.as_dtype(dtype)


# ---------------------------------------------------------------------------
# from data


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays, tensors).

    >>> import brickwork as bw
    >>> bw.tensor([[1, 2], [3, 4]])
    tensor([[1, 2],
            [3, 4]])
    >>> bw.tensor([1.5, 2.0]).dtype
    brickwork.float32
    """
    dev = _device(device if device is not None else
                  (data._device if isinstance(data, Tensor) else
                   (_backend.device_of_array(data) if _backend.is_array(data) else None)))
    arr = to_array(data, None if dtype is None else dtypes.as_dtype(dtype), dev)
    return _finish(arr, dev, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a tensor or array when it can."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    if _backend.is_array(data):
        dev = _device(device) if device is not None else _backend.device_of_array(data)
        want = None if dtype is None else dtypes.as_dtype(dtype).np
        if dev is _backend.device_of_array(data) and (want is None or want == data.dtype):
            dtypes.from_numpy_dtype(data.dtype)
            return _wrap(data, dev)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (its dtype kept, float64 included).

    >>> import numpy as np
    >>> import brickwork as bw
    >>> a = np.arange(3.0)
    >>> t = bw.from_numpy(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 1., 2.], dtype=brickwork.float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype)
    return _wrap(array, _backend.CPU)


# ---------------------------------------------------------------------------
# filled


@_on_target_device
def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """A tensor of zeros.

    >>> import brickwork as bw
    >>> bw.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    >>> bw.zeros((2,), dtype=bw.int64)
    tensor([0, 0])
    """
    shape = _size(size, kwargs.pop("size", None), "zeros")
    _no_extra(kwargs, "zeros")
    dev = _device(device)
    return _finish(dev.xp.zeros(shape, dtype=_dtype(dtype).np), dev, requires_grad)


@_on_target_device
def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         **kwargs: Any) -> Tensor:
    """A tensor of ones.

    >>> import brickwork as bw
    >>> bw.ones(2, dtype=bw.int64)
    tensor([1, 1])
    """
    shape = _size(size, kwargs.pop("size", None), "ones")
    _no_extra(kwargs, "ones")
    dev = _device(device)
    return _finish(dev.xp.ones(shape, dtype=_dtype(dtype).np), dev, requires_grad)


@_on_target_device
def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """An "uninitialised" tensor; brickwork fills it with zeros so runs are reproducible.

    >>> import brickwork as bw
    >>> bw.empty(2)
    tensor([0., 0.])
    """
    shape = _size(size, kwargs.pop("size", None), "empty")
    kwargs.pop("memory_format", None)
    kwargs.pop("pin_memory", None)
    _no_extra(kwargs, "empty")
    dev = _device(device)
    return _finish(dev.xp.zeros(shape, dtype=_dtype(dtype).np), dev, requires_grad)


@_on_target_device
def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (its dtype inferred from the value).

    >>> import brickwork as bw
    >>> bw.full((2,), 7), bw.full((2,), 0.5)
    (tensor([7, 7]), tensor([0.5000, 0.5000]))
    """
    shape = _size((size,), None, "full")
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = dtypes.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = dtypes.int64
        else:
            dtype = dtypes.DEFAULT_FLOAT
    dev = _device(device)
    return _finish(dev.xp.full(shape, fill_value, dtype=_dtype(dtype).np), dev, requires_grad)


@_on_target_device
def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (``n`` x ``m``).

    >>> import brickwork as bw
    >>> bw.eye(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    dev = _device(device)
    n = as_size(n, "eye", "n")
    m = n if m is None else as_size(m, "eye", "m")
    return _finish(dev.xp.eye(n, m, dtype=_dtype(dtype).np), dev, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; int64 if all arguments are ints.

    >>> import brickwork as bw
    >>> bw.arange(5)
    tensor([0, 1, 2, 3, 4])
    >>> bw.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    all_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals)
    dt = _dtype(dtype, dtypes.int64 if all_int else dtypes.DEFAULT_FLOAT)
    n = max(0, math.ceil((end - start) / step))
    # computed in float64 (or int64) and then cast, like PyTorch
    arr = start + step * np.arange(n, dtype=np.int64 if all_int else np.float64)
    dev = _device(device)
    arr = arr.astype(dt.np)
    return _finish(_backend.transfer(arr, dev) if dev.type != "cpu" else arr, dev, requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    >>> import brickwork as bw
    >>> bw.linspace(0, 1, 5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    steps = as_size(steps, "linspace", "steps")
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    arr = np.linspace(float(start), float(end), steps).astype(_dtype(dtype).np)
    dev = _device(device)
    return _finish(_backend.transfer(arr, dev) if dev.type != "cpu" else arr, dev, requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in the exponent.

    >>> import brickwork as bw
    >>> bw.logspace(0, 2, 3)
    tensor([  1.,  10., 100.])
    >>> bw.logspace(0, 3, 4, base=2)
    tensor([1., 2., 4., 8.])
    """
    steps = as_size(steps, "logspace", "steps")
    arr = np.logspace(float(start), float(end), steps, base=base).astype(_dtype(dtype).np)
    dev = _device(device)
    return _finish(_backend.transfer(arr, dev) if dev.type != "cpu" else arr, dev, requires_grad)


# ---------------------------------------------------------------------------
# random


def _float_draw(kind: str, shape: tuple[int, ...], dtype: Any, device: Any,
                generator: Generator | None) -> tuple[Any, _backend.Device, dtypes.DType]:
    dev = _device(device)
    dt = _dtype(dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{kind}: dtype must be floating point, got {dt}")
    rng = rng_for(dev, generator)
    draw_dt = dt.np if dt.np != np.float16 else np.float32
    if kind == "rand":
        arr = rng.random(shape, dtype=draw_dt)
    else:
        arr = rng.standard_normal(shape, dtype=draw_dt)
    if arr.dtype != dt.np:
        arr = arr.astype(dt.np)
    return arr, dev, dt


@_on_target_device
def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Uniform samples from [0, 1).

    >>> import brickwork as bw
    >>> x = bw.rand(2, 3)
    >>> x.shape, x.dtype, bool(((x >= 0) & (x < 1)).all())
    (brickwork.Size([2, 3]), brickwork.float32, True)
    """
    shape = _size(size, kwargs.pop("size", None), "rand")
    _no_extra(kwargs, "rand")
    arr, dev, _ = _float_draw("rand", shape, dtype, device, generator)
    return _finish(arr, dev, requires_grad)


@_on_target_device
def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """Standard normal samples.

    >>> import brickwork as bw
    >>> _ = bw.manual_seed(0)
    >>> a = bw.randn(3)
    >>> _ = bw.manual_seed(0)
    >>> bool((a == bw.randn(3)).all())  # the same seed gives the same numbers
    True
    """
    shape = _size(size, kwargs.pop("size", None), "randn")
    _no_extra(kwargs, "randn")
    arr, dev, _ = _float_draw("randn", shape, dtype, device, generator)
    return _finish(arr, dev, requires_grad)


@_on_target_device
def randint(low: int, high: Any = None, size: Any = None, *, generator: Generator | None = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers from ``low`` (default 0) up to ``high`` (exclusive): ``randint(10, (3,))``.

    >>> import brickwork as bw
    >>> x = bw.randint(10, (3,))
    >>> x.dtype, bool(((x >= 0) & (x < 10)).all())
    (brickwork.int64, True)
    """
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint: size must be given, e.g. randint(10, (3,))")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _size((size,), None, "randint")
    dev = _device(device)
    arr = rng_for(dev, generator).integers(low, high, size=shape, dtype=np.int64)
    dt = _dtype(dtype, dtypes.int64)
    return _finish(arr.astype(dt.np, copy=False), dev, requires_grad)


@_on_target_device
def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0..n-1``.

    >>> import brickwork as bw
    >>> sorted(bw.randperm(4).tolist())
    [0, 1, 2, 3]
    """
    dev = _device(device)
    # argsort of uniform keys: the same on both backends (CuPy's Generator has no permutation())
    keys = rng_for(dev, generator).random(as_size(n, "randperm", "n"), dtype=np.float64)
    arr = dev.xp.argsort(keys).astype(_dtype(dtype, dtypes.int64).np)
    return _finish(arr, dev, requires_grad)


@_on_target_device
def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples; ``mean`` and ``std`` may be tensors (elementwise) or floats with ``size``.

    >>> import brickwork as bw
    >>> bw.normal(0.0, 1.0, (2, 3)).shape
    brickwork.Size([2, 3])
    >>> bw.normal(bw.zeros(4), 0.0)  # tensor means, zero spread
    tensor([0., 0., 0., 0.])
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        shape = np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
        z, dev, _ = _float_draw("randn", shape, ref.dtype, ref._device, generator)
        return _finish((z * s + m).astype(ref._data.dtype, copy=False), dev, requires_grad)
    if size is None:
        size = ()
    shape = _size((size,), None, "normal")
    z, dev, _ = _float_draw("randn", shape, dtype, device, generator)
    z *= std
    z += mean
    return _finish(z, dev, requires_grad)


@_on_target_device
def bernoulli(input: Tensor, p: Any = None, *, generator: Generator | None = None) -> Tensor:
    """Draw 0/1 with probabilities ``input`` (or the scalar ``p``).

    >>> import brickwork as bw
    >>> bw.bernoulli(bw.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    probs = input._data if p is None else p
    u = rng_for(input._device, generator).random(input._data.shape, dtype=np.float64)
    return _finish((u < probs).astype(input._data.dtype), input._device, False)


@_on_target_device
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Sample category indices with the given (unnormalised) weights, per row of ``input``.

    Vectorised on either backend: with replacement by inverting each row's
    cumulative distribution; without replacement by the Gumbel-top-k trick
    (the ``k`` largest ``log(w) + Gumbel noise`` are a weighted sample without
    replacement).

    >>> import brickwork as bw
    >>> bw.multinomial(bw.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    tensor([1, 1])
    """
    xp = input._device.xp
    num_samples = as_size(num_samples, "multinomial", "num_samples")
    probs = input._data.astype(np.float64)
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: expected a 1-D or 2-D weight tensor, got shape {probs.shape}")
    rows = probs.reshape(-1, probs.shape[-1])
    n = rows.shape[-1]
    # (on a GPU both checks run there and are reported at the next host sync: no sync per draw)
    _backend.check_on_device((rows < 0).any() | ~xp.isfinite(rows).all() | (rows.sum(-1) <= 0).any(),
                             "multinomial: weights must be finite, non-negative, with a positive sum per row",
                             RuntimeError)
    if not replacement:
        _backend.check_on_device(
            num_samples > (rows > 0).sum(-1).min(),
            f"multinomial: cannot draw {num_samples} samples without replacement from a row with fewer "
            "categories of non-zero weight", RuntimeError
        )
    rng = rng_for(input._device, generator)
    if replacement:
        cdf = xp.cumsum(rows, axis=-1)
        cdf /= cdf[:, -1:]
        u = rng.random((rows.shape[0], num_samples), dtype=np.float64)
        idx = (cdf[:, None, :] <= u[:, :, None]).sum(-1)
        idx = xp.minimum(idx, n - 1)  # u is below 1, but guard against rounding in the cdf
    else:
        u = rng.random(rows.shape, dtype=np.float64)
        with np.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(u))
        idx = xp.argsort(-keys, axis=-1)[:, :num_samples]
    return _finish(idx.astype(np.int64).reshape(probs.shape[:-1] + (num_samples,)), input._device, False)


# ---------------------------------------------------------------------------
# *_like


def _like(t: Tensor, dtype: Any, device: Any) -> tuple[tuple[int, ...], Any, Any]:
    return t._data.shape, dtype if dtype is not None else t.dtype, device if device is not None else t._device


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros with ``input``'s shape, and its dtype and device unless given.

    >>> import brickwork as bw
    >>> bw.zeros_like(bw.tensor([[1, 2]]))
    tensor([[0, 0]])
    """
    shape, dt, dev = _like(input, dtype, device)
    return zeros(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Ones with ``input``'s shape, and its dtype and device unless given.

    >>> import brickwork as bw
    >>> bw.ones_like(bw.tensor([[1, 2]]), dtype=bw.float32)
    tensor([[1., 1.]])
    """
    shape, dt, dev = _like(input, dtype, device)
    return ones(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A tensor with ``input``'s shape (dtype, device unless given), filled with zeros for reproducibility."""
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """A tensor with ``input``'s shape (dtype, device unless given) filled with ``fill_value``.

    >>> import brickwork as bw
    >>> bw.full_like(bw.tensor([[1, 2]]), 7)
    tensor([[7, 7]])
    """
    shape, dt, dev = _like(input, dtype, device)
    return full(shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1) with ``input``'s shape, and its dtype and device unless given."""
    shape, dt, dev = _like(input, dtype, device)
    return rand(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples with ``input``'s shape, and its dtype and device unless given."""
    shape, dt, dev = _like(input, dtype, device)
    return randn(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int, high: Any = None, *, dtype: Any = None,
                 device: Any = None) -> Tensor:
    """Random integers from ``[low, high)`` (``[0, low)`` with one bound) shaped like ``input``.

    The dtype is ``input``'s unless given, as in PyTorch.

    >>> import brickwork as bw
    >>> x = bw.randint_like(bw.zeros(100, dtype=bw.int64), 3)
    >>> x.dtype, bool(((x >= 0) & (x < 3)).all())
    (brickwork.int64, True)
    """
    shape, dt, dev = _like(input, dtype, device)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dt, device=dev)


def _no_extra(kwargs: dict, op: str) -> None:
    kwargs.pop("out", None)
    kwargs.pop("layout", None)
    kwargs.pop("pin_memory", None)
    if kwargs:
        raise TypeError(f"{op}() got unexpected keyword arguments {sorted(kwargs)}")


# ---------------------------------------------------------------------------
# legacy typed constructors (FloatTensor([1, 2]), FloatTensor(2, 3)) live in _legacy_types

from brickwork._legacy_types import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
