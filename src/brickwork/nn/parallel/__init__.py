"""Parallel training wrappers (``torch.nn.parallel``): ``DistributedDataParallel``.

Needs a process group (``brickwork.distributed.init_process_group``); see
``brickwork/distributed/README.md`` for how the pieces fit.
"""

from __future__ import annotations

from brickwork.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
