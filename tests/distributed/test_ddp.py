"""DistributedDataParallel: N-process training equals one process on the whole batch.

The multi-process checks live in workers/ddp_worker.py (see its docstring);
the tests here launch it, and check in one process (a world of one rank)
what needs no second rank: names, hooks, overlap, errors.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn
from brickwork.autograd import Function
from brickwork.nn.parallel import DistributedDataParallel as DDP


def test_ddp_training_on_2_processes(run_mpi, tmp_path):
    scenarios = "equivalence,small_buckets,lazy,no_sync,tied,unused,buffers,syncbn,penalty,checkpoint"
    out = run_mpi(2, "ddp_worker.py", scenarios, str(tmp_path)).stdout
    for name in scenarios.split(","):
        for rank in range(2):
            assert f"ok {name} rank {rank}" in out


def test_ddp_training_on_4_processes(run_mpi, tmp_path):
    out = run_mpi(4, "ddp_worker.py", "equivalence,lazy,syncbn,checkpoint", str(tmp_path)).stdout
    assert all(f"ok {name} rank {r}" in out for r in range(4) for name in ("syncbn", "checkpoint"))


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_names_state_dict_and_parameters_are_the_wrapped_models(world):
    model = mlp()
    ddp = DDP(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [p for p in ddp.parameters()] == [p for p in model.parameters()]
    assert [n for n, _ in ddp.named_parameters()][0] == "module.0.weight"
    fresh = mlp()
    fresh.load_state_dict(ddp.module.state_dict())
    ddp.load_state_dict({k: v * 0 for k, v in ddp.state_dict().items()})
    assert float(model[0].weight.abs().sum()) == 0
    assert "world_size=1, rank=0, backend='mpi'" in repr(ddp)


def test_gradients_match_plain_backward_and_several_backwards_add_up(world):
    bw.manual_seed(0)
    model = mlp()
    reference = mlp()
    reference.load_state_dict(model.state_dict())
    ddp = DDP(model, bucket_cap_mb=1e-5)
    X = bw.randn(5, 4)
    out = ddp(X).square().sum()
    out.backward(retain_graph=True)
    reference(X).square().sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    out.backward()  # a second backward of the same forward: reduced again, accumulated as usual
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), 2 * q.grad.numpy(), rtol=1e-6)


class Probe(Function):
    """Identity whose backward records how many bucket all-reduces had started by then."""

    seen: list[int] = []
    started: list[str] = []

    def forward(self, x):
        return x

    def backward(self, grad):
        Probe.seen.append(len(Probe.started))
        return (grad,)


def test_buckets_are_reduced_while_backward_still_runs(world, monkeypatch):
    backend = dist.process_group._state["group"].backend
    real = backend.allreduce
    Probe.seen, Probe.started = [], []

    def spy(arr, op, what="all_reduce"):
        Probe.started.append(what)
        return real(arr, op, what)

    monkeypatch.setattr(backend, "allreduce", spy)

    class Probed(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, X):
            return self.second(Probe.apply(self.first(X)))

    ddp = DDP(Probed(), bucket_cap_mb=1e-6)  # a byte per bucket: one bucket per parameter
    assert len(ddp._reducer.buckets) == 4
    ddp(bw.randn(3, 4)).sum().backward()
    # when the probe's backward ran (between the layers), the last layer's two buckets were on their way
    assert Probe.seen == [2]
    assert len(Probe.started) == 4


def test_no_sync_accumulates_locally_without_communication(world, monkeypatch):
    ddp = DDP(mlp())
    backend = dist.process_group._state["group"].backend
    calls = []
    real = backend.allreduce
    monkeypatch.setattr(backend, "allreduce", lambda *a: calls.append(1) or real(*a))
    X = bw.randn(2, 4)
    with ddp.no_sync():
        ddp(X).sum().backward()
    assert calls == []
    ddp(X).sum().backward()
    assert len(calls) == len(ddp._reducer.buckets) == 1
    with bw.no_grad():
        ddp(X)  # an evaluation forward prepares no reduction
    assert ddp._reducer.expecting is False


def test_unused_parameters(world):
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(3, 1), nn.Linear(3, 1)

        def forward(self, X):
            return self.used(X)

    ddp = DDP(Branchy(), find_unused_parameters=True)
    ddp(bw.ones(2, 3)).sum().backward()
    assert ddp.module.used.weight.grad is not None
    assert ddp.module.unused.weight.grad is None  # no rank computed one: stays None, as in PyTorch

    strict = DDP(Branchy())
    strict(bw.ones(2, 3)).sum().backward()
    with pytest.raises(dist.DistributedError, match=r"without gradients for 2 parameter\(s\) on rank 0: "
                       r"module.unused.weight, module.unused.bias.*find_unused_parameters=True"):
        strict(bw.ones(2, 3))
    strict(bw.ones(2, 3))  # the error reset the state: training can go on


def test_gradient_as_bucket_view(world):
    ddp = DDP(mlp(), gradient_as_bucket_view=True)
    ddp(bw.randn(2, 4)).sum().backward()
    bucket = ddp._reducer.buckets[0]
    for p in ddp.parameters():
        assert np.shares_memory(p.grad._data, bucket.buffer)


def test_lazy_model_in_one_process(world):
    ddp = DDP(nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(1)))
    assert ddp._reducer is None and len(ddp._lazy_handles) == 2
    ddp(bw.ones(2, 5)).sum().backward()
    assert ddp.module[0].weight.shape == (3, 5) and ddp.module[0].weight.grad is not None
    assert not ddp.module[0]._forward_pre_hooks  # the one-time hooks are gone


def test_errors_that_name_the_problem(world):
    with pytest.raises(TypeError, match="expected a Module to wrap, got function"):
        DDP(lambda x: x)
    with pytest.raises(ValueError, match=r"device_ids must name the one device.*got \[0, 1\]"):
        DDP(mlp(), device_ids=[0, 1])
    with pytest.raises(dist.DistributedError, match=r"device_ids=\[cuda:0\] but parameter module.0.weight "
                       r"is on cpu; move the model first"):
        DDP(mlp(), device_ids=["cuda:0"])
    DDP(mlp(), device_ids=["cpu"])
    with pytest.raises(dist.DistributedError, match="DistributedDataParallel: parameter module.0.weight "
                       "has dtype int64"):
        bad = mlp()
        bad[0].weight = nn.Parameter(bw.zeros(8, 4, dtype=bw.int64), requires_grad=False)
        bad[0].weight.requires_grad = True
        DDP(bad)


def test_ddp_needs_a_process_group():
    with pytest.raises(dist.DistributedError, match="DistributedDataParallel: the default process group is "
                       "not initialised"):
        DDP(mlp())


def test_hooks_do_not_keep_the_wrapper_alive(world):
    model = mlp()
    ddp = DDP(model)
    ref = weakref.ref(ddp)
    del ddp
    gc.collect()
    assert ref() is None
    model(bw.ones(1, 4)).sum().backward()  # the parameters' hooks outlive it harmlessly
    assert model[0].weight.grad is not None


def test_sync_batchnorm_in_one_process_is_batchnorm(world):
    bw.manual_seed(0)
    plain = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Conv1d(4, 2, 1), nn.BatchNorm1d(2))
    weight = plain[1].weight
    reference = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    reference.load_state_dict(dict(list(plain.state_dict().items())[:7]))
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(plain)
    assert sync is plain and type(sync[1]) is nn.SyncBatchNorm and sync[1].weight is weight
    assert list(sync.state_dict()) == list(plain.state_dict())
    X = bw.randn(5, 3)
    np.testing.assert_allclose(sync[:2](X).detach().numpy(), reference(X).detach().numpy(), rtol=1e-6)
    lazy = nn.SyncBatchNorm(None)
    assert lazy(bw.randn(4, 6, 2, 2)).shape == (4, 6, 2, 2) and lazy.running_mean.shape == (6,)
    root = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(3))
    assert type(root) is nn.SyncBatchNorm and root.num_features == 3


def test_differentiable_all_reduce(world):
    x = bw.tensor([1.0, -2.0], requires_grad=True)
    y = dist.nn.functional.all_reduce(x, op=dist.ReduceOp.AVG)
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="op must be ReduceOp.SUM or ReduceOp.AVG, got ReduceOp.MAX"):
        dist.nn.functional.all_reduce(x, op=dist.ReduceOp.MAX)


def test_backward_with_create_graph_reduces_the_first_order_gradient(world):
    """create_graph=True under DDP: the values of .grad are what is all-reduced (averaged); .grad
    keeps this rank's history, so it can still be differentiated (locally) afterwards."""
    import warnings

    bw.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    reference = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    reference.load_state_dict(model.state_dict())
    ddp = DDP(model)
    X = bw.randn(5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference-cycle warning of backward(create_graph=True)
        ddp(X).square().sum().backward(create_graph=True)
        reference(X).square().sum().backward(create_graph=True)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.detach().numpy(), q.grad.detach().numpy(), rtol=1e-6)
        assert p.grad.requires_grad
