"""Neural-network building blocks: Module, containers, parameters, init, layers.

``brickwork.nn`` mirrors ``torch.nn``. The core (Module, containers,
Parameter, lazy initialisation, init) lives in module.py, container.py,
parameter.py and init.py; the layer catalogue is re-exported from
``_catalogue.py``; ``functional`` holds the F.* functions.
"""

from __future__ import annotations

from brickwork.nn import functional
from brickwork.nn._catalogue import *  # noqa: F403
from brickwork.nn._catalogue import __all__ as _catalogue_all

__all__ = ["functional", *_catalogue_all]
