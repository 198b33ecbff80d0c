"""DistributedSampler: PyTorch's shards and padding, exact coverage, epochs, on 3 processes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch.utils.data

import brickwork as bw
import brickwork.distributed as dist
from brickwork.data import DataLoader, DistributedSampler, TensorDataset


def test_sharding_on_3_processes(run_mpi):
    out = run_mpi(3, "sampler_worker.py").stdout
    assert all(f"ok sampler rank {r}" in out for r in range(3))


@pytest.mark.parametrize("n, replicas", list(itertools.product([0, 1, 3, 7, 10, 16], [1, 2, 3, 4])))
@pytest.mark.parametrize("drop_last", [False, True])
def test_order_padding_and_length_match_pytorch_without_shuffle(n, replicas, drop_last):
    for rank in range(replicas):
        options = dict(num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours = DistributedSampler(range(n), **options)
        theirs = torch.utils.data.DistributedSampler(range(n), **options)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("n, replicas, drop_last",
                         [(10, 3, False), (10, 3, True), (12, 4, False), (2, 4, False)])
def test_shuffled_shards_cover_the_dataset(n, replicas, drop_last):
    shards = [DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=5, drop_last=drop_last)
              for r in range(replicas)]
    for epoch in range(3):
        for s in shards:
            s.set_epoch(epoch)
        parts = [s.index_array() for s in shards]
        assert all(p.dtype == np.int64 and len(p) == len(shards[0]) for p in parts)
        counts = np.bincount(np.concatenate(parts), minlength=n)
        if drop_last:
            assert counts.max() <= 1 and counts.sum() == n - n % replicas
        else:
            assert counts.min() >= 1 and counts.sum() == -(-n // replicas) * replicas
            # the padding repeats the start of the epoch's permutation, as PyTorch does
            order = np.stack(parts, axis=1).reshape(-1)  # rank r took positions r, r + R, ...
            padding = len(order) - n
            if padding:
                np.testing.assert_array_equal(order[n:], np.resize(order[:n], padding))


def test_epochs_and_seeds():
    def order(seed, epoch):
        s = DistributedSampler(range(50), num_replicas=2, rank=1, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    assert order(0, 0) == order(0, 0)  # deterministic: every rank computes the same permutation
    assert order(0, 0) != order(0, 1)  # set_epoch reshuffles
    assert order(0, 1) != order(1, 1)
    assert order(3, 0) == order(0, 3)  # the generator is seeded with seed + epoch
    bw.manual_seed(123)  # the global generator plays no part
    assert order(0, 0) == order(0, 0)


def test_with_a_dataloader():
    data = TensorDataset(bw.arange(9.0))
    seen = []
    for rank in range(2):
        loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, rank, shuffle=False))
        seen.append([v for (batch,) in loader for v in batch.tolist()])
    assert seen == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 0]]


def test_errors():
    with pytest.raises(RuntimeError, match=r"pass num_replicas= and rank=, or call .*init_process_group"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)


def test_defaults_come_from_the_process_group(world):
    s = DistributedSampler(range(5))
    assert (s.num_replicas, s.rank, len(s)) == (1, 0, 5)
    assert dist.get_world_size() == 1
