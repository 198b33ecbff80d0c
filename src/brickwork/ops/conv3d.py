"""Sliding windows beyond the 2-D kernels: ``unfold``/``fold`` (im2col and col2im as ops),
``conv3d``, ``max_pool3d`` and ``avg_pool3d``.

``Unfold`` and ``Fold`` are one primitive pair: each one's backward is the
other's forward. The 3-D layers are composites of the tested 2-D/1-D
kernels (correctness first, speed second): a 3-D convolution is the sum over
the kernel's depth taps of 2-D convolutions of depth slices, and 3-D max and
average pooling are separable (a box window is three 1-D windows in turn;
for averages the divisor is the product of the per-axis ones, whichever
``count_include_pad`` is).
"""

from __future__ import annotations

from typing import Any

from brickwork import _traced
from brickwork.autograd import Function, _wrap
from brickwork.ops import pool
from brickwork.ops import shape as sh
from brickwork.ops._util import int_tuple
from brickwork.ops.conv import _check_conv_inputs, _resolve_padding, conv2d, conv_output_size
from brickwork.tensor import Tensor

__all__ = ["unfold", "fold", "conv3d", "max_pool3d", "avg_pool3d"]


# ---------------------------------------------------------------------------
# im2col / col2im


def _im2col(xp: Any, x: Any, kernel: tuple[int, int], dilation: tuple[int, int],
            padding: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> Any:
    n, c = x.shape[:2]
    (kh, kw), (dh, dw), (ph, pw), (sh_, sw), (oh, ow) = kernel, dilation, padding, stride, out_hw
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xpad[:, :, i * dh:i * dh + sh_ * (oh - 1) + 1:sh_,
                                    j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _col2im(xp: Any, cols: Any, size: tuple[int, int], kernel: tuple[int, int],
            dilation: tuple[int, int], padding: tuple[int, int], stride: tuple[int, int],
            out_hw: tuple[int, int]) -> Any:
    (kh, kw), (dh, dw), (ph, pw), (sh_, sw), (oh, ow) = kernel, dilation, padding, stride, out_hw
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    out = xp.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh_ * (oh - 1) + 1:sh_,
                j * dw:j * dw + sw * (ow - 1) + 1:sw] += blocks[:, :, i, j]
    return out[:, :, ph:ph + size[0], pw:pw + size[1]]


class Unfold(Function):
    """``(N, C, H, W) -> (N, C·kh·kw, L)``: every sliding block as a column."""

    op_name = "unfold"

    def forward(self, x: Any, geometry: tuple) -> Any:
        self.size, self.geometry = x.shape[2:], geometry
        return _im2col(self.xp, x, *geometry)

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):  # recorded (create_graph=True): the adjoint op
            return (Fold.apply(g.t, size=self.size, geometry=self.geometry),)
        return (_col2im(self.xp, g, self.size, *self.geometry),)


class Fold(Function):
    """``(N, C·kh·kw, L) -> (N, C, H, W)``: columns summed back into place (overlaps add up)."""

    op_name = "fold"

    def forward(self, cols: Any, size: tuple[int, int], geometry: tuple) -> Any:
        self.geometry = geometry
        return _col2im(self.xp, cols, size, *geometry)

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):  # recorded (create_graph=True): the adjoint op
            return (Unfold.apply(g.t, geometry=self.geometry),)
        return (_im2col(self.xp, g, *self.geometry),)


