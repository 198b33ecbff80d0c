"""Optimisers and learning-rate schedulers (``torch.optim``).

The base class :class:`Optimizer` keeps the parameter groups, the
per-parameter state and the checkpoint format; each optimiser adds one short
in-place update rule. See ``optimizer.py``.
"""

from __future__ import annotations

from brickwork.optim import lr_scheduler
from brickwork.optim.adagrad import Adagrad
from brickwork.optim.adam import Adam, AdamW
from brickwork.optim.adaptive import Adadelta, Adamax, NAdam, RAdam  # optim breadth (issue 11)
from brickwork.optim.lbfgs import LBFGS
from brickwork.optim.optimizer import Optimizer
from brickwork.optim.rmsprop import RMSprop
from brickwork.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler",
           "NAdam", "RAdam", "Adamax", "Adadelta", "LBFGS"]
