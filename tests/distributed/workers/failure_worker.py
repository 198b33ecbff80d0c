"""Launched by tests/distributed/test_failures.py: one rank fails, the job must end, not hang.

``raise``: rank 1 raises while the other ranks wait in an all_reduce for it;
brickwork's excepthook prints the traceback and aborts every rank.
``ddp``: rank 1 raises inside backward (in a gradient hook's neighbourhood)
while the others wait for its gradients.
"""

from __future__ import annotations

import sys

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn


def main() -> None:
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    mode = sys.argv[1]
    if mode == "raise":
        if rank == 1:
            raise ValueError("rank 1 failed on purpose")
        dist.all_reduce(bw.ones(3))
    elif mode == "ddp":
        ddp = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))
        loss = ddp(bw.ones(3, 4)).sum()
        if rank == 1:
            loss = loss * bw.tensor(float("nan"))
            raise FloatingPointError("rank 1: loss is nan, stopping")
        loss.backward()
    print(f"rank {rank} finished (it should not have)", flush=True)


if __name__ == "__main__":
    main()
