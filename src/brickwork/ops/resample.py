"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area) and ``pixel_shuffle`` / ``pixel_unshuffle``.

Every interpolation mode is separable: the output along one spatial axis is a
weighted sum of a few input rows picked along that axis. So each axis is one
``index_select`` per tap and a broadcast multiply, composites of tested ops
whose gradients (scatter-adds of the weighted output gradient) come for free.
Source coordinates follow PyTorch's rules (``align_corners``, a given
``scale_factor`` used as is unless ``recompute_scale_factor=True``) so the
sampled positions, and hence the numbers, are PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork.autograd import _wrap
from brickwork.ops import pool
from brickwork.ops import shape as sh
from brickwork.tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _output_sizes(op: str, input: Tensor, spatial: int, size: Any, scale_factor: Any,
                  recompute_scale_factor: bool | None) -> tuple[list[int], list[float | None]]:
    """Output sizes and the scales (``1/scale_factor`` given by the user, or None) per axis."""
    in_sizes = input._data.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size or scale_factor")
    if size is not None:
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * spatial
        if len(sizes) != spatial:
            raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                             f"dimensions, but size={size!r} has {len(sizes)}")
        return [int(s) for s in sizes], [None] * spatial
    factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) \
        else [scale_factor] * spatial
    if len(factors) != spatial:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                         f"dimensions, but scale_factor={scale_factor!r} has {len(factors)}")
    sizes = [int(math.floor(float(n) * float(f))) for n, f in zip(in_sizes, factors)]
    if recompute_scale_factor:
        return sizes, [None] * spatial
    return sizes, [float(f) for f in factors]


def _scale(n_in: int, n_out: int, factor: float | None, align_corners: bool, dtype: Any) -> Any:
    """PyTorch's source-coordinate step from output to input, in the computation dtype."""
    if align_corners:
        return dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
    if factor is not None and factor > 0:
        return dtype.type(1.0 / factor)
    return dtype.type(n_in) / dtype.type(n_out)


def _taps(mode: str, n_in: int, n_out: int, factor: float | None, align_corners: bool,
          dtype: Any) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(source indices, weights) per tap for one axis; weights None means weight 1."""
    i = np.arange(n_out, dtype=dtype)
    if mode in ("nearest", "nearest-exact"):
        # nearest modes compute coordinates in float32 whatever the data type, as PyTorch does
        out_index = np.arange(n_out)
        if mode == "nearest" and n_out == n_in:  # PyTorch's special cases for 'nearest'
            return [(out_index, None)]
        if mode == "nearest" and n_out == 2 * n_in:
            return [(out_index >> 1, None)]
        step = _scale(n_in, n_out, factor, False, np.dtype(np.float32))
        if mode == "nearest":
            src = np.floor(out_index.astype(np.float32) * step)
        else:  # (i + 0.5) in double times the float32 step, rounded to float32, as PyTorch
            src = np.floor(((out_index + 0.5) * np.float64(step)).astype(np.float32))
        return [(np.minimum(src.astype(np.int64), n_in - 1), None)]
    step = _scale(n_in, n_out, factor, align_corners, dtype)
    src = i * step if align_corners else (i + dtype.type(0.5)) * step - dtype.type(0.5)
    if mode != "bicubic":
        src = np.maximum(src, dtype.type(0))
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        lam = (src - lo).astype(dtype)
        return [(lo, dtype.type(1) - lam), (hi, lam)]
    lo = np.floor(src).astype(np.int64)
    t = (src - lo).astype(dtype)
    return [(np.clip(lo + k, 0, n_in - 1), w) for k, w in zip((-1, 0, 1, 2), _cubic_weights(t))]


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> list[np.ndarray]:
    """Keys' cubic convolution weights (``a = -0.75``) for the taps at -1, 0, 1, 2."""
    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = t.dtype.type(1)
    return [far(t + one), near(t), near(one - t), far(2 * one - t)]


