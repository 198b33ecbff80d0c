"""Launched by tests/distributed/test_failures.py: one rank fails, the job must end, not hang.

``raise``: rank 1 raises while the other ranks wait in an all_reduce for it;
brickwork's excepthook prints the traceback and aborts every rank.
``ddp``: rank 1 raises inside backward (in a gradient hook's neighbourhood)
while the others wait for its gradients.
``exit`` / ``exit-unchecked``: rank 1 ends its program cleanly (``sys.exit(0)``)
while rank 0 waits in an all_reduce, with collective checks on / off.
``timeout`` / ``timeout-unchecked``: rank 1 sleeps while rank 0 waits in an
all_reduce under a 1 s timeout.
``all-exit``: every rank ends without destroy_process_group, rank 0 a second
later than the others: a clean exit. ``one-destroys``: rank 0 destroys the
group, the others just end: a clean exit too.
"""

from __future__ import annotations

import datetime
import sys
import time

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn


def main() -> None:
    mode = sys.argv[1]
    checks = not mode.endswith("-unchecked")
    timeout = datetime.timedelta(seconds=1) if mode.startswith("timeout") else None
    dist.init_process_group("mpi", timeout=timeout, check_shapes=checks)
    rank = dist.get_rank()
    if mode.startswith("exit"):
        if rank == 1:
            sys.exit(0)
        dist.all_reduce(bw.ones(3))
    elif mode.startswith("timeout"):
        if rank == 1:
            time.sleep(30)
        dist.all_reduce(bw.ones(3))
    elif mode == "all-exit":
        dist.all_reduce(bw.ones(3))
        if rank == 0:
            time.sleep(1)  # e.g. writing files after the last collective
        print(f"rank {rank} done", flush=True)
        return
    elif mode == "one-destroys":
        dist.barrier()
        if rank == 0:
            dist.destroy_process_group()
        print(f"rank {rank} done", flush=True)
        return
    elif mode == "raise":
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
