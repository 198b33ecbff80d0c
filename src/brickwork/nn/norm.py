"""Normalisation layers: BatchNorm1d/2d/3d (lazy-capable), LayerNorm, GroupNorm.

Running statistics are buffers named as in PyTorch (``running_mean``,
``running_var``, ``num_batches_tracked``), so state dicts load both ways.
``num_features=None`` (``nn.LazyBatchNorm2d()``) infers the channels from
the first input; ``LayerNorm(None)`` normalises over the last dim, whose
size is inferred; ``GroupNorm(g, None)`` infers the channels.
"""

from __future__ import annotations

from typing import Any

from brickwork import creation, dtypes
from brickwork.autograd import no_grad
from brickwork.nn import functional as F
from brickwork.nn import init
from brickwork.nn.linear import built_for_error, layer_size, new_parameter, size_text
from brickwork.nn.module import Module
from brickwork.nn.parameter import Buffer
from brickwork.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LayerNorm", "GroupNorm"]


def _stat_buffer(n: int | None, lazy: bool, fill: float, device: Any, dtype: Any) -> Buffer:
    if lazy:
        return Buffer.pending((None,), dtype=dtype, device=device)
    return Buffer(creation.full((n,), fill, dtype=dtype or dtypes.float32, device=device))


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d/3d; subclasses say which input ranks they accept."""

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int | None, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        num_features = layer_size(num_features, type(self).__name__, "num_features", lazy=True)
        self._declared_features = num_features
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        lazy = num_features is None
        feature = (num_features,)
        self.register_parameter("weight", new_parameter(feature, lazy, device, dtype) if affine else None)
        self.register_parameter(
            "bias", new_parameter(feature, lazy, device, dtype) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", _stat_buffer(num_features, lazy, 0.0, device, dtype))
            self.register_buffer("running_var", _stat_buffer(num_features, lazy, 1.0, device, dtype))
            self.register_buffer("num_batches_tracked",
                                 creation.tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if not lazy:
            self.reset_parameters()

    @property
    def num_features(self) -> int | None:
        """The number of channels ``C``, or None while the layer is lazy."""
        for t in (self.weight, self.running_mean):
            if t is not None and not t.is_pending:
                return t.shape[0]
        return self._declared_features

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: create weight, bias and running statistics of size ``input.shape[1]``."""
        self._check_input_dim(input)
        c = input.shape[1]
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((c,))

    def reset_running_stats(self) -> None:
        """Running mean to 0, running variance to 1, batch counter to 0 (with ``track_running_stats``)."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Reset the running statistics, the weight to ones and the bias to zeros."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {ranks} input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        built = self.num_features
        if built is not None and input._data.shape[1] != built:
            raise built_for_error(type(self).__name__, "num_features", built,
                                  input._data.shape[1], input.shape)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average (reads the counter)
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{size_text(self.num_features)}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats,
                "bias": self.bias is not None or not self.affine}


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs.

    >>> BatchNorm1d(4)
    BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs (statistics per channel).

    >>> import brickwork as bw
    >>> bn = BatchNorm2d(None)
    >>> bn(bw.randn(4, 3, 2, 2)).shape, bn.running_mean.shape
    (brickwork.Size([4, 3, 2, 2]), brickwork.Size([3]))
    """

    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of ``(N, C, D, H, W)`` inputs."""

    _ranks = (5,)


def LazyBatchNorm1d(eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,  # noqa: N802
                    track_running_stats: bool = True, device: Any = None,
                    dtype: Any = None) -> BatchNorm1d:
    """``nn.BatchNorm1d(None, ...)``: num_features inferred at the first forward."""
    return BatchNorm1d(None, eps, momentum, affine, track_running_stats, device, dtype)


def LazyBatchNorm2d(eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,  # noqa: N802
                    track_running_stats: bool = True, device: Any = None,
                    dtype: Any = None) -> BatchNorm2d:
    """``nn.BatchNorm2d(None, ...)``: num_features inferred at the first forward.

    >>> type(LazyBatchNorm2d()) is BatchNorm2d
    True
    """
    return BatchNorm2d(None, eps, momentum, affine, track_running_stats, device, dtype)


def LazyBatchNorm3d(eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,  # noqa: N802
                    track_running_stats: bool = True, device: Any = None,
                    dtype: Any = None) -> BatchNorm3d:
    """``nn.BatchNorm3d(None, ...)``: num_features inferred at the first forward."""
    return BatchNorm3d(None, eps, momentum, affine, track_running_stats, device, dtype)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift.

    ``normalized_shape=None`` normalises over the last dim, whose size is
    inferred from the first input (lazy).

    >>> LayerNorm(10)
    LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self._declared_shape = tuple(normalized_shape) if normalized_shape is not None else None
        self.eps, self.elementwise_affine = eps, elementwise_affine
        lazy = normalized_shape is None
        shape = self._declared_shape or (None,)
        affine = elementwise_affine
        self.register_parameter("weight", new_parameter(shape, lazy, device, dtype) if affine else None)
        self.register_parameter(
            "bias", new_parameter(shape, lazy, device, dtype) if affine and bias else None)
        if not lazy:
            self.reset_parameters()

    @property
    def normalized_shape(self) -> tuple | None:
        """The trailing shape normalised over, or None while the layer is lazy."""
        if self.weight is not None and not self.weight.is_pending:
            return tuple(self.weight.shape)
        return self._declared_shape

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: normalise over the last dimension of the first input (weight and bias of that size)."""
        for t in (self.weight, self.bias):
            if t is not None:
                t.materialize(tuple(input.shape[-1:]))

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        shape = self.normalized_shape or tuple(input.shape[-1:])
        if tuple(input._data.shape[input._data.ndim - len(shape):]) != shape:
            raise built_for_error("LayerNorm", "normalized_shape", shape,
                                  tuple(input.shape[-len(shape):]), input.shape)
        return F.layer_norm(input, shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        shape = self.normalized_shape
        text = str(shape) if shape is not None else "(?,)"
        return (f"{text}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.elementwise_affine,
                "bias": self.bias is not None or not self.elementwise_affine}


class GroupNorm(Module):
    """Normalise groups of channels of ``(N, C, *)`` inputs; per-channel affine.

    >>> GroupNorm(2, 6)
    GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(self, num_groups: int, num_channels: int | None, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        num_groups = layer_size(num_groups, "GroupNorm", "num_groups")
        num_channels = layer_size(num_channels, "GroupNorm", "num_channels", lazy=True)
        if num_channels is not None and num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.eps, self.affine = num_groups, eps, affine
        self._declared_channels = num_channels
        lazy = num_channels is None
        channel = (num_channels,)
        self.register_parameter("weight", new_parameter(channel, lazy, device, dtype) if affine else None)
        self.register_parameter(
            "bias", new_parameter(channel, lazy, device, dtype) if affine and bias else None)
        if not lazy:
            self.reset_parameters()

    @property
    def num_channels(self) -> int | None:
        """The number of channels ``C``, or None while the layer is lazy."""
        if self.weight is not None and not self.weight.is_pending:
            return self.weight.shape[0]
        return self._declared_channels

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: weight and bias of size ``input.shape[1]`` (a multiple of ``num_groups``)."""
        c = input.shape[1] if input.ndim >= 2 else 0
        if c % self.num_groups:
            raise RuntimeError(f"GroupNorm: the input has {c} channels, which is not divisible "
                               f"by num_groups={self.num_groups}")
        for t in (self.weight, self.bias):
            if t is not None:
                t.materialize((c,))

    def reset_parameters(self) -> None:
        """Weight to ones, bias to zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        built = self.num_channels
        if built is not None and input.ndim >= 2 and input._data.shape[1] != built:
            raise built_for_error("GroupNorm", "num_channels", built, input._data.shape[1],
                                  input.shape)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {size_text(self.num_channels)}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"num_groups": self.num_groups, "num_channels": self.num_channels,
                "eps": self.eps, "affine": self.affine, "bias": self.bias is not None or not self.affine}
