"""Launched by tests/distributed/test_ddp.py as ``mpiexec -n N python ddp_worker.py SCENARIO [DIR]``.

Every scenario trains with DistributedDataParallel on N ranks, each rank on its
own slice of every batch, and compares the parameters, on every rank, with one
process training the same model on the whole (concatenated) batch. Each rank
builds its replica from a different seed, so matching also proves that rank 0's
initial weights were copied to all ranks. Prints ``ok <scenario> rank R`` on
success; any failure raises, which aborts the whole job (non-zero exit).
"""

from __future__ import annotations

import sys

import numpy as np

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn
from brickwork.nn.parallel import DistributedDataParallel as DDP

STEPS = 3
LOCAL_BATCH = 4
FEATURES = 6


class MLP(nn.Module):
    def __init__(self, lazy: bool = False) -> None:
        super().__init__()
        self.hidden = nn.Linear(None if lazy else FEATURES, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, X):
        return self.out(bw.relu(self.hidden(X)))


class Tied(nn.Module):
    """The same Linear (so the same Parameters) used twice: reduced once, averaged once."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(FEATURES, FEATURES)
        self.again = self.shared
        self.head = nn.Linear(FEATURES, 3)

    def forward(self, X):
        return self.head(bw.tanh(self.again(bw.tanh(self.shared(X)))))


class SometimesUnused(nn.Module):
    """``extra`` is used only at even steps (the same on every rank)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(FEATURES, 3)
        self.extra = nn.Linear(FEATURES, 3)
        self.step = 0

    def forward(self, X):
        out = self.body(X)
        if self.step % 2 == 0:
            out = out + self.extra(X)
        self.step += 1
        return out


