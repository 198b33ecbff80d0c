"""3-D convolution and pooling (Conv3d lazy-capable, MaxPool3d, AvgPool3d) and the sliding-block
layers Unfold and Fold; built on ``brickwork.ops.conv3d``."""

from __future__ import annotations

from typing import Any

from brickwork.nn.conv import _ConvNd
from brickwork.nn.module import Module
from brickwork.nn.pooling import _MaxPoolNd
from brickwork.ops import conv3d as ops3d
from brickwork.tensor import Tensor

__all__ = ["Conv3d", "LazyConv3d", "MaxPool3d", "AvgPool3d", "Unfold", "Fold"]


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, C, D, H, W)``; weight ``(out, in // groups, kd, kh, kw)``.

    >>> import brickwork as bw
    >>> Conv3d(2, 3, 3)
    Conv3d(2, 3, kernel_size=(3, 3, 3), stride=(1, 1, 1))
    >>> Conv3d(None, 3, 2)(bw.ones(1, 2, 4, 4, 4)).shape
    brickwork.Size([1, 3, 3, 3, 3])
    """

    spatial = 3

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_channels(input)
        x, padding = self._padded(input)
        return ops3d.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                            self.groups)


def LazyConv3d(out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,  # noqa: N802
               dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
               device: Any = None, dtype: Any = None) -> Conv3d:
    """``nn.Conv3d(None, out_channels, ...)``: in_channels inferred at the first forward.

    >>> type(LazyConv3d(4, 3)) is Conv3d
    True
    """
    return Conv3d(None, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                  padding_mode, device, dtype)


class MaxPool3d(_MaxPoolNd):
    """Max over windows of the last three axes (``stride`` defaults to ``kernel_size``).

    >>> MaxPool3d(2)
    MaxPool3d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    _fn = staticmethod(ops3d.max_pool3d)


class AvgPool3d(Module):
    """Mean over windows of the last three axes.

    >>> AvgPool3d(3, stride=2, padding=1)
    AvgPool3d(kernel_size=3, stride=2, padding=1)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return ops3d.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                "divisor_override": self.divisor_override}


class Unfold(Module):
    """Sliding blocks of ``(N, C, H, W)`` as columns ``(N, C·kh·kw, L)`` (im2col).

    >>> Unfold(3, padding=1)
    Unfold(kernel_size=3, dilation=1, padding=1, stride=1)
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                       padding, stride)

    def forward(self, input: Tensor) -> Tensor:
        return ops3d.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"kernel_size": self.kernel_size, "dilation": self.dilation,
                "padding": self.padding, "stride": self.stride}


class Fold(Module):
    """Sum columns ``(N, C·kh·kw, L)`` back into ``(N, C, *output_size)`` (col2im).

    >>> Fold((4, 5), 2, stride=2)
    Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=2)
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                       padding, stride)

    def forward(self, input: Tensor) -> Tensor:
        return ops3d.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                          self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"output_size": self.output_size, "kernel_size": self.kernel_size,
                "dilation": self.dilation, "padding": self.padding, "stride": self.stride}
