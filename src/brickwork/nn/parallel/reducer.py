"""Gradient buckets for DistributedDataParallel: average gradients while backward runs.

Parameters are grouped, in reverse registration order (roughly the order in
which backward produces their gradients), into buckets of about
``bucket_cap_mb`` per device and dtype, each with one flat buffer. Every
parameter has a post-accumulate-grad hook: backward calls it as soon as the
parameter's ``.grad`` is final (the engine writes a leaf's gradient when its
last contribution has arrived). The hook copies ``.grad`` into its bucket;
when a bucket is full, and all buckets before it have started, a
non-blocking all-reduce of the bucket starts, so communication overlaps the
rest of backward. The hook of the last parameter to arrive is the end of
backward as far as DDP is concerned: it waits for every bucket, divides by
the world size and writes the averages back into ``.grad``. Buckets always
start in the same order on every rank, whatever order the hooks fire in, so
the ranks' collectives always match.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.distributed.process_group import DistributedError, ProcessGroup, ReduceOp, Work
from brickwork.tensor import Tensor

FIRST_BUCKET_BYTES = 1 << 20  # a small first bucket gets communication going early (as PyTorch)


class Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "work")

    def __init__(self, params: list[Tensor], offsets: list[int], buffer: Any) -> None:
        self.params = params
        self.offsets = offsets
        self.buffer = buffer
        self.pending = len(params)
        self.work: Work | None = None


class Reducer:
    """Buckets, their state during one backward, and the averaging at its end."""

    def __init__(self, params: list[Tensor], names: dict[int, str], group: ProcessGroup,
                 bucket_bytes: int, find_unused: bool, grads_as_views: bool) -> None:
        self.group = group
        self.names = names
        self.find_unused = find_unused
        self.grads_as_views = grads_as_views
        self.params = params
        self.buckets = _build_buckets(params, bucket_bytes)
        self.slot: dict[int, tuple[Bucket, int]] = {}
        for bucket in self.buckets:
            for p, offset in zip(bucket.params, bucket.offsets):
                self.slot[id(p)] = (bucket, offset)
        self.expecting = False  # a DDP forward with sync on ran since the last reset
        self.unused: list[Tensor] = []
        self._reset()

    def _reset(self) -> None:
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)
            bucket.work = None
        self.ready: set[int] = set()
        self.next_bucket = 0
        self.marked_unused = False

    # -- the forward side ------------------------------------------------------------
    def prepare(self, expecting: bool, unused: list[Tensor]) -> None:
        """Called by each DDP forward: whether its backward reduces, and what it will not reach."""
        self.check_finished()
        self._reset()
        self.expecting = expecting
        self.unused = unused

    def check_finished(self) -> None:
        """The previous backward reached every parameter (else name the ones it did not)."""
        if self.expecting and self.ready and self.next_bucket < len(self.buckets):
            missing = [self.names.get(id(p), "?") for p in self.params if id(p) not in self.ready]
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            self._reset()
            raise DistributedError(  # raised inside DDP's forward, whose error names it already
                "the previous backward finished without gradients for "
                f"{len(missing)} parameter(s) on rank {self.group.rank()}: {shown}. DDP must know when "
                "every gradient is ready: pass find_unused_parameters=True if some parameters do not "
                "take part in every forward, or make sure the loss depends on all of them"
            )

    # -- the backward side (post-accumulate-grad hooks) -------------------------------
    def grad_ready(self, p: Tensor) -> None:
        if not self.expecting:
            return
        if not self.marked_unused:  # at the first hook, as PyTorch does: never during forward
            self.marked_unused = True
            for q in self.unused:
                if q is not p:  # (p was reached after all: it brings its gradient now)
                    self._copy_in(q)
        bucket, _ = self.slot[id(p)]
        if id(p) in self.ready:  # marked unused, yet reached through something the walk missed
            if bucket.work is not None:
                raise DistributedError(
                    f"DistributedDataParallel: parameter {self.names.get(id(p), '?')} got a gradient "
                    "after its bucket was already reduced in this backward (it was marked unused by "
                    "find_unused_parameters=True, but the loss uses it through something other than "
                    "the model's outputs); compute everything the loss needs inside the model's forward"
                )
            self._copy_in(p, count=False)
            return
        self._copy_in(p)
        launched = self.next_bucket
        self._launch_ready()
        if self.next_bucket == launched:
            self._poll()

    def _copy_in(self, p: Tensor, count: bool = True) -> None:
        """Put ``p.grad`` (zeros if it has none) into its bucket slot."""
        bucket, offset = self.slot[id(p)]
        view = bucket.buffer[offset:offset + p._data.size]
        grad = p._grad
        if grad is None:
            view[...] = 0
        else:  # (with gradient_as_bucket_view, .grad may already be this very view: a no-op copy)
            view[...] = grad._data.reshape(-1)
        if count:
            self.ready.add(id(p))
            bucket.pending -= 1

    def _poll(self) -> None:
        """Let MPI progress the all-reduces already started (it moves only inside MPI calls)."""
        for bucket in self.buckets[:self.next_bucket]:
            if bucket.work is not None:
                bucket.work.is_completed()

    def _launch_ready(self) -> None:
        backend = self.group.backend
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            bucket.work = backend.allreduce(bucket.buffer, ReduceOp.SUM,
                                            "DistributedDataParallel gradient all-reduce")
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _finish(self) -> None:
        size = self.group.size()
        globally_unused = self._globally_unused()
        for bucket in self.buckets:
            assert bucket.work is not None
            bucket.work.wait()
            if size > 1:
                bucket.buffer /= size
            for p, offset in zip(bucket.params, bucket.offsets):
                if id(p) in globally_unused:
                    continue
                self._write_back(p, bucket.buffer[offset:offset + p._data.size].reshape(p._data.shape))
        self._reset()  # ready for another backward of the same forward (its sum is reduced again)

    def _write_back(self, p: Tensor, avg: Any) -> None:
        grad = p._grad
        if self.grads_as_views:  # .grad becomes a view of the bucket: no copy, no second buffer
            p._grad = _wrap(avg, p._device)
            return
        if grad is None:
            p._grad = _wrap(avg.copy(), p._device)
        elif grad._data.shape == avg.shape and _backend.writeable(grad._data):
            grad._data[...] = avg
            grad._version[0] += 1
        else:
            p._grad = _wrap(avg.copy(), p._device)

    def _globally_unused(self) -> set[int]:
        """Parameters without a gradient on every rank: their .grad stays None (as in PyTorch)."""
        if not self.find_unused:  # (every rank takes part, whatever its own unused set)
            return set()
        params = [p for bucket in self.buckets for p in bucket.params]
        has_grad = np.array([p._grad is not None for p in params], dtype=np.int64)
        counts = self.group.backend.allgather_host(has_grad).sum(axis=0)
        return {id(p) for p, count in zip(params, counts) if count == 0}


def _build_buckets(params: list[Tensor], bucket_bytes: int) -> list[Bucket]:
    """Reverse registration order, split by device and dtype, about ``bucket_bytes`` each."""
    open_: dict[tuple[Any, Any], list[Tensor]] = {}
    sizes: dict[tuple[Any, Any], int] = {}
    groups: list[list[Tensor]] = []
    first = True
    for p in reversed(params):
        key = (p._device, p._data.dtype)
        members = open_.setdefault(key, [])
        members.append(p)
        sizes[key] = sizes.get(key, 0) + p._data.nbytes
        limit = min(FIRST_BUCKET_BYTES, bucket_bytes) if first else bucket_bytes
        if sizes[key] >= limit:
            groups.append(members)
            open_[key] = []
            sizes[key] = 0
            first = False
    groups.extend(members for members in open_.values() if members)
    buckets = []
    for members in groups:
        offsets, total = [], 0
        for p in members:
            offsets.append(total)
            total += p._data.size
        xp = members[0]._device.xp
        buckets.append(Bucket(members, offsets, xp.zeros(total, dtype=members[0]._data.dtype)))
    return buckets


def check_grad_dtype(p: Tensor, name: str) -> None:
    if p._data.dtype.kind not in "fc":
        raise DistributedError(f"DistributedDataParallel: parameter {name} has dtype {p.dtype.name} "
                               "but gradients need a floating-point dtype")
