"""The ``"nccl"`` backend: collectives on CUDA tensors through CuPy's NCCL binding.

One GPU per rank: rank ``r`` uses GPU ``local_rank`` of its machine (its
index among the ranks started there). NCCL needs every rank to know one
unique id; rank 0 makes it and MPI broadcasts it (the processes are started
by ``mpiexec``, as for the MPI backend). A single process needs no launcher.

NCCL calls are queued on the current CUDA stream, so they are ordered with
the kernels before and after them; ``Work.wait()`` has nothing to wait for
on the host. CuPy itself is reached only through ``brickwork._backend``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.distributed.process_group import DistributedError, ReduceOp, Work, wait_for


class NCCLBackend:
    name = "nccl"
    # set by init_process_group; bounds the MPI-side exchanges (collective checks), not NCCL's kernels
    timeout_s: float | None = None

    def __init__(self, MPI: Any, world_size: int) -> None:
        self.nccl = _backend.nccl_module()  # raises "NCCL requested but no CUDA GPU is available"
        self.cp = _backend.cupy_module()
        self.MPI = MPI
        if MPI is not None:
            self.mpi_comm = MPI.COMM_WORLD.Dup()
            self.rank, self.size = self.mpi_comm.Get_rank(), self.mpi_comm.Get_size()
            node = self.mpi_comm.Split_type(MPI.COMM_TYPE_SHARED)
            self._local_rank, local_size = node.Get_rank(), node.Get_size()
            node.Free()
        else:
            if world_size not in (-1, 1, None):
                raise DistributedError(
                    f"init_process_group(backend='nccl', world_size={world_size}): several ranks "
                    "need an MPI launcher to exchange NCCL's unique id; start the program with "
                    f"mpiexec -n {world_size} python ..."
                )
            self.mpi_comm = None
            self.rank, self.size, self._local_rank, local_size = 0, 1, 0, 1
        count = _backend.cuda_device_count()
        if local_size > count:
            raise DistributedError(
                f"init_process_group(backend='nccl'): {local_size} ranks were started on this machine "
                f"but it has {count} CUDA GPU(s); NCCL needs one GPU per rank (start at most "
                f"{count} processes per machine, or use backend='mpi')"
            )
        self.device = _backend.Device("cuda", self._local_rank)
        self.cp.cuda.Device(self._local_rank).use()
        unique_id = np.zeros(128, dtype=np.int64)
        if self.rank == 0:
            unique_id[:] = self.nccl.get_unique_id()
        if self.mpi_comm is not None:
            self.mpi_comm.Bcast(unique_id, root=0)
        self.comm = self.nccl.NcclCommunicator(self.size, tuple(int(v) for v in unique_id), self.rank)
        nccl = self.nccl
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM,
                     ReduceOp.PRODUCT: nccl.NCCL_PROD, ReduceOp.MIN: nccl.NCCL_MIN,
                     ReduceOp.MAX: nccl.NCCL_MAX}
        # bools travel as uint8: sum/max mean "any", product/min mean "all"
        self._bool_ops = {ReduceOp.SUM: nccl.NCCL_MAX, ReduceOp.MAX: nccl.NCCL_MAX,
                          ReduceOp.PRODUCT: nccl.NCCL_MIN, ReduceOp.MIN: nccl.NCCL_MIN}
        self._types = {
            np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64, np.dtype(np.int8): nccl.NCCL_INT8,
            np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int32): nccl.NCCL_INT32,
            np.dtype(np.int64): nccl.NCCL_INT64, np.dtype(np.bool_): nccl.NCCL_UINT8,
        }

    # -- bookkeeping ------------------------------------------------------------
    def local_rank(self) -> int:
        return self._local_rank

    def accepts(self, device: Any) -> str | None:
        if device is not self.device:
            return (f"the NCCL backend works on CUDA tensors on this rank's GPU ({self.device}), "
                    f"got a tensor on {device}; move it with .to('{self.device}') or use "
                    "backend='mpi' for CPU tensors")
        return None

    def abort(self, code: int) -> None:
        try:
            self.comm.abort()
        finally:
            if self.MPI is not None:
                self.MPI.COMM_WORLD.Abort(code)
            os._exit(code)

    def shutdown(self) -> None:
        self.comm.destroy()
        if self.mpi_comm is not None:
            self.mpi_comm.Free()

    # -- collectives on contiguous arrays -----------------------------------------
    def _stream(self) -> int:
        return self.cp.cuda.get_current_stream().ptr

    def _type(self, arr: Any, what: str) -> int:
        code = self._types.get(np.dtype(arr.dtype))
        if code is None:
            raise DistributedError(f"{what}: NCCL has no type for {arr.dtype}")
        return code

    def _op(self, op: ReduceOp, arr: Any) -> int:
        return self._bool_ops[op] if arr.dtype == np.bool_ else self._ops[op]

    # (NCCL calls are always asynchronous on the stream; ``nonblocking`` changes nothing)
    def allreduce(self, arr: Any, op: ReduceOp, what: str = "all_reduce", nonblocking: bool = True) -> Work:
        ptr = arr.data.ptr
        self.comm.allReduce(ptr, ptr, arr.size, self._type(arr, what), self._op(op, arr), self._stream())
        return Work()

    def broadcast(self, arr: Any, src: int, what: str = "broadcast", nonblocking: bool = True) -> Work:
        ptr = arr.data.ptr
        self.comm.broadcast(ptr, ptr, arr.size, self._type(arr, what), src, self._stream())
        return Work()

    def allgather(self, send: Any, recv: Any, what: str = "all_gather", nonblocking: bool = True) -> Work:
        self.comm.allGather(send.data.ptr, recv.data.ptr, send.size, self._type(send, what), self._stream())
        return Work()

    def reduce_scatter(self, send: Any, recv: Any, op: ReduceOp, what: str = "reduce_scatter",
                       nonblocking: bool = True) -> Work:
        self.comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size, self._type(send, what),
                                self._op(op, send), self._stream())
        return Work()

    def barrier(self) -> None:
        token = self.cp.zeros(1, dtype=self.cp.float32)
        self.allreduce(token, ReduceOp.SUM, "barrier")
        self.cp.cuda.get_current_stream().synchronize()

    def allgather_host(self, arr: np.ndarray, what: str = "collective check") -> np.ndarray:
        """Blocking all-gather of a small host array (shape checks): ``(size, *arr.shape)``."""
        if self.mpi_comm is None:
            return arr[None].copy()
        out = np.empty((self.size, *arr.shape), dtype=arr.dtype)
        if self.timeout_s is None:
            self.mpi_comm.Allgather(arr, out)
        else:
            wait_for(self.mpi_comm.Iallgather(arr, out), self.timeout_s, what)
        return out
