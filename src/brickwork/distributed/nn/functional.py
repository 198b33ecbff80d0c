"""Collectives that autograd records (``torch.distributed.nn.functional``).

``all_reduce`` here returns a new tensor and has a gradient: the sum over
ranks of ``x_r`` reaches every rank, each rank's loss depends on it, so the
gradient with respect to ``x_r`` is the sum over ranks of the incoming
gradients, which backward all-reduces in turn. Every rank must run the same
backward (as with DistributedDataParallel). SyncBatchNorm is built on it.
"""

from __future__ import annotations

from typing import Any

from brickwork.autograd import Function
from brickwork.distributed.process_group import ProcessGroup, ReduceOp, resolve_group
from brickwork.tensor import Tensor

__all__ = ["all_reduce"]


class AllReduceSum(Function):
    """``y = sum over ranks of x``; backward: ``dx = sum over ranks of dy``."""

    op_name = "all_reduce"

    def forward(self, x: Any, group: ProcessGroup) -> Any:
        self.group = group
        out = self.xp.array(x, copy=True, order="C")
        group.backend.allreduce(out, ReduceOp.SUM, "all_reduce (differentiable)", nonblocking=False).wait()
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        g = self.xp.array(grad, copy=True, order="C")
        self.group.backend.allreduce(g, ReduceOp.SUM, "all_reduce backward", nonblocking=False).wait()
        return (g,)


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None) -> Tensor:
    """The reduction over all ranks as a new tensor that gradients flow through (SUM or AVG).

    >>> import brickwork as bw
    >>> import brickwork.distributed as dist
    >>> dist.init_process_group("mpi")
    >>> x = bw.tensor([1.0, 2.0], requires_grad=True)
    >>> y = dist.nn.functional.all_reduce(x)   # one rank: the sum is x itself
    >>> (y * y).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    >>> dist.destroy_process_group()
    """
    pg = resolve_group(group, "all_reduce")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"all_reduce: expected a Tensor, got {type(tensor).__name__}")
    if op is ReduceOp.SUM:
        return AllReduceSum.apply(tensor, group=pg)
    if op is ReduceOp.AVG:
        return AllReduceSum.apply(tensor, group=pg) / pg.size()
    raise ValueError(f"all_reduce (differentiable): op must be ReduceOp.SUM or ReduceOp.AVG, got {op}")
