"""Process groups and collectives: on 2 and 4 MPI processes, and the errors in one process."""

from __future__ import annotations

import math

import numpy as np
import pytest

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn
from brickwork.distributed import ReduceOp


@pytest.mark.parametrize("n", [2, 4])
def test_collectives_on_several_processes(run_mpi, n):
    out = run_mpi(n, "collectives_worker.py").stdout
    for rank in range(n):
        assert f"ok collectives rank {rank} of {n}" in out


def test_using_collectives_before_init_says_what_to_do():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(bw.ones(1))):
        with pytest.raises(dist.DistributedError, match=r"not initialised.*init_process_group\('mpi'\)"):
            call()


def test_unknown_backend_and_init_method():
    with pytest.raises(ValueError, match="unknown backend 'gloo'; brickwork supports 'mpi' and 'nccl'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="init_method 'tcp://h:1' is not supported.*mpiexec"):
        dist.init_process_group("mpi", init_method="tcp://h:1")
    assert not dist.is_initialized()


def test_world_size_that_disagrees_with_the_launcher(mpi4py_module):
    with pytest.raises(dist.DistributedError, match="world_size=2 was given but the launcher started 1"):
        dist.init_process_group("mpi", world_size=2, rank=0)
    assert not dist.is_initialized()


def test_init_twice_and_destroy(world):
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert (dist.get_rank(), dist.get_world_size(), dist.get_node_local_rank()) == (0, 1, 0)
    with pytest.raises(dist.DistributedError, match="twice"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group()  # again, after destroy; the default backend is mpi
    assert dist.get_backend() == "mpi"


@pytest.mark.skipif(bw.cuda.device_count() > 0, reason="checks the error on a machine without CUDA")
def test_nccl_without_a_gpu_says_so():
    with pytest.raises(RuntimeError, match="NCCL requested but no CUDA GPU is available.*backend='mpi'"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


@pytest.mark.parametrize("dtype", [bw.float32, bw.float64])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3)])
def test_one_rank_reductions_are_the_identity(world, dtype, shape):
    base = bw.randn(shape, dtype=dtype)
    for op in ReduceOp:
        t = base.clone()
        version = t._version[0]
        assert dist.all_reduce(t, op=op) is None
        np.testing.assert_array_equal(t.numpy(), base.numpy())
        assert t.dtype == dtype and t._version[0] == version + 1  # changed in place, as far as autograd knows


def test_one_rank_gather_scatter_broadcast(world):
    out = [bw.zeros(2, 2)]
    dist.all_gather(out, bw.ones(2, 2) * 3)
    assert out[0].tolist() == [[3, 3], [3, 3]]
    big = bw.zeros(1, 2)
    dist.all_gather_into_tensor(big, bw.tensor([1.0, 2.0]))
    assert big.tolist() == [[1, 2]]
    res = bw.zeros(2)
    dist.reduce_scatter(res, [bw.tensor([4.0, 5.0])], op=ReduceOp.AVG)
    assert res.tolist() == [4, 5]
    dist.reduce_scatter_tensor(res, bw.tensor([6.0, 7.0]))
    assert res.tolist() == [6, 7]
    t = bw.arange(3.0)
    work = dist.broadcast(t, 0, async_op=True)
    assert isinstance(work, dist.Work) and work.wait() and work.is_completed()
    assert dist.barrier(async_op=True).wait()


