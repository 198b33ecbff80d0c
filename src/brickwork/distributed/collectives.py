"""Collectives on tensors, in place, with ``torch.distributed``'s names and signatures.

Each function validates its tensors (type, device, dtype, list lengths),
optionally checks that every rank passes the same shapes and dtypes to the
same collective (one tiny all-gather; see ``init_process_group``), hands a
contiguous buffer to the backend, and writes the result into the tensor's
own storage (bumping its version counter, since the tensor changed in
place). Collectives act on values only: they are not recorded by autograd.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from brickwork.distributed.process_group import (
    DistributedError,
    ProcessGroup,
    ReduceOp,
    Work,
    resolve_group,
)
from brickwork.nn.parameter import is_pending
from brickwork.tensor import Tensor

__all__ = [
    "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
    "reduce_scatter_tensor", "barrier",
]

_KINDS = {"all_reduce": 1, "broadcast": 2, "all_gather": 3, "all_gather_into_tensor": 4,
          "reduce_scatter": 5, "reduce_scatter_tensor": 6}
_OP_CODES = {op: i for i, op in enumerate(ReduceOp)}
_MAX_DIMS = 8


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across all ranks with ``op``; every rank gets the result, in place.

    >>> import brickwork as bw
    >>> import brickwork.distributed as dist
    >>> dist.init_process_group("mpi")
    >>> t = bw.tensor([1.0, 2.0])
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)   # one process: the sum is itself
    >>> t
    tensor([1., 2.])
    >>> dist.destroy_process_group()
    """
    pg = resolve_group(group, "all_reduce")
    _check_tensor(pg, tensor, "all_reduce", "tensor")
    op = _check_op(op, tensor, "all_reduce")
    if pg.check_shapes:
        _check_same(pg, "all_reduce", tensor, _OP_CODES[op])
    buf, write_back = _contiguous(tensor)
    work = pg.backend.allreduce(buf, op, nonblocking=async_op)
    if op is ReduceOp.AVG:
        work.then(lambda: _divide(buf, pg.size()))
    work.then(write_back)
    return _finish(work, async_op)


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    pg = resolve_group(group, "broadcast")
    _check_tensor(pg, tensor, "broadcast", "tensor")
    _check_rank(pg, src, "broadcast", "src")
    if pg.check_shapes:
        _check_same(pg, "broadcast", tensor, int(src))
    buf, write_back = _contiguous(tensor)
    work = pg.backend.broadcast(buf, int(src), nonblocking=async_op)
    work.then(write_back)
    return _finish(work, async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank."""
    pg = resolve_group(group, "all_gather")
    _check_tensor(pg, tensor, "all_gather", "tensor")
    _check_list(pg, tensor_list, tensor, "all_gather", "tensor_list")
    if pg.check_shapes:
        _check_same(pg, "all_gather", tensor, 0)
    xp = tensor._device.xp
    send = xp.ascontiguousarray(tensor._data)
    recv = xp.empty((pg.size(), *tensor._data.shape), dtype=tensor._data.dtype)
    work = pg.backend.allgather(send, recv, nonblocking=async_op)

    def scatter_out() -> None:
        for i, out in enumerate(tensor_list):
            out._data[...] = recv[i]
            out._version[0] += 1

    work.then(scatter_out)
    return _finish(work, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """Gather every rank's ``input_tensor`` into one tensor: concatenated along dim 0, or stacked.

    ``output_tensor`` has shape ``(world_size * n, ...)`` or ``(world_size, n, ...)``.
    """
    pg = resolve_group(group, "all_gather_into_tensor")
    where = "all_gather_into_tensor"
    _check_tensor(pg, input_tensor, where, "input_tensor")
    _check_tensor(pg, output_tensor, where, "output_tensor")
    _check_pair(output_tensor, input_tensor, where, _gathered_shapes(input_tensor, pg.size()),
                "output_tensor", "input_tensor")
    if pg.check_shapes:
        _check_same(pg, where, input_tensor, 0)
    send = input_tensor._device.xp.ascontiguousarray(input_tensor._data)
    recv, write_back = _contiguous(output_tensor)
    work = pg.backend.allgather(send, recv, nonblocking=async_op)
    work.then(write_back)
    return _finish(work, async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Work | None:
    """Reduce ``input_list[r]`` across ranks with ``op``; rank ``r`` gets the result in ``output``."""
    pg = resolve_group(group, "reduce_scatter")
    _check_tensor(pg, output, "reduce_scatter", "output")
    _check_list(pg, input_list, output, "reduce_scatter", "input_list")
    op = _check_op(op, output, "reduce_scatter")
    if pg.check_shapes:
        _check_same(pg, "reduce_scatter", output, _OP_CODES[op])
    send = output._device.xp.stack([t._data for t in input_list])
    recv, write_back = _contiguous(output)
    work = pg.backend.reduce_scatter(send, recv, op, nonblocking=async_op)
    if op is ReduceOp.AVG:
        work.then(lambda: _divide(recv, pg.size()))
    work.then(write_back)
    return _finish(work, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,
                          group: Any = None, async_op: bool = False) -> Work | None:
    """Like ``reduce_scatter`` with the inputs as one tensor of shape ``(world_size * n, ...)``."""
    pg = resolve_group(group, "reduce_scatter_tensor")
    where = "reduce_scatter_tensor"
    _check_tensor(pg, input, where, "input")
    _check_tensor(pg, output, where, "output")
    _check_pair(input, output, where, _gathered_shapes(output, pg.size()), "input", "output")
    op = _check_op(op, output, where)
    if pg.check_shapes:
        _check_same(pg, where, output, _OP_CODES[op])
    send = input._device.xp.ascontiguousarray(input._data)
    recv, write_back = _contiguous(output)
    work = pg.backend.reduce_scatter(send, recv, op, nonblocking=async_op)
    if op is ReduceOp.AVG:
        work.then(lambda: _divide(recv, pg.size()))
    work.then(write_back)
    return _finish(work, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached this call."""
    pg = resolve_group(group, "barrier")
    pg.backend.barrier()
    return Work() if async_op else None


# ---------------------------------------------------------------------------
# checks and helpers


def _check_tensor(pg: ProcessGroup, t: Any, where: str, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: {name} must be a brickwork Tensor, got {type(t).__name__}")
    if is_pending(t):
        raise DistributedError(
            f"{where}: {name} is a pending (lazy) parameter or buffer without a shape yet; run a "
            "forward pass first"
        )
    problem = pg.backend.accepts(t._device)
    if problem:
        raise DistributedError(f"{where}: {problem}")


def _check_op(op: Any, t: Tensor, where: str) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{where}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), got {op!r}")
    kind = t._data.dtype.kind
    if op is ReduceOp.AVG and kind not in "fc":
        raise TypeError(f"{where}: ReduceOp.AVG needs a floating-point tensor, got {t.dtype.name}")
    return op


def _check_rank(pg: ProcessGroup, rank: Any, where: str, name: str) -> None:
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool) or not 0 <= rank < pg.size():
        raise ValueError(f"{where}: {name} must be a rank in 0..{pg.size() - 1}, got {rank!r}")


