"""Parallel training (``torch.nn.parallel``): ``DistributedDataParallel``, ``SyncBatchNorm``.

Needs a process group (``brickwork.distributed.init_process_group``); see
``brickwork/distributed/README.md`` for how the pieces fit.
"""

from __future__ import annotations

from brickwork.nn.parallel.data_parallel import DataParallel, data_parallel  # issue 11
from brickwork.nn.parallel.distributed import DistributedDataParallel
from brickwork.nn.parallel.sync_batchnorm import SyncBatchNorm

__all__ = ["DistributedDataParallel", "SyncBatchNorm", "DataParallel", "data_parallel"]