def test_collective_argument_errors(world):
    with pytest.raises(TypeError, match="all_reduce: tensor must be a brickwork Tensor, got ndarray"):
        dist.all_reduce(np.ones(2))
    with pytest.raises(TypeError, match="ReduceOp.AVG needs a floating-point tensor, got int64"):
        dist.all_reduce(bw.ones(2, dtype=bw.int64), op=ReduceOp.AVG)
    with pytest.raises(TypeError, match="op must be a ReduceOp"):
        dist.all_reduce(bw.ones(2), op="sum")
    with pytest.raises(ValueError, match=r"broadcast: src must be a rank in 0..0, got 1"):
        dist.broadcast(bw.ones(2), 1)
    with pytest.raises(ValueError, match="tensor_list has 2 tensor.s. but the world size is 1"):
        dist.all_gather([bw.ones(2), bw.ones(2)], bw.ones(2))
    with pytest.raises(ValueError,
                       match=r"tensor_list\[0\] is float32 \(3,\) on cpu but the tensor is float32 \(2,\)"):
        dist.all_gather([bw.ones(3)], bw.ones(2))
    with pytest.raises(ValueError,
                       match=r"output_tensor is float32 \(3,\).*expected output_tensor of shape \(2,\)"):
        dist.all_gather_into_tensor(bw.zeros(3), bw.ones(2))
    with pytest.raises(ValueError, match="input_list has 0 tensor"):
        dist.reduce_scatter(bw.zeros(2), [])
    with pytest.raises(dist.DistributedError, match="pending .lazy. parameter"):
        dist.broadcast(nn.Parameter.pending((None, 2)), 0)
    with pytest.raises(dist.DistributedError, match="unknown process group"):
        dist.all_reduce(bw.ones(1), group=object())


def test_timeout_is_checked_and_collectives_work_under_one(mpi4py_module, monkeypatch):
    import datetime

    for bad in (-1, 0, "10", True):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds or a timedelta"):
            dist.init_process_group("mpi", timeout=bad)
    monkeypatch.setenv("BRICKWORK_DISTRIBUTED_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="BRICKWORK_DISTRIBUTED_TIMEOUT='soon' is not a number of seconds"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
    monkeypatch.setenv("BRICKWORK_DISTRIBUTED_TIMEOUT", "30")
    for timeout in (None, datetime.timedelta(seconds=30)):  # from the environment, then given
        dist.init_process_group("mpi", timeout=timeout)
        try:
            assert dist.get_world_size() == 1
            t = bw.tensor([1.0, float("nan")])
            dist.all_reduce(t, op=ReduceOp.MAX)  # the polled, non-blocking route
            assert t[0].item() == 1.0 and math.isnan(t[1].item())
            dist.barrier()
            out = [bw.zeros(2)]
            dist.all_gather(out, bw.ones(2))
            assert out[0].tolist() == [1.0, 1.0]
            assert dist.all_reduce(bw.ones(1), async_op=True).wait(timeout=5)
        finally:
            dist.destroy_process_group()


def test_collectives_change_tensors_in_place_as_far_as_autograd_knows(world):
    x = bw.ones(3, requires_grad=True)
    y = x * 2
    z = (y * y).sum()  # saves y for backward
    dist.all_reduce(y)
    assert y.grad_fn is not None  # not recorded: the collective is not an op of the graph
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_launcher_detection_without_a_launcher(monkeypatch):
    for name in dist.process_group.LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    assert dist.launched_by_mpi() is False
    assert dist.init_from_launcher() is False and not dist.is_initialized()
    for name in dist.process_group._LOCAL_RANK_VARS:
        monkeypatch.delenv(name, raising=False)
    assert dist.get_node_local_rank() == 0
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert dist.get_node_local_rank() == 3
    monkeypatch.setenv("PMI_RANK", "0")
    assert dist.launched_by_mpi() is True


def test_mpi_backend_stages_cuda_tensors_through_the_host(world, device):
    if device.type != "cuda":
        pytest.skip("needs --device cuda (a GPU, or CuPy simulated with BRICKWORK_TEST_FAKE_CUPY=1)")
    t = bw.arange(6.0, device=device).reshape(2, 3)
    dist.all_reduce(t.T, op=ReduceOp.AVG)  # non-contiguous, staged, written back on the device
    assert t.device == device and t.cpu().tolist() == [[0, 1, 2], [3, 4, 5]]
    out = [bw.zeros(3, device=device)]
    dist.all_gather(out, bw.ones(3, device=device))
    res = bw.zeros(3, device=device)
    dist.reduce_scatter(res, [bw.full((3,), 2.0, device=device)])
    dist.broadcast(res, 0)
    assert out[0].device == device and out[0].cpu().tolist() == [1, 1, 1] and res.cpu().tolist() == [2, 2, 2]
    model = nn.Linear(3, 2).to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[device])
    ddp(bw.ones(4, 3, device=device)).sum().backward()
    assert model.bias.grad.device == device and model.bias.grad.cpu().tolist() == [4.0, 4.0]
