"""Elementwise ops: arithmetic, unary maths, activations, comparisons, where.

Each primitive is one class with ``forward`` and ``backward`` side by side;
the functions below them handle dtype promotion and scalars, then call
``Class.apply``. Binary ops broadcast; their backward undoes broadcasting with
``sum_to`` and nothing else.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import Function
from brickwork.ops._util import as_float, promote, sum_to
from brickwork.tensor import Tensor


def _shape(x: Any) -> tuple[int, ...]:
    return getattr(x, "shape", ())


# ---------------------------------------------------------------------------
# binary arithmetic


class Add(Function):
    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (_shape(a), _shape(b))
        return a + b

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        sa, sb = self.shapes
        return (sum_to(g, sa) if need_a else None, sum_to(g, sb) if need_b else None)


class Sub(Function):
    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (_shape(a), _shape(b))
        return a - b

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        sa, sb = self.shapes
        return (sum_to(g, sa) if need_a else None, -sum_to(g, sb) if need_b else None)


class Mul(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return a * b

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        return (
            sum_to(g * b, _shape(a)) if need_a else None,
            sum_to(g * a, _shape(b)) if need_b else None,
        )


class Div(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return a / b

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        ga = g / b
        return (
            sum_to(ga, _shape(a)) if need_a else None,
            sum_to(-ga * a / b, _shape(b)) if need_b else None,
        )


class Pow(Function):
    saved_inputs = (0, 1)
    saves_output = True

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        a, b, xp = self.a, self.b, self.xp
        ga = gb = None
        if need_a:
            if isinstance(b, (int, float)):
                ga = g * b * a ** (b - 1) if b != 0 else xp.zeros_like(g)
            else:
                ga = sum_to(g * b * a ** (b - 1), _shape(a))
        if need_b:
            # d(a ** b)/db = a ** b * log(a), taken as 0 where a == 0 and b >= 0 (PyTorch's formula,
            # which also gives its second derivatives)
            with np.errstate(divide="ignore", invalid="ignore"):
                if isinstance(a, (int, float)):
                    if a == 0:
                        gb = g * xp.where(b >= 0, 0, self.out * -math.inf)
                    else:
                        gb = g * (self.out * (math.log(a) if a > 0 else math.nan))
                else:
                    gb = g * xp.where((a == 0) & (b >= 0), 0, self.out * xp.log(a))
            gb = sum_to(gb, _shape(b))
        return (ga, gb)


class Maximum(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return self.xp.maximum(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return _minmax_backward(self, g, self.a > self.b)


class Minimum(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return self.xp.minimum(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return _minmax_backward(self, g, self.a < self.b)


def _minmax_backward(fn: Function, g: Any, a_wins: Any) -> tuple[Any, ...]:
    # ties share the gradient equally, as in PyTorch
    tie = fn.a == fn.b
    wa = a_wins + 0.5 * tie
    need_a, need_b = fn.needs_input_grad
    return (
        sum_to(g * wa, _shape(fn.a)) if need_a else None,
        sum_to(g * (1 - wa), _shape(fn.b)) if need_b else None,
    )


class Remainder(Function):
    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return self.xp.remainder(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        ga = sum_to(g, _shape(self.a)) if need_a else None
        gb = sum_to(-g * self.xp.floor_divide(self.a, self.b), _shape(self.b)) if need_b else None
        return (ga, gb)


class _NoGradBinary(Function):
    """Binary ops with no useful gradient (floor division, comparisons, logic)."""

    ufunc = ""

    def forward(self, a: Any, b: Any) -> Any:
        return getattr(self.xp, self.ufunc)(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (None, None)


def _nograd_binary(name: str, ufunc: str, differentiable: bool = False) -> type[Function]:
    return type(name, (_NoGradBinary,), {"ufunc": ufunc, "op_name": ufunc,
                                         "differentiable": differentiable})


# floor division keeps its inputs' requires_grad (its gradient is zero), as in PyTorch;
# comparisons and logical ops give plain bool tensors outside the graph
FloorDivide = _nograd_binary("FloorDivide", "floor_divide", differentiable=True)
Eq = _nograd_binary("Eq", "equal")
Ne = _nograd_binary("Ne", "not_equal")
Lt = _nograd_binary("Lt", "less")
Le = _nograd_binary("Le", "less_equal")
Gt = _nograd_binary("Gt", "greater")
Ge = _nograd_binary("Ge", "greater_equal")
LogicalAnd = _nograd_binary("LogicalAnd", "logical_and")
LogicalOr = _nograd_binary("LogicalOr", "logical_or")
LogicalXor = _nograd_binary("LogicalXor", "logical_xor")
BitwiseAnd = _nograd_binary("BitwiseAnd", "bitwise_and")
BitwiseOr = _nograd_binary("BitwiseOr", "bitwise_or")
BitwiseXor = _nograd_binary("BitwiseXor", "bitwise_xor")


def _binary(cls: type[Function], a: Any, b: Any) -> Tensor:
    a, b = promote(a, b, cls.op_name)
    return cls.apply(a, b)


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting.

    >>> import brickwork as bw
    >>> bw.add(bw.tensor([1.0, 2.0]), bw.tensor([1.0, 1.0]), alpha=10)
    tensor([11., 12.])
    """
    if alpha != 1:
        other = other * alpha
    return _binary(Add, input, other)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting.

    >>> import brickwork as bw
    >>> bw.sub(bw.tensor([1.0]), 1, alpha=2)
    tensor([-1.])
    """
    if alpha != 1:
        other = other * alpha
    return _binary(Sub, input, other)


def rsub(input: Any, other: Any) -> Tensor:
    """``other - input`` (the reflected subtraction behind ``2 - x``)."""
    return _binary(Sub, other, input)


def mul(input: Any, other: Any) -> Tensor:
    """Elementwise product ``input * other`` with broadcasting; either may be a Python scalar.

    >>> import brickwork as bw
    >>> bw.mul(bw.tensor([1.0, 2.0, 3.0]), 2)
    tensor([2., 4., 6.])
    """
    return _binary(Mul, input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give float32); ``rounding_mode`` 'floor' or 'trunc'.

    >>> import brickwork as bw
    >>> bw.tensor([3, -7]) / 2
    tensor([ 1.5000, -3.5000])
    >>> bw.div(bw.tensor([3, -7]), 2, rounding_mode="trunc")
    tensor([ 1, -3])
    """
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode is not None and rounding_mode != "trunc":
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    a, b = promote(input, other, "div")
    t = a if isinstance(a, Tensor) else b
    integral = t._data.dtype.kind not in "fc"
    if integral and rounding_mode == "trunc":
        _check_integer_divisor(a, b, "div")
    if integral:
        # the result type is computed first (float16 / int stays float16), then integers go to float32
        if isinstance(a, Tensor):
            a = as_float(a)
        elif isinstance(a, bool):
            a = float(a)
        if isinstance(b, Tensor):
            b = as_float(b)
        elif isinstance(b, bool):
            b = float(b)
    out = Div.apply(a, b)
    if rounding_mode == "trunc":
        out = trunc(out)
        if integral:
            out = out.to(t.dtype)
    return out


