"""The Distribution base class: shapes, argument validation, sample via rsample."""

from __future__ import annotations

from typing import Any

import numpy as np

import brickwork as bw
from brickwork.tensor import Size, Tensor

__all__ = ["Distribution"]


class Distribution:
    """Base class (``torch.distributions.Distribution``): ``batch_shape``, ``event_shape`` and validation.

    ``validate_args`` (default on, as in PyTorch; see ``set_default_validate_args``)
    checks the parameters at construction and the values given to ``log_prob``.
    """

    has_rsample = False
    _validate_default = True

    def __init__(self, batch_shape: tuple[int, ...] = (), event_shape: tuple[int, ...] = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate_args = self._validate_default if validate_args is None else bool(validate_args)

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for distributions built afterwards."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_default = value

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError(f"{type(self).__name__}.mean is not provided")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError(f"{type(self).__name__}.variance is not provided")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation (square root of the variance)."""
        return self.variance.sqrt()

    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        return tuple(Size(sample_shape)) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Draw a sample of shape ``sample_shape + batch_shape + event_shape`` (no gradient)."""
        with bw.no_grad():
            return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised sample, differentiable in the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample (rsample); "
                                  "use sample(), or a score-function estimator with log_prob")

    def sample_n(self, n: int) -> Tensor:
        """``n`` samples stacked along a new first dimension."""
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density/mass at ``value``."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy over ``batch_shape``."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """``exp(entropy)``."""
        return self.entropy().exp()

    def _fail(self, what: str) -> None:
        raise ValueError(f"{type(self).__name__}: {what}")

    def _check_param(self, name: str, ok: Tensor, rule: str, value: Tensor) -> None:
        """With validation on, every element of ``ok`` must hold for parameter ``name``."""
        if self._validate_args and not bool(ok.all()):
            self._fail(f"expected parameter {name} (shape {tuple(value.shape)}) to satisfy {rule}, "
                       f"but found invalid values:\n{value}")

    def _check_value(self, ok: Tensor, support: str, value: Tensor) -> None:
        if self._validate_args and not bool(ok.all()):
            self._fail(f"log_prob: expected value (shape {tuple(value.shape)}) to be within the support "
                       f"({support}) of the distribution, but found invalid values:\n{value}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={tuple(self._batch_shape)}, " \
               f"event_shape={tuple(self._event_shape)})"


def as_params(*values: Any) -> list[Tensor]:
    """Tensors for the parameters (numbers become tensors of the others' dtype/device), broadcast together."""
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    out = []
    for v in values:
        if isinstance(v, Tensor):
            if not v.dtype.is_floating_point:
                v = v.to(bw.get_default_dtype())
            out.append(v)
        else:
            kw: dict[str, Any] = {"dtype": ref.dtype if ref is not None and ref.dtype.is_floating_point
                                  else bw.get_default_dtype()}
            if ref is not None:
                kw["device"] = ref.device
            out.append(bw.tensor(float(v), **kw))
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in out))
    return [t if tuple(t.shape) == shape else t.expand(*shape) for t in out]
