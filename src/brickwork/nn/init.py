"""Initialisers (``nn.init``) with PyTorch's fan and gain conventions.

Every initialiser fills the tensor in place without recording history and
returns it. Called on a pending (lazy) parameter, it is recorded and replayed
once the parameter's shape is known, so ``net.apply(init_fn)`` works before the
first forward pass.

>>> import brickwork as bw
>>> from brickwork import nn
>>> w = bw.empty(256, 20)
>>> _ = nn.init.xavier_uniform_(w)
>>> bool(w.abs().max() <= (6 / (256 + 20)) ** 0.5)
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from brickwork.nn.parameter import is_pending
from brickwork.random import Generator, rng_for
from brickwork.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
    "orthogonal_", "sparse_",
]


def _deferrable(fn: Callable) -> Callable:
    """Record the call on pending tensors instead of running it (replayed at materialisation)."""

    @functools.wraps(fn)
    def wrapper(tensor: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"nn.init.{fn.__name__}: expected a tensor, got {type(tensor).__name__}")
        if is_pending(tensor):
            tensor._record_init(wrapper, args, kwargs)
            return tensor
        if tensor._device.type == "cpu":
            return fn(tensor, *args, **kwargs)
        with tensor._device.activate():  # CuPy draws and allocates on the current GPU
            return fn(tensor, *args, **kwargs)

    return wrapper


def _write(tensor: Tensor, values: Any) -> Tensor:
    tensor._data[...] = values
    tensor._version[0] += 1
    return tensor


def _draw(tensor: Tensor, kind: str, generator: Generator | None) -> Any:
    rng = rng_for(tensor._device, generator)
    dtype = tensor._data.dtype
    if dtype.kind != "f":
        raise TypeError(f"nn.init: random initialisation needs a floating tensor, got {dtype}")
    draw_dtype = dtype if dtype != np.float16 else np.float32
    if kind == "uniform":
        return rng.random(tensor._data.shape, dtype=draw_dtype)
    return rng.standard_normal(tensor._data.shape, dtype=draw_dtype)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = tensor._data.shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
            f"(shape {tuple(shape)})"
        )
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


@_deferrable
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    u = _draw(tensor, "uniform", generator)
    return _write(tensor, u * (b - a) + a)


@_deferrable
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std**2)."""
    z = _draw(tensor, "normal", generator)
    return _write(tensor, z * std + mean)


@_deferrable
def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std**2) truncated to [a, b] (absolute bounds, as in PyTorch)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = rng_for(tensor._device, generator)
    xp = tensor._device.xp
    out = xp.empty(tensor._data.shape, dtype=np.float64)
    flat = out.reshape(-1)
    todo = xp.arange(flat.size)
    for _ in range(1000):
        if todo.size == 0:
            break
        draw = rng.standard_normal(todo.size) * std + mean
        ok = (draw >= a) & (draw <= b)
        flat[todo[ok]] = draw[ok]
        todo = todo[~ok]
    if todo.size:
        flat[todo] = np.clip(mean, a, b)
    return _write(tensor, out)


@_deferrable
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` in place (outside the graph) and return it.

    On a pending (lazy) parameter the call is recorded and replayed once its shape is known.

    >>> from brickwork import nn
    >>> lin = nn.Linear(2, 2)
    >>> nn.init.constant_(lin.bias, 0.5)
    Parameter containing:
    tensor([0.5000, 0.5000], requires_grad=True)
    """
    return _write(tensor, val)


@_deferrable
def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones in place and return it (recorded on a pending one, see :func:`constant_`)."""
    return _write(tensor, 1)


@_deferrable
def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros in place and return it (recorded on a pending one, see :func:`constant_`).

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> nn.init.zeros_(bw.ones(2))
    tensor([0., 0.])
    """
    return _write(tensor, 0)


@_deferrable
def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (2-D tensors)."""
    if tensor._data.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor._data.shape)}")
    return _write(tensor, tensor._device.xp.eye(*tensor._data.shape, dtype=tensor._data.dtype))


@_deferrable
def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The Dirac delta for 3/4/5-D conv weights: the convolution keeps its input channels."""
    shape = tensor._data.shape
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-D tensors are supported, got shape {tuple(shape)}")
    if shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    out_per_group = shape[0] // groups
    keep = min(out_per_group, shape[1])
    values = tensor._device.xp.zeros(shape, dtype=tensor._data.dtype)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(keep):
            values[(g * out_per_group + d, d, *centre)] = 1
    return _write(tensor, values)


@_deferrable
def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator=generator)


@_deferrable
def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator)


@_deferrable
def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Generator | None = None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator=generator)


@_deferrable
def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Generator | None = None) -> Tensor:
    """N(0, std**2) with std = gain / sqrt(fan) (He)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator=generator)


@_deferrable
def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix, from the QR decomposition of a normal sample."""
    shape = tensor._data.shape
    if len(shape) < 2:
        raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported")
    if tensor._data.size == 0:
        return tensor
    rows = shape[0]
    cols = tensor._data.size // rows
    xp = tensor._device.xp
    flat = rng_for(tensor._device, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(shape))


@_deferrable
def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None) -> Tensor:
    """2-D tensor with a fraction ``sparsity`` of each column set to zero, the rest N(0, std**2)."""
    if tensor._data.ndim != 2:
        raise ValueError("sparse_: only 2-D tensors are supported")
    rows, cols = tensor._data.shape
    zeros = int(math.ceil(sparsity * rows))
    rng = rng_for(tensor._device, generator)
    values = rng.standard_normal((rows, cols)) * std
    xp = tensor._device.xp
    for c in range(cols):  # a permutation as the argsort of random keys (CuPy's Generator has none)
        values[xp.argsort(rng.random(rows))[:zeros], c] = 0
    return _write(tensor, values)


# PyTorch's deprecated spellings without the trailing underscore
uniform = uniform_
normal = normal_
constant = constant_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_
orthogonal = orthogonal_
