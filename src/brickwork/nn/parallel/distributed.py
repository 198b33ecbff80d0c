"""DistributedDataParallel: one model replica per process, gradients averaged in backward.

Construction checks that every rank built the same model (names, shapes,
dtypes) and copies rank 0's parameters and buffers to all ranks. A lazy
model's pending parameters are copied as they are created: a forward
pre-hook on each lazy layer creates its parameters from the first input
(the usual lazy step, just earlier) and broadcasts them before the layer
computes, so even the first step runs with identical weights everywhere,
without an extra forward pass. Gradient averaging lives in ``reducer.py``.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from brickwork.autograd import Function, is_grad_enabled
from brickwork.distributed.process_group import DistributedError, ProcessGroup, resolve_group
from brickwork.nn.module import Module
from brickwork.nn.parallel.reducer import Reducer, check_grad_dtype
from brickwork.nn.parameter import is_pending
from brickwork.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Data-parallel training across processes (``torch.nn.parallel.DistributedDataParallel``).

    Every rank builds the same model, wraps it, and feeds it its own part of
    each batch (``bw.data.DistributedSampler``); after ``loss.backward()``
    every rank holds the gradients averaged over all ranks, so the same
    optimiser step keeps the replicas identical. N ranks with local batches
    of B samples train like one process with batches of N * B.

    - Initial parameters and buffers come from rank 0 (for lazy models, when
      each lazy layer creates them in the first forward).
    - Gradients are averaged in buckets of about ``bucket_cap_mb`` while
      backward runs (non-blocking all-reduces started from gradient hooks);
      the last gradient hook waits for them, so ``.grad`` is final when
      ``backward()`` returns. Tied parameters are reduced once.
    - ``no_sync()``: forwards/backwards inside it only accumulate local
      gradients (gradient accumulation); the first backward outside it
      averages the accumulated sums.
    - Buffers (e.g. BatchNorm running statistics) are copied from rank 0 at
      every training forward when ``broadcast_buffers=True``. BatchNorm
      normalises with the statistics of each rank's own batch (per-rank
      statistics); ``nn.SyncBatchNorm.convert_sync_batchnorm(model)`` makes
      them whole-batch statistics, so training matches one process exactly.
    - ``state_dict()``/``parameters()`` are the wrapped model's under the
      prefix ``module.``; save ``ddp.module.state_dict()`` for files that
      load into an unwrapped model.

    Every rank must run the same forwards and backwards (same model, same
    number of steps). ``find_unused_parameters=True`` supports models whose
    forward does not use every parameter each time (it walks the graph after
    each forward). ``gradient_as_bucket_view=True`` makes ``.grad`` views of
    the communication buckets (saves one copy of the gradients).
    ``device_ids`` (one device) is checked against the model's device; inputs
    are never moved. ``output_device``, ``dim``, ``check_reduction`` and
    ``static_graph`` are accepted for compatibility; brickwork's reducer needs
    no graph analysis for a static graph.

    >>> import brickwork as bw
    >>> import brickwork.distributed as dist
    >>> from brickwork import nn
    >>> dist.init_process_group("mpi")
    >>> ddp = nn.parallel.DistributedDataParallel(nn.Linear(3, 1))
    >>> ddp(bw.ones(4, 3)).sum().backward()
    >>> ddp.module.bias.grad
    tensor([4.])
    >>> list(ddp.state_dict())
    ['module.weight', 'module.bias']
    >>> dist.destroy_process_group()
    """

    def __init__(
        self,
        module: Module,
        device_ids: list[Any] | None = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = 25,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: expected a Module to wrap, got {type(module).__name__}"
            )
        group = resolve_group(process_group, "DistributedDataParallel")
        self.module = module
        self.process_group: ProcessGroup = group
        self.device_ids = list(device_ids) if device_ids is not None else None
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.bucket_bytes_cap = int(float(25 if bucket_cap_mb is None else bucket_cap_mb) * (1 << 20))
        self.require_backward_grad_sync = True
        self._names = {id(p): "module." + name for name, p in module.named_parameters()}
        self._names.update({id(b): "module." + name for name, b in module.named_buffers()})
        self._params = [p for p in module.parameters() if p.requires_grad]
        for p in self._params:
            check_grad_dtype(p, self._names[id(p)])
        self._check_device_ids()
        self._reducer: Reducer | None = None
        _verify_same_model(group, self._describe_state(), "DistributedDataParallel")
        _broadcast_coalesced(group, [t for t in self._state_tensors() if not is_pending(t)])
        self._lazy_handles = self._watch_lazy_layers()
        if not self._lazy_handles:
            self._build_reducer()
        this = weakref.ref(self)  # the hooks live on the parameters; they must not keep DDP alive

        def grad_ready(p: Tensor) -> None:
            ddp = this()
            if ddp is not None and ddp._reducer is not None:
                ddp._reducer.grad_ready(p)

        self._hook_handles = [p.register_post_accumulate_grad_hook(grad_ready) for p in self._params]

    # -- setup -----------------------------------------------------------------------
    def _check_device_ids(self) -> None:
        if self.device_ids is None:
            return
        from brickwork._backend import Device  # noqa: PLC0415

        if len(self.device_ids) != 1:
            raise ValueError(
                f"DistributedDataParallel: device_ids must name the one device of this rank's replica, "
                f"got {self.device_ids}"
            )
        want = Device(self.device_ids[0]).resolved()
        for p in self._params:
            if p._device is not want:
                raise DistributedError(
                    f"DistributedDataParallel: device_ids=[{want}] but parameter {self._names[id(p)]} "
                    f"is on {p._device}; move the model first: model.to('{want}')"
                )

    def _state_tensors(self) -> list[Tensor]:
        """Parameters and buffers, each tied object once, in registration order."""
        seen: set[int] = set()
        out = []
        for t in [*self.module.parameters(), *self.module.buffers()]:
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        return out

    def _describe_state(self) -> list[list[Any]]:
        return [[self._names.get(id(t), "?"), [s if s is not None else "?" for s in (t.template or ())]
                 if is_pending(t) else list(t._data.shape), str(np.dtype(t._data.dtype))]
                for t in self._state_tensors()]

    def _watch_lazy_layers(self) -> list[Any]:
        """Pre-hooks that create a lazy layer's parameters and broadcast them before it computes."""
        handles = []
        for _, layer in self.module.named_modules():
            own = [t for t in [*layer._parameters.values(), *layer._buffers.values()] if t is not None]
            if any(is_pending(t) for t in own):
                handles.append(layer.register_forward_pre_hook(self._materialize_and_broadcast))
        return handles

    def _materialize_and_broadcast(self, layer: Module, args: tuple) -> None:
        layer._materialize_pending(args, {})
        own = [t for t in [*layer._parameters.values(), *layer._buffers.values()] if t is not None]
        _verify_same_model(self.process_group, [[self._names.get(id(t), "?"), list(t._data.shape),
                                                 str(np.dtype(t._data.dtype))] for t in own],
                           f"DistributedDataParallel (lazy {type(layer).__name__})")
        _broadcast_coalesced(self.process_group, own)
        for handle in self._lazy_handles:
            if handle.id in layer._forward_pre_hooks:
                handle.remove()

    def _build_reducer(self) -> None:
        pending = [self._names.get(id(t), "?") for t in self._state_tensors() if is_pending(t)]
        if pending:
            raise DistributedError(
                "DistributedDataParallel: after the first forward these parameters/buffers are still "
                f"pending (their layers did not run): {', '.join(pending)}; every lazy layer must take "
                "part in the first forward"
            )
        self._check_device_ids()
        self._reducer = Reducer(self._params, self._names, self.process_group, self.bucket_bytes_cap,
                                self.find_unused_parameters, self.gradient_as_bucket_view)

    # -- running -----------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if self._reducer is not None:
            self._reducer.check_finished()
        if sync and self.broadcast_buffers and self.process_group.size() > 1:
            _broadcast_coalesced(self.process_group,
                                 [b for b in self.module.buffers() if not is_pending(b)])
        out = self.module(*inputs, **kwargs)
        if self._reducer is None:
            self._build_reducer()
        assert self._reducer is not None
        unused = _unreached(self._params, out) if sync and self.find_unused_parameters else []
        self._reducer.prepare(sync, unused)
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward only accumulates local gradients (no communication).

        The first forward+backward after the block averages the accumulated sums.
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        return (f"world_size={self.process_group.size()}, rank={self.process_group.rank()}, "
                f"backend={self.process_group.name()!r}")


