"""InstanceNorm1d/2d/3d (lazy-capable, like BatchNorm) and RMSNorm.

InstanceNorm shares BatchNorm's parameters, buffers, printing and laziness
(``num_features=None`` or ``nn.LazyInstanceNorm2d()``), with PyTorch's
defaults ``affine=False, track_running_stats=False``; it also takes unbatched
``(C, *spatial)`` inputs.
"""

from __future__ import annotations

import warnings
from typing import Any

from brickwork.nn import init
from brickwork.nn.linear import built_for_error, new_parameter
from brickwork.nn.module import Module
from brickwork.nn.norm import _BatchNorm
from brickwork.ops import norm_extra
from brickwork.tensor import Tensor

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d", "RMSNorm"]


class _InstanceNorm(_BatchNorm):
    _spatial = 1

    def __init__(self, num_features: int | None, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    @property
    def _ranks(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self._spatial + 1, self._spatial + 2)

    def infer_shape(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lazy step: create the affine parameters and running statistics from the input's channels."""
        self._check_input_dim(input)
        c = input.shape[-self._spatial - 1]
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((c,))

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        unbatched = input.ndim == self._spatial + 1
        if unbatched:
            input = input.unsqueeze(0)
        built = self.num_features
        if built is not None and input._data.shape[1] != built:
            if self.affine or self.track_running_stats:
                raise built_for_error(type(self).__name__, "num_features", built,
                                      input._data.shape[1], input.shape)
            warnings.warn(f"{type(self).__name__}: the input has {input._data.shape[1]} channels "
                          f"(dim 1) but num_features={built}; num_features is not used because "
                          "affine=False and track_running_stats=False", stacklevel=2)
        use_input_stats = self.training or not self.track_running_stats
        out = norm_extra.instance_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
            self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample of ``(N, C, L)`` (or ``(C, L)``) over ``L``.

    >>> InstanceNorm1d(3)
    InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
    """

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each sample of ``(N, C, H, W)`` (or ``(C, H, W)``) over ``H, W``.

    >>> import brickwork as bw
    >>> InstanceNorm2d(None, affine=True)(bw.randn(2, 3, 4, 4)).shape
    brickwork.Size([2, 3, 4, 4])
    """

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalise each channel of each sample of ``(N, C, D, H, W)`` over its three spatial dims."""

    _spatial = 3


def LazyInstanceNorm1d(eps: float = 1e-5, momentum: float | None = 0.1,  # noqa: N802
                       affine: bool = True, track_running_stats: bool = True, device: Any = None,
                       dtype: Any = None) -> InstanceNorm1d:
    """``nn.InstanceNorm1d(None, ...)`` with PyTorch's lazy defaults (affine, running stats)."""
    return InstanceNorm1d(None, eps, momentum, affine, track_running_stats, device, dtype)


def LazyInstanceNorm2d(eps: float = 1e-5, momentum: float | None = 0.1,  # noqa: N802
                       affine: bool = True, track_running_stats: bool = True, device: Any = None,
                       dtype: Any = None) -> InstanceNorm2d:
    """``nn.InstanceNorm2d(None, ...)`` with PyTorch's lazy defaults (affine, running stats).

    >>> type(LazyInstanceNorm2d()) is InstanceNorm2d
    True
    """
    return InstanceNorm2d(None, eps, momentum, affine, track_running_stats, device, dtype)


def LazyInstanceNorm3d(eps: float = 1e-5, momentum: float | None = 0.1,  # noqa: N802
                       affine: bool = True, track_running_stats: bool = True, device: Any = None,
                       dtype: Any = None) -> InstanceNorm3d:
    """``nn.InstanceNorm3d(None, ...)`` with PyTorch's lazy defaults (affine, running stats)."""
    return InstanceNorm3d(None, eps, momentum, affine, track_running_stats, device, dtype)


class RMSNorm(Module):
    """``x / sqrt(mean(x²) + eps) · weight`` over the trailing ``normalized_shape`` dims.

    ``eps=None`` uses the machine epsilon of the input's dtype.

    >>> RMSNorm(4)
    RMSNorm((4,), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_parameter(
            "weight", new_parameter(self.normalized_shape, False, device, dtype)
            if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight to ones."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return norm_extra.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"normalized_shape": self.normalized_shape, "eps": self.eps,
                "elementwise_affine": self.elementwise_affine}
