"""Continuous distributions: Normal and Uniform (both reparameterisable)."""

from __future__ import annotations

import math
from typing import Any

import brickwork as bw
from brickwork.distributions.distribution import Distribution, as_params
from brickwork.random import Generator
from brickwork.tensor import Tensor

__all__ = ["Normal", "Uniform"]

def _is_real(t: Tensor) -> Tensor:
    return t == t  # not NaN

class Normal(Distribution):
    """The normal distribution with mean ``loc`` and standard deviation ``scale`` (> 0).

    >>> import brickwork as bw
    >>> d = bw.distributions.Normal(bw.tensor([0.0]), bw.tensor([2.0]))
    >>> d.log_prob(bw.tensor([0.0]))
    tensor([-1.6121])
    """

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = as_params(loc, scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)
        self._check_param("loc", _is_real(self.loc), "Real()", self.loc)
        self._check_param("scale", self.scale > 0, "GreaterThan(lower_bound=0.0)", self.scale)

    @property
    def mean(self) -> Tensor:
        """``loc``."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """``loc``."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """``scale``."""
        return self.scale

    @property
    def variance(self) -> Tensor:
        """``scale ** 2``."""
        return self.scale.pow(2)

    def rsample(self, sample_shape: Any = (), generator: Generator | None = None) -> Tensor:
        """``loc + scale * eps`` with standard normal ``eps`` (differentiable in loc and scale)."""
        shape = self._extended_shape(sample_shape)
        eps = bw.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> Tensor:
        """``-(value - loc)**2 / (2 scale**2) - log(scale) - log(sqrt(2 pi))``."""
        value = value if isinstance(value, Tensor) else as_params(value, self.loc)[0]
        self._check_value(_is_real(value), "Real()", value)
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() \
            - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        return 0.5 * (1 + bw.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def entropy(self) -> Tensor:
        """``0.5 + 0.5 log(2 pi) + log(scale)``."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

class Uniform(Distribution):
    """The uniform distribution on the half-open interval ``[low, high)``.

    >>> import brickwork as bw
    >>> bw.distributions.Uniform(0.0, 4.0).entropy()
    tensor(1.3863)
    """

    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = as_params(low, high)
        super().__init__(tuple(self.low.shape), (), validate_args)
        self._check_param("low", self.low < self.high, "LessThan(high)", self.low)

    @property
    def mean(self) -> Tensor:
        """``(low + high) / 2``."""
        return (self.high + self.low) / 2

    @property
    def stddev(self) -> Tensor:
        """``(high - low) / sqrt(12)``."""
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        """``(high - low) ** 2 / 12``."""
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape: Any = (), generator: Generator | None = None) -> Tensor:
        """``low + u * (high - low)`` with ``u`` uniform on ``[0, 1)`` (differentiable in low and high)."""
        shape = self._extended_shape(sample_shape)
        u = bw.rand(shape, dtype=self.low.dtype, device=self.low.device, generator=generator)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Any) -> Tensor:
        """``-log(high - low)`` inside the interval, ``-inf`` outside (an error when validating)."""
        value = value if isinstance(value, Tensor) else as_params(value, self.low)[0]
        inside = (self.low <= value) & (value < self.high)
        self._check_value(inside, "Interval(low, high)", value)
        return inside.to(self.low.dtype).log() - (self.high - self.low).log()

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value`` (clamped to [0, 1])."""
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def entropy(self) -> Tensor:
        """``log(high - low)``."""
        return (self.high - self.low).log()
