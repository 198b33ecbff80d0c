"""Probability distributions (``torch.distributions``): Normal, Uniform, Bernoulli, Categorical, Multinomial.

Each has ``sample``/``rsample`` (reparameterised where the distribution
allows), ``log_prob``, ``entropy``, ``mean``, ``variance``, ``stddev`` and
``batch_shape``/``event_shape``, with gradients through the parameters.
Samples come from brickwork's generators, so their streams differ from
PyTorch's (the same seed gives different numbers).
"""

from __future__ import annotations

from brickwork.distributions.continuous import Normal, Uniform
from brickwork.distributions.discrete import Bernoulli, Categorical, Multinomial
from brickwork.distributions.distribution import Distribution

__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "Multinomial"]
