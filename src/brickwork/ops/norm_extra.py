"""Instance and RMS normalisation, composites of tested reductions and elementwise ops
(their gradients come from those ops; no hand-written backward)."""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork.autograd import no_grad
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.tensor import Tensor

__all__ = ["instance_norm", "rms_norm"]


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    """A per-channel ``(C,)`` tensor shaped to broadcast against ``(N, C, *spatial)``."""
    return t.reshape(-1, *([1] * (ndim - 2)))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalise each ``(sample, channel)`` of ``(N, C, *spatial)`` over its spatial dims.

    With ``use_input_stats`` the running statistics (if given) move towards the
    batch average of the per-instance mean and unbiased variance, as in PyTorch.

    >>> import brickwork as bw
    >>> instance_norm(bw.tensor([[[1.0, 3.0]]]))
    tensor([[[-1.0000,  1.0000]]])
    """
    op = "instance_norm"
    nd = input._data.ndim
    if nd < 3:
        raise ValueError(f"{op}: expected an input (N, C, *spatial) with at least one spatial "
                         f"dim, got shape {tuple(input.shape)}")
    axes = tuple(range(2, nd))
    if use_input_stats:
        mean = rd.mean(input, dim=axes, keepdim=True)
        centered = input - mean
        var = rd.mean(centered * centered, dim=axes, keepdim=True)
        if running_mean is not None or running_var is not None:
            _update_running(input, mean, var, running_mean, running_var, momentum)
        out = centered * ew.rsqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: use_input_stats=False needs running_mean and running_var")
        out = (input - _channel_view(running_mean, nd)) * ew.rsqrt(_channel_view(running_var, nd)
                                                                   + eps)
    if weight is not None:
        out = out * _channel_view(weight, nd)
    if bias is not None:
        out = out + _channel_view(bias, nd)
    return out


def _update_running(input: Tensor, mean: Tensor, var: Tensor, running_mean: Tensor | None,
                    running_var: Tensor | None, momentum: float) -> None:
    count = int(np.prod(input._data.shape[2:]))
    with no_grad():
        if running_mean is not None:
            batch_mean = rd.mean(mean.detach().reshape(mean.shape[0], -1), dim=0)
            running_mean.mul_(1 - momentum).add_(batch_mean.to(running_mean.dtype) * momentum)
        if running_var is not None:
            unbiased = var.detach() * (count / max(count - 1, 1)) if count > 1 else var.detach() \
                * float("nan")
            batch_var = rd.mean(unbiased.reshape(var.shape[0], -1), dim=0)
            running_var.mul_(1 - momentum).add_(batch_var.to(running_var.dtype) * momentum)


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x²) + eps) · weight`` over the trailing ``normalized_shape`` dims.

    ``eps=None`` uses the machine epsilon of the input's dtype, as in PyTorch.

    >>> import brickwork as bw
    >>> rms_norm(bw.tensor([[3.0, 4.0]]), (2,), eps=0.0)
    tensor([[0.8485, 1.1314]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    nd = input._data.ndim
    if tuple(input._data.shape[nd - len(shape):]) != shape or len(shape) > nd:
        raise RuntimeError(f"rms_norm: normalized_shape {shape} does not match the trailing dims "
                           f"of the input of shape {tuple(input.shape)}")
    if input._data.dtype.kind != "f":
        raise TypeError(f"rms_norm: expected a floating-point input, got {input.dtype}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    axes = tuple(range(nd - len(shape), nd))
    out = input * ew.rsqrt(rd.mean(input * input, dim=axes, keepdim=True) + eps)
    return out * weight if weight is not None else out
