"""Launched by tests/distributed/test_sampler.py: ``mpiexec -n N python sampler_worker.py``.

Every rank reads its DistributedSampler shard of a dataset through a
DataLoader; the ranks gather what they saw and check that, per epoch, the
shards cover every sample exactly once (plus PyTorch's padding when the size
does not divide, or minus the dropped tail with ``drop_last``), and that
``set_epoch`` changes the order on all ranks alike.
"""

from __future__ import annotations

import numpy as np

import brickwork as bw
import brickwork.distributed as dist
from brickwork.data import DataLoader, DistributedSampler, TensorDataset


def gather_seen(seen: list[int], world: int) -> list[list[int]]:
    mine = bw.tensor(seen, dtype=bw.int64)
    out = [bw.zeros(len(seen), dtype=bw.int64) for _ in range(world)]
    dist.all_gather(out, mine)  # every rank has the same count, so the shapes agree
    return [t.tolist() for t in out]


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    for n in (12, 13, world * 5 + 1):
        data = TensorDataset(bw.arange(n, dtype=bw.int64))
        for shuffle in (True, False):
            for drop_last in (False, True):
                sampler = DistributedSampler(data, shuffle=shuffle, seed=3, drop_last=drop_last)
                assert sampler.num_replicas == world and sampler.rank == rank
                loader = DataLoader(data, batch_size=2, sampler=sampler)
                orders = []
                for epoch in range(2):
                    sampler.set_epoch(epoch)
                    seen = [int(v) for (batch,) in loader for v in batch.tolist()]
                    assert len(seen) == len(sampler)
                    shards = gather_seen(seen, world)
                    flat = [v for shard in shards for v in shard]
                    counts = np.bincount(flat, minlength=n)
                    if drop_last:
                        assert len(flat) == n - n % world and counts.max() <= 1, (n, counts)
                    else:
                        assert counts.min() >= 1 and len(flat) == -(-n // world) * world, (n, counts)
                        if n % world == 0:
                            assert (counts == 1).all()
                    orders.append(flat)
                if shuffle:
                    assert orders[0] != orders[1], "set_epoch did not change the order"
                else:
                    assert orders[0] == orders[1]
    dist.destroy_process_group()
    print(f"ok sampler rank {rank}", flush=True)


if __name__ == "__main__":
    main()