def _check_list(pg: ProcessGroup, tensors: Sequence[Any], like: Tensor, where: str, name: str) -> None:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(
            f"{where}: {name} must be a list of {pg.size()} tensors, got {type(tensors).__name__}"
        )
    if len(tensors) != pg.size():
        raise ValueError(
            f"{where}: {name} has {len(tensors)} tensor(s) but the world size is {pg.size()} "
            "(one per rank)"
        )
    for i, t in enumerate(tensors):
        _check_tensor(pg, t, where, f"{name}[{i}]")
        same = t._data.shape == like._data.shape and t._data.dtype == like._data.dtype
        if not same or t._device is not like._device:
            raise ValueError(
                f"{where}: {name}[{i}] is {_describe(t)} but the tensor is {_describe(like)}; every "
                "entry must match it in shape, dtype and device"
            )


def _gathered_shapes(part: Tensor, size: int) -> list[tuple[int, ...]]:
    shape = tuple(part._data.shape)
    stacked = (size, *shape)
    if not shape:
        return [stacked]
    return [(size * shape[0], *shape[1:]), stacked]


def _check_pair(big: Tensor, small: Tensor, where: str, allowed: list[tuple[int, ...]],
                big_name: str, small_name: str) -> None:
    if tuple(big._data.shape) not in allowed or big._data.dtype != small._data.dtype \
            or big._device is not small._device:
        shapes = " or ".join(str(s) for s in allowed)
        raise ValueError(
            f"{where}: {big_name} is {_describe(big)} but {small_name} is {_describe(small)}; "
            f"expected {big_name} of shape {shapes} with the same dtype and device"
        )


def _describe(t: Tensor) -> str:
    return f"{t.dtype.name} {tuple(t._data.shape)} on {t._device}"


def _signature(kind: str, t: Tensor, extra: int) -> np.ndarray:
    shape = tuple(t._data.shape)
    sig = np.full(5 + _MAX_DIMS, -1, dtype=np.int64)
    sig[:5] = (_KINDS[kind], extra, np.dtype(t._data.dtype).num, len(shape), t._data.size)
    sig[5:5 + min(len(shape), _MAX_DIMS)] = shape[:_MAX_DIMS]
    return sig


def _check_same(pg: ProcessGroup, where: str, t: Tensor, extra: int) -> None:
    """Raise, on every rank alike, if the ranks are not in the same collective with equal tensors."""
    mine = _signature(where, t, extra)
    rows = pg.backend.allgather_host(mine)
    if (rows == rows[0]).all():
        return
    names = {code: name for name, code in _KINDS.items()}
    ops = list(ReduceOp)

    def describe(rank: int, row: np.ndarray) -> str:
        kind = names.get(int(row[0]), "?")
        ndim = int(row[3])
        shape = tuple(int(s) for s in row[5:5 + min(ndim, _MAX_DIMS)])
        text = f"rank {rank}: {kind} of {_dtype_name(int(row[2]))} {shape}"
        if kind in ("all_reduce", "reduce_scatter", "reduce_scatter_tensor"):
            text += f" with {ops[int(row[1])].name}"
        elif kind == "broadcast":
            text += f" from src {int(row[1])}"
        return text

    details = "; ".join(describe(r, row) for r, row in enumerate(rows))
    raise DistributedError(
        f"{where}: the ranks disagree ({details}). Every rank must call the same collectives in "
        "the same order, with tensors of the same shape and dtype"
    )


def _dtype_name(num: int) -> str:
    for dt in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
               np.bool_, np.complex64, np.complex128):
        if np.dtype(dt).num == num:
            return np.dtype(dt).name
    return f"dtype#{num}"


def _contiguous(t: Tensor) -> tuple[Any, Any]:
    """A contiguous buffer holding ``t``'s values, and the step that writes results back into ``t``."""
    data = t._data
    if data.flags.c_contiguous:
        buf = data

        def bump() -> None:
            t._version[0] += 1

        return buf, bump
    buf = t._device.xp.ascontiguousarray(data)

    def copy_back() -> None:
        t._data[...] = buf
        t._version[0] += 1

    return buf, copy_back


def _divide(buf: Any, size: int) -> None:
    buf /= size
