"""The NCCL backend on one GPU (a world of one rank): collectives on CUDA tensors, and DDP.

Skipped without a CUDA GPU (NCCL needs one; the error without one is tested
in test_collectives.py). Several GPUs share the code path checked here and
the MPI tests' logic: the same collectives layer, reducer and buckets, with
the NCCL calls in place of MPI's.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import brickwork as bw
import brickwork.distributed as dist
from brickwork import nn
from brickwork.distributed import ReduceOp

pytestmark = pytest.mark.skipif(
    bw.cuda.device_count() == 0 or getattr(sys.modules.get("cupy"), "is_fake", False),
    reason="the NCCL backend needs a real CUDA GPU (none here, or CuPy simulated by tests/fake_cupy.py)")


@pytest.fixture
def nccl_world():
    dist.init_process_group("nccl")
    try:
        yield bw.device("cuda", dist.get_node_local_rank())
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize("dtype", [bw.float16, bw.float32, bw.float64, bw.int64])
def test_collectives_on_cuda_tensors(nccl_world, dtype):
    gpu = nccl_world
    assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
    for op in ReduceOp:
        if op is ReduceOp.AVG and dtype is bw.int64:
            continue
        t = bw.arange(6, device=gpu).reshape(2, 3).to(dtype)
        dist.all_reduce(t.T, op=op)  # non-contiguous, written through
        want = np.arange(6).reshape(2, 3)
        np.testing.assert_array_equal(t.cpu().numpy(), want.astype(t.cpu().numpy().dtype))
    t = bw.ones(3, device=gpu, dtype=dtype)
    dist.broadcast(t, 0)
    out = [bw.zeros(3, device=gpu, dtype=dtype)]
    dist.all_gather(out, t)
    assert out[0].cpu().tolist() == [1, 1, 1]
    res = bw.zeros(3, device=gpu, dtype=dtype)
    dist.reduce_scatter(res, [t * 2], op=ReduceOp.SUM)
    assert res.cpu().tolist() == [2, 2, 2]
    big = bw.zeros(1, 3, device=gpu, dtype=dtype)
    dist.all_gather_into_tensor(big, t)
    dist.reduce_scatter_tensor(res, big.reshape(3))
    flags = bw.tensor([True, False], device=gpu)
    dist.all_reduce(flags, op=ReduceOp.MAX)
    assert flags.cpu().tolist() == [True, False]
    dist.barrier()


def test_cpu_tensors_are_refused_with_a_clear_error(nccl_world):
    with pytest.raises(dist.DistributedError,
                       match="the NCCL backend works on CUDA tensors on this rank's GPU"):
        dist.all_reduce(bw.ones(2))


def test_ddp_step_on_the_gpu_matches_the_cpu(nccl_world):
    gpu = nccl_world
    bw.manual_seed(0)
    cpu_model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    gpu_model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2))
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(gpu)
    ddp = nn.parallel.DistributedDataParallel(gpu_model, device_ids=[gpu], bucket_cap_mb=1e-6)
    X = bw.randn(4, 5)
    cpu_model(X).square().mean().backward()
    ddp(X.to(gpu)).square().mean().backward()
    for p, q in zip(cpu_model.parameters(), gpu_model.parameters()):
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6)
