"""DistributedSampler: each rank's shard of a dataset, every sample once per epoch.

PyTorch's semantics exactly: one permutation of the whole dataset per epoch,
drawn from a generator seeded with ``seed + epoch`` (the same on every rank,
with no communication), padded by repeating its start (or cut, with
``drop_last``) to a multiple of the number of ranks, then dealt out
round-robin: rank ``r`` takes positions ``r, r + n, r + 2n, ...``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np

from brickwork.creation import randperm
from brickwork.data.sampler import Sampler
from brickwork.random import Generator

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of this rank's shard (``torch.utils.data.DistributedSampler``).

    ``num_replicas`` and ``rank`` default to the process group's world size
    and rank. Call ``set_epoch(epoch)`` at the start of every epoch, so that
    each epoch has a new order (the same on all ranks). Without
    ``drop_last``, the order is padded with its first indices so that all
    ranks get the same number of samples (the same number of steps); with
    it, the tail that does not divide evenly is dropped.

    >>> s0 = DistributedSampler(range(10), num_replicas=4, rank=0, shuffle=False)
    >>> s3 = DistributedSampler(range(10), num_replicas=4, rank=3, shuffle=False)
    >>> list(s0), list(s3), len(s0)
    ([0, 4, 8], [3, 7, 1], 3)
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from brickwork import distributed  # noqa: PLC0415 - data does not need it otherwise

            if not distributed.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas= and rank=, or call "
                    "bw.distributed.init_process_group(...) first so they can be read from it"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or isinstance(num_replicas, bool) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        # drop_last: the largest even share (PyTorch's ceil((n - r) / r)); else the smallest that covers all
        self.num_samples = n // num_replicas if self.drop_last else -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` (call it before each epoch, on every rank)."""
        self.epoch = int(epoch)

    def index_array(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            generator = Generator().manual_seed(self.seed + self.epoch)
            order = randperm(n, generator=generator).numpy()
        else:
            order = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0 and n > 0:
                order = np.concatenate([order, np.resize(order, padding)])
        else:
            order = order[:self.total_size]
        assert len(order) == self.total_size
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples
