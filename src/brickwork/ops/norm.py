"""Normalisation kernels with fused backward: batch norm, layer norm, group norm.

Each op normalises ``x̂ = (x - mean) / sqrt(var + eps)`` over some axes and
applies a per-feature affine map. The gradient of the normalisation is the
one formula

    dx = invstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)),   ĝ = g · weight

with the means over the normalised axes, computed in one node instead of the
dozen a composite would record.

A recorded backward (``create_graph=True``) writes the same gradients with
differentiable ops instead, from the saved centred input: normalisation does
not change when its input shifts by a constant, so that array stands in for
the input (:func:`brickwork._traced.input_of`) and no extra one is kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork._traced import Traced, input_of
from brickwork.autograd import DeviceMismatchError, Function
from brickwork.ops import _onednn
from brickwork.ops._util import memory_order
from brickwork.tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "group_norm"]


def _normalize_backward(xp: Any, gh: Any, xhat: Any, invstd: Any, axis: Any) -> Any:
    """Input gradient of ``x̂`` given ``ĝ = dL/dx̂`` (means over ``axis``)."""
    mean_g = gh.mean(axis=axis, keepdims=True)
    mean_gx = (gh * xhat).mean(axis=axis, keepdims=True)
    out = xhat * mean_gx
    out += mean_g
    xp.subtract(gh, out, out=out)
    out *= invstd
    return out


def _recorded_normalize(xp: Any, x: Any, axis: Any, eps: float) -> tuple[Any, Any]:
    """``(x̂, invstd)`` of a traced ``x`` over ``axis``, as differentiable ops."""
    centered = x - x.mean(axis=axis, keepdims=True)
    invstd = 1 / xp.sqrt((centered * centered).mean(axis=axis, keepdims=True) + eps)
    return centered * invstd, invstd


def _recorded_normalize_backward(gh: Any, xhat: Any, invstd: Any, axis: Any) -> Any:
    """:func:`_normalize_backward` as differentiable ops (a recorded backward)."""
    return invstd * (gh - gh.mean(axis=axis, keepdims=True)
                     - xhat * (gh * xhat).mean(axis=axis, keepdims=True))


# ---------------------------------------------------------------------------
# batch norm


def _channel_rows(x: Any) -> Any:
    """``(N, C, *S)`` as a ``(C, N·S)`` view when that needs no copy, else None.

    That is when the channel axis is outermost in memory and each channel is
    one contiguous block: channel-major memory, or the batch-innermost memory
    of a convolution's output. A row lists its channel's values in memory order.
    """
    if x.ndim < 2:
        return None
    order = memory_order(x)
    if order[0] != 1:
        return None
    moved = x.transpose(order)
    if moved.flags.c_contiguous:
        return moved.reshape(x.shape[1], -1)
    return None


def _sample_rows(x: Any) -> Any:
    """``(N, C, *S)`` in C order (NCHW memory, as oneDNN's convolutions return it) as an
    ``(N, C, S)`` view, else None."""
    if x.ndim >= 2 and x.flags.c_contiguous:
        return x.reshape(x.shape[0], x.shape[1], -1)
    return None


def _channel_mean(xp: Any, x: Any, axes: tuple[int, ...]) -> Any:
    rows = _channel_rows(x)
    if rows is not None:
        return rows.mean(axis=1)
    samples = _sample_rows(x)
    if samples is not None:  # one pass; NumPy's mean over axes (0, 2) is 3.5x slower on NCHW
        return xp.einsum("nci->c", samples) / (x.size // x.shape[1])
    return x.mean(axis=axes)


def _channel_mean_square(xp: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """Per-channel mean of ``x²`` without a full-size temporary when the memory allows."""
    rows = _channel_rows(x)
    if rows is not None:
        return xp.einsum("ij,ij->i", rows, rows) / rows.shape[1]
    samples = _sample_rows(x)
    if samples is not None:
        return xp.einsum("nci,nci->c", samples, samples) / (x.size // x.shape[1])
    return (x * x).mean(axis=axes)


def _channel_sums(xp: Any, g: Any, centered: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
    """Per-channel ``sum(g)`` and ``sum(g · centered)``, without a full-size temporary when both
    arrays have the same channel-outermost memory order (one dot product per channel) or are
    both in C order."""
    g_rows = _channel_rows(g)
    if g_rows is not None and memory_order(g) == memory_order(centered):
        c_rows = _channel_rows(centered)
        if c_rows is not None:
            return g_rows.sum(axis=1), xp.einsum("ij,ij->i", g_rows, c_rows)
    g_samples, c_samples = _sample_rows(g), _sample_rows(centered)
    if g_samples is not None and c_samples is not None:
        return xp.einsum("nci->c", g_samples), xp.einsum("nci,nci->c", g_samples, c_samples)
    return g.sum(axis=axes), (g * centered).sum(axis=axes)


class BatchNorm(Function):
    """Per-channel normalisation of ``(N, C, *)`` with batch or running statistics.

    With batch statistics the running buffers, if given, are updated in place
    (with the unbiased variance), as PyTorch does. Forward keeps the centred
    input and ``1/std`` (``x̂`` is never stored); backward needs only two
    per-channel sums, ``Σg`` and ``Σg·(x - mean)``, and then one pass:

        dx = s·g - s·Σg/n - s·invstd²·Σg(x - mean)/n · (x - mean),   s = invstd · weight
    """
    name = "NativeBatchNorm"  # what grad_fn prints, as PyTorch: <NativeBatchNormBackward0>

    op_name = "batch_norm"
    saved_inputs = (1,)  # the weight (None when absent)
    # read by a first-order backward; a recorded one uses the centred input as the input itself
    # (see input_of) and 1/std only when it is a constant (running statistics)
    double_backward_constants = ("centered", "invstd")

    def forward(self, x: Any, weight: Any, bias: Any, *, running_mean: Any, running_var: Any,
                use_batch_stats: bool, momentum: float, eps: float) -> Any:
        xp = self.xp
        c = x.shape[1]
        shape = (1, c) + (1,) * (x.ndim - 2)
        axes = (0,) + tuple(range(2, x.ndim))
        self.axes, self.shape, self.use_batch_stats = axes, shape, use_batch_stats
        self.weight, self.eps = weight, eps
        if not use_batch_stats and not any(self.needs_input_grad):  # inference: one fused pass
            scale = 1.0 / xp.sqrt(running_var.astype(x.dtype, copy=False) + eps)
            if weight is not None:
                scale = scale * weight
            shift = -running_mean.astype(x.dtype, copy=False) * scale
            if bias is not None:
                shift = shift + bias
            if _onednn.channel_op_takes(x):  # one pass of oneDNN's kernel for NumPy's two
                return _onednn.channel_op(x, "mul", scale, (("add", shift),))
            out = x * scale.reshape(shape)
            out += shift.reshape(shape)
            return out
        on_onednn = _onednn.channel_op_takes(x)  # NCHW float32 (a oneDNN convolution's output)
        if use_batch_stats:
            mean = _channel_mean(xp, x, axes)
            centered = _onednn.channel_op(x, "sub", mean) if on_onednn else x - mean.reshape(shape)
            var = _channel_mean_square(xp, centered, axes)
            invstd = 1.0 / xp.sqrt(var + eps)
            n = x.size // c
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                unbiased = var * (n / max(n - 1, 1))
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
        else:
            invstd = 1.0 / xp.sqrt(running_var.astype(x.dtype, copy=False) + eps)
            mean = running_mean.astype(x.dtype, copy=False)
            centered = _onednn.channel_op(x, "sub", mean) if on_onednn else x - mean.reshape(shape)
        self.invstd, self.centered = invstd, centered
        scale = invstd * weight if weight is not None else invstd
        if on_onednn:
            return _onednn.channel_op(centered, "mul", scale, (("add", bias),) if bias is not None else ())
        out = centered * scale.reshape(shape)
        if bias is not None:
            out += bias.reshape(shape)
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        if type(g) is Traced:
            return self._recorded_backward(g)
        xp, need = self.xp, self.needs_input_grad
        shape, axes, centered, invstd = self.shape, self.axes, self.centered, self.invstd
        sum_g, sum_gc = _channel_sums(xp, g, centered, axes)
        gx = None
        if need[0]:
            scale = invstd * self.weight if self.weight is not None else invstd
            on_onednn = _onednn.channel_op_takes(g, centered)
            if self.use_batch_stats:
                n = centered.size // centered.shape[1]
                coef = scale * invstd * invstd * sum_gc
                coef /= -n
                if on_onednn:  # the same roundings as below, in two passes instead of four
                    correction = _onednn.channel_op(centered, "mul", coef, (("sub", scale * sum_g / n),))
                    gx = _onednn.channel_op(g, "mul", scale, (("add", correction),))
                else:
                    gx = g * scale.reshape(shape)
                    correction = centered * coef.reshape(shape)
                    correction -= (scale * sum_g / n).reshape(shape)
                    gx += correction
            else:
                gx = _onednn.channel_op(g, "mul", scale) if on_onednn else g * scale.reshape(shape)
        gw = sum_gc * invstd if need[1] else None
        return (gx, gw, sum_g if need[2] else None)

    def _recorded_backward(self, g: Any) -> tuple[Any, ...]:
        """The gradients as differentiable ops of the input, the weight and ``g``."""
        need, shape, axes = self.needs_input_grad, self.shape, self.axes
        x = input_of(self, 0, self.centered)  # (x less a per-channel constant)
        if self.use_batch_stats:
            xhat, invstd = _recorded_normalize(self.xp, x, axes, self.eps)
        else:
            invstd = self.invstd.reshape(shape)
            xhat = x * invstd
        w = self.weight.reshape(shape) if self.weight is not None else None
        gx = None
        if need[0]:
            gh = g * w if w is not None else g
            gx = (_recorded_normalize_backward(gh, xhat, invstd, axes) if self.use_batch_stats
                  else gh * invstd)
        gw = (g * xhat).sum(axis=axes) if need[1] else None
        return (gx, gw, g.sum(axis=axes) if need[2] else None)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over ``(N, C, *)`` (``torch.nn.functional.batch_norm``).

    With ``training=True`` the batch's own statistics are used and the
    running buffers, if given, are updated in place; otherwise the running
    statistics normalise.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0], [3.0]])
    >>> batch_norm(x, None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    nd = input._data.ndim
    if nd < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got "
                         f"shape {tuple(input.shape)}")
    c = input._data.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t._data.shape) != (c,):
            raise RuntimeError(
                f"batch_norm: {name} has shape {tuple(t.shape)} but the input {tuple(input.shape)} "
                f"has {c} channels (expected ({c},))"
            )
    use_batch_stats = bool(training)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(
            "batch_norm: running_mean and running_var must be given in evaluation mode "
            "(training=False); pass training=True to normalise with the batch's statistics"
        )
    if input._data.size == 0:
        return _empty_batch_norm(input, weight, bias)
    if use_batch_stats and input._data.size // max(c, 1) <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {tuple(input.shape)}"
        )
    stats = [t for t in (running_mean, running_var) if t is not None]
    for t in stats:
        if t._device is not input._device:
            raise DeviceMismatchError("batch_norm (running statistics)", [input._device, t._device])
    out = BatchNorm.apply(
        input, weight, bias,
        running_mean=running_mean._data if running_mean is not None else None,
        running_var=running_var._data if running_var is not None else None,
        use_batch_stats=use_batch_stats, momentum=float(momentum), eps=float(eps),
    )
    if use_batch_stats:
        for t in stats:
            t._version[0] += 1
    return out


def _empty_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """An empty batch normalises to an empty tensor, as in PyTorch: no statistics to take or
    update, and zero gradients for ``weight`` and ``bias`` (they still join the graph)."""
    shape = (1, -1) + (1,) * (input._data.ndim - 2)
    out = input * weight.reshape(shape) if weight is not None else input * 1
    return out + bias.reshape(shape) if bias is not None else out


# ---------------------------------------------------------------------------
# layer norm and group norm


class LayerNorm(Function):
    """Normalise over the trailing ``k`` dims; ``weight``/``bias`` have those dims' shape."""
    name = "NativeLayerNorm"  # what grad_fn prints, as PyTorch: <NativeLayerNormBackward0>

    op_name = "layer_norm"
    saved_inputs = (1,)  # the weight (None when absent)
    double_backward_constants = ("xhat", "invstd")  # (a recorded backward recomputes them)

    def forward(self, x: Any, weight: Any, bias: Any, *, k: int, eps: float) -> Any:
        xp = self.xp
        self.shape, self.param_shape, self.eps = x.shape, x.shape[x.ndim - k:], eps
        x2 = x.reshape(-1, int(np.prod(self.param_shape)))
        xhat = x2 - x2.mean(axis=1, keepdims=True)
        var = (xhat * xhat).mean(axis=1, keepdims=True)
        var += eps
        invstd = xp.sqrt(var, out=var)
        xp.reciprocal(invstd, out=invstd)
        xhat *= invstd
        self.xhat, self.invstd, self.weight = xhat, invstd, weight
        if weight is None and bias is None:
            return (xhat.copy() if self.needs_input_grad[0] else xhat).reshape(x.shape)
        out = xhat * weight.reshape(-1) if weight is not None else xhat.copy()
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    def backward(self, g: Any) -> tuple[Any, ...]:
        need = self.needs_input_grad
        xhat, invstd = self.xhat, self.invstd
        g2 = g.reshape(xhat.shape)
        w = self.weight.reshape(-1) if self.weight is not None else None
        recorded = type(g) is Traced
        if recorded:  # the input less each row's mean (a constant shift) stands in for the input
            x = input_of(self, 0, (xhat / invstd).reshape(self.shape)).reshape(xhat.shape)
            xhat, invstd = _recorded_normalize(self.xp, x, 1, self.eps)
        gx = None
        if need[0]:
            gh = g2 * w if w is not None else g2
            gx = (_recorded_normalize_backward(gh, xhat, invstd, 1) if recorded
                  else _normalize_backward(self.xp, gh, xhat, invstd, 1)).reshape(self.shape)
        ps = self.param_shape
        gw = (g2 * xhat).sum(axis=0).reshape(ps) if need[1] else None
        return (gx, gw, g2.sum(axis=0).reshape(ps) if need[2] else None)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift.

    >>> import brickwork as bw
    >>> layer_norm(bw.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input._data.shape[input._data.ndim - k:]) != normalized_shape \
            or input._data.ndim < k:
        raise RuntimeError(
            f"layer_norm: expected an input whose last dims are normalized_shape="
            f"{list(normalized_shape)}, got input of shape {tuple(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != normalized_shape:
            raise RuntimeError(
                f"layer_norm: {name} has shape {tuple(t.shape)}, expected {normalized_shape}"
            )
    return LayerNorm.apply(input, weight, bias, k=k, eps=float(eps))


class GroupNorm(Function):
    """Normalise ``(N, C, *)`` over groups of ``C // G`` channels; per-channel affine."""
    name = "NativeGroupNorm"  # what grad_fn prints, as PyTorch: <NativeGroupNormBackward0>

    op_name = "group_norm"
    saved_inputs = (1,)  # the weight (None when absent)
    double_backward_constants = ("xhat", "invstd")  # (a recorded backward recomputes them)

    def forward(self, x: Any, weight: Any, bias: Any, *, groups: int, eps: float) -> Any:
        xp = self.xp
        self.eps = eps
        n, c = x.shape[:2]
        x3 = x.reshape(n, groups, -1)
        mean = x3.mean(axis=2, keepdims=True)
        xhat = x3 - mean
        var = (xhat * xhat).mean(axis=2, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat *= invstd
        self.xhat, self.invstd, self.shape, self.groups = xhat, invstd, x.shape, groups
        self.weight = weight
        per_channel = xhat.reshape(n, c, -1)
        if weight is None and bias is None:
            out = per_channel.copy() if self.needs_input_grad[0] else per_channel
            return out.reshape(x.shape)
        out = per_channel * weight[:, None] if weight is not None else per_channel.copy()
        if bias is not None:
            out += bias[:, None]
        return out.reshape(x.shape)

    def backward(self, g: Any) -> tuple[Any, ...]:
        need = self.needs_input_grad
        xhat, invstd = self.xhat, self.invstd
        n, c = self.shape[:2]
        g3 = g.reshape(n, c, -1)
        recorded = type(g) is Traced
        if recorded:  # the input less each group's mean (a constant shift) stands in for the input
            x = input_of(self, 0, (xhat / invstd).reshape(self.shape)).reshape(xhat.shape)
            xhat, invstd = _recorded_normalize(self.xp, x, 2, self.eps)
        gx = None
        if need[0]:
            gh = g3 * self.weight[:, None] if self.weight is not None else g3
            gh = gh.reshape(xhat.shape)
            gx = (_recorded_normalize_backward(gh, xhat, invstd, 2) if recorded
                  else _normalize_backward(self.xp, gh, xhat, invstd, 2)).reshape(self.shape)
        gw = (g3 * xhat.reshape(n, c, -1)).sum(axis=(0, 2)) if need[1] else None
        return (gx, gw, g3.sum(axis=(0, 2)) if need[2] else None)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalisation of ``(N, C, *)`` inputs (``C`` divisible by ``num_groups``).

    >>> import brickwork as bw
    >>> group_norm(bw.tensor([[1.0, 3.0]]), 1)
    tensor([[-1.0000,  1.0000]])
    """
    if input._data.ndim < 2:
        raise RuntimeError(f"group_norm: expected an input of at least 2 dims (N, C, ...), got "
                           f"shape {tuple(input.shape)}")
    c = input._data.shape[1]
    if num_groups < 1 or c % num_groups:
        raise RuntimeError(
            f"group_norm: expected the number of channels ({c}) to be divisible by num_groups "
            f"({num_groups}), got input of shape {tuple(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != (c,):
            raise RuntimeError(
                f"group_norm: {name} has shape {tuple(t.shape)}, expected ({c},)"
            )
    return GroupNorm.apply(input, weight, bias, groups=int(num_groups), eps=float(eps))