def _geometry(op: str, size: tuple[int, int], kernel_size: Any, dilation: Any, padding: Any,
              stride: Any) -> tuple:
    kernel = int_tuple(kernel_size, 2, "kernel_size", op)
    dilation = int_tuple(dilation, 2, "dilation", op)
    padding = int_tuple(padding, 2, "padding", op)
    stride = int_tuple(stride, 2, "stride", op)
    if min(kernel) < 1 or min(dilation) < 1 or min(stride) < 1 or min(padding) < 0:
        raise RuntimeError(f"{op}: kernel_size, dilation and stride must be positive and padding "
                           f"non-negative, got {kernel}, {dilation}, {stride}, {padding}")
    out = tuple(conv_output_size(n, k, s, 2 * p, d)
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(f"{op}: the spatial size {tuple(size)} (padding {padding}) is too small "
                           f"for kernel_size={kernel} with dilation={dilation}")
    return kernel, dilation, padding, stride, out


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Sliding blocks of ``(N, C, H, W)`` (or ``(C, H, W)``) as columns ``(N, C·kh·kw, L)``.

    >>> import brickwork as bw
    >>> unfold(bw.arange(9.0).reshape(1, 1, 3, 3), 2).shape
    brickwork.Size([1, 4, 4])
    """
    if input._data.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected a 3-D or 4-D input (C, H, W) or (N, C, H, W), got "
                           f"shape {tuple(input.shape)}")
    unbatched = input._data.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    geometry = _geometry("unfold", x._data.shape[2:], kernel_size, dilation, padding, stride)
    out = Unfold.apply(x, geometry=geometry)
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Sum columns ``(N, C·kh·kw, L)`` (or ``(C·kh·kw, L)``) back into ``(N, C, *output_size)``.

    >>> import brickwork as bw
    >>> fold(bw.ones(1, 4, 4), (3, 3), 2)
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    op = "fold"
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-D or 3-D input (C·kh·kw, L) or (N, C·kh·kw, L), "
                           f"got shape {tuple(input.shape)}")
    unbatched = input._data.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    size = int_tuple(output_size, 2, "output_size", op)
    geometry = _geometry(op, size, kernel_size, dilation, padding, stride)
    kernel, out = geometry[0], geometry[4]
    blocks = kernel[0] * kernel[1]
    if x._data.shape[1] % blocks or x._data.shape[2] != out[0] * out[1]:
        raise RuntimeError(
            f"{op}: input of shape {tuple(input.shape)} does not fit output_size={size} with "
            f"kernel_size={kernel}: dim -2 must be divisible by {blocks} and dim -1 must be "
            f"{out[0] * out[1]} (the number of sliding blocks)")
    result = Fold.apply(x, size=size, geometry=geometry)
    return result.squeeze(0) if unbatched else result


# ---------------------------------------------------------------------------
# 3-D convolution and pooling


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation) over ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs.

    ``weight`` is ``(out_channels, in_channels // groups, kd, kh, kw)``.

    >>> import brickwork as bw
    >>> conv3d(bw.ones(1, 1, 3, 3, 3), bw.ones(2, 1, 2, 2, 2)).shape
    brickwork.Size([1, 2, 2, 2, 2])
    """
    op = "conv3d"
    unbatched = _check_conv_inputs(op, input, weight, bias, 3, 1, groups)
    kernel = tuple(weight._data.shape[2:])
    stride = int_tuple(stride, 3, "stride", op)
    dilation = int_tuple(dilation, 3, "dilation", op)
    pads = _resolve_padding(padding, kernel, stride, dilation, op)
    x = input.unsqueeze(0) if unbatched else input
    (d_lo, d_hi), hw_pads = pads[0], pads[1:]
    if any(lo != hi for lo, hi in hw_pads):  # asymmetric 'same' padding: pad explicitly
        x = sh.pad(x, (hw_pads[1][0], hw_pads[1][1], hw_pads[0][0], hw_pads[0][1]))
        hw_pads = ((0, 0), (0, 0))
    if d_lo or d_hi:
        x = sh.pad(x, (0, 0, 0, 0, d_lo, d_hi))
    n, c, depth, h, w = x._data.shape
    kd, dd, sd = kernel[0], dilation[0], stride[0]
    out_depth = conv_output_size(depth, kd, sd, 0, dd)
    if out_depth < 1:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} (padded depth {depth}) is "
                           f"smaller than the kernel depth (effective size {dd * (kd - 1) + 1})")
    out = None
    for k in range(kd):
        start = k * dd
        slab = x[:, :, start:start + sd * (out_depth - 1) + 1:sd]          # (N, C, Do, H, W)
        slab = slab.transpose(1, 2).reshape(n * out_depth, c, h, w)
        part = conv2d(slab, weight[:, :, k], None, stride[1:],
                      (hw_pads[0][0], hw_pads[1][0]), dilation[1:], groups)
        out = part if out is None else out + part
    o, ho, wo = out._data.shape[1:]
    out = out.reshape(n, out_depth, o, ho, wo).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _pool_axes(op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any) -> tuple:
    if input._data.ndim not in (4, 5):
        raise RuntimeError(f"{op}: expected a 4-D or 5-D input (C, D, H, W) or (N, C, D, H, W), "
                           f"got shape {tuple(input.shape)}")
    kernel = int_tuple(kernel_size, 3, "kernel_size", op)
    stride = int_tuple(stride if stride is not None and stride != [] else kernel, 3, "stride", op)
    padding = int_tuple(padding, 3, "padding", op)
    return kernel, stride, padding


