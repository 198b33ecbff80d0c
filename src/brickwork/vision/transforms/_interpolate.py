"""Resampling of ``(..., H, W)`` arrays the way ``torch.nn.functional.interpolate`` does it.

Each axis is resampled by a weight matrix ``(out, in)`` (one-hot rows for the nearest
modes), so the whole resize is two matrix products, written once against ``xp``.
The weights follow PyTorch's CPU kernels (``align_corners=False``, scale ``in / out``):

* ``nearest``: source ``floor(i * scale)`` in float32; ``nearest-exact``: ``floor((i + 0.5) * scale)``.
* ``bilinear`` / ``bicubic`` without antialias: source ``scale * (i + 0.5) - 0.5``, linear
  (clamped at 0) or Keys cubic with ``a = -0.75`` and replicated borders.
* with antialias (what torchvision's ``Resize`` uses by default): Pillow's separable filter,
  triangle or cubic ``a = -0.5``, its support widened by the scale when shrinking, each row
  normalised to sum 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _nearest_weights(n_in: int, n_out: int, exact: bool) -> np.ndarray:
    if n_in == n_out:
        src = np.arange(n_out)
    elif not exact and n_out == 2 * n_in:
        src = np.arange(n_out) >> 1
    else:
        scale = np.float32(n_in) / np.float32(n_out)
        if exact:
            pos = ((np.arange(n_out, dtype=np.float64) + 0.5) * np.float64(scale)).astype(np.float32)
        else:
            pos = np.arange(n_out, dtype=np.float32) * scale
        src = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    weights = np.zeros((n_out, n_in))
    weights[np.arange(n_out), src] = 1.0
    return weights


def _linear_weights(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    src = np.maximum(scale * (np.arange(n_out) + 0.5) - 0.5, 0.0)
    low = src.astype(np.int64)
    frac = np.clip(src - low, 0.0, 1.0)
    high = np.minimum(low + 1, n_in - 1)
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(weights, (rows, low), 1.0 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def _keys_cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _cubic_weights(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    src = scale * (np.arange(n_out) + 0.5) - 0.5
    base = np.floor(src).astype(np.int64)
    frac = src - base
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k in range(4):  # taps at base - 1 .. base + 2, borders replicated
        np.add.at(weights, (rows, np.clip(base - 1 + k, 0, n_in - 1)), _keys_cubic(frac + 1 - k, -0.75))
    return weights


def _antialias_weights(n_in: int, n_out: int, mode: str) -> np.ndarray:
    taps = 2 if mode == "bilinear" else 4
    scale = n_in / n_out
    support = taps / 2 * scale if scale >= 1.0 else taps / 2
    inv_scale = 1.0 / scale if scale >= 1.0 else 1.0
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        x = (np.arange(lo, hi) - center + 0.5) * inv_scale
        if mode == "bilinear":
            row = np.maximum(1.0 - np.abs(x), 0.0)
        else:
            row = _keys_cubic(x, -0.5)
        total = row.sum()
        weights[i, lo:hi] = row / total if total != 0 else row
    return weights


def axis_weights(n_in: int, n_out: int, mode: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` float64 matrix that resamples one axis."""
    if mode in ("nearest", "nearest-exact"):
        return _nearest_weights(n_in, n_out, exact=mode == "nearest-exact")
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(
            f"resize: interpolation {mode!r} is not supported on tensors; use nearest, "
            "nearest-exact, bilinear or bicubic (or a PIL image for the others)"
        )
    if antialias:
        return _antialias_weights(n_in, n_out, mode)
    return _linear_weights(n_in, n_out) if mode == "bilinear" else _cubic_weights(n_in, n_out)


def resize_array(xp: Any, arr: Any, size: tuple[int, int], mode: str, antialias: bool) -> Any:
    """Resize the last two axes of ``arr`` to ``size``; integer images come back rounded, same dtype."""
    out_dtype = arr.dtype
    work = arr if out_dtype in (np.float32, np.float64) else arr.astype(np.float32)
    height, width = work.shape[-2:]
    if antialias and mode not in ("bilinear", "bicubic"):
        antialias = False
    rows = xp.asarray(axis_weights(height, size[0], mode, antialias), dtype=work.dtype)
    cols = xp.asarray(axis_weights(width, size[1], mode, antialias), dtype=work.dtype)
    out = xp.matmul(rows, xp.matmul(work, cols.T))
    if out_dtype == work.dtype:
        return out
    if mode == "bicubic" and out_dtype == np.uint8:
        out = xp.clip(out, 0, 255)
    if np.issubdtype(out_dtype, np.integer):
        out = xp.round(out)
    return out.astype(out_dtype)
