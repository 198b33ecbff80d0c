"""Discrete distributions: Bernoulli, Categorical and Multinomial (``probs`` or ``logits``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import brickwork as bw
import brickwork.nn.functional as F
from brickwork.distributions.distribution import Distribution, as_params
from brickwork.random import Generator
from brickwork.tensor import Tensor

__all__ = ["Bernoulli", "Categorical", "Multinomial"]


def _one_of(name: str, probs: Any, logits: Any) -> None:
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either probs or logits must be given, but not both")


def _clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities kept within machine epsilon of 0 and 1 (finite logits), as PyTorch."""
    eps = float(np.finfo(np.float32 if probs.dtype == bw.float32 else np.float64).eps)
    return probs.clamp(eps, 1 - eps)


def _lgamma_const(t: Tensor) -> Tensor:
    """``lgamma`` of a tensor of counts (no gradient: counts are data), on the tensor's device."""
    return bw.lgamma(t.detach())


class Bernoulli(Distribution):
    """A 0/1 variable with ``P(1) = probs`` (or ``sigmoid(logits)``).

    >>> import brickwork as bw
    >>> bw.distributions.Bernoulli(probs=bw.tensor(0.25)).log_prob(bw.tensor(1.0))
    tensor(-1.3863)
    """

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        _one_of("Bernoulli", probs, logits)
        self._is_probs = probs is not None
        (param,) = as_params(probs if self._is_probs else logits)
        super().__init__(tuple(param.shape), (), validate_args)
        if self._is_probs:
            self.probs = param
            self._check_param("probs", (param >= 0) & (param <= 1), "Interval(0.0, 1.0)", param)
            clamped = _clamp_probs(param)
            self.logits = clamped.log() - (-clamped).log1p()
        else:
            self.logits = param
            self._check_param("logits", param == param, "Real()", param)
            self.probs = param.sigmoid()

    @property
    def mean(self) -> Tensor:
        """``probs``."""
        return self.probs

    @property
    def variance(self) -> Tensor:
        """``probs * (1 - probs)``."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = (), generator: Generator | None = None) -> Tensor:
        """0/1 draws of shape ``sample_shape + batch_shape`` (no gradient)."""
        shape = self._extended_shape(sample_shape)
        with bw.no_grad():
            return bw.bernoulli(self.probs.detach().expand(*shape), generator=generator)

    def log_prob(self, value: Any) -> Tensor:
        """``value * logits - softplus(logits)`` (the negated binary cross-entropy)."""
        value = value if isinstance(value, Tensor) else as_params(value, self.logits)[0]
        self._check_value((value == 0) | (value == 1), "Boolean()", value)
        logits, value = as_params(self.logits, value.to(self.logits.dtype))
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self) -> Tensor:
        """``-(p log p + (1 - p) log(1 - p))``."""
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


class Categorical(Distribution):
    """One of ``K`` categories, with weights along the last dimension of ``probs`` (normalised) or ``logits``.

    >>> import brickwork as bw
    >>> d = bw.distributions.Categorical(probs=bw.tensor([1.0, 3.0]))
    >>> d.probs
    tensor([0.2500, 0.7500])
    """

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        _one_of(type(self).__name__, probs, logits)
        self._is_probs = probs is not None
        (param,) = as_params(probs if self._is_probs else logits)
        if param.dim() < 1:
            raise ValueError(f"{type(self).__name__}: {'probs' if self._is_probs else 'logits'} must "
                             "have at least one dimension (the categories)")
        self._num_events = param.shape[-1]
        super().__init__(tuple(param.shape[:-1]), (), validate_args)
        if self._is_probs:
            self._check_param("probs", (param >= 0).all(-1) & (param.sum(-1) > 0),
                              "Simplex() (non-negative, not all zero)", param)
            self.probs = param / param.sum(-1, keepdim=True)
            self.logits = _clamp_probs(self.probs).log()
        else:
            self._check_param("logits", param == param, "IndependentConstraint(Real(), 1)", param)
            self.logits = param - param.logsumexp(-1, keepdim=True)
            self.probs = self.logits.exp()

    @property
    def param_shape(self) -> tuple[int, ...]:
        """The shape of ``probs``/``logits``."""
        return tuple(self.probs.shape)

    @property
    def mean(self) -> Tensor:
        """NaN (a category has no mean), as PyTorch."""
        return bw.full(tuple(self._batch_shape), float("nan"), dtype=self.probs.dtype,
                       device=self.probs.device)

    @property
    def variance(self) -> Tensor:
        """NaN, as PyTorch."""
        return self.mean

    @property
    def mode(self) -> Tensor:
        """The most likely category."""
        return self.probs.argmax(-1)

    def sample(self, sample_shape: Any = (), generator: Generator | None = None) -> Tensor:
        """Category indices (int64) of shape ``sample_shape + batch_shape``."""
        sample_shape = tuple(bw.Size(sample_shape))
        n = int(np.prod(sample_shape, dtype=np.int64))
        with bw.no_grad():
            rows = self.probs.detach().reshape(-1, self._num_events)
            if n == 0 or rows.shape[0] == 0:
                return bw.zeros(sample_shape + tuple(self._batch_shape), dtype=bw.int64,
                                device=self.probs.device)
            draws = bw.multinomial(rows, n, replacement=True, generator=generator)  # (batch, n)
            return draws.t().reshape(*sample_shape, *self._batch_shape)

    def log_prob(self, value: Any) -> Tensor:
        """``log probs[value]``, broadcasting ``value`` against ``batch_shape``."""
        value = value if isinstance(value, Tensor) else bw.tensor(value)
        ok = (value == value.round()) & (value >= 0) & (value < self._num_events)
        self._check_value(ok, f"IntegerInterval(0, {self._num_events - 1})", value)
        value = value.long()
        shape = np.broadcast_shapes(tuple(value.shape), tuple(self._batch_shape))
        index = value.expand(*shape).unsqueeze(-1)
        logits = self.logits.expand(*shape, self._num_events)
        return logits.gather(-1, index).squeeze(-1)

    def entropy(self) -> Tensor:
        """``-sum(probs * logits)`` over the categories."""
        finite = float(np.finfo(np.float32 if self.logits.dtype == bw.float32 else np.float64).min)
        return -(self.probs * self.logits.clamp(min=finite)).sum(-1)


class Multinomial(Distribution):
    """Counts of ``total_count`` independent draws from ``K`` categories (event shape ``(K,)``).

    >>> import brickwork as bw
    >>> d = bw.distributions.Multinomial(4, probs=bw.tensor([0.5, 0.5]))
    >>> d.mean
    tensor([2., 2.])
    """

    def __init__(self, total_count: int = 1, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None) -> None:
        if not isinstance(total_count, int) or isinstance(total_count, bool) or total_count < 0:
            raise ValueError(f"Multinomial: total_count must be a non-negative int, got {total_count!r}")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self._is_probs = self._categorical._is_probs
        super().__init__(tuple(self._categorical.batch_shape), (self._categorical._num_events,),
                         validate_args)

    @property
    def probs(self) -> Tensor:
        """The normalised category probabilities."""
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        """The normalised log-probabilities."""
        return self._categorical.logits

    @property
    def mean(self) -> Tensor:
        """``total_count * probs``."""
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        """``total_count * probs * (1 - probs)``."""
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = (), generator: Generator | None = None) -> Tensor:
        """Count vectors of shape ``sample_shape + batch_shape + (K,)`` (each sums to ``total_count``)."""
        sample_shape = tuple(bw.Size(sample_shape))
        k = self._categorical._num_events
        with bw.no_grad():
            draws = self._categorical.sample((self.total_count, *sample_shape), generator=generator)
            counts = F.one_hot(draws, k).sum(0) if self.total_count else \
                bw.zeros(sample_shape + tuple(self._batch_shape) + (k,), dtype=bw.int64,
                         device=self.probs.device)
            return counts.to(self.probs.dtype)

    def log_prob(self, value: Any) -> Tensor:
        """``log(n!) - sum(log(x_k!)) + sum(x_k log p_k)``."""
        value = value if isinstance(value, Tensor) else as_params(value, self.logits)[0]
        ok = (value >= 0) & (value == value.round())
        ok = ok.all(-1) & (value.sum(-1) == self.total_count) if value.dim() else ok
        self._check_value(ok, f"Multinomial(total_count={self.total_count})", value)
        logits, value = as_params(self.logits, value.to(self.logits.dtype))
        # a category with probability 0 drawn 0 times contributes 0, not 0 * -inf
        logits = bw.where((value == 0) & (logits == float("-inf")), bw.zeros_like(logits), logits)
        log_powers = (logits * value).sum(-1)
        return _lgamma_const(value.sum(-1) + 1) - _lgamma_const(value + 1).sum(-1) + log_powers

    def entropy(self) -> Tensor:
        """The exact entropy, summing over each category's binomial marginal."""
        n = self.total_count
        probs = _clamp_probs(self.probs)
        j = bw.arange(n + 1, dtype=probs.dtype, device=probs.device).reshape(-1, *([1] * probs.dim()))
        log_choose = bw.tensor([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                                for i in range(n + 1)], dtype=probs.dtype, device=probs.device)
        log_choose = log_choose.reshape(-1, *([1] * probs.dim()))
        log_pmf = log_choose + j * probs.log() + (n - j) * (-probs).log1p()  # (n+1, *batch, K)
        lgamma_j = bw.tensor([math.lgamma(i + 1) for i in range(n + 1)], dtype=probs.dtype,
                             device=probs.device).reshape(-1, *([1] * probs.dim()))
        expected = (log_pmf.exp() * lgamma_j).sum(0).sum(-1)
        return n * self._categorical.entropy() - math.lgamma(n + 1) + expected
