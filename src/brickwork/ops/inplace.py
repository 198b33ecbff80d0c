"""In-place ops (``add_``, ``zero_``, ``copy_``, ``+=``...).

Outside the graph an in-place op is a plain write into the tensor's storage
(with NumPy's ``out=``), and bumps its version counter so that any backward
that saved the old value refuses to run. Inside the graph (``X /= 2`` in a
``forward``) the tensor's history is rewritten: see ``Tensor._inplace_from``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from brickwork import dtypes
from brickwork.autograd import DeviceMismatchError, Function, _mode
from brickwork.ops import elementwise as ew
from brickwork.random import Generator, rng_for
from brickwork.tensor import Tensor


def _on_own_device(fn: Any) -> Any:
    """Writes (and random draws) outside an op run on the tensor's GPU: CuPy allocates and launches
    on the current device, so make the tensor's current (no-op on the CPU)."""

    @functools.wraps(fn)
    def wrapper(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        if self._device.type == "cpu":
            return fn(self, *args, **kwargs)
        with self._device.activate():
            return fn(self, *args, **kwargs)

    return wrapper


def _arith_(self: Tensor, cls: type[Function], ufunc: str, other: Any) -> Tensor:
    graph = _mode.enabled and (
        self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
    )
    name = f"{ufunc}_"
    if graph:
        return self._inplace_from(cls, other)
    self._check_inplace(False, name)
    if isinstance(other, Tensor):
        if other._device is not self._device:
            raise DeviceMismatchError(name, [self._device, other._device])
        value = other._data
    elif isinstance(other, (int, float, bool, np.number, np.bool_)):
        value = other
    else:
        raise TypeError(f"{name}: unsupported operand type {type(other).__name__}")
    xp = self._device._xp or self._device.xp
    try:
        getattr(xp, ufunc)(self._data, value, out=self._data, casting="same_kind")
    except (TypeError, ValueError) as exc:
        shape = getattr(value, "shape", ())
        raise RuntimeError(
            f"{name}: cannot write the result into a tensor of {self.dtype} and shape "
            f"{tuple(self._data.shape)} (other: shape {tuple(shape)}): {exc}"
        ) from None
    self._version[0] += 1
    return self


def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """In place ``self += alpha * other``; returns ``self``.

    Outside the graph this writes into the tensor's memory and bumps its version counter; inside
    the graph (a non-leaf, or ``other`` requires grad) the tensor's history is rewritten so that
    backward stays correct. The result keeps ``self``'s dtype (float into int raises).

    >>> import brickwork as bw
    >>> x = bw.tensor([1.0, 2.0])
    >>> x.add_(1, alpha=2)
    tensor([3., 4.])
    """
    return _arith_(self, ew.Add, "add", other if alpha == 1 else other * alpha)


def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """In place ``self -= alpha * other``; returns ``self`` (see :meth:`Tensor.add_`)."""
    return _arith_(self, ew.Sub, "subtract", other if alpha == 1 else other * alpha)


def mul_(self: Tensor, other: Any) -> Tensor:
    """In place ``self *= other``; returns ``self`` (see :meth:`Tensor.add_`).

    >>> import brickwork as bw
    >>> bw.tensor([1.0, 2.0]).mul_(2)
    tensor([2., 4.])
    """
    return _arith_(self, ew.Mul, "multiply", other)


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """In place ``self /= other`` (``rounding_mode`` as in :func:`brickwork.div`); returns ``self``."""
    if rounding_mode is not None:
        return copy_(self, ew.div(self, other, rounding_mode=rounding_mode))
    return _arith_(self, ew.Div, "true_divide", other)


def pow_(self: Tensor, exponent: Any) -> Tensor:
    """In place ``self **= exponent``; returns ``self`` (see :meth:`Tensor.add_`)."""
    return _arith_(self, ew.Pow, "power", exponent)


def _unary_(cls: type[Function]) -> Any:
    def method(self: Tensor) -> Tensor:
        return self._inplace_from(cls)

    method.__name__ = f"{cls.__name__.lower()}_"
    method.__doc__ = (f"In place :func:`brickwork.{cls.__name__.lower()}` (``x.{cls.__name__.lower()}_()``); "
                      "returns the tensor itself.")
    return method


neg_ = _unary_(ew.Neg)
abs_ = _unary_(ew.Abs)
exp_ = _unary_(ew.Exp)
log_ = _unary_(ew.Log)
sqrt_ = _unary_(ew.Sqrt)
sigmoid_ = _unary_(ew.Sigmoid)
tanh_ = _unary_(ew.Tanh)
relu_ = _unary_(ew.Relu)
floor_ = _unary_(ew.Floor)
ceil_ = _unary_(ew.Ceil)
round_ = _unary_(ew.Round)
trunc_ = _unary_(ew.Trunc)
sign_ = _unary_(ew.Sign)


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """In place :func:`brickwork.clamp` to ``[min, max]`` (scalars or tensors); returns ``self``.

    ``clip_`` is an alias.

    >>> import brickwork as bw
    >>> bw.tensor([-1.0, 0.5, 2.0]).clamp_(0, 1)
    tensor([0.0000, 0.5000, 1.0000])
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return copy_(self, ew.clamp(self, min, max))
    if min is None and max is None:
        raise RuntimeError("clamp_: at least one of 'min' or 'max' must not be None")
    return self._inplace_from(ew.Clamp, min, max)


clip_ = clamp_


def masked_fill_(self: Tensor, mask: Tensor, value: Any) -> Tensor:
    """In place: set the elements where the bool ``mask`` is true to ``value``; returns ``self``.

    >>> import brickwork as bw
    >>> bw.zeros(3).masked_fill_(bw.tensor([True, False, True]), 7.0)
    tensor([7., 0., 7.])
    """
    if _mode.enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
        return copy_(self, ew.masked_fill(self, mask, value))
    self._check_inplace(False, "masked_fill_")
    if mask._device is not self._device:
        raise DeviceMismatchError("masked_fill_", [self._device, mask._device])
    val = value._data if isinstance(value, Tensor) else value
    xp = self._device.xp
    xp.copyto(self._data, xp.asarray(val, dtype=self._data.dtype), where=mask._data)
    self._version[0] += 1
    return self


def lerp_(self: Tensor, end: Tensor, weight: Any) -> Tensor:
    """In place ``self += weight * (end - self)``; returns ``self``.

    >>> import brickwork as bw
    >>> bw.zeros(2).lerp_(bw.ones(2), 0.25)
    tensor([0.2500, 0.2500])
    """
    return copy_(self, ew.lerp(self, end, weight))


def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """In place ``self += value * tensor1 * tensor2``; returns ``self``."""
    return copy_(self, ew.addcmul(self, tensor1, tensor2, value=value))


def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """In place ``self += value * tensor1 / tensor2``; returns ``self`` (Adam-style updates)."""
    return copy_(self, ew.addcdiv(self, tensor1, tensor2, value=value))


class _CopyFrom(Function):
    """``self.copy_(src)``: the result is ``src`` broadcast to self's shape and dtype."""

    op_name = "copy"

    def forward(self, dst: Any, src: Any) -> Any:
        self.src_shape, self.src_dtype = src.shape, src.dtype
        return self.xp.broadcast_to(src.astype(dst.dtype, copy=False), dst.shape)

    def backward(self, g: Any) -> tuple[Any, ...]:
        from brickwork.ops._util import sum_to

        need_dst, need_src = self.needs_input_grad
        gsrc = sum_to(g, self.src_shape).astype(self.src_dtype, copy=False) if need_src else None
        return (self.xp.zeros_like(g) if need_dst else None, gsrc)


@_on_own_device
def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` into this tensor (broadcasting, casting; across devices on request)."""
    if not isinstance(src, Tensor):
        from brickwork.creation import tensor

        src = tensor(src, device=self._device)
    if src._device is not self._device:
        src = src.to(self._device, non_blocking=non_blocking)
    try:
        np.broadcast_shapes(src._data.shape, self._data.shape)
    except ValueError:
        raise RuntimeError(
            f"copy_: source of shape {tuple(src._data.shape)} cannot be broadcast to the "
            f"destination's shape {tuple(self._data.shape)}"
        ) from None
    graph = _mode.enabled and (self.requires_grad or src.requires_grad)
    if graph:
        return self._inplace_from(_CopyFrom, src)
    self._check_inplace(False, "copy_")
    self._data[...] = src._data
    self._version[0] += 1
    return self


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place; returns ``self``.

    >>> import brickwork as bw
    >>> bw.ones(2).zero_()
    tensor([0., 0.])
    """
    return fill_(self, 0)


@_on_own_device
def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with ``value`` (a number or a one-element tensor) in place; returns ``self``.

    >>> import brickwork as bw
    >>> bw.zeros(2).fill_(3)
    tensor([3., 3.])
    """
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise RuntimeError("fill_: only a one-element tensor can be used as the fill value")
        if _mode.enabled and value.requires_grad:
            return copy_(self, value.reshape(()))
        if value._device is not self._device:
            raise DeviceMismatchError("fill_", [self._device, value._device])
        value = value._data.reshape(())
    self._check_inplace(_mode.enabled and self.requires_grad, "fill_")
    if _mode.enabled and self.requires_grad:
        # a non-leaf in the graph: the filled tensor no longer depends on its past
        from brickwork.autograd import _wrap

        filled = _wrap(self._device.xp.full(self._data.shape, value, dtype=self._data.dtype),
                       self._device)
        return copy_(self, filled)
    self._data[...] = value
    self._version[0] += 1
    return self


def _random_fill(self: Tensor, arr: Any, op: str) -> Tensor:
    graph = _mode.enabled and self.requires_grad
    self._check_inplace(graph, op)
    if graph:
        # a non-leaf in the graph: the new values no longer depend on its past (zero gradient)
        from brickwork.autograd import _wrap

        return copy_(self, _wrap(arr.astype(self._data.dtype, copy=False), self._device))
    self._data[...] = arr
    self._version[0] += 1
    return self


@_on_own_device
def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fill with samples from U(a, b)."""
    rng = rng_for(self._device, generator)
    draw = rng.random(self._data.shape, dtype=_draw_dtype(self))
    draw *= b - a
    draw += a
    return _random_fill(self, draw, "uniform_")


@_on_own_device
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    rng = rng_for(self._device, generator)
    draw = rng.standard_normal(self._data.shape, dtype=_draw_dtype(self))
    draw *= std
    draw += mean
    return _random_fill(self, draw, "normal_")


@_on_own_device
def bernoulli_(self: Tensor, p: float = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill with 1 (probability ``p``) or 0 in place, from ``generator`` or the device's stream.

    >>> import brickwork as bw
    >>> x = bw.empty(100).bernoulli_(0.5)
    >>> set(x.tolist()) <= {0.0, 1.0}
    True
    """
    rng = rng_for(self._device, generator)
    draw = rng.random(self._data.shape, dtype=np.float64) < p
    return _random_fill(self, draw, "bernoulli_")


@_on_own_device
def random_(self: Tensor, low: int = 0, high: Any = None, *,
            generator: Generator | None = None) -> Tensor:
    """Fill in place with integers drawn uniformly from ``[low, high)``; returns ``self``.

    ``random_(n)`` draws from ``[0, n)``, ``random_()`` from ``[0, 2**24)`` (PyTorch: up to the
    dtype's exactly representable integers).

    >>> import brickwork as bw
    >>> x = bw.empty(100).random_(3)
    >>> set(x.tolist()) <= {0.0, 1.0, 2.0}
    True
    """
    if high is None:
        low, high = 0, low if low else 2**24
    rng = rng_for(self._device, generator)
    return _random_fill(self, rng.integers(low, high, size=self._data.shape), "random_")


def _draw_dtype(t: Tensor) -> Any:
    dt = t._data.dtype
    if dt.kind != "f":
        raise RuntimeError(f"random fill: tensor must be floating point, got {dtypes.from_numpy_dtype(dt)}")
    return dt if dt != np.float16 else np.float32

