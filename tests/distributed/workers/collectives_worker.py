"""Launched by tests/distributed/test_collectives.py: ``mpiexec -n N python collectives_worker.py``.

Checks every collective against values each rank can compute by itself (rank
r contributes ``r + 1`` times a known pattern), over dtypes, shapes
including ``()`` and size 0, non-contiguous tensors and async handles; then
that mismatched shapes and mismatched collectives raise the same clear error
on every rank. Prints ``ok collectives rank R``; any failure aborts the job.
"""

from __future__ import annotations

import numpy as np

import brickwork as bw
import brickwork.distributed as dist
from brickwork.distributed import ReduceOp

SHAPES = [(), (0,), (5,), (2, 3)]


def pattern(shape, dtype=bw.float32):
    n = int(np.prod(shape)) if shape else 1
    return bw.arange(n, dtype=bw.float64).reshape(shape).to(dtype) if shape else bw.tensor(3.0, dtype=dtype)


def check_all_reduce(rank: int, world: int) -> None:
    factor = np.arange(1, world + 1, dtype=np.float64)  # rank r contributes r + 1
    expected = {
        ReduceOp.SUM: factor.sum(), ReduceOp.AVG: factor.mean(), ReduceOp.PRODUCT: factor.prod(),
        ReduceOp.MIN: factor.min(), ReduceOp.MAX: factor.max(),
    }
    for dtype in (bw.float32, bw.float64, bw.int64, bw.float16):
        for shape in SHAPES:
            for op, scale in expected.items():
                if op is ReduceOp.AVG and dtype is bw.int64:
                    continue
                base = pattern(shape, dtype)
                t = base * (rank + 1) if op is not ReduceOp.PRODUCT else base.clone().fill_(rank + 1)
                dist.all_reduce(t, op=op)
                want = (base.double() * scale) if op is not ReduceOp.PRODUCT else \
                    bw.full(shape, scale, dtype=bw.float64)
                assert t.dtype == dtype, (op, dtype, t.dtype)
                assert t.shape == base.shape
                np.testing.assert_allclose(t.double().numpy(), want.numpy(), rtol=1e-3,
                                           err_msg=f"all_reduce {op} {dtype} {shape}")
    # bool: SUM/MAX = any, PRODUCT/MIN = all
    flags = bw.tensor([rank == 0, True, False])
    any_ = flags.clone()
    dist.all_reduce(any_, op=ReduceOp.MAX)
    all_ = flags.clone()
    dist.all_reduce(all_, op=ReduceOp.MIN)
    assert any_.tolist() == [True, True, False], any_
    assert all_.tolist() == [world == 1, True, False], all_
    # a non-contiguous view writes through to its base; the version counter moves
    base = bw.arange(6.0).reshape(2, 3) * (rank + 1)
    view = base.T
    before = view._version[0]
    dist.all_reduce(view)
    total = world * (world + 1) / 2
    np.testing.assert_allclose(base.numpy(), np.arange(6.0).reshape(2, 3) * total)
    assert view._version[0] > before
    # async
    t = bw.ones(4) * (rank + 1)
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() is True and work.is_completed()
    assert t.tolist() == [total] * 4


def check_broadcast(rank: int, world: int) -> None:
    for src in range(world):
        for shape in SHAPES:
            t = pattern(shape) + 100 * rank
            dist.broadcast(t, src)
            np.testing.assert_array_equal(t.numpy(), (pattern(shape) + 100 * src).numpy())
    t = bw.full((3,), float(rank))
    dist.broadcast(t, world - 1, async_op=True).wait()
    assert t.tolist() == [world - 1.0] * 3


def check_all_gather(rank: int, world: int) -> None:
    for shape in SHAPES:
        out = [bw.zeros(shape) for _ in range(world)]
        dist.all_gather(out, pattern(shape) + rank)
        for r in range(world):
            np.testing.assert_array_equal(out[r].numpy(), (pattern(shape) + r).numpy())
    mine = bw.tensor([rank, 10 * rank], dtype=bw.int64)
    concat = bw.zeros(2 * world, dtype=bw.int64)
    dist.all_gather_into_tensor(concat, mine)
    assert concat.tolist() == [v for r in range(world) for v in (r, 10 * r)]
    stacked = bw.zeros(world, 2, dtype=bw.int64)
    dist.all_gather_into_tensor(stacked, mine)
    assert stacked.tolist() == [[r, 10 * r] for r in range(world)]


def check_reduce_scatter(rank: int, world: int) -> None:
    # rank r sends (r + 1) * (i + 1) to rank i: rank i receives (i + 1) * sum(r + 1)
    total = world * (world + 1) / 2
    for shape in [(), (3,), (2, 2)]:
        out = bw.zeros(shape)
        inputs = [bw.ones(shape) * (rank + 1) * (i + 1) for i in range(world)]
        dist.reduce_scatter(out, inputs)
        np.testing.assert_allclose(out.numpy(), np.full(shape, (rank + 1) * total))
    out = bw.zeros(2)
    flat = bw.cat([bw.full((2,), float((rank + 1) * (i + 1))) for i in range(world)])
    dist.reduce_scatter_tensor(out, flat, op=ReduceOp.AVG)
    np.testing.assert_allclose(out.numpy(), np.full(2, (rank + 1) * total / world))
    out = bw.zeros(2)
    dist.reduce_scatter_tensor(out, flat, op=ReduceOp.MAX)
    np.testing.assert_allclose(out.numpy(), np.full(2, (rank + 1) * world))


