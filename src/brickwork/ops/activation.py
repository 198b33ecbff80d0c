"""Activation functions as fused pointwise primitives.

Each op computes its output and, only when the input needs a gradient, its
derivative in the same pass over the data (so backward is one multiply and
nothing is recomputed): ``backward(g) = g * derivative``. The derivative
follows PyTorch's convention at every kink (e.g. ``leaky_relu'(0)`` is the
negative slope, ``hardtanh'`` is 0 at both bounds).

A recorded backward (``create_graph=True``) cannot use that saved array: it
is a value, not a function of the input. There ``recorded_derivative`` writes
the derivative again with differentiable ops of the saved input (or output),
so that second derivatives come out; piecewise-constant derivatives (leaky
ReLU, hardtanh, hardsigmoid) are constants and are used as they are. For
that, the smooth ones keep their input (as PyTorch does) beside the fused
derivative, and the ELU family its output.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork._traced import Traced
from brickwork.autograd import Function
from brickwork.ops._util import as_float
from brickwork.tensor import Tensor

__all__ = [
    "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "hardtanh", "relu6",
    "hardsigmoid", "hardswish", "logsigmoid",
]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class _Pointwise(Function):
    """Base of the activations: forward stores ``self.derivative`` when a gradient is needed."""

    derivative: Any
    # the fused derivative is read by a first-order backward only; a recorded one asks
    # recorded_derivative, which every subclass defines
    double_backward_constants = ("derivative",)

    def backward(self, g: Any) -> tuple[Any, ...]:
        if type(g) is Traced:  # a recorded backward (create_graph=True)
            return (g * self.recorded_derivative(),)
        return (g * self.derivative,)

    def recorded_derivative(self) -> Any:
        """The derivative for a recorded backward: traced, from the saved input or output."""
        raise NotImplementedError


class _PiecewiseLinear(_Pointwise):
    """An activation whose derivative is piecewise constant: a constant of the recorded backward
    (the second derivative is zero, as in PyTorch)."""

    def recorded_derivative(self) -> Any:
        return self.derivative


class LeakyRelu(_PiecewiseLinear):
    op_name = "leaky_relu"

    def forward(self, x: Any, slope: float) -> Any:
        xp = self.xp
        positive = x > 0
        out = xp.where(positive, x, x * slope)
        if self.needs_input_grad[0]:
            self.derivative = xp.where(positive, x.dtype.type(1), x.dtype.type(slope))
        return out


class Elu(_Pointwise):
    """``scale · (x if x > 0 else alpha · (exp(input_scale · x) - 1))``: ELU, SELU and CELU."""

    op_name = "elu"
    saves_output = True  # (the recorded derivative is a function of the output, as PyTorch's in-place one)

    def forward(self, x: Any, alpha: float, scale: float, input_scale: float) -> Any:
        xp = self.xp
        positive = x > 0
        e = xp.exp(xp.minimum(x, 0) * input_scale)  # no overflow for large positive x
        neg = (e - 1) * (alpha * scale)
        out = xp.where(positive, x * scale, neg)
        if self.needs_input_grad[0]:
            e *= alpha * scale * input_scale
            self.derivative = xp.where(positive, x.dtype.type(scale), e)
            self.out, self.alpha, self.scale, self.input_scale = out, alpha, scale, input_scale
            # the sign of x: read off the output, except where alpha < 0 makes both branches positive
            self.signs = (positive, x < 0) if alpha < 0 else None
        return out

    def recorded_derivative(self) -> Any:
        xp, out, alpha_scale = self.xp, self.out, self.alpha * self.scale
        positive, negative = self.signs if self.signs is not None else (out > 0, out < 0)
        # below 0: alpha·scale·input_scale·exp(input_scale·x) = input_scale·(out + alpha·scale);
        # at 0 that value as a constant (PyTorch's second derivative is 0 there)
        below = xp.where(negative, (out + alpha_scale) * self.input_scale, alpha_scale * self.input_scale)
        return xp.where(positive, self.scale, below)


class Gelu(_Pointwise):
    """``x · Φ(x)`` exactly (erf) or with PyTorch's tanh approximation."""

    op_name = "gelu"
    saved_inputs = (0,)

    def forward(self, x: Any, approximate: str) -> Any:
        xp = self.xp
        need = self.needs_input_grad[0]
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            inner = x * x
            inner *= 0.044715
            inner += 1
            inner *= x
            inner *= _SQRT_2_OVER_PI
            t = xp.tanh(inner, out=inner)
            half_1pt = t + 1
            half_1pt *= 0.5
            out = x * half_1pt
            if need:
                dinner = x * x
                dinner *= 3 * 0.044715
                dinner += 1
                dinner *= _SQRT_2_OVER_PI
                one_mt2 = 1 - t * t
                one_mt2 *= dinner
                one_mt2 *= 0.5
                one_mt2 *= x
                one_mt2 += half_1pt
                self.derivative = one_mt2
            return out
        cdf = erf(xp, x * _SQRT_HALF)
        cdf += 1
        cdf *= 0.5
        out = x * cdf
        if need:
            pdf = x * x
            pdf *= -0.5
            xp.exp(pdf, out=pdf)
            pdf *= _INV_SQRT_2PI
            pdf *= x
            pdf += cdf
            self.derivative = pdf
        return out

    def recorded_derivative(self) -> Any:
        x = self.x.t
        if self.approximate == "tanh":
            t = ((x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI).tanh()
            inner_grad = (1 + (3 * 0.044715) * x * x) * _SQRT_2_OVER_PI
            return Traced(0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner_grad)
        cdf = 0.5 * (1 + (x * _SQRT_HALF).erf())
        return Traced(cdf + x * (-0.5 * x * x).exp() * _INV_SQRT_2PI)


class Silu(_Pointwise):
    """``x · sigmoid(x)``."""

    op_name = "silu"
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        s = _sigmoid(self.xp, x)
        out = x * s
        if self.needs_input_grad[0]:
            d = 1 - s
            d *= x
            d += 1
            d *= s
            self.derivative = d
        return out

    def recorded_derivative(self) -> Any:
        x = self.x.t
        s = x.sigmoid()
        return Traced(s * (1 + x * (1 - s)))


class Mish(_Pointwise):
    """``x · tanh(softplus(x))``."""

    op_name = "mish"
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        xp = self.xp
        self.x = x
        t = xp.tanh(_softplus(xp, x))
        out = x * t
        if self.needs_input_grad[0]:
            d = 1 - t * t
            d *= _sigmoid(xp, x)
            d *= x
            d += t
            self.derivative = d
        return out

    def recorded_derivative(self) -> Any:
        x = self.x.t
        t = softplus(x).tanh()
        return Traced(t + x * x.sigmoid() * (1 - t * t))


class Softplus(_Pointwise):
    """``log(1 + exp(beta·x)) / beta``, linear where ``beta·x > threshold``."""

    op_name = "softplus"
    saved_inputs = (0,)

    def forward(self, x: Any, beta: float, threshold: float) -> Any:
        xp = self.xp
        bx = x * beta
        linear = bx > threshold
        self.x, self.beta, self.linear = x, beta, linear
        soft = _softplus(xp, bx)
        if beta != 1:
            soft /= beta
        out = xp.where(linear, x, soft)
        if self.needs_input_grad[0]:
            self.derivative = xp.where(linear, x.dtype.type(1), _sigmoid(xp, bx))
        return out

    def recorded_derivative(self) -> Any:
        return self.xp.where(self.linear, 1.0, Traced((self.x.t * self.beta).sigmoid()))


class Hardtanh(_PiecewiseLinear):
    """``clip(x, min_val, max_val)``; the gradient is 0 at and beyond the bounds."""

    op_name = "hardtanh"

    def forward(self, x: Any, min_val: float, max_val: float) -> Any:
        xp = self.xp
        out = xp.clip(x, min_val, max_val)
        if self.needs_input_grad[0]:
            self.derivative = ((x > min_val) & (x < max_val)).astype(x.dtype)
        return out


class Hardsigmoid(_PiecewiseLinear):
    """``relu6(x + 3) / 6``."""

    op_name = "hardsigmoid"

    def forward(self, x: Any) -> Any:
        xp = self.xp
        out = xp.clip(x + 3, 0, 6)
        out /= 6
        if self.needs_input_grad[0]:
            inside = (x > -3) & (x < 3)
            self.derivative = inside.astype(x.dtype) / 6
        return out


class Hardswish(_Pointwise):
    """``x · relu6(x + 3) / 6``."""

    op_name = "hardswish"
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        xp = self.xp
        self.x = x
        gate = xp.clip(x + 3, 0, 6)
        gate /= 6
        out = x * gate
        if self.needs_input_grad[0]:
            middle = x / 3 + 0.5
            d = xp.where(x < -3, x.dtype.type(0), xp.where(x <= 3, middle, x.dtype.type(1)))
            self.derivative = d
        return out

    def recorded_derivative(self) -> Any:
        x = self.x
        return self.xp.where(x < -3, 0.0, self.xp.where(x <= 3, x / 3 + 0.5, 1.0))


class LogSigmoid(_Pointwise):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""

    op_name = "logsigmoid"
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        xp = self.xp
        self.x = x
        out = -_softplus(xp, -x)
        if self.needs_input_grad[0]:
            self.derivative = _sigmoid(xp, -x)
        return out

    def recorded_derivative(self) -> Any:
        return Traced((-self.x.t).sigmoid())


# ---------------------------------------------------------------------------
# array helpers


def _sigmoid(xp: Any, x: Any) -> Any:
    with np.errstate(over="ignore"):
        e = xp.exp(-x)
    e += 1
    return xp.divide(1, e, out=e)  # = reciprocal, which NumPy does not vectorise (2x slower)


def _softplus(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    out = -xp.abs(x)
    xp.exp(out, out=out)
    xp.log1p(out, out=out)
    out += xp.maximum(x, 0)
    return out


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, the resolution of float32 itself
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def erf(xp: Any, x: Any) -> Any:
    """The error function: a fast vectorised approximation for float32 NumPy arrays,
    the backend's exact one otherwise (float64 needs full double precision)."""
    if xp is not np or x.dtype != np.float32:
        return _backend.erf(x)
    ax = np.abs(x)
    t = ax * _AS_P
    t += 1
    np.divide(1, t, out=t)  # = reciprocal, vectorised
    poly = t * _AS_A[0]
    for a in _AS_A[1:]:
        poly += a
        poly *= t
    ax *= ax
    np.negative(ax, out=ax)
    np.exp(ax, out=ax)
    poly *= ax
    np.subtract(1, poly, out=poly)
    return np.copysign(poly, x, out=poly)


# ---------------------------------------------------------------------------
# functions


def apply_pointwise(cls: type[Function], *inputs: Tensor, **opts: Any) -> Tensor:
    """``cls.apply`` on same-shaped inputs; 0-d ones run as shape ``(1,)``, since NumPy
    turns 0-d results into scalars that cannot take ``out=``."""
    if inputs[0]._data.ndim == 0:
        return cls.apply(*(t.reshape(1) for t in inputs), **opts).reshape(())
    return cls.apply(*inputs, **opts)


def _apply(cls: type[Function], input: Tensor, inplace: bool, **opts: Any) -> Tensor:
    x = as_float(input)
    if not inplace:
        return apply_pointwise(cls, x, **opts)
    if x is not input:
        raise RuntimeError(
            f"{cls.op_name}: inplace=True needs a floating point tensor, got {input.dtype}"
        )
    if input._data.ndim == 0:
        return input.copy_(apply_pointwise(cls, input, **opts))
    return input._inplace_from(cls, **opts)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``negative_slope · x`` elsewhere.

    >>> import brickwork as bw
    >>> leaky_relu(bw.tensor([-2.0, 3.0]), 0.5)
    tensor([-1.,  3.])
    """
    return _apply(LeakyRelu, input, inplace, slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``alpha · (exp(x) - 1)`` elsewhere.

    >>> import brickwork as bw
    >>> elu(bw.tensor([0.0, 2.0]))
    tensor([0., 2.])
    """
    return _apply(Elu, input, inplace, alpha=float(alpha), scale=1.0, input_scale=1.0)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """Self-normalising ELU with PyTorch's fixed ``alpha`` and ``scale``."""
    return _apply(Elu, input, inplace, alpha=SELU_ALPHA, scale=SELU_SCALE, input_scale=1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha · (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    return _apply(Elu, input, inplace, alpha=float(alpha), scale=1.0, input_scale=1.0 / alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x · Φ(x)``; ``approximate='tanh'`` for the tanh form.

    >>> import brickwork as bw
    >>> gelu(bw.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply_pointwise(Gelu, as_float(input), approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · sigmoid(x)`` (also called swish).

    >>> import brickwork as bw
    >>> silu(bw.tensor([0.0]))
    tensor([0.])
    """
    return _apply(Silu, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · tanh(softplus(x))``."""
    return _apply(Mish, input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta · x)) / beta``, reverting to ``x`` where ``beta · x > threshold``.

    >>> import brickwork as bw
    >>> softplus(bw.tensor([0.0, 100.0]))
    tensor([  0.6931, 100.0000])
    """
    return apply_pointwise(Softplus, as_float(input), beta=float(beta), threshold=float(threshold))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clip(x, min_val, max_val)``.

    >>> import brickwork as bw
    >>> hardtanh(bw.tensor([-2.0, 0.5, 2.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _apply(Hardtanh, input, inplace, min_val=float(min_val), max_val=float(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``clip(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _apply(Hardsigmoid, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x · relu6(x + 3) / 6``."""
    return _apply(Hardswish, input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stable for large ``|x|``.

    >>> import brickwork as bw
    >>> logsigmoid(bw.tensor([-10.0, 0.0]))
    tensor([-10.0000,  -0.6931])
    """
    return apply_pointwise(LogSigmoid, as_float(input))
