"""Dropout: multiply by a random keep-mask scaled by ``1 / (1 - p)``.

The mask is drawn once from the device's generator and saved; backward is
``g * mask``. Feature dropout (``dropout1d``/``dropout2d``) draws one mask
value per channel and lets broadcasting spread it over the spatial dims.
"""

from __future__ import annotations

from typing import Any

from brickwork.autograd import Function
from brickwork.ops._util import as_float
from brickwork.random import Generator, rng_for
from brickwork.tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


class MaskedScale(Function):
    """``x * mask`` for a constant (broadcastable) mask array."""

    op_name = "dropout"
    double_backward_constants = ("mask",)  # drawn once: a constant of a recorded backward too

    def forward(self, x: Any, mask: Any) -> Any:
        self.mask = mask
        return x * mask

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g * self.mask,)


def _keep_mask(input: Tensor, p: float, shape: tuple[int, ...],
               generator: Generator | None) -> Any:
    x = input._data
    with input._device.activate():  # CuPy draws and allocates on the current GPU
        if p == 1.0:
            return input._device.xp.zeros(shape, dtype=x.dtype)
        rng = rng_for(input._device, generator)
        draw_dtype = x.dtype if x.dtype.itemsize >= 4 else "float32"
        keep = rng.random(shape, dtype=draw_dtype) >= p
        return keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))


def _check_p(p: float, op: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def _dropout(op: str, input: Tensor, p: float, training: bool, inplace: bool,
             mask_shape: tuple[int, ...], generator: Generator | None) -> Tensor:
    p = _check_p(p, op)
    x = as_float(input)
    if not training or p == 0.0:
        return input
    mask = _keep_mask(x, p, mask_shape, generator)
    if inplace:
        return input._inplace_from(MaskedScale, mask=mask)
    return MaskedScale.apply(x, mask=mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator: Generator | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Outside training (``training=False``) the input is returned unchanged.

    >>> import brickwork as bw
    >>> x = bw.ones(4)
    >>> dropout(x, 0.5, training=False) is x
    True
    >>> sorted(set(dropout(x, 0.5).tolist())) in ([0.0], [0.0, 2.0], [2.0])
    True
    """
    return _dropout("dropout", input, p, training, inplace, tuple(input._data.shape), generator)


def _feature_dropout(op: str, input: Tensor, p: float, training: bool, inplace: bool,
                     spatial: int, generator: Generator | None) -> Tensor:
    shape = tuple(input._data.shape)
    if len(shape) not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got input of shape {shape}"
        )
    mask_shape = shape[:len(shape) - spatial] + (1,) * spatial
    return _dropout(op, input, p, training, inplace, mask_shape, generator)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs with probability ``p``."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 1, None)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` / ``(C, H, W)`` inputs with probability ``p``."""
    return _feature_dropout("dropout2d", input, p, training, inplace, 2, None)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs with probability ``p``."""
    return _feature_dropout("dropout3d", input, p, training, inplace, 3, None)
