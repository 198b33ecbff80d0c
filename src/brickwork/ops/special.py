"""More elementwise maths: atan2, hypot, logaddexp, erfinv, lgamma, digamma, frac, logit, xlogy,
heaviside, and the NaN-ignoring reductions nansum and nanmean.

Primitives where the maths needs one (their backward beside them); composites of tested ops
otherwise. NumPy has no erfinv, lgamma or digamma, so they are computed here against ``xp``
(series and recurrences accurate to float64 rounding), identically on NumPy and CuPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import Function, _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.ops._util import as_float, numpy_names, promote, sum_to
from brickwork.tensor import Tensor

__all__ = ["atan2", "arctan2", "hypot", "logaddexp", "erfinv", "lgamma", "digamma", "frac", "logit",
           "xlogy", "heaviside", "nansum", "nanmean"]


def _shape(x: Any) -> tuple[int, ...]:
    return getattr(x, "shape", ())


def _float_pair(input: Any, other: Any, op: str) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one floating dtype (ints promote to float32, as in PyTorch)."""
    a, b = promote(input, other, op)
    like = a if isinstance(a, Tensor) else b
    if not isinstance(a, Tensor):
        a = _wrap(like._device.xp.asarray(a, dtype=like._data.dtype), like._device)
    if not isinstance(b, Tensor):
        b = _wrap(like._device.xp.asarray(b, dtype=like._data.dtype), like._device)
    return as_float(a), as_float(b)


