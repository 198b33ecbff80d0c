"""Several processes, GPUs and machines (``torch.distributed``).

Processes are started by the standard MPI launcher (``mpiexec -n 4 python
train.py``); ``init_process_group("mpi")`` (CPU, through mpi4py) or
``init_process_group("nccl")`` (one GPU per rank, through CuPy's NCCL) joins
them. Collectives work on tensors in place. Data-parallel training is
``bw.nn.parallel.DistributedDataParallel`` plus ``bw.data.DistributedSampler``.
See README.md in this folder for the design.
"""

from __future__ import annotations

from brickwork.distributed import nn
from brickwork.distributed.collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    reduce_scatter,
    reduce_scatter_tensor,
)
from brickwork.distributed.process_group import (
    DistributedError,
    ProcessGroup,
    ReduceOp,
    Work,
    destroy_process_group,
    get_backend,
    get_node_local_rank,
    get_rank,
    get_world_size,
    init_from_launcher,
    init_process_group,
    is_available,
    is_initialized,
    launched_by_mpi,
)

__all__ = [
    "init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
    "get_world_size", "get_backend", "get_node_local_rank", "launched_by_mpi", "init_from_launcher",
    "ReduceOp", "ProcessGroup", "Work", "DistributedError", "all_reduce", "broadcast", "all_gather",
    "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier", "nn",
]
