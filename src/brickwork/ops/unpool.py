"""Max unpooling (``F.max_unpool1d/2d/3d``): the partial inverse of max pooling with indices.

A composite: the output is zeros with each input value scattered to its flat index in the output's
spatial axes, so the gradient is the tested scatter's (the output gradient gathered at the indices).
"""

from __future__ import annotations

from typing import Any

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.ops import shape as sh
from brickwork.ops._util import int_tuple
from brickwork.tensor import Tensor

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d", "max_unpool"]


def _output_size(op: str, in_size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: tuple[int, ...], output_size: Any) -> tuple[int, ...]:
    default = tuple((n - 1) * s - 2 * p + k for n, k, s, p in zip(in_size, kernel, stride, padding))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in output_size)
        if len(size) == len(kernel) + 2:  # a whole shape (N, C, ...) is accepted, as in PyTorch
            size = size[2:]
        if len(size) != len(kernel):
            raise ValueError(f"{op}: output_size must have {len(kernel)} or {len(kernel) + 2} elements, "
                             f"got {len(size)}")
        for d, (want, base, s) in enumerate(zip(size, default, stride)):
            if not base - s < want < base + s:
                raise ValueError(f"{op}: invalid output_size {size}: dimension {d} must be between "
                                 f"{base - s} and {base + s} (exclusive), the sizes that pool to the input")
    if min(size, default=1) < 1:
        raise RuntimeError(f"{op}: the output size {size} is not positive (input {in_size}, "
                           f"kernel_size={kernel}, stride={stride}, padding={padding})")
    return size


def max_unpool(op: str, spatial: int, input: Tensor, indices: Tensor, kernel_size: Any, stride: Any,
               padding: Any, output_size: Any) -> Tensor:
    """Shared by the 1-, 2- and 3-D functions: ``spatial`` trailing axes are unpooled."""
    if input._data.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 1}-D or {spatial + 2}-D input, got shape "
                           f"{tuple(input.shape)}")
    if not isinstance(indices, Tensor) or tuple(indices.shape) != tuple(input.shape):
        found = tuple(indices.shape) if isinstance(indices, Tensor) else type(indices).__name__
        raise RuntimeError(f"{op}: indices must be a tensor of the input's shape {tuple(input.shape)} "
                           f"(as max_pool{spatial}d(..., return_indices=True) returns), got {found}")
    if indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: indices must be an integer tensor, got {indices.dtype}")
    kernel = int_tuple(kernel_size, spatial, "kernel_size", op)
    stride = int_tuple(stride if stride is not None and stride != [] else kernel, spatial, "stride", op)
    padding = int_tuple(padding, spatial, "padding", op)
    unbatched = input._data.ndim == spatial + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices.unsqueeze(0) if unbatched else indices
    n, c = x._data.shape[:2]
    size = _output_size(op, tuple(x._data.shape[2:]), kernel, stride, padding, output_size)
    total = 1
    for v in size:
        total *= v
    flat_index = idx.reshape(n, c, -1)
    if flat_index._data.size:
        with input._device.activate():
            bad = (flat_index._data.max() >= total) | (flat_index._data.min() < 0)
            _backend.check_on_device(bad, f"{op}: an index is out of range for an output of {total} "
                                          f"elements per channel (output size {size})", RuntimeError)
    out = _wrap(x._device.xp.zeros((n, c, total), dtype=x._data.dtype), x._device)
    out = sh.scatter(out, 2, flat_index, x.reshape(n, c, -1)).reshape(n, c, *size)
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool1d(..., return_indices=True)`` over ``(N, C, L)`` or ``(C, L)``.

    >>> import brickwork as bw
    >>> out, idx = bw.nn.functional.max_pool1d(bw.tensor([[1.0, 3.0, 2.0, 0.0]]), 2, return_indices=True)
    >>> max_unpool1d(out, idx, 2)
    tensor([[0., 3., 2., 0.]])
    """
    return max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool2d(..., return_indices=True)``: a zero ``(N, C, H, W)`` output with each
    value at its flat index ``h * W + w``. The output size is ``(in - 1) * stride - 2 * padding +
    kernel_size`` per axis unless ``output_size`` picks another size that pools to the input (odd
    sizes that the pooling rounded down). Where indices repeat (overlapping windows), one value is kept.

    >>> import brickwork as bw
    >>> x = bw.tensor([[[1.0, 2.0], [4.0, 3.0]]])
    >>> out, idx = bw.nn.functional.max_pool2d(x, 2, return_indices=True)
    >>> max_unpool2d(out, idx, 2)
    tensor([[[0., 0.],
             [4., 0.]]])
    """
    return max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool3d(..., return_indices=True)`` over ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    >>> import brickwork as bw
    >>> x = bw.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> out, idx = bw.nn.functional.max_pool3d(x, 2, return_indices=True)
    >>> max_unpool3d(out, idx, 2).flatten().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    """
    return max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