# ---------------------------------------------------------------------------
# helpers


def _verify_same_model(group: ProcessGroup, description: list[list[Any]], where: str) -> None:
    """Raise on every rank if any rank's parameters/buffers differ in names, shapes or dtypes."""
    if group.size() == 1:
        return
    mine = json.dumps(description).encode()
    texts = _allgather_bytes(group, mine)
    if all(t == texts[0] for t in texts):
        return
    reference = json.loads(texts[0])
    problems = []
    for rank, text in enumerate(texts[1:], start=1):
        theirs = json.loads(text)
        if len(theirs) != len(reference):
            problems.append(f"rank {rank} has {len(theirs)} parameters/buffers, rank 0 has {len(reference)}")
            continue
        for ref, other in zip(reference, theirs):
            if ref != other:
                problems.append(f"rank {rank} has {other[0]} {other[2]} {tuple(other[1])} where rank 0 has "
                                f"{ref[0]} {ref[2]} {tuple(ref[1])}")
                break
    raise DistributedError(
        f"{where}: the ranks' models differ: {'; '.join(problems)}. Every rank must build the same "
        "model (and feed lazy layers inputs of the same feature sizes)"
    )


def _allgather_bytes(group: ProcessGroup, data: bytes) -> list[bytes]:
    backend = group.backend
    lengths = backend.allgather_host(np.array([len(data)], dtype=np.int64))[:, 0]
    padded = np.zeros(int(lengths.max()), dtype=np.uint8)
    padded[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    rows = backend.allgather_host(padded)
    return [rows[i, :n].tobytes() for i, n in enumerate(lengths)]


def _broadcast_coalesced(group: ProcessGroup, tensors: list[Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values into ``tensors`` on all ranks: one broadcast per device and dtype."""
    if group.size() == 1 or not tensors:
        return
    by_kind: dict[tuple[Any, Any], list[Tensor]] = {}
    for t in tensors:
        by_kind.setdefault((t._device, t._data.dtype), []).append(t)
    for (device, _), members in by_kind.items():
        xp = device.xp
        flat = xp.concatenate([t._data.reshape(-1) for t in members]) if len(members) > 1 \
            else xp.ascontiguousarray(members[0]._data).reshape(-1).copy()
        group.backend.broadcast(flat, src, "DistributedDataParallel broadcast from rank 0").wait()
        if group.rank() == src:
            continue
        offset = 0
        for t in members:
            n = t._data.size
            t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
            t._version[0] += 1
            offset += n


def _unreached(params: list[Tensor], out: Any) -> list[Tensor]:
    """The parameters that the graph of ``out`` (tensors in any nesting) does not reach."""
    reached: set[int] = set()
    stack: list[Function] = []
    seen: set[int] = set()
    for t in _tensors_in(out):
        if t._grad_fn is not None:
            stack.append(t._grad_fn)
        elif t.requires_grad:
            reached.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.__dict__.get("next", ()):
            if isinstance(e, Function):
                stack.append(e)
            elif e is not None:
                reached.add(id(e))
    return [p for p in params if id(p) not in reached]


def _tensors_in(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors_in(item)
