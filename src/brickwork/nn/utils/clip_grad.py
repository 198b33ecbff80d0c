"""Gradient clipping, computed on the device (no host sync)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork._sync import sync_point
from brickwork.autograd import DeviceMismatchError, _wrap
from brickwork.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    seen: set[int] = set()
    grads = []
    for p in parameters:
        if id(p) in seen:  # a tied parameter passed twice is clipped once
            continue
        seen.add(id(p))
        if p._grad is not None:
            grads.append(p._grad)
    return grads


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all the tensors together, as one 0-d tensor on their device.

    >>> import brickwork as bw
    >>> get_total_norm([bw.tensor([3.0]), bw.tensor([4.0])])
    tensor(5.)
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not tensors:
        return _wrap(np.zeros((), dtype=np.float32), _backend.CPU)
    device = tensors[0]._device
    for t in tensors:
        if t._device is not device:
            raise DeviceMismatchError("clip_grad_norm_", [device, t._device])
    xp = device.xp
    norm_type = float(norm_type)
    arrays = [t._data for t in tensors]
    if math.isinf(norm_type):
        parts = [xp.abs(a).max() for a in arrays if a.size]
        reduce = xp.max
    else:
        parts = [_vector_norm(xp, a, norm_type) for a in arrays]
        reduce = None
    if not parts:
        total = xp.zeros((), dtype=arrays[0].dtype)
    else:
        stacked = xp.stack([xp.asarray(p) for p in parts])
        total = reduce(stacked) if reduce is not None else _vector_norm(xp, stacked, norm_type)
    total = xp.asarray(total)
    if error_if_nonfinite:  # an explicit, requested host read: counted by sync_guard
        sync_point("clip_grad_norm_(error_if_nonfinite=True)")
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
            f"({float(total)}), so it cannot be clipped; pass error_if_nonfinite=False to clip anyway"
        )
    return _wrap(total, device)


def _vector_norm(xp: Any, a: Any, p: float) -> Any:
    flat = a.reshape(-1)
    if p == 2.0:
        return xp.sqrt(xp.dot(flat, flat)) if flat.size else xp.zeros((), dtype=a.dtype)
    if p == 1.0:
        return xp.abs(flat).sum()
    if p == 0.0:
        return (flat != 0).sum().astype(a.dtype)
    return (xp.abs(flat) ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their total norm is at most ``max_norm``.

    Returns the total norm before clipping, as a 0-d tensor on the gradients'
    device: nothing is read back to the host (unless ``error_if_nonfinite``),
    so it can run every batch inside ``bw.sync_guard``. As in PyTorch the
    scale is ``min(1, max_norm / (total + 1e-6))``.

    >>> import brickwork as bw
    >>> w = bw.zeros(2, requires_grad=True)
    >>> (w * bw.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> w.grad
    tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    if not grads:
        return get_total_norm([], norm_type)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    xp = total._device.xp
    coef = xp.minimum(float(max_norm) / (total._data + 1e-6), 1.0)
    for g in grads:
        arr = g._data
        xp.multiply(arr, coef.astype(arr.dtype, copy=False), out=arr)
        g._version[0] += 1
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    >>> import brickwork as bw
    >>> w = bw.zeros(3, requires_grad=True)
    >>> (w * bw.tensor([-5.0, 0.5, 5.0])).sum().backward()
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    value = float(clip_value)
    for g in _grads(parameters):
        xp = g._device.xp
        xp.clip(g._data, -value, value, out=g._data)
        g._version[0] += 1