class ConvBN(nn.Module):
    """BatchNorm after a convolution (4-D) and after a linear layer (2-D)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, kernel_size=3)
        self.bn2d = nn.BatchNorm2d(3)
        self.hidden = nn.Linear(3 * 2 * 4, 8)
        self.bn1d = nn.BatchNorm1d(8)
        self.out = nn.Linear(8, 3)

    def forward(self, X):
        h = bw.relu(self.bn2d(self.conv(X.reshape(-1, 1, 2, 3).repeat(1, 1, 2, 2))))
        return self.out(bw.relu(self.bn1d(self.hidden(h.flatten(1)))))


def batches(world: int, steps: int, seed: int = 1) -> list[tuple[bw.Tensor, bw.Tensor]]:
    """The global batches (N * LOCAL_BATCH samples), identical on every rank (own generator)."""
    g = bw.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        X = bw.randn(world * LOCAL_BATCH, FEATURES, generator=g)
        y = bw.randint(0, 3, (world * LOCAL_BATCH,), generator=g)
        out.append((X, y))
    return out


def local(t: bw.Tensor, rank: int) -> bw.Tensor:
    return t[rank * LOCAL_BATCH:(rank + 1) * LOCAL_BATCH]


def train_reference(model: nn.Module, data, micro: int = 1) -> nn.Module:
    opt = bw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(0, len(data), micro):
        opt.zero_grad()
        for X, y in data[i:i + micro]:
            nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model


def train_ddp(ddp: DDP, data, rank: int, micro: int = 1) -> DDP:
    opt = bw.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    for i in range(0, len(data), micro):
        opt.zero_grad()
        group = data[i:i + micro]
        for j, (X, y) in enumerate(group):
            if j < len(group) - 1:
                with ddp.no_sync():
                    nn.functional.cross_entropy(ddp(local(X, rank)), local(y, rank)).backward()
            else:
                nn.functional.cross_entropy(ddp(local(X, rank)), local(y, rank)).backward()
        opt.step()
    return ddp


def assert_same(model: nn.Module, reference: nn.Module, what: str) -> None:
    got = dict(model.named_parameters())
    for name, p in reference.named_parameters():
        np.testing.assert_allclose(got[name].detach().numpy(), p.detach().numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=f"{what}: parameter {name} on rank {dist.get_rank()}")
    # and every rank holds exactly the same values
    for name, p in model.named_parameters():
        lo, hi = p.detach().clone(), p.detach().clone()
        dist.all_reduce(lo, dist.ReduceOp.MIN)
        dist.all_reduce(hi, dist.ReduceOp.MAX)
        assert bw.equal(lo, hi), f"{what}: replicas differ in {name}"


def build(factory, rank: int):
    bw.manual_seed(100)
    reference = factory()
    bw.manual_seed(100 + rank)  # a different start on every rank: DDP must copy rank 0's
    return factory(), reference


def scenario_equivalence(rank: int, world: int, bucket_cap_mb: float = 25) -> None:
    model, reference = build(MLP, rank)
    data = batches(world, STEPS)
    ddp = train_ddp(DDP(model, bucket_cap_mb=bucket_cap_mb), data, rank)
    assert_same(ddp.module, train_reference(reference, data), f"equivalence (bucket {bucket_cap_mb} MB)")


def scenario_small_buckets(rank: int, world: int) -> None:
    # a byte per bucket: every parameter gets its own bucket and all-reduce
    scenario_equivalence(rank, world, bucket_cap_mb=1e-6)
    ddp = DDP(MLP(), bucket_cap_mb=1e-6)
    assert len(ddp._reducer.buckets) == 4, len(ddp._reducer.buckets)


def scenario_lazy(rank: int, world: int) -> None:
    data = batches(world, STEPS)
    bw.manual_seed(100)
    reference = MLP(lazy=True)
    reference(data[0][0])  # built and materialised from seed 100's stream, like rank 0's replica
    bw.manual_seed(100 + rank)
    ddp = DDP(MLP(lazy=True))  # its hidden layer is created (and broadcast) in the first forward
    assert ddp.module.hidden.weight.is_pending
    assert_same(train_ddp(ddp, data, rank).module, train_reference(reference, data), "lazy")


def scenario_no_sync(rank: int, world: int) -> None:
    model, reference = build(MLP, rank)
    data = batches(world, 2 * STEPS)
    ddp = train_ddp(DDP(model), data, rank, micro=3)
    assert_same(ddp.module, train_reference(reference, data, micro=3), "no_sync accumulation")


def scenario_tied(rank: int, world: int) -> None:
    model, reference = build(Tied, rank)
    ddp = DDP(model)
    assert len(ddp._params) == 4  # shared.weight/bias once, head.weight/bias
    data = batches(world, STEPS)
    assert_same(train_ddp(ddp, data, rank).module, train_reference(reference, data), "tied")
    assert ddp.module.shared.weight is ddp.module.again.weight


def scenario_unused(rank: int, world: int) -> None:
    model, reference = build(SometimesUnused, rank)
    data = batches(world, 4)
    ddp = train_ddp(DDP(model, find_unused_parameters=True), data, rank)
    assert_same(ddp.module, train_reference(reference, data), "find_unused_parameters")
    # used on rank 0 only: rank 1 has no gradient of its own, gets rank 0's / world, stays in step
    model = SometimesUnused()
    model.step = rank
    ddp = DDP(model, find_unused_parameters=True)
    before = model.extra.weight.detach().clone()
    nn.functional.cross_entropy(ddp(local(data[0][0], rank)), local(data[0][1], rank)).backward()
    assert model.extra.weight.grad is not None
    bw.optim.SGD(ddp.parameters(), lr=0.1).step()
    assert not bw.equal(model.extra.weight, before)
    assert_same(model, model, "unused on some ranks")  # replicas identical
    # without find_unused_parameters, the step after an incomplete backward says which parameters
    ddp = DDP(SometimesUnused())
    ddp.module.step = 1
    nn.functional.cross_entropy(ddp(local(data[0][0], rank)), local(data[0][1], rank)).backward()
    try:
        ddp(local(data[0][0], rank))
    except dist.DistributedError as exc:
        assert "module.extra.weight" in str(exc) and "find_unused_parameters=True" in str(exc), exc
    else:
        raise AssertionError("an incomplete reduction went unnoticed")


def scenario_buffers(rank: int, world: int) -> None:
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("seen", bw.zeros(1))

        def forward(self, X):
            self.seen += X.shape[0]
            return self.lin(X)

    ddp = DDP(Counter())
    ddp.module.seen.fill_(float(rank * 10))  # the ranks drift apart ...
    ddp(bw.ones(rank + 1, 2)).sum().backward()  # ... and each forward starts from rank 0's buffers
    assert ddp.module.seen.item() == rank + 1, ddp.module.seen.item()
    with bw.no_grad():  # not in evaluation forwards
        ddp(bw.ones(1, 2))
    assert ddp.module.seen.item() == rank + 2


def scenario_checkpoint(rank: int, world: int, folder: str) -> None:
    data = batches(world, 2 * STEPS)
    bw.manual_seed(100)
    straight = train_ddp(DDP(MLP()), data, rank)  # uninterrupted

    bw.manual_seed(100)
    ddp = DDP(MLP())
    opt = bw.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    for X, y in data[:STEPS]:
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(local(X, rank)), local(y, rank)).backward()
        opt.step()
    path = f"{folder}/checkpoint.safetensors"
    if rank == 0:
        bw.save({"model": ddp.module.state_dict(), "optimizer": opt.state_dict()}, path)
    dist.barrier()  # the file is complete (bw.save writes atomically) before anyone reads it

    bw.manual_seed(7 + rank)  # a fresh process: different weights until loaded
    resumed = DDP(MLP())
    state = bw.load(path)
    resumed.module.load_state_dict(state["model"])
    opt = bw.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    opt.load_state_dict(state["optimizer"])
    for X, y in data[STEPS:]:
        opt.zero_grad()
        nn.functional.cross_entropy(resumed(local(X, rank)), local(y, rank)).backward()
        opt.step()
    assert_same(resumed.module, straight.module, "resume from checkpoint")


def scenario_syncbn(rank: int, world: int) -> None:
    model, reference = build(ConvBN, rank)
    data = batches(world, STEPS)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(sync.bn2d, nn.SyncBatchNorm) and sync.bn2d.weight is model.bn2d.weight
    ddp = train_ddp(DDP(sync), data, rank)
    train_reference(reference, data)  # plain BatchNorm over the whole batch in one process
    assert_same(ddp.module, reference, "SyncBatchNorm")
    got = dict(ddp.module.named_buffers())
    for name, b in reference.named_buffers():
        np.testing.assert_allclose(got[name].numpy(), b.numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=f"SyncBatchNorm buffer {name}")
    ddp.eval()
    reference.eval()
    X = data[0][0]
    np.testing.assert_allclose(ddp(X).detach().numpy(), reference(X).detach().numpy(), rtol=1e-4, atol=1e-5)
    ddp.train()
    with bw.sync_guard("error"):  # no hidden host syncs in DDP's or SyncBatchNorm's training step
        nn.functional.cross_entropy(ddp(local(X, rank)), local(data[0][1], rank)).backward()


def penalised_loss(model, X, y):
    """Cross-entropy plus a gradient penalty on the inputs (create_graph=True): a second-order
    term whose parameter gradients DDP averages like any other first-order gradient."""
    X = X.detach().requires_grad_(True)
    out = model(X)
    (gx,) = bw.autograd.grad(out.square().sum(), X, create_graph=True)
    penalty = ((gx.square().sum(dim=1) + 1e-12).sqrt() - 1).square().mean()
    return nn.functional.cross_entropy(out, y) + 0.5 * penalty


def scenario_penalty(rank: int, world: int) -> None:
    model, reference = build(MLP, rank)
    data = batches(world, STEPS)
    ddp = DDP(model)
    opt = bw.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = bw.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for X, y in data:
        opt.zero_grad()
        penalised_loss(ddp, local(X, rank), local(y, rank)).backward()
        opt.step()
        ref_opt.zero_grad()
        penalised_loss(reference, X, y).backward()
        ref_opt.step()
    assert_same(ddp.module, reference, "gradient penalty (create_graph=True)")


SCENARIOS = {
    "penalty": scenario_penalty,
    "equivalence": scenario_equivalence, "small_buckets": scenario_small_buckets, "lazy": scenario_lazy,
    "no_sync": scenario_no_sync, "tied": scenario_tied, "unused": scenario_unused,
    "buffers": scenario_buffers, "syncbn": scenario_syncbn,
}


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    names = sys.argv[1].split(",")
    for name in names:
        if name == "checkpoint":
            scenario_checkpoint(rank, world, sys.argv[2])
        else:
            SCENARIOS[name](rank, world)
        print(f"ok {name} rank {rank}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