def _along(x: Tensor, axis: int, fn: Any) -> Tensor:
    """Apply a 2-D pool with a ``(1, k)`` window to one axis of ``x`` (all others are batch)."""
    moved = sh.movedim(x, axis, -1)
    lead = moved._data.shape[:-1]
    out = fn(moved.reshape(-1, 1, 1, moved._data.shape[-1]))
    return sh.movedim(out.reshape(*lead, out._data.shape[-1]), -1, axis)


def _max_along(x: Tensor, axis: int, kernel: int, stride: int, padding: int, dilation: int,
               ceil_mode: bool) -> tuple[Tensor, Any]:
    """1-D max pooling of one axis of ``x``: the maxima, and (an array) each one's position on that axis."""
    moved = sh.movedim(x, axis, -1)
    lead = moved._data.shape[:-1]
    out, index = pool.max_pool2d(moved.reshape(-1, 1, 1, moved._data.shape[-1]), (1, kernel), (1, stride),
                                 (0, padding), (1, dilation), ceil_mode, return_indices=True)
    size = out._data.shape[-1]
    xp = x._device.xp
    return (sh.movedim(out.reshape(*lead, size), -1, axis),
            xp.moveaxis(index._data.reshape(*lead, size), -1, axis))


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over ``(kd, kh, kw)`` windows of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``).

    The window is reduced one axis at a time, innermost (W) first, so among equal maxima the first in
    ``(d, h, w)`` order wins (and among NaNs the last), as in PyTorch; ``return_indices=True`` also
    returns PyTorch's flat ``d * H * W + h * W + w`` positions in the unpadded input.

    >>> import brickwork as bw
    >>> max_pool3d(bw.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
    [7.0]
    >>> max_pool3d(bw.arange(8.0).reshape(1, 1, 2, 2, 2), 2, return_indices=True)[1].flatten().tolist()
    [7]
    """
    op = "max_pool3d"
    kernel, stride, padding = _pool_axes(op, input, kernel_size, stride, padding)
    dilation = int_tuple(dilation, 3, "dilation", op)
    out = input
    positions: list[Any] = [None, None, None]  # per axis (d, h, w): the winner's coordinate
    xp = input._device.xp
    for k in (2, 1, 0):
        axis = out._data.ndim - 3 + k
        out, position = _max_along(out, axis, kernel[k], stride[k], padding[k], dilation[k], ceil_mode)
        # the inner coordinates found so far belong to the rows this reduction picked
        for inner in range(k + 1, 3):
            positions[inner] = xp.take_along_axis(positions[inner], position, axis=axis)
        positions[k] = position
    if not return_indices:
        return out
    depth, height, width = input._data.shape[-3:]
    d, h, w = positions
    return out, _wrap((d * height + h) * width + w, input._device)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over ``(kd, kh, kw)`` windows of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``).

    >>> import brickwork as bw
    >>> avg_pool3d(bw.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
    [3.5]
    """
    op = "avg_pool3d"
    kernel, stride, padding = _pool_axes(op, input, kernel_size, stride, padding)
    out = input
    for k in range(3):
        axis = out._data.ndim - 3 + k
        out = _along(out, axis, lambda t, k=k: pool.avg_pool2d(
            t, (1, kernel[k]), (1, stride[k]), (0, padding[k]), ceil_mode, count_include_pad,
            1 if divisor_override is not None else None))
    return out / divisor_override if divisor_override is not None else out