def check_mismatches(rank: int, world: int) -> None:
    if world == 1:
        return
    try:
        dist.all_reduce(bw.ones(2 + rank))
    except dist.DistributedError as exc:
        text = str(exc)
        assert "rank 0: all_reduce of float32 (2,)" in text, text
        assert "rank 1: all_reduce of float32 (3,)" in text, text
    else:
        raise AssertionError("mismatched shapes went unnoticed")
    try:
        if rank == 0:
            dist.all_reduce(bw.ones(2))
        else:
            dist.broadcast(bw.ones(2), 0)
    except dist.DistributedError as exc:
        assert "rank 0: all_reduce" in str(exc) and "rank 1: broadcast" in str(exc), exc
    else:
        raise AssertionError("mismatched collectives went unnoticed")
    try:
        dist.all_reduce(bw.ones(2, dtype=bw.float64 if rank else bw.float32))
    except dist.DistributedError as exc:
        assert "float64" in str(exc) and "float32" in str(exc), exc
    else:
        raise AssertionError("mismatched dtypes went unnoticed")
    # barrier takes part in the agreement: all_reduce against barrier raises, not hangs
    try:
        if rank == 0:
            dist.all_reduce(bw.ones(2))
        else:
            dist.barrier()
    except dist.DistributedError as exc:
        text = str(exc)
        assert "rank 0: all_reduce of float32 (2,) with SUM" in text and "rank 1: barrier" in text, text
    else:
        raise AssertionError("all_reduce against barrier went unnoticed")
    check_refused_arguments(rank, world)
    # the group still works after the errors (nothing was sent)
    t = bw.ones(1)
    dist.all_reduce(t)
    assert t.item() == world


def check_refused_arguments(rank: int, world: int) -> None:
    """An argument refused on rank 1 alone: rank 1 raises its own error, the others a DistributedError."""
    cases = [
        ("all_gather", lambda: dist.all_gather([bw.zeros(2)] * (world + (rank == 1)), bw.ones(2)),
         ValueError, "tensor_list has"),
        ("all_gather", lambda: dist.all_gather([bw.zeros(3 if rank == 1 else 2)] * world, bw.ones(2)),
         ValueError, "tensor_list[0] is float32 (3,)"),
        ("all_reduce", lambda: dist.all_reduce(bw.ones(2), op="max" if rank == 1 else ReduceOp.MAX),
         TypeError, "op must be a ReduceOp"),
        ("broadcast", lambda: dist.broadcast(bw.ones(2), world if rank == 1 else 0),
         ValueError, "src must be a rank"),
        ("all_gather_into_tensor",
         lambda: dist.all_gather_into_tensor(bw.zeros(2 * world + (rank == 1)), bw.ones(2)),
         ValueError, "expected output_tensor of shape"),
        ("reduce_scatter",
         lambda: dist.reduce_scatter(bw.zeros(2), [] if rank == 1 else [bw.ones(2)] * world),
         ValueError, "input_list has 0 tensor"),
        ("barrier", lambda: dist.barrier(group=object() if rank == 1 else None),
         dist.DistributedError, "unknown process group"),
    ]
    for where, call, error, needle in cases:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the type is what is checked
            text = str(exc)
            if rank == 1:
                assert type(exc) is error and needle in text, (where, exc)
            else:
                assert type(exc) is dist.DistributedError, (where, exc)
                said = f"{where}: another rank's arguments were refused (rank 1: {error.__name__}: "
                assert said in text, text
                assert needle in text, (where, text)
        else:
            raise AssertionError(f"{where}: an argument refused on rank 1 went unnoticed on rank {rank}")


def check_nan_min_max(rank: int, world: int) -> None:
    """MIN/MAX with a NaN on one rank: NaN on every rank, the other elements reduced as usual."""
    for dtype in (bw.float32, bw.float64, bw.float16):
        for op in (ReduceOp.MAX, ReduceOp.MIN):
            values = [1.0 + rank, -2.0 * rank, float(rank)]
            if rank == world - 1:
                values[0] = float("nan")
            if rank == 0:
                values[2] = float("nan")
            t = bw.tensor(values, dtype=dtype)
            dist.all_reduce(t, op=op)
            got = t.double().numpy()
            pick = max if op is ReduceOp.MAX else min
            assert np.isnan(got[0]) and np.isnan(got[2]), (op, dtype, got)
            assert got[1] == pick(-2.0 * r for r in range(world)), (op, dtype, got)
            # every rank holds the same bits
            rows = [bw.zeros(3, dtype=dtype) for _ in range(world)]
            dist.all_gather(rows, t)
            for row in rows:
                np.testing.assert_array_equal(row.numpy(), t.numpy())
    # reduce_scatter too: rank i's part is NaN where any rank's part for i is
    out = bw.zeros(2)
    parts = [bw.tensor([float(rank), float("nan") if rank == 1 else -1.0]) for _ in range(world)]
    dist.reduce_scatter(out, parts, op=ReduceOp.MAX)
    assert out[0].item() == world - 1 and np.isnan(out[1].item()), out
    out = bw.zeros(2)
    dist.reduce_scatter_tensor(out, bw.cat(parts), op=ReduceOp.MIN)
    assert out[0].item() == 0 and np.isnan(out[1].item()), out


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert 0 <= dist.get_node_local_rank() < world
    check_all_reduce(rank, world)
    check_broadcast(rank, world)
    check_all_gather(rank, world)
    check_reduce_scatter(rank, world)
    check_mismatches(rank, world)
    check_nan_min_max(rank, world)
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"ok collectives rank {rank} of {world}", flush=True)


if __name__ == "__main__":
    main()