def rdiv(input: Any, other: Any) -> Tensor:
    """``other / input`` (the reflected division behind ``1 / x``)."""
    return div(other, input)


def floor_divide(input: Any, other: Any) -> Tensor:
    """Division rounded down (``//``), as Python's and ``torch.floor_divide``.

    Integer division by zero raises on the CPU (NumPy would give 0 silently). The result is
    differentiable with a zero gradient, as in PyTorch.

    >>> import brickwork as bw
    >>> bw.tensor([7, -7]) // 2
    tensor([ 3, -4])
    """
    a, b = promote(input, other, "floor_divide")
    _check_integer_divisor(a, b, "floor_divide")
    return FloorDivide.apply(a, b)


def rfloordiv(input: Any, other: Any) -> Tensor:
    """``other // input`` (the reflected floor division behind ``7 // x``)."""
    return floor_divide(other, input)


def remainder(input: Any, other: Any) -> Tensor:
    """Python-style remainder (``%``): the result has the sign of ``other``; see also :func:`fmod`.

    >>> import brickwork as bw
    >>> bw.remainder(bw.tensor([-3, 3]), 2)
    tensor([1, 1])
    """
    a, b = promote(input, other, "remainder")
    _check_integer_divisor(a, b, "remainder")
    return Remainder.apply(a, b)


