"""Linear layers: Identity, Linear (lazy-capable), Bilinear; and the helpers every
catalogue layer uses to create its parameters (pending when a size is unknown)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from brickwork import creation
from brickwork.nn import functional as F
from brickwork.nn import init
from brickwork.nn.module import Module
from brickwork.nn.parameter import Parameter
from brickwork.ops._util import as_size
from brickwork.tensor import Tensor

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear"]


# ---------------------------------------------------------------------------
# helpers shared by the catalogue's layers


def new_parameter(shape: Sequence[int | None], lazy: bool, device: Any = None,
                  dtype: Any = None) -> Parameter:
    """An uninitialised Parameter; pending (lazy) when ``lazy`` or a size is ``None``.

    A lazy layer makes *all* its parameters pending, even those whose shape is
    known (a bias), because their initialisation depends on the inferred sizes.
    """
    if lazy or any(s is None for s in shape):
        return Parameter.pending(tuple(shape), dtype=dtype, device=device)
    return Parameter(creation.empty(*shape, dtype=dtype, device=device))


def layer_size(value: Any, layer: str, name: str, lazy: bool = False) -> Any:
    """A constructor's size argument as an int, checked (``Linear(2.5, 3)`` is a TypeError, as in
    PyTorch, not a silent 2); ``None`` passes where the layer infers the size (``lazy``)."""
    if value is None and lazy:
        return None
    return as_size(value, layer, name)


def size_text(value: Any) -> str:
    """A size for ``repr``: ``?`` while it is unknown."""
    return "?" if value is None else str(value)


def init_uniform_bias(bias: Parameter | None, weight: Parameter) -> None:
    """PyTorch's bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (nothing when fan_in is 0)."""
    if bias is None:
        return
    fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    init.uniform_(bias, -bound, bound)


def built_for_error(layer: str, what: str, built: int, received: int, shape: Any) -> RuntimeError:
    """The error for an input that does not fit the sizes a layer was built for."""
    return RuntimeError(
        f"{layer} was built for {what}={built} but received an input with {what}={received} "
        f"(input of shape {tuple(shape)})"
    )


# ---------------------------------------------------------------------------
# layers


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as in PyTorch).

    >>> import brickwork as bw
    >>> Identity(54, unused="x")(bw.ones(2))
    tensor([1., 1.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {}


class Linear(Module):
    """``y = x Wᵀ + b`` with ``W`` of shape ``(out_features, in_features)``.

    ``in_features=None`` makes the layer lazy: the weight is created at the
    first forward pass from the input's last dimension (``nn.LazyLinear``).
    Default init as PyTorch: ``kaiming_uniform_(W, a=sqrt(5))`` and
    ``b ~ U(-1/sqrt(in), 1/sqrt(in))``.

    >>> import brickwork as bw
    >>> net = Linear(None, 3)
    >>> net
    Linear(in_features=?, out_features=3, bias=True)
    >>> net(bw.ones(2, 5)).shape, net
    (brickwork.Size([2, 3]), Linear(in_features=5, out_features=3, bias=True))
    """

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        in_features = layer_size(in_features, "Linear", "in_features", lazy=True)
        self.out_features = layer_size(out_features, "Linear", "out_features")
        lazy = in_features is None
        self.weight = new_parameter((self.out_features, in_features), lazy, device, dtype)
        if bias:
            self.bias = new_parameter((self.out_features,), lazy, device, dtype)
        else:
            self.register_parameter("bias", None)
        if not lazy:
            self.reset_parameters()

    @property
    def in_features(self) -> int | None:
        """The input size: the weight's second dimension, or None while the layer is lazy.

        >>> from brickwork import nn
        >>> nn.Linear(3, 2).in_features, nn.LazyLinear(2).in_features
        (3, None)
        """
        return None if self.weight.is_pending else self.weight.shape[1]

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: the weight ``(out_features, input.shape[-1])`` (and bias) from the first input."""
        self.weight.materialize((self.out_features, input.shape[-1]))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))

    def reset_parameters(self) -> None:
        """PyTorch's init: Kaiming-uniform weight (``a=sqrt(5)``), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        init_uniform_bias(self.bias, self.weight)

    def forward(self, input: Tensor) -> Tensor:
        weight = self.weight  # (once: each module attribute read goes through __getattr__)
        want = weight._data.shape[1]
        if input._data.shape[-1:] != (want,):
            raise built_for_error("Linear", "in_features", want,
                                  input._data.shape[-1] if input._data.ndim else 0, input.shape)
        return F.linear(input, weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={size_text(self.in_features)}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None}


def LazyLinear(out_features: int, bias: bool = True, device: Any = None,  # noqa: N802
               dtype: Any = None) -> Linear:
    """``nn.Linear(None, out_features)``: in_features is inferred at the first forward.

    >>> type(LazyLinear(4)) is Linear
    True
    """
    return Linear(None, out_features, bias, device=device, dtype=dtype)


class Bilinear(Module):
    """``y = x1ᵀ A x2 + b`` with ``A`` of shape ``(out, in1, in2)``.

    >>> import brickwork as bw
    >>> Bilinear(2, 3, 4)(bw.ones(5, 2), bw.ones(5, 3)).shape
    brickwork.Size([5, 4])
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = layer_size(in1_features, "Bilinear", "in1_features")
        self.in2_features = layer_size(in2_features, "Bilinear", "in2_features")
        self.out_features = layer_size(out_features, "Bilinear", "out_features")
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = new_parameter(shape, False, device, dtype)
        if bias:
            self.bias = new_parameter((self.out_features,), False, device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as PyTorch."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"in1_features": self.in1_features, "in2_features": self.in2_features,
                "out_features": self.out_features, "bias": self.bias is not None}