class Atan2(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return self.xp.arctan2(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        a, b = self.a, self.b
        scale = g / (a * a + b * b)
        need_a, need_b = self.needs_input_grad
        return (sum_to(scale * b, _shape(a)) if need_a else None,
                sum_to(-scale * a, _shape(b)) if need_b else None)


class Hypot(Function):
    saved_inputs = (0, 1)
    saves_output = True

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        self.out = self.xp.hypot(a, b)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        scale = g / self.out
        need_a, need_b = self.needs_input_grad
        return (sum_to(scale * self.a, _shape(self.a)) if need_a else None,
                sum_to(scale * self.b, _shape(self.b)) if need_b else None)


class LogAddExp(Function):
    saved_inputs = (0, 1)
    saves_output = True

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        self.out = self.xp.logaddexp(a, b)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        need_a, need_b = self.needs_input_grad
        return (sum_to(g * xp.exp(self.a - self.out), _shape(self.a)) if need_a else None,
                sum_to(g * xp.exp(self.b - self.out), _shape(self.b)) if need_b else None)


def atan2(input: Tensor, other: Any) -> Tensor:
    """The angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant.

    >>> import brickwork as bw
    >>> bw.atan2(bw.tensor([1.0]), bw.tensor([-1.0]))
    tensor([2.3562])
    """
    return Atan2.apply(*_float_pair(input, other, "atan2"))


arctan2 = atan2


def hypot(input: Tensor, other: Any) -> Tensor:
    """``sqrt(input ** 2 + other ** 2)`` without overflow in the squares."""
    return Hypot.apply(*_float_pair(input, other, "hypot"))


def logaddexp(input: Tensor, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow."""
    return LogAddExp.apply(*_float_pair(input, other, "logaddexp"))


# ---------------------------------------------------------------------------
# special functions


def _erfinv_array(xp: Any, y: Any) -> Any:
    """Inverse error function: Giles' single-precision approximation, then two Newton steps on
    ``erf(x) = y`` in float64 (each step squares the relative error)."""
    w = -xp.log((1.0 - y) * (1.0 + y))
    central = w < 5.0
    wc = w - 2.5
    pc = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        pc = c + pc * wc
    wt = xp.sqrt(xp.maximum(w, 5.0)) - 3.0
    pt = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        pt = c + pt * wt
    x = xp.where(central, pc, pt) * y
    two_over_sqrt_pi = 2.0 / math.sqrt(math.pi)
    for _ in range(2):
        x = xp.asarray(x)  # (0-d results come back as NumPy scalars)
        step = (_backend.erf(x) - y) / (two_over_sqrt_pi * xp.exp(-x * x))
        x = xp.where(xp.isfinite(step), x - step, x)
    x = xp.where(y == 1.0, xp.inf, x)
    x = xp.where(y == -1.0, -xp.inf, x)
    return xp.where(xp.abs(y) > 1.0, xp.nan, x)


_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)


def _lgamma_array(xp: Any, x: Any) -> Any:
    """``log|Gamma(x)|``: Lanczos (g = 7) for x >= 0.5, the reflection formula below it."""
    reflect = x < 0.5
    z = xp.where(reflect, 1.0 - x, x) - 1.0
    series = _LANCZOS[0]
    for i, c in enumerate(_LANCZOS[1:], start=1):
        series = series + c / (z + i)
    t = z + 7.5
    log_gamma = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(series)
    sin_pi_x = xp.abs(xp.sin(math.pi * (x - 2.0 * xp.floor(x / 2.0))))
    reflected = math.log(math.pi) - xp.log(sin_pi_x) - log_gamma
    out = xp.where(reflect, reflected, log_gamma)
    pole = (x <= 0) & (x == xp.floor(x))
    return xp.where(pole, xp.inf, out)


def _polygamma_array(xp: Any, order: int, x: Any) -> Any:
    """Digamma (order 0) or trigamma (order 1): the recurrence up to x >= 10, then the asymptotic
    series; the reflection formula for x < 0.5 (digamma) or 0.5 (trigamma)."""
    reflect = x < 0.5
    z = xp.where(reflect, 1.0 - x, x)
    shift = xp.zeros_like(z)
    for _ in range(10):
        small = z < 10.0
        shift = shift + xp.where(small, 1.0 / z if order == 0 else 1.0 / (z * z), 0.0)
        z = xp.where(small, z + 1.0, z)
    inv2 = 1.0 / (z * z)
    if order == 0:
        tail = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
        value = xp.log(z) - 0.5 / z - tail - shift
        tan_term = math.pi / xp.tan(math.pi * x)
        out = xp.where(reflect, value - tan_term, value)
    else:
        tail = (1.0 / z + inv2 / 2 + inv2 / z * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30))))
        value = tail + shift
        csc2 = (math.pi / xp.sin(math.pi * x)) ** 2
        out = xp.where(reflect, csc2 - value, value)
    pole = (x <= 0) & (x == xp.floor(x))
    if order == 0:  # as PyTorch: -inf at 0, NaN at the negative integers
        return xp.where(x == 0, -xp.inf, xp.where(pole, xp.nan, out))
    return xp.where(pole, xp.inf, out)


def _in_float64(fn: Any, xp: Any, x: Any, *args: Any) -> Any:
    """Evaluate in float64 (float32 inputs would lose the series' accuracy), return in x's dtype."""
    return fn(xp, *args, x.astype(np.float64)).astype(x.dtype, copy=False)


class Erfinv(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        self.out = _in_float64(_erfinv_array, self.xp, x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * (math.sqrt(math.pi) / 2) * self.xp.exp(self.out * self.out),)


class Lgamma(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return _in_float64(_lgamma_array, self.xp, x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * _in_float64(_polygamma_array, self.xp, self.x, 0),)


class Digamma(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return _in_float64(_polygamma_array, self.xp, x, 0)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * _in_float64(_polygamma_array, self.xp, self.x, 1),)


def erfinv(input: Tensor) -> Tensor:
    """The inverse error function: ``erf(erfinv(y)) == y`` on (-1, 1); +-inf at +-1, NaN outside.

    >>> import brickwork as bw
    >>> bw.erfinv(bw.tensor([0.0, 0.5]))
    tensor([0.0000, 0.4769])
    """
    return Erfinv.apply(as_float(input))


def lgamma(input: Tensor) -> Tensor:
    """``log(|Gamma(input)|)``; its gradient is :func:`digamma`."""
    return Lgamma.apply(as_float(input))


def digamma(input: Tensor) -> Tensor:
    """The logarithmic derivative of Gamma; -inf at 0 and NaN at the negative integers (as PyTorch)."""
    return Digamma.apply(as_float(input))


# ---------------------------------------------------------------------------
# composites


def frac(input: Tensor) -> Tensor:
    """The fractional part, with the sign of ``input``: ``input - trunc(input)``."""
    return ew.sub(input, ew.trunc(input).detach())


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]``.

    >>> import brickwork as bw
    >>> bw.logit(bw.tensor([0.5, 0.0]), eps=1e-6)
    tensor([  0.0000, -13.8155])
    """
    x = as_float(input)
    if eps is not None:
        x = ew.clamp(x, eps, 1.0 - eps)
    return ew.log(ew.div(x, ew.sub(1.0, x)))


def xlogy(input: Any, other: Any) -> Tensor:
    """``input * log(other)``, taken as 0 where ``input == 0`` (unless ``other`` is NaN)."""
    x, y = _float_pair(input, other, "xlogy")
    zero = ew.logical_and(ew.eq(x, 0), ew.logical_not(ew.isnan(y)))
    # where x == 0 and log(y) is finite, x * log(y) is already 0 and d/dx keeps log(y), as in torch;
    # elsewhere at x == 0 (y <= 0 or inf) y is replaced so the product stays 0 instead of NaN
    bad = ew.logical_and(zero, ew.logical_not(ew.logical_and(ew.gt(y, 0), ew.isfinite(y))))
    return ew.mul(x, ew.log(ew.where(bad, 1.0, y)))


def heaviside(input: Tensor, values: Any) -> Tensor:
    """The step function: 0 below zero, 1 above, ``values`` at zero (no gradient, as in PyTorch)."""
    if isinstance(values, Tensor) and values._data.dtype != input._data.dtype:
        raise RuntimeError(f"heaviside: input ({input.dtype}) and values ({values.dtype}) must have "
                           "the same dtype")
    x = input.detach()
    v = values.detach() if isinstance(values, Tensor) else values
    step = ew.gt(x, 0).to(x.dtype)
    return ew.where(ew.eq(x, 0), v, step).to(x.dtype)


@numpy_names
def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The sum over ``dim`` with NaNs counted as zero (their gradient is zero)."""
    x = input if dtype is None else input.to(dtype)
    if x._data.dtype.kind != "f":
        return rd.sum(x, dim, keepdim)
    return rd.sum(ew.where(ew.isnan(x), 0.0, x), dim, keepdim)


@numpy_names
def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The mean over ``dim`` of the values that are not NaN."""
    x = input if dtype is None else input.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean: expects a floating point tensor, got {x.dtype}")
    count = rd.sum(ew.logical_not(ew.isnan(x)).to(x.dtype), dim, keepdim)
    return ew.div(nansum(x, dim, keepdim), count)