def _resample_axis(x: Tensor, axis: int, taps: list[tuple[np.ndarray, np.ndarray | None]]) -> Tensor:
    xp = x._device.xp
    shape = [1] * x._data.ndim
    shape[axis] = -1
    out = None
    for index, weight in taps:
        picked = sh.index_select(x, axis, _wrap(xp.asarray(index), x._device))
        if weight is not None:
            picked = picked * _wrap(xp.asarray(weight.reshape(shape)), x._device)
        out = picked if out is None else out + picked
    return out


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of ``(N, C, *spatial)`` to ``size`` or by ``scale_factor``.

    >>> import brickwork as bw
    >>> interpolate(bw.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> interpolate(bw.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    op = "interpolate"
    if mode not in _MODES:
        raise NotImplementedError(f"{op}: mode {mode!r} is not provided by brickwork (modes: "
                                  f"{', '.join(_MODES)})")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not provided by brickwork")
    spatial = input._data.ndim - 2
    if spatial < 1 or spatial > 3:
        raise ValueError(f"{op}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape "
                         f"{tuple(input.shape)}")
    if mode in _SPATIAL and _SPATIAL[mode] != spatial:
        raise ValueError(f"{op}: mode {mode!r} needs a {_SPATIAL[mode] + 2}-D input, got shape "
                         f"{tuple(input.shape)}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError(f"{op}: align_corners may only be set with the linear modes (linear, "
                         f"bilinear, bicubic, trilinear), not {mode!r}")
    if input._data.dtype.kind != "f" and mode not in ("nearest", "nearest-exact"):
        raise TypeError(f"{op}: mode {mode!r} needs a floating-point input, got {input.dtype}")
    sizes, factors = _output_sizes(op, input, spatial, size, scale_factor, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"{op}: output sizes must be positive, got {sizes} for input of shape "
                         f"{tuple(input.shape)}")
    if mode == "area":
        return pool.adaptive_avg_pool2d(input, sizes) if spatial == 2 else \
            pool.adaptive_avg_pool1d(input, sizes) if spatial == 1 else _area_3d(input, sizes)
    dtype = input._data.dtype if input._data.dtype.kind == "f" else np.dtype(np.float32)
    out = input
    for k in range(spatial):
        n_in = input._data.shape[2 + k]
        out = _resample_axis(out, 2 + k, _taps(mode, n_in, sizes[k], factors[k],
                                               bool(align_corners), np.dtype(dtype)))
    return out if out is not input else sh.clone(input)


def _area_3d(input: Tensor, sizes: list[int]) -> Tensor:
    """Adaptive average pooling of three spatial dims: one axis at a time (windows are boxes)."""
    out = input
    for k, n in enumerate(sizes):
        moved = sh.movedim(out, 2 + k, -1)
        lead = moved._data.shape[:-1]
        pooled = pool.adaptive_avg_pool1d(moved.reshape(-1, 1, moved._data.shape[-1]), n)
        out = sh.movedim(pooled.reshape(*lead, n), -1, 2 + k)
    return out


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """The deprecated name of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """``interpolate(mode='nearest')`` (deprecated in PyTorch, kept for old code)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """``interpolate(mode='bilinear', align_corners=True)`` (deprecated in PyTorch)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)``: channels become ``r × r`` pixel blocks.

    >>> import brickwork as bw
    >>> pixel_shuffle(bw.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    r = int(upscale_factor)
    shape = input._data.shape
    if len(shape) < 3 or r <= 0 or shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected an input of at least 3 dims whose channel "
                           f"dim (-3) is divisible by upscale_factor²={r * r}, got shape "
                           f"{tuple(shape)}")
    *lead, c, h, w = shape
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)``: the inverse of :func:`pixel_shuffle`.

    >>> import brickwork as bw
    >>> pixel_unshuffle(bw.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    r = int(downscale_factor)
    shape = input._data.shape
    if len(shape) < 3 or r <= 0 or shape[-2] % r or shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle: expected an input of at least 3 dims whose height "
                           f"and width are divisible by downscale_factor={r}, got shape "
                           f"{tuple(shape)}")
    *lead, c, h, w = shape
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
