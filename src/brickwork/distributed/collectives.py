"""Collectives on tensors, in place, with ``torch.distributed``'s names and signatures.

Each function validates its arguments (type, device, dtype, list lengths),
then, with checks on (the default; see ``init_process_group``), every rank
contributes a signature of its call to one tiny all-gather: which
collective, op or source, dtype, shape, and whether its own arguments were
valid. Ranks that disagree, or any rank whose arguments were refused, make
every rank raise, so no rank is left waiting in a collective the others
never enter. Then a contiguous buffer goes to the backend and the result is
written into the tensor's own storage (bumping its version counter, since
the tensor changed in place). MIN and MAX propagate NaN, identically on
every rank. Collectives act on values only: they are not recorded by
autograd.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from brickwork.distributed.process_group import (
    DistributedError,
    ProcessGroup,
    ReduceOp,
    Work,
    default_group,
    resolve_group,
)
from brickwork.nn.parameter import is_pending
from brickwork.tensor import Tensor

__all__ = [
    "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
    "reduce_scatter_tensor", "barrier",
]

_KINDS = {"all_reduce": 1, "broadcast": 2, "all_gather": 3, "all_gather_into_tensor": 4,
          "reduce_scatter": 5, "reduce_scatter_tensor": 6, "barrier": 7, "leave": 8}
_OP_CODES = {op: i for i, op in enumerate(ReduceOp)}
_MAX_DIMS = 8
_HEAD = 6  # kind, extra, dtype, ndim, size, refused; then the shape
_MESSAGE_BYTES = 512  # how much of a refused rank's error message the others are told


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across all ranks with ``op``; every rank gets the result, in place.

    MIN and MAX propagate NaN: an element that is NaN on any rank is NaN on every rank.

    >>> import brickwork as bw
    >>> import brickwork.distributed as dist
    >>> dist.init_process_group("mpi")
    >>> t = bw.tensor([1.0, 2.0])
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)   # one process: the sum is itself
    >>> t
    tensor([1., 2.])
    >>> dist.destroy_process_group()
    """
    pg = default_group("all_reduce")
    with _Agreement(pg, "all_reduce") as agree:
        _check_group(pg, group, "all_reduce")
        _check_tensor(pg, tensor, "all_reduce", "tensor")
        op = _check_op(op, tensor, "all_reduce")
        agree.on(tensor, _OP_CODES[op])
    buf, write_back = _contiguous(tensor)
    packed, unpack = _with_nan_flags(tensor._device.xp, buf.reshape(1, -1), op)
    work = pg.backend.allreduce(buf if unpack is None else packed, op, nonblocking=async_op)
    if unpack is not None:
        work.then(lambda: unpack(packed, buf.reshape(1, -1)))
    if op is ReduceOp.AVG:
        work.then(lambda: _divide(buf, pg.size()))
    work.then(write_back)
    return _finish(work, async_op)


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    pg = default_group("broadcast")
    with _Agreement(pg, "broadcast") as agree:
        _check_group(pg, group, "broadcast")
        _check_tensor(pg, tensor, "broadcast", "tensor")
        _check_rank(pg, src, "broadcast", "src")
        agree.on(tensor, int(src))
    buf, write_back = _contiguous(tensor)
    work = pg.backend.broadcast(buf, int(src), nonblocking=async_op)
    work.then(write_back)
    return _finish(work, async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank."""
    pg = default_group("all_gather")
    with _Agreement(pg, "all_gather") as agree:
        _check_group(pg, group, "all_gather")
        _check_tensor(pg, tensor, "all_gather", "tensor")
        _check_list(pg, tensor_list, tensor, "all_gather", "tensor_list")
        agree.on(tensor, 0)
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
    where = "all_gather_into_tensor"
    pg = default_group(where)
    with _Agreement(pg, where) as agree:
        _check_group(pg, group, where)
        _check_tensor(pg, input_tensor, where, "input_tensor")
        _check_tensor(pg, output_tensor, where, "output_tensor")
        _check_pair(output_tensor, input_tensor, where, _gathered_shapes(input_tensor, pg.size()),
                    "output_tensor", "input_tensor")
        agree.on(input_tensor, 0)
    send = input_tensor._device.xp.ascontiguousarray(input_tensor._data)
    recv, write_back = _contiguous(output_tensor)
    work = pg.backend.allgather(send, recv, nonblocking=async_op)
    work.then(write_back)
    return _finish(work, async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Work | None:
    """Reduce ``input_list[r]`` across ranks with ``op``; rank ``r`` gets the result in ``output``."""
    pg = default_group("reduce_scatter")
    with _Agreement(pg, "reduce_scatter") as agree:
        _check_group(pg, group, "reduce_scatter")
        _check_tensor(pg, output, "reduce_scatter", "output")
        _check_list(pg, input_list, output, "reduce_scatter", "input_list")
        op = _check_op(op, output, "reduce_scatter")
        agree.on(output, _OP_CODES[op])
    send = output._device.xp.stack([t._data for t in input_list])
    return _reduce_scatter(pg, send, output, op, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,
                          group: Any = None, async_op: bool = False) -> Work | None:
    """Like ``reduce_scatter`` with the inputs as one tensor of shape ``(world_size * n, ...)``."""
    where = "reduce_scatter_tensor"
    pg = default_group(where)
    with _Agreement(pg, where) as agree:
        _check_group(pg, group, where)
        _check_tensor(pg, input, where, "input")
        _check_tensor(pg, output, where, "output")
        _check_pair(input, output, where, _gathered_shapes(output, pg.size()), "input", "output")
        op = _check_op(op, output, where)
        agree.on(output, _OP_CODES[op])
    send = input._device.xp.ascontiguousarray(input._data)
    return _reduce_scatter(pg, send, output, op, async_op)


def _reduce_scatter(pg: ProcessGroup, send: Any, output: Tensor, op: ReduceOp, async_op: bool) -> Work | None:
    recv, write_back = _contiguous(output)
    xp = output._device.xp
    packed, unpack = _with_nan_flags(xp, send.reshape(pg.size(), -1), op)
    if unpack is None:
        work = pg.backend.reduce_scatter(send, recv, op, nonblocking=async_op)
    else:
        packed_recv = xp.empty((1, packed.shape[1]), dtype=packed.dtype)
        work = pg.backend.reduce_scatter(packed, packed_recv, op, nonblocking=async_op)
        work.then(lambda: unpack(packed_recv, recv.reshape(1, -1)))
    if op is ReduceOp.AVG:
        work.then(lambda: _divide(recv, pg.size()))
    work.then(write_back)
    return _finish(work, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank has reached this call (checked against the others' calls like any collective)."""
    pg = default_group("barrier")
    with _Agreement(pg, "barrier") as agree:
        _check_group(pg, group, "barrier")
        agree.on(None, 0)
    pg.backend.barrier()
    return Work() if async_op else None


def agree_to_leave(pg: ProcessGroup, where: str) -> None:
    """The check a rank makes when it leaves: raises on every rank if another is still in a collective."""
    with _Agreement(pg, where, kind="leave") as agree:
        agree.on(None, 0)


# ---------------------------------------------------------------------------
# checks and helpers


def _check_group(pg: ProcessGroup, group: Any, where: str) -> None:
    if group is not None and group is not pg:
        resolve_group(group, where)  # raises, naming the group


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


def _signature(kind: str, t: Tensor | None, extra: int, refused: bool) -> np.ndarray:
    sig = np.full(_HEAD + _MAX_DIMS, -1, dtype=np.int64)
    sig[0], sig[5] = _KINDS[kind], int(refused)
    if refused:
        return sig  # the rest is unknown: this rank's own arguments were refused
    sig[1] = extra
    if t is not None:
        shape = tuple(t._data.shape)
        sig[2:5] = (np.dtype(t._data.dtype).num, len(shape), t._data.size)
        sig[_HEAD:_HEAD + min(len(shape), _MAX_DIMS)] = shape[:_MAX_DIMS]
    return sig


class _Agreement:
    """``with _Agreement(pg, where) as agree: <local checks>; agree.on(tensor, extra)``.

    On leaving the block every rank all-gathers its signature (with checks
    on). A local check that raised becomes a "refused" signature, and the
    first 512 bytes of its message travel to the others in a second
    all-gather (every rank sees the flag, so every rank takes part): the
    refused rank raises its own error, the others a DistributedError quoting
    it. Signatures that differ raise one DistributedError naming each rank's
    call. Nothing is sent by the collective itself in either case, so the
    group stays usable.
    """

    def __init__(self, pg: ProcessGroup, where: str, kind: str | None = None) -> None:
        self.pg, self.where, self.kind = pg, where, kind or where
        self.tensor: Tensor | None = None
        self.extra: int | None = None

    def __enter__(self) -> _Agreement:
        return self

    def on(self, tensor: Tensor | None, extra: int) -> None:
        """The call this rank is about to make: its tensor (None for barrier) and op, source or 0."""
        self.tensor, self.extra = tensor, extra

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if not self.pg.check_shapes or (exc_type is not None and not issubclass(exc_type, Exception)):
            return False  # without checks a local error is this rank's alone, as it always was
        refused = exc is not None
        mine = _signature(self.kind, self.tensor, self.extra or 0, refused)
        rows = self.pg.backend.allgather_host(mine, f"{self.where} (the check that all ranks agree)")
        if rows[:, 5].any():
            text = f"{type(exc).__name__}: {exc}" if refused else ""
            note = np.zeros(_MESSAGE_BYTES, dtype=np.uint8)
            encoded = text.encode("utf-8", "replace")[:_MESSAGE_BYTES]
            note[:len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
            notes = self.pg.backend.allgather_host(note, f"{self.where} (the check that all ranks agree)")
            if refused:
                return False  # this rank's own error, traceback and all
            said = "; ".join(f"rank {r}: {_note_text(notes[r])}" for r in range(len(rows)) if rows[r, 5])
            raise DistributedError(
                f"{self.where}: another rank's arguments were refused ({said}); every rank raises, "
                "and no data was exchanged"
            )
        if (rows == rows[0]).all():
            return False
        details = "; ".join(_describe_call(r, row) for r, row in enumerate(rows))
        raise DistributedError(
            f"{self.where}: the ranks disagree ({details}). Every rank must call the same collectives "
            "in the same order, with tensors of the same shape and dtype"
        )


def _note_text(note: np.ndarray) -> str:
    return bytes(note).rstrip(b"\0").decode("utf-8", "replace")


def _describe_call(rank: int, row: np.ndarray) -> str:
    names = {code: name for name, code in _KINDS.items()}
    kind = names.get(int(row[0]), "?")
    if kind == "leave":
        return f"rank {rank}: left the group (destroy_process_group, or the end of its program)"
    if kind == "barrier":
        return f"rank {rank}: barrier"
    ndim = int(row[3])
    shape = tuple(int(v) for v in row[_HEAD:_HEAD + min(ndim, _MAX_DIMS)])
    text = f"rank {rank}: {kind} of {_dtype_name(int(row[2]))} {shape}"
    if kind in ("all_reduce", "reduce_scatter", "reduce_scatter_tensor"):
        text += f" with {list(ReduceOp)[int(row[1])].name}"
    elif kind == "broadcast":
        text += f" from src {int(row[1])}"
    return text


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


def _with_nan_flags(xp: Any, rows: Any, op: ReduceOp) -> tuple[Any, Any]:
    """For MIN/MAX on floating data: ``rows`` (parts, m) packed with a NaN flag per element, and the unpacker.

    MPI's MIN/MAX (a C comparison) keep or drop a NaN depending on the order
    of the operands, so ranks could end with different values and take
    different branches. The flags (1 for MAX, -1 for MIN) reduce with the
    same op to "NaN on some rank", so every rank writes NaN there. Other ops
    and dtypes: ``(rows, None)``, nothing changes.
    """
    if op not in (ReduceOp.MIN, ReduceOp.MAX) or rows.dtype.kind != "f":
        return rows, None
    m = rows.shape[1]
    nan = xp.isnan(rows)
    neutral, flag = (-xp.inf, 1) if op is ReduceOp.MAX else (xp.inf, -1)
    packed = xp.empty((rows.shape[0], 2 * m), dtype=rows.dtype)
    packed[:, :m] = xp.where(nan, neutral, rows)
    packed[:, m:] = nan * flag

    def unpack(result: Any, out: Any) -> None:
        out[...] = xp.where(result[:, m:] != 0, xp.nan, result[:, :m])

    return packed, unpack
