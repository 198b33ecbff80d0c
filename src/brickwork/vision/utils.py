"""``make_grid`` and ``save_image``: a batch of images tiled into one picture."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from brickwork.autograd import _wrap
from brickwork.tensor import Tensor
from brickwork.vision import _pil

__all__ = ["make_grid", "save_image"]


def _normalize_range(xp: Any, arr: Any, value_range: tuple[float, float] | None) -> Any:
    low, high = (float(arr.min()), float(arr.max())) if value_range is None else value_range
    dt = arr.dtype.type
    return (xp.clip(arr, dt(low), dt(high)) - dt(low)) / dt(max(high - low, 1e-5))


def make_grid(
    tensor: Tensor | Sequence[Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a ``(B, C, H, W)`` batch (or a list of ``(C, H, W)`` images) into one ``(3, H', W')`` grid.

    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` between and around them;
    ``normalize`` rescales to [0, 1] by ``value_range`` (default: min and max, per image
    with ``scale_each``). One-channel images are repeated to three channels.

    >>> import brickwork as bw
    >>> make_grid(bw.ones(5, 1, 4, 4), nrow=2).shape
    brickwork.Size([3, 20, 14])
    """
    if isinstance(tensor, Tensor):
        arr, device = tensor._data, tensor.device
    elif isinstance(tensor, Sequence) and tensor and all(isinstance(t, Tensor) for t in tensor):
        device = tensor[0].device
        arr = device.xp.stack([t._data for t in tensor])
    else:
        raise TypeError(
            f"make_grid: expected a tensor or a non-empty list of tensors, got {type(tensor).__name__}"
        )
    xp = device.xp
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = (xp.concatenate([arr] * 3, axis=0) if arr.shape[0] == 1 else arr)[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W), (C, H, W) or (H, W), got shape {arr.shape}")
    if arr.shape[1] == 1:
        arr = xp.concatenate([arr] * 3, axis=1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError(f"make_grid: value_range must be a (min, max) tuple, got {value_range!r}")
        if scale_each:
            arr = xp.stack([_normalize_range(xp, image, value_range) for image in arr])
        else:
            arr = _normalize_range(xp, arr, value_range)
    if arr.shape[0] == 1:
        return _wrap(arr[0].copy(), device)
    count = arr.shape[0]
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    cell_h, cell_w = arr.shape[2] + padding, arr.shape[3] + padding
    grid = xp.full(
        (arr.shape[1], cell_h * rows + padding, cell_w * columns + padding), pad_value, dtype=arr.dtype
    )
    for k in range(count):
        y, x = divmod(k, columns)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[:, top : top + arr.shape[2], left : left + arr.shape[3]] = arr[k]
    return _wrap(grid, device)


def save_image(
    tensor: Tensor | Sequence[Tensor],
    fp: str | os.PathLike[str] | IO[bytes],
    format: str | None = None,
    **kwargs: Any,
) -> None:
    """Save ``make_grid(tensor, **kwargs)`` as an image file (values in [0, 1]); needs Pillow."""
    image = _pil.image_module("save_image")
    grid = make_grid(tensor, **kwargs).numpy(force=True)
    pixels = np.clip(grid * grid.dtype.type(255) + grid.dtype.type(0.5), 0, 255)
    image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0).astype(np.uint8))).save(fp, format=format)