def _check_integer_divisor(a: Any, b: Any, op: str) -> None:
    """Integer division by zero raises, as in PyTorch on the CPU (NumPy silently gives 0).

    A Python-scalar divisor is checked on every device; a tensor divisor on the CPU only, since
    reading a GPU tensor's values would be a hidden host sync (PyTorch's CUDA kernels do not check
    either).
    """
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind not in "iub":
        return
    if isinstance(b, Tensor):
        zero = b._device.type == "cpu" and b._data.size > 0 and not b._data.all()
    else:
        zero = isinstance(b, (int, np.integer, np.bool_)) and b == 0 and t._data.size > 0
    if zero:
        raise RuntimeError(f"ZeroDivisionError: {op}: integer division by zero")


fmod_remainder = remainder


def rmod(input: Any, other: Any) -> Tensor:
    """``other % input`` (the reflected remainder behind ``7 % x``)."""
    return remainder(other, input)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent``; integer tensors to integer powers stay integer.

    >>> import brickwork as bw
    >>> bw.pow(bw.tensor([2, 3]), 2), bw.tensor([4.0]) ** 0.5, 2 ** bw.tensor([1.0, 3.0])
    (tensor([4, 9]), tensor([2.]), tensor([2., 8.]))
    """
    return _binary(Pow, input, exponent)


def rpow(input: Any, other: Any) -> Tensor:
    """``other ** input`` (the reflected power behind ``2 ** x``)."""
    return pow(other, input)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum of two tensors, with broadcasting (NaN wins, as in PyTorch).

    >>> import brickwork as bw
    >>> bw.maximum(bw.tensor([1.0, 5.0]), bw.tensor([3.0, 2.0]))
    tensor([3., 5.])
    """
    return _binary(Maximum, input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum of two tensors, with broadcasting (NaN wins, as in PyTorch).

    >>> import brickwork as bw
    >>> bw.minimum(bw.tensor([1.0, 5.0]), bw.tensor([3.0, 2.0]))
    tensor([1., 2.])
    """
    return _binary(Minimum, input, other)


def eq(input: Any, other: Any) -> Any:
    """Elementwise ``input == other`` as a bool tensor (outside the graph).

    Comparing with ``None`` gives ``False``, as ``x == None`` does in PyTorch.

    >>> import brickwork as bw
    >>> bw.eq(bw.tensor([1.0, 2.0, 3.0]), 2)
    tensor([False,  True, False])
    """
    if other is None:
        return False
    return _binary(Eq, input, other)


def ne(input: Any, other: Any) -> Any:
    """Elementwise ``input != other`` as a bool tensor; ``ne(x, None)`` is ``True``."""
    if other is None:
        return True
    return _binary(Ne, input, other)


def lt(input: Any, other: Any) -> Tensor:
    """Elementwise ``input < other`` as a bool tensor.

    >>> import brickwork as bw
    >>> bw.tensor([1, 2, 3]) < 2
    tensor([ True, False, False])
    """
    return _binary(Lt, input, other)


def le(input: Any, other: Any) -> Tensor:
    """Elementwise ``input <= other`` as a bool tensor."""
    return _binary(Le, input, other)


def gt(input: Any, other: Any) -> Tensor:
    """Elementwise ``input > other`` as a bool tensor."""
    return _binary(Gt, input, other)


def ge(input: Any, other: Any) -> Tensor:
    """Elementwise ``input >= other`` as a bool tensor."""
    return _binary(Ge, input, other)


def logical_and(input: Any, other: Any) -> Tensor:
    """Elementwise logical AND; nonzero counts as true, the result is bool.

    >>> import brickwork as bw
    >>> bw.logical_and(bw.tensor([True, False, True]), bw.tensor([1, 1, 0]))
    tensor([ True, False, False])
    """
    return _binary(LogicalAnd, input, other)


def logical_or(input: Any, other: Any) -> Tensor:
    """Elementwise logical OR; nonzero counts as true, the result is bool."""
    return _binary(LogicalOr, input, other)


def logical_xor(input: Any, other: Any) -> Tensor:
    """Elementwise logical XOR; nonzero counts as true, the result is bool."""
    return _binary(LogicalXor, input, other)


def _bitwise(cls: type[Function], a: Any, b: Any) -> Tensor:
    for x in (a, b):
        if isinstance(x, Tensor) and x._data.dtype.kind == "f":
            raise TypeError(f"{cls.op_name}: only integer and bool tensors support &, |, ^")
    return _binary(cls, a, b)


def bitwise_and(input: Any, other: Any) -> Tensor:
    """Bitwise AND (``&``) of integer or bool tensors; floating tensors raise ``TypeError``.

    >>> import brickwork as bw
    >>> bw.tensor([12, 5]) & 10
    tensor([8, 0])
    """
    return _bitwise(BitwiseAnd, input, other)


def bitwise_or(input: Any, other: Any) -> Tensor:
    """Bitwise OR (``|``) of integer or bool tensors; floating tensors raise ``TypeError``."""
    return _bitwise(BitwiseOr, input, other)


def bitwise_xor(input: Any, other: Any) -> Tensor:
    """Bitwise XOR (``^``) of integer or bool tensors; floating tensors raise ``TypeError``."""
    return _bitwise(BitwiseXor, input, other)


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and elements (a host sync).

    >>> import brickwork as bw
    >>> bw.equal(bw.tensor([1, 2]), bw.tensor([1, 2])), bw.equal(bw.tensor([1, 2]), bw.tensor([1]))
    (True, False)
    """
    if input._data.shape != other._data.shape:
        return False
    return bool(eq(input, other).all())


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` as a bool tensor.

    ``equal_nan=True`` counts two NaNs as close.

    >>> import brickwork as bw
    >>> bw.isclose(bw.tensor([1.0, 1.1]), bw.tensor([1.0, 1.0]))
    tensor([ True, False])
    """
    a, b = promote(input, other, "isclose")
    return _wrap_nograd(a._device.xp.isclose(a._data, b._data, rtol=rtol, atol=atol,
                                             equal_nan=equal_nan), a)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> bool:
    """``True`` when every element is close (see :func:`isclose`); a host sync on a GPU.

    >>> import brickwork as bw
    >>> bw.allclose(bw.tensor([1.0, 2.0]), bw.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def _wrap_nograd(arr: Any, like: Tensor) -> Tensor:
    from brickwork.autograd import _wrap

    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    return _wrap(arr, like._device)


# ---------------------------------------------------------------------------
# unary maths


class Neg(Function):
    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (-g,)


class Abs(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return self.xp.abs(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * self.xp.sign(self.x),)


class Exp(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        self.out = self.xp.exp(x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * self.out,)


class Expm1(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        self.out = self.xp.expm1(x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * (self.out + 1),)


class Log(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.xp.log(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g / self.x,)


class Log2(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.xp.log2(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g / (self.x * np.log(2.0)).astype(g.dtype),)


class Log10(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.xp.log10(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g / (self.x * np.log(10.0)).astype(g.dtype),)


class Log1p(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.xp.log1p(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g / (1 + self.x),)


class Sqrt(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            self.out = self.xp.sqrt(x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        with np.errstate(divide="ignore"):
            return (g / (2 * self.out),)


class Rsqrt(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            self.out = 1 / self.xp.sqrt(x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (-0.5 * g * self.out**3,)


class Sin(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return self.xp.sin(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * self.xp.cos(self.x),)


class Cos(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return self.xp.cos(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (-g * self.xp.sin(self.x),)


class Tanh(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        self.out = self.xp.tanh(x)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * (1 - self.out * self.out),)


class Sigmoid(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        xp = self.xp
        # exp(-x) may overflow to inf for very negative x; 1 / (1 + inf) is then the exact 0.
        # out= keeps 0-d results arrays (NumPy returns scalars for 0-d inputs otherwise)
        out = xp.negative(x, out=xp.empty_like(x))
        with np.errstate(over="ignore"):
            xp.exp(out, out=out)
        out += 1
        # divide, not reciprocal: the same correctly rounded 1/x, but NumPy vectorises it (2x faster)
        self.out = xp.divide(1, out, out=out)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        s = self.out
        d = 1 - s  # one temporary instead of three (this op is hot in LeNet-style nets)
        d *= s
        d *= g
        return (d,)


class Relu(Function):
    op_name = "relu"

    def forward(self, x: Any) -> Any:
        out = self.xp.maximum(x, 0)
        if self.needs_input_grad[0]:
            self.mask = x > 0
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * self.mask,)


class Erf(Function):
    saved_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return _backend.erf(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        x = self.x
        return (g * (2.0 / np.sqrt(np.pi)) * self.xp.exp(-x * x),)


class Clamp(Function):
    saved_inputs = (0, 1, 2)

    def forward(self, x: Any, lo: Any, hi: Any) -> Any:
        self.x, self.lo, self.hi = x, lo, hi
        out = x
        if lo is not None:
            out = self.xp.maximum(out, lo)
        if hi is not None:
            out = self.xp.minimum(out, hi)
        return out if out is not x else x.copy()

    def backward(self, g: Any) -> tuple[Any, ...]:
        x, lo, hi = self.x, self.lo, self.hi
        need_x, need_lo, need_hi = self.needs_input_grad
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = inside & (x <= hi) if lo is not None else (x <= hi)
        gx = g * inside if need_x else None
        glo = ghi = None
        if need_lo:
            glo = sum_to(g * (x < lo), _shape(lo))
        if need_hi:
            ghi = sum_to(g * (x > hi) * ((x >= lo) if lo is not None else True), _shape(hi))
        return (gx, glo, ghi)


class Where(Function):
    saved_inputs = (0,)

    def forward(self, cond: Any, a: Any, b: Any) -> Any:
        self.cond = cond
        self.shapes = (_shape(a), _shape(b))
        return self.xp.where(cond, a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        _, need_a, need_b = self.needs_input_grad
        zero = self.xp.zeros((), dtype=g.dtype)
        sa, sb = self.shapes
        return (
            None,
            sum_to(self.xp.where(self.cond, g, zero), sa) if need_a else None,
            sum_to(self.xp.where(self.cond, zero, g), sb) if need_b else None,
        )


class _NoGradUnary(Function):
    ufunc = ""

    def forward(self, x: Any) -> Any:
        return getattr(self.xp, self.ufunc)(x)

    def backward(self, g: Any) -> tuple[Any, ...]:
        # piecewise-constant functions: zero gradient almost everywhere
        return (self.xp.zeros_like(g),)


def _nograd_unary(name: str, ufunc: str, differentiable: bool = True) -> type[Function]:
    return type(name, (_NoGradUnary,), {"ufunc": ufunc, "op_name": ufunc,
                                        "differentiable": differentiable})


Sign = _nograd_unary("Sign", "sign")
Floor = _nograd_unary("Floor", "floor")
Ceil = _nograd_unary("Ceil", "ceil")
Round = _nograd_unary("Round", "round")
Trunc = _nograd_unary("Trunc", "trunc")
LogicalNot = _nograd_unary("LogicalNot", "logical_not", differentiable=False)
Isnan = _nograd_unary("Isnan", "isnan", differentiable=False)
Isinf = _nograd_unary("Isinf", "isinf", differentiable=False)
Isfinite = _nograd_unary("Isfinite", "isfinite", differentiable=False)
BitwiseNot = _nograd_unary("BitwiseNot", "invert", differentiable=False)


def neg(input: Tensor) -> Tensor:
    """Elementwise negation ``-input``."""
    return Neg.apply(input)


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """Elementwise absolute value (its gradient at 0 is 0, as in PyTorch).

    >>> import brickwork as bw
    >>> bw.abs(bw.tensor([-1.5, 2.0]))
    tensor([1.5000, 2.0000])
    """
    return Abs.apply(input)


def exp(input: Tensor) -> Tensor:
    """Elementwise exponential ``e ** input``; integer inputs give float32.

    >>> import brickwork as bw
    >>> bw.exp(bw.tensor([0.0, 1.0]))
    tensor([1.0000, 2.7183])
    """
    return Exp.apply(as_float(input))


def expm1(input: Tensor) -> Tensor:
    """Elementwise ``exp(input) - 1``, accurate for small inputs; integer inputs give float32."""
    return Expm1.apply(as_float(input))


def log(input: Tensor) -> Tensor:
    """Elementwise natural logarithm; ``log(0)`` is ``-inf`` and negative inputs give NaN, silently.

    >>> import brickwork as bw
    >>> bw.log(bw.tensor([1.0, 0.0, -1.0]))
    tensor([0., -inf, nan])
    """
    return Log.apply(as_float(input))


def log2(input: Tensor) -> Tensor:
    """Elementwise base-2 logarithm; integer inputs give float32."""
    return Log2.apply(as_float(input))


def log10(input: Tensor) -> Tensor:
    """Elementwise base-10 logarithm; integer inputs give float32."""
    return Log10.apply(as_float(input))


def log1p(input: Tensor) -> Tensor:
    """Elementwise ``log(1 + input)``, accurate for small inputs; integer inputs give float32."""
    return Log1p.apply(as_float(input))


def sqrt(input: Tensor) -> Tensor:
    """Elementwise square root; integer inputs give float32.

    >>> import brickwork as bw
    >>> bw.sqrt(bw.tensor([4, 9]))
    tensor([2., 3.])
    """
    return Sqrt.apply(as_float(input))


def rsqrt(input: Tensor) -> Tensor:
    """Elementwise reciprocal square root ``1 / sqrt(input)``; integer inputs give float32."""
    return Rsqrt.apply(as_float(input))


def square(input: Tensor) -> Tensor:
    """Elementwise ``input * input``; integer tensors stay integer.

    >>> import brickwork as bw
    >>> bw.square(bw.tensor([2, -3]))
    tensor([4, 9])
    """
    return mul(input, input)


def reciprocal(input: Tensor) -> Tensor:
    """Elementwise ``1 / input``; integer inputs give float32.

    >>> import brickwork as bw
    >>> bw.reciprocal(bw.tensor([2, 4]))
    tensor([0.5000, 0.2500])
    """
    return div(1.0, input)


def sin(input: Tensor) -> Tensor:
    """Elementwise sine (radians); integer inputs give float32."""
    return Sin.apply(as_float(input))


def cos(input: Tensor) -> Tensor:
    """Elementwise cosine (radians); integer inputs give float32."""
    return Cos.apply(as_float(input))


def tanh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent; integer inputs give float32.

    >>> import brickwork as bw
    >>> bw.tanh(bw.tensor([0.0]))
    tensor([0.])
    """
    return Tanh.apply(as_float(input))


def sigmoid(input: Tensor) -> Tensor:
    """Elementwise logistic function ``1 / (1 + exp(-input))``, without overflow for large ``|input|``.

    >>> import brickwork as bw
    >>> bw.sigmoid(bw.tensor([0.0]))
    tensor([0.5000])
    """
    return Sigmoid.apply(as_float(input))


def relu(input: Tensor) -> Tensor:
    """Elementwise ``max(input, 0)``; the gradient at 0 is 0, as in PyTorch.

    >>> import brickwork as bw
    >>> bw.relu(bw.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return Relu.apply(input)


def erf(input: Tensor) -> Tensor:
    """Elementwise Gauss error function; integer inputs give float32.

    >>> import brickwork as bw
    >>> bw.erf(bw.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8427])
    """
    return Erf.apply(as_float(input))


def sign(input: Tensor) -> Tensor:
    """Elementwise sign: -1, 0 or 1, in the input's dtype (gradient zero).

    >>> import brickwork as bw
    >>> bw.sign(bw.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.])
    """
    return Sign.apply(input)


def floor(input: Tensor) -> Tensor:
    """Elementwise round down to an integer value, in the input's dtype (gradient zero).

    >>> import brickwork as bw
    >>> bw.floor(bw.tensor([-1.5, 1.5]))
    tensor([-2.,  1.])
    """
    return Floor.apply(input)


def ceil(input: Tensor) -> Tensor:
    """Elementwise round up to an integer value, in the input's dtype (gradient zero).

    >>> import brickwork as bw
    >>> bw.ceil(bw.tensor([-1.5, 1.5]))
    tensor([-1.,  2.])
    """
    return Ceil.apply(input)


def round(input: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    """Elementwise round half to even (as PyTorch); ``decimals`` digits after the point.

    >>> import brickwork as bw
    >>> bw.round(bw.tensor([0.5, 1.5, 2.5]))
    tensor([0., 2., 2.])
    >>> bw.round(bw.tensor([2.567]), decimals=2)
    tensor([2.5700])
    """
    if decimals:
        scale = 10.0**decimals
        return Round.apply(input * scale) / scale
    return Round.apply(input)


def trunc(input: Tensor) -> Tensor:
    """Elementwise round toward zero, in the input's dtype (gradient zero).

    >>> import brickwork as bw
    >>> bw.trunc(bw.tensor([-1.5, 1.5]))
    tensor([-1.,  1.])
    """
    return Trunc.apply(input)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise logical NOT; nonzero counts as true, the result is bool."""
    return LogicalNot.apply(input)


def bitwise_not(input: Tensor) -> Tensor:
    """Bitwise NOT (``~``) of an integer or bool tensor; floating tensors raise ``TypeError``."""
    if input._data.dtype.kind == "f":
        raise TypeError("bitwise_not (~): only integer and bool tensors are supported")
    return BitwiseNot.apply(input)


def isnan(input: Tensor) -> Tensor:
    """Bool tensor, true where ``input`` is NaN.

    >>> import brickwork as bw
    >>> bw.isnan(bw.tensor([1.0, float("nan")]))
    tensor([False,  True])
    """
    return Isnan.apply(input)


def isinf(input: Tensor) -> Tensor:
    """Bool tensor, true where ``input`` is positive or negative infinity."""
    return Isinf.apply(input)


def isfinite(input: Tensor) -> Tensor:
    """Bool tensor, true where ``input`` is neither NaN nor infinite."""
    return Isfinite.apply(input)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]``; bounds may be scalars or tensors.

    >>> import brickwork as bw
    >>> bw.clamp(bw.tensor([-2.0, 0.5, 3.0]), min=-1, max=1)
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    x = input
    if isinstance(min, Tensor):
        x, min = promote(x, min, "clamp")
    elif min is not None:
        x = promote(x, min, "clamp")[0]
    if isinstance(max, Tensor):
        x, max = promote(x, max, "clamp")
        if isinstance(min, Tensor):
            min = promote(min, max, "clamp")[0]
    elif max is not None:
        x = promote(x, max, "clamp")[0]
    return Clamp.apply(x, min, max)


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``: values below ``min`` become ``min``.

    >>> import brickwork as bw
    >>> bw.clamp_min(bw.tensor([-1.0, 2.0]), 0)
    tensor([0., 2.])
    """
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``: values above ``max`` become ``max``."""
    return clamp(input, max=max)


def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """Elements of ``input`` where ``condition`` holds, else of ``other``.

    With only ``condition`` it returns ``nonzero(condition, as_tuple=True)``, as in PyTorch.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> bw.where(x > 2, x, 0.0)
    tensor([[0., 0.],
            [3., 4.]])
    """
    if input is None and other is None:
        from brickwork.ops.shape import nonzero

        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where: condition must be a bool tensor")
    if condition._data.dtype.kind != "b":
        condition = condition.bool()
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from brickwork.creation import tensor

        input = tensor(input, device=condition._device)
    input, other = promote(input, other, "where")
    return Where.apply(condition, input, other)


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``input + weight * (end - input)``.

    >>> import brickwork as bw
    >>> bw.lerp(bw.zeros(2), bw.ones(2), 0.25)
    tensor([0.2500, 0.2500])
    """
    return input + weight * (end - input)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2`` with broadcasting.

    >>> import brickwork as bw
    >>> bw.addcmul(bw.zeros(2), bw.ones(2), bw.tensor([2.0, 3.0]), value=0.5)
    tensor([1.0000, 1.5000])
    """
    return input + value * tensor1 * tensor2


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2`` with broadcasting.

    >>> import brickwork as bw
    >>> bw.addcdiv(bw.ones(2), bw.ones(2), bw.tensor([2.0, 4.0]))
    tensor([1.5000, 1.2500])
    """
    return input + value * tensor1 / tensor2


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """Replace elements where ``mask`` is true by ``value`` (a scalar or 0-dim tensor).

    >>> import brickwork as bw
    >>> bw.masked_fill(bw.zeros(3), bw.tensor([True, False, True]), 1.0)
    tensor([1., 0., 1.])
    """
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        raise TypeError("masked_fill: mask must be a bool tensor")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"masked_fill: value must be a 0-dim tensor, got shape {tuple(value._data.shape)}"
            )
        value = value.to(input.dtype)
        return Where.apply(mask, value, input)
    xp = input._device.xp
    fill = xp.asarray(value, dtype=input._data.dtype)
    return Where.apply(mask, _wrap_nograd(fill, input), input)


def tan(input: Tensor) -> Tensor:
    """Tangent (``sin / cos``; its gradient comes from theirs)."""
    return div(sin(input), cos(input))


def sinh(input: Tensor) -> Tensor:
    """Hyperbolic sine."""
    return (exp(input) - exp(-as_float(input))) * 0.5


def cosh(input: Tensor) -> Tensor:
    """Hyperbolic cosine."""
    return (exp(input) + exp(-as_float(input))) * 0.5


def fmod(input: Any, other: Any) -> Tensor:
    """C-style remainder: the result has the sign of ``input`` (``remainder``: of ``other``).

    >>> import brickwork as bw
    >>> bw.fmod(bw.tensor([-3.0, 3.0]), 2)
    tensor([-1.,  1.])
    """
    if _is_int_like(input) and _is_int_like(other):
        return sub(input, mul(div(input, other, rounding_mode="trunc"), other))
    return sub(input, mul(trunc(div(input, other)), other))


def _is_int_like(x: Any) -> bool:
    if isinstance(x, Tensor):
        return x._data.dtype.kind in "iub"
    return isinstance(x, (int, np.integer))


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (default: the dtype's extremes).

    >>> import brickwork as bw
    >>> bw.nan_to_num(bw.tensor([float("nan"), float("inf"), 1.0]), posinf=9.0)
    tensor([0., 9., 1.])
    """
    if input._data.dtype.kind != "f":
        return input.clone()
    big = float(np.finfo(input._data.dtype).max)
    x = where(isnan(input), nan, input)
    x = where(x == float("inf"), big if posinf is None else posinf, x)
    return where(x == float("-inf"), -big if neginf is None else neginf, x)


# PyTorch's alias names
divide = true_divide = div
multiply = mul
subtract = sub
negative = neg
