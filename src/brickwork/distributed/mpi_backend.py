"""The ``"mpi"`` backend: collectives through mpi4py's buffer interface.

Every call hands MPI the tensor's own NumPy buffer (``Allreduce`` with
``MPI.IN_PLACE``, ``Iallreduce`` for asynchronous work): no pickling, no
extra copies for contiguous CPU tensors. CUDA arrays are staged through host
memory (explicitly, inside the collective: the tensor itself stays on its
device), since the MPI wheels on PyPI are not CUDA-aware. The backend runs on
its own duplicate of ``COMM_WORLD``, so user code that also uses mpi4py
directly cannot mix its messages with brickwork's. With a timeout
(``init_process_group(timeout=...)``) even the blocking calls are made as
their non-blocking twins and polled until the deadline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork.distributed.process_group import DistributedError, ReduceOp, Work


class MPIBackend:
    name = "mpi"
    timeout_s: float | None = None  # set by init_process_group

    def __init__(self, MPI: Any) -> None:
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self._local_rank = node.Get_rank()
        node.Free()
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                     ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
        # MPI's arithmetic ops are undefined on C_BOOL: sum/max mean "any", product/min mean "all"
        self._bool_ops = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR,
                          ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND}

    # -- bookkeeping ------------------------------------------------------------
    def local_rank(self) -> int:
        return self._local_rank

    def accepts(self, device: Any) -> str | None:
        """Why a tensor on ``device`` cannot be used here, or None (any device works)."""
        return None

    def abort(self, code: int) -> None:
        self.MPI.COMM_WORLD.Abort(code)

    def shutdown(self) -> None:
        if self.comm != self.MPI.COMM_NULL:
            self.comm.Free()

    # -- collectives on contiguous arrays ------------------------------------------
    # ``nonblocking=False`` makes the blocking MPI call (MPI tunes those best) and returns a
    # completed Work whose wait() only runs the finishing steps.
    def allreduce(self, arr: Any, op: ReduceOp, what: str = "all_reduce", nonblocking: bool = True) -> Work:
        host, _ = self._stage(arr)
        wide = _widen(host)
        work = self._start(what, arr, nonblocking, self.comm.Iallreduce, self.comm.Allreduce,
                           self.MPI.IN_PLACE, wide, self._op(op, wide))
        return _then_unstage(_then_narrow(work, host, wide), arr, host)

    def broadcast(self, arr: Any, src: int, what: str = "broadcast", nonblocking: bool = True) -> Work:
        host, _ = self._stage(arr)
        work = self._start(what, arr, nonblocking, self.comm.Ibcast, self.comm.Bcast, host, src)
        return _then_unstage(work, arr, host)

    def allgather(self, send: Any, recv: Any, what: str = "all_gather", nonblocking: bool = True) -> Work:
        host_send, _ = self._stage(send)
        host_recv, _ = self._stage(recv, copy=False)
        work = self._start(what, send, nonblocking, self.comm.Iallgather, self.comm.Allgather,
                           host_send, host_recv)
        return _then_unstage(work, recv, host_recv)

    def reduce_scatter(self, send: Any, recv: Any, op: ReduceOp, what: str = "reduce_scatter",
                       nonblocking: bool = True) -> Work:
        host_send, _ = self._stage(send)
        host_recv, _ = self._stage(recv, copy=False)
        wide_send, wide_recv = _widen(host_send), _widen(host_recv)
        work = self._start(what, send, nonblocking, self.comm.Ireduce_scatter_block,
                           self.comm.Reduce_scatter_block, wide_send, wide_recv, self._op(op, wide_send))
        return _then_unstage(_then_narrow(work, host_recv, wide_recv), recv, host_recv)

    def barrier(self) -> None:
        self._start("barrier", None, False, self.comm.Ibarrier, self.comm.Barrier).wait()

    def allgather_host(self, arr: np.ndarray, what: str = "collective check") -> np.ndarray:
        """Blocking all-gather of a small host array (shape checks): ``(size, *arr.shape)``."""
        out = np.empty((self.size, *arr.shape), dtype=arr.dtype)
        self._start(what, arr, False, self.comm.Iallgather, self.comm.Allgather, arr, out).wait()
        return out

    # -- helpers ------------------------------------------------------------------------
    def _op(self, op: ReduceOp, arr: np.ndarray) -> Any:
        return self._bool_ops[op] if arr.dtype == np.bool_ else self._ops[op]

    def _stage(self, arr: Any, copy: bool = True) -> tuple[np.ndarray, bool]:
        """The host buffer MPI works on: the array itself on the CPU, a host copy of a GPU array."""
        if isinstance(arr, np.ndarray):
            return arr, False
        host = arr.get() if copy else np.empty(arr.shape, dtype=arr.dtype)
        return host, True

    def _start(self, what: str, arr: Any, nonblocking: bool, start: Any, blocking: Any, *args: Any) -> Work:
        """Run the blocking call, or start the non-blocking one (asked for, or to honour a timeout)."""
        if nonblocking or self.timeout_s is not None:
            return Work(self._call(what, arr, start, *args), self.timeout_s, what)
        self._call(what, arr, blocking, *args)
        return Work()

    def _call(self, what: str, arr: Any, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self.MPI.Exception as exc:
            shape = "" if arr is None else f" (this rank's buffer: {arr.dtype} {tuple(arr.shape)})"
            raise DistributedError(
                f"{what}: MPI failed on rank {self.rank}{shape}: {exc.Get_error_string().strip()}. "
                "Ranks must call the same collectives in the same order with tensors of the same "
                "shape and dtype (shape checks are on unless BRICKWORK_DISTRIBUTED_CHECKS=0)"
            ) from exc


def _then_unstage(work: Work, arr: Any, host: np.ndarray) -> Work:
    if host is not arr:  # a GPU array: copy the result back to its device
        work.then(lambda: arr.set(host))
    return work


def _widen(host: np.ndarray) -> np.ndarray:
    """float16 is reduced in float32: not every MPI has a half type, and it loses nothing."""
    return host.astype(np.float32) if host.dtype == np.float16 else host


def _then_narrow(work: Work, host: np.ndarray, wide: np.ndarray) -> Work:
    if wide is not host:
        work.then(lambda: np.copyto(host, wide, casting="same_kind"))
    return work
