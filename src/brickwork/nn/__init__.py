"""Neural-network building blocks: Module, containers, parameters, init, layers.

``brickwork.nn`` mirrors ``torch.nn``. The core (Module, containers,
Parameter, lazy initialisation, init) lives in module.py, container.py,
parameter.py and init.py; the layer catalogue is re-exported from
``_catalogue.py``; ``functional`` holds the F.* functions. See README.md in
this folder for how laziness and parameter identity work.
"""

from __future__ import annotations

from brickwork.nn import functional, init
from brickwork.nn import parallel as parallel  # DistributedDataParallel (issue 8)
from brickwork.nn import utils as utils  # clip_grad_norm_, parameters_to_vector (issue 5)
from brickwork.nn._catalogue import *  # noqa: F403
from brickwork.nn._catalogue import __all__ as _catalogue_all
from brickwork.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from brickwork.nn.module import Module, RemovableHandle
from brickwork.nn.parallel import DataParallel as DataParallel  # issue 11
from brickwork.nn.parallel import SyncBatchNorm as SyncBatchNorm  # issue 8
from brickwork.nn.parameter import Buffer, Parameter, UninitializedParameterError, is_pending

__all__ = [
    "functional", "init", "Module", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict",
    "ParameterList", "ParameterDict", "Parameter", "Buffer", "UninitializedParameterError",
    "is_pending", *_catalogue_all,
]
