"""SyncBatchNorm: batch statistics over the whole batch of all ranks.

Plain BatchNorm under DistributedDataParallel normalises each rank's part of
the batch with that part's own statistics. SyncBatchNorm sums the per-channel
sums (and then the squared deviations) over ranks with a differentiable
all-reduce, so N ranks with B samples each normalise, train and update their
running statistics exactly like one process with the N * B samples. It is a
composite of tensor ops (the all-reduce's backward brings the other ranks'
gradient contributions), with no backward of its own.
"""

from __future__ import annotations

from typing import Any

from brickwork import creation
from brickwork.autograd import no_grad
from brickwork.distributed import process_group
from brickwork.distributed.nn.functional import all_reduce
from brickwork.nn.module import Module
from brickwork.nn.norm import _BatchNorm
from brickwork.ops.shape import cat
from brickwork.tensor import Tensor

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation with statistics over all ranks (``torch.nn.SyncBatchNorm``).

    Takes ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``
    inputs. In training, with a process group of several ranks, mean and
    variance are over every rank's batch; otherwise (evaluation, or a single
    process) it is an ordinary BatchNorm. ``num_features=None`` is lazy.
    Every rank must run the layer the same number of times. Convert a model's
    BatchNorm layers with ``SyncBatchNorm.convert_sync_batchnorm(model)``.

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> net = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    >>> net[1]
    SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features: int | None, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group: Any = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        if not self.training or not process_group.is_initialized():
            return super().forward(input)
        group = process_group.resolve_group(self.process_group, "SyncBatchNorm")
        if group.size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        c = input.shape[1]
        built = self.num_features
        if built is not None and c != built:
            return super().forward(input)  # raises the usual "built for" error
        axes = (0, *range(2, input.ndim))
        shape = (1, c) + (1,) * (input.ndim - 2)
        local_count = creation.full((1,), input.numel() // max(c, 1), dtype=input.dtype, device=input.device)
        sums = all_reduce(cat([input.sum(dim=axes), local_count]), group=group)
        count = sums[c:].detach()
        mean = sums[:c] / count
        centered = input - mean.reshape(shape)
        var = all_reduce((centered * centered).sum(dim=axes), group=group) / count  # biased
        out = centered * (var + self.eps).rsqrt().reshape(shape)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count)
        return out

    def _update_running_stats(self, mean: Tensor, var: Tensor, count: Tensor) -> None:
        with no_grad():
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            unbiased = var * count / (count - 1).clamp_min(1)  # on the device: no host sync
            self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype) * factor)
            self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype) * factor)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every BatchNorm layer in ``module`` with a SyncBatchNorm that keeps its parameters.

        The same Parameter and buffer objects move over (an optimiser built
        before still holds them). Returns the converted module (a new object
        only when ``module`` itself is a BatchNorm).
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            sync = cls.__new__(cls)
            Module.__init__(sync)
            for key, value in module.__dict__.items():
                if key not in ("_parameters", "_buffers", "_modules", "_non_persistent_buffers_set",
                               "_forward_pre_hooks", "_forward_hooks"):
                    sync.__dict__[key] = value
            sync._parameters.update(module._parameters)
            sync._buffers.update(module._buffers)
            sync._non_persistent_buffers_set.update(module._non_persistent_buffers_set)
            sync.process_group = process_group
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    module._modules[name] = converted
        return module
