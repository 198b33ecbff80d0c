"""``nn.DataParallel``: one process, the batch split over several GPUs.

With no GPU (or one device id) it is a transparent wrapper: ``forward`` calls
``module`` (inputs moved to ``device_ids[0]`` when there is a GPU), and the
state dict keys gain the ``module.`` prefix as in PyTorch. With several
device ids each forward:

1. scatters the tensors of the inputs along ``dim`` into one chunk per
   device (fewer when the batch is smaller),
2. replicates ``module`` onto the other devices — the replicas' parameters
   are differentiable copies (``param.to(device)``) of the original ones, so
   their gradients flow back and add up in the original parameters, and the
   replica on ``device_ids[0]`` is the module itself (in-place buffer updates
   there, like BatchNorm running statistics, are kept, as in PyTorch),
3. runs the replicas one after another (each device's kernels are queued
   asynchronously, so their work still overlaps on the GPUs),
4. gathers the outputs on ``output_device`` by concatenating along ``dim``.

For multi-process training prefer ``DistributedDataParallel``.
"""

from __future__ import annotations

import copy
from typing import Any

from brickwork import _backend
from brickwork import cuda as bw_cuda
from brickwork.nn.module import Module
from brickwork.ops import shape as sh
from brickwork.tensor import Tensor

__all__ = ["DataParallel", "data_parallel", "scatter", "gather", "replicate"]


def _device(d: Any) -> _backend.Device:
    if isinstance(d, int):
        return _backend.Device("cuda", d)
    return _backend.Device(d).resolved()


def scatter(obj: Any, devices: list[_backend.Device], dim: int = 0) -> list[Any]:
    """Split the tensors inside ``obj`` (nested tuples, lists, dicts) into one chunk per device;
    everything else is repeated. Returns as many copies as there are chunks."""
    if isinstance(obj, Tensor):
        chunks = sh.chunk(obj, len(devices), dim) if obj.ndim else (obj,) * len(devices)
        return [c.to(d) for c, d in zip(chunks, devices)]
    if isinstance(obj, (tuple, list)) and obj:
        parts = [scatter(o, devices, dim) for o in obj]
        n = min(len(p) for p in parts)
        return [type(obj)(p[i] for p in parts) if isinstance(obj, tuple) else [p[i] for p in parts]
                for i in range(n)]
    if isinstance(obj, dict) and obj:
        keys = list(obj)
        parts = [scatter(obj[k], devices, dim) for k in keys]
        n = min(len(p) for p in parts)
        return [dict(zip(keys, (p[i] for p in parts))) for i in range(n)]
    return [obj] * len(devices)


def gather(outputs: list[Any], target_device: _backend.Device, dim: int = 0) -> Any:
    """Concatenate the replicas' outputs along ``dim`` on ``target_device`` (nested structures
    are gathered element by element; 0-d tensors become a vector, as in PyTorch)."""
    first = outputs[0]
    if isinstance(first, Tensor):
        moved = [o.to(target_device) for o in outputs]
        if first.ndim == 0:
            moved = [m.reshape(1) for m in moved]
        return sh.cat(moved, dim)
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((k, gather([o[k] for o in outputs], target_device, dim)) for k in first)
    if isinstance(first, (tuple, list)):
        items = [gather(list(parts), target_device, dim) for parts in zip(*outputs)]
        return type(first)(items) if isinstance(first, list) else tuple(items)
    return first


def _replica_parameter(param: Any, device: _backend.Device) -> Any:
    """A Parameter-typed, non-leaf copy of ``param`` on ``device``: the result of the
    differentiable ``param.to(device)`` (so layers that read Parameter properties keep working,
    and backward flows into ``param``)."""
    moved = param.to(device)
    replica = object.__new__(type(param))
    for slot in (s for s in Tensor.__slots__ if s != "__weakref__"):
        setattr(replica, slot, getattr(moved, slot))
    return replica


def replicate(module: Module, devices: list[_backend.Device]) -> list[Module]:
    """``module`` itself for ``devices[0]`` and, for each other device, a copy whose parameters
    are differentiable copies of ``module``'s (gradients reach the originals) and whose buffers
    are plain copies."""
    replicas = [module]
    for dev in devices[1:]:
        memo: dict[int, Any] = {}
        for p in module.parameters():
            memo[id(p)] = _replica_parameter(p, dev)
        for b in module.buffers():
            memo[id(b)] = b.detach().to(dev)
        replicas.append(copy.deepcopy(module, memo))
    return replicas


class DataParallel(Module):
    """Split each batch over ``device_ids`` and run ``module`` on every part (see module doc).

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> model = nn.DataParallel(nn.Linear(3, 2))
    >>> list(model.state_dict())
    ['module.weight', 'module.bias']
    >>> model(bw.ones(4, 3)).shape
    brickwork.Size([4, 2])
    """

    def __init__(self, module: Module | None, device_ids: list[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.dim = dim
        if not bw_cuda.is_available():
            self.device_ids: list[_backend.Device] = []
            self.output_device = None
            return
        ids = list(range(bw_cuda.device_count())) if device_ids is None else list(device_ids)
        self.device_ids = [_device(d) for d in ids]
        if not self.device_ids:
            raise ValueError("DataParallel: device_ids is empty")
        self.output_device = _device(output_device) if output_device is not None \
            else self.device_ids[0]
        self.src_device_obj = self.device_ids[0]

    def _check_placement(self) -> None:
        src = self.device_ids[0]
        for name, t in [*self.module.named_parameters(), *self.module.named_buffers()]:
            if t.device != src:
                raise RuntimeError(
                    f"DataParallel: module must have its parameters and buffers on device {src} "
                    f"(device_ids[0]) but found {name!r} on device {t.device}; call "
                    f"module.to({str(src)!r}) first")

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.module is None:
            raise RuntimeError("DataParallel: no module to run (built empty for loading)")
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        self._check_placement()
        if len(self.device_ids) == 1:
            args = scatter(inputs, self.device_ids, self.dim)[0]
            kw = scatter(kwargs, self.device_ids, self.dim)[0] if kwargs else {}
            return self.module(*args, **kw)
        scattered = scatter(inputs, self.device_ids, self.dim) if inputs else [()]
        scattered_kw = scatter(kwargs, self.device_ids, self.dim) if kwargs else \
            [{} for _ in scattered]
        n = min(len(scattered), len(scattered_kw))
        if n == 1:
            return self.module(*scattered[0], **scattered_kw[0])
        devices = self.device_ids[:n]
        replicas = replicate(self.module, devices)
        outputs = []
        for dev, replica, args, kw in zip(devices, replicas, scattered[:n], scattered_kw[:n]):
            with dev.activate():  # the replica's kernels (and in-place buffer updates) run there
                outputs.append(replica(*args, **kw))
        return gather(outputs, self.output_device, self.dim)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"module": None, "dim": self.dim}


def data_parallel(module: Module, inputs: Any, device_ids: list[Any] | None = None,
                  output_device: Any = None, dim: int = 0,
                  module_kwargs: dict | None = None) -> Any:
    """One data-parallel forward of ``module`` over ``inputs`` (the functional DataParallel)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    wrapper = DataParallel(module, device_ids, output_device, dim)
    return wrapper(*inputs, **(module_kwargs or {}))
