"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (lazy-capable).

``in_channels=None`` defers the weight's creation to the first forward pass
(``nn.LazyConv2d(out, k)`` is ``nn.Conv2d(None, out, k)``). Parameters use
PyTorch's layouts and names, so PyTorch state dicts load unchanged.
"""

from __future__ import annotations

import math
from typing import Any

from brickwork.nn import functional as F
from brickwork.nn import init
from brickwork.nn.linear import built_for_error, init_uniform_bias, layer_size, new_parameter, size_text
from brickwork.nn.module import Module
from brickwork.ops._util import int_tuple
from brickwork.ops.conv import _resolve_padding
from brickwork.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "LazyConv1d", "LazyConv2d",
           "LazyConvTranspose1d", "LazyConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared by every convolution: arguments, parameters, init, repr, config."""

    transposed = False
    spatial = 2

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 output_padding: Any = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, n = type(self).__name__, self.spatial
        in_channels = layer_size(in_channels, name, "in_channels", lazy=True)
        out_channels = layer_size(out_channels, name, "out_channels")
        groups = layer_size(groups, name, "groups")
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels is not None and in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.out_channels, self.groups, self.padding_mode = out_channels, groups, padding_mode
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", name)
        self.stride = int_tuple(stride, n, "stride", name)
        self.dilation = int_tuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            if self.transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, expected 'same' or 'valid'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = int_tuple(padding, n, "padding", name)
        self.output_padding = int_tuple(output_padding, n, "output_padding", name)
        lazy = in_channels is None
        if self.transposed:
            shape = (in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, None if lazy else in_channels // groups) + self.kernel_size
        self.weight = new_parameter(shape, lazy, device, dtype)
        if bias:
            self.bias = new_parameter((self.out_channels,), lazy, device, dtype)
        else:
            self.register_parameter("bias", None)
        if not lazy:
            self.reset_parameters()

    @property
    def in_channels(self) -> int | None:
        """The input channels (from the weight's shape), or None while the layer is lazy."""
        if self.weight.is_pending:
            return None
        return self.weight.shape[0] if self.transposed else self.weight.shape[1] * self.groups

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: ``in_channels`` from the first input (dim 1, or 0 unbatched); creates the weight."""
        name = type(self).__name__
        if input.ndim not in (self.spatial + 1, self.spatial + 2):
            raise RuntimeError(
                f"{name}: expected a {self.spatial + 1}-D (unbatched) or {self.spatial + 2}-D "
                f"(batched) input to infer in_channels, got input of shape {tuple(input.shape)}"
            )
        channels = input.shape[0 if input.ndim == self.spatial + 1 else 1]
        if channels % self.groups:
            raise RuntimeError(
                f"{name}: the input has {channels} channels, which is not divisible by "
                f"groups={self.groups}"
            )
        if self.transposed:
            self.weight.materialize((channels, self.out_channels // self.groups) + self.kernel_size)
        else:
            self.weight.materialize((self.out_channels, channels // self.groups) + self.kernel_size)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))

    def reset_parameters(self) -> None:
        """PyTorch's init: Kaiming-uniform weight (``a=sqrt(5)``), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        init_uniform_bias(self.bias, self.weight)

    def _check_channels(self, input: Tensor) -> None:
        nd = input._data.ndim
        if nd not in (self.spatial + 1, self.spatial + 2):
            return  # the functional form names the expected ranks
        channels = input._data.shape[0 if nd == self.spatial + 1 else 1]
        built = self.in_channels
        if channels != built:
            raise built_for_error(type(self).__name__, "in_channels", built, channels, input.shape)

    def _padded(self, input: Tensor) -> tuple[Tensor, Any]:
        """Non-zero padding modes pad explicitly (then the conv pads nothing)."""
        if self.padding_mode == "zeros":
            return input, self.padding
        pads = _resolve_padding(self.padding, self.kernel_size, self.stride, self.dilation,
                                type(self).__name__)
        flat: list[int] = []
        for lo, hi in reversed(pads):
            flat += [lo, hi]
        return F.pad(input, flat, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        n = self.spatial
        s = (f"{size_text(self.in_channels)}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        config = {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
            "dilation": self.dilation, "groups": self.groups, "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
        }
        if self.transposed:
            config["output_padding"] = self.output_padding
            del config["padding_mode"]
        return config


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C, L)`` inputs; weight ``(out, in // groups, k)``.

    >>> import brickwork as bw
    >>> Conv1d(2, 4, 3, padding="same")(bw.ones(1, 2, 5)).shape
    brickwork.Size([1, 4, 5])
    """

    spatial = 1

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_channels(input)
        x, padding = self._padded(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C, H, W)`` inputs; weight ``(out, in // groups, kh, kw)``.

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'``; ``in_channels=None``
    infers the channels at the first forward.

    >>> import brickwork as bw
    >>> Conv2d(1, 6, kernel_size=5, padding=2)
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    >>> Conv2d(None, 6, 5)(bw.ones(2, 3, 8, 8)).shape
    brickwork.Size([2, 6, 4, 4])
    """

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_channels(input)
        x, padding = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        """``output_padding`` that reaches ``output_size`` (PyTorch's ``forward(x, output_size)``)."""
        if output_size is None:
            return self.output_padding
        n = self.spatial
        size = tuple(int(s) for s in output_size)[-n:]
        spatial_in = input.shape[-n:]
        result = []
        for d in range(n):
            smallest = ((spatial_in[d] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            extra = size[d] - smallest
            if not 0 <= extra < max(self.stride[d], self.dilation[d]):
                raise ValueError(
                    f"{type(self).__name__}: requested output size {size} is not reachable from "
                    f"input of shape {tuple(input.shape)} (output sizes from {smallest} to "
                    f"{smallest + max(self.stride[d], self.dilation[d]) - 1} in dim {d})"
                )
            result.append(extra)
        return tuple(result)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution; weight ``(in, out // groups, k)``."""

    spatial = 1

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError('ConvTranspose1d: only "zeros" padding_mode is supported')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        self._check_channels(input)
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution; weight ``(in, out // groups, kh, kw)``.

    >>> import brickwork as bw
    >>> ConvTranspose2d(3, 2, 2, stride=2)(bw.ones(1, 3, 4, 4)).shape
    brickwork.Size([1, 2, 8, 8])
    """

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                 bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError('ConvTranspose2d: only "zeros" padding_mode is supported')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        self._check_channels(input)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)


def LazyConv1d(out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,  # noqa: N802
               dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
               device: Any = None, dtype: Any = None) -> Conv1d:
    """``nn.Conv1d(None, out_channels, kernel_size, ...)``: in_channels inferred at the first forward."""
    return Conv1d(None, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                  padding_mode, device, dtype)


def LazyConv2d(out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,  # noqa: N802
               dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
               device: Any = None, dtype: Any = None) -> Conv2d:
    """``nn.Conv2d(None, out_channels, kernel_size, ...)``: in_channels inferred at the first forward.

    >>> type(LazyConv2d(6, 5)) is Conv2d
    True
    """
    return Conv2d(None, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                  padding_mode, device, dtype)


def LazyConvTranspose1d(out_channels: int, kernel_size: Any, stride: Any = 1,  # noqa: N802
                        padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                        bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                        device: Any = None, dtype: Any = None) -> ConvTranspose1d:
    """``nn.ConvTranspose1d(None, out_channels, kernel_size, ...)``."""
    return ConvTranspose1d(None, out_channels, kernel_size, stride, padding, output_padding,
                           groups, bias, dilation, padding_mode, device, dtype)


def LazyConvTranspose2d(out_channels: int, kernel_size: Any, stride: Any = 1,  # noqa: N802
                        padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                        bias: bool = True, dilation: Any = 1, padding_mode: str = "zeros",
                        device: Any = None, dtype: Any = None) -> ConvTranspose2d:
    """``nn.ConvTranspose2d(None, out_channels, kernel_size, ...)``."""
    return ConvTranspose2d(None, out_channels, kernel_size, stride, padding, output_padding,
                           groups, bias, dilation, padding_mode, device, dtype)
