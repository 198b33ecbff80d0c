"""DataLoader: batches from a dataset, in sampler order, collated into tensors.

Batching is vectorised when the dataset implements ``__getbatch__(indices)``
(see ``dataset.py``) and the default collation is used: one fancy-index per
array per batch. Otherwise each sample is fetched with ``dataset[i]`` (or
PyTorch's ``__getitems__``) and the list is passed to ``collate_fn``.

Loading runs in the calling process. ``num_workers`` and the other
multiprocessing options are accepted for PyTorch compatibility and ignored:
brickwork never pickles, and vectorised batching is what makes loading fast.
"""

from __future__ import annotations

import collections.abc as abc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.data.dataset import IterableDataset
from brickwork.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from brickwork.random import Generator
from brickwork.tensor import Tensor

__all__ = ["DataLoader", "default_collate", "default_convert"]


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples into a batch, recursively.

    Tensors are stacked (they must be on one device), NumPy arrays and scalars
    become tensors, Python ints int64 and floats float32 (brickwork's default;
    PyTorch makes float64), bools bool; strings stay a list; dicts, named
    tuples, tuples and lists are collated field by field (a tuple sample
    becomes a list, as in PyTorch).

    >>> import brickwork as bw
    >>> default_collate([(bw.tensor([1.0, 2.0]), 0), (bw.tensor([3.0, 4.0]), 1)])
    [tensor([[1., 2.],
            [3., 4.]]), tensor([0, 1])]
    >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
    {'x': tensor([1.5000, 2.5000]), 'name': ['a', 'b']}
    """
    from brickwork.creation import tensor as make_tensor
    from brickwork.ops.shape import stack

    if not batch:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            return batch
        return make_tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return make_tensor(np.array(batch))
    if isinstance(elem, bool):
        return make_tensor(batch)
    if isinstance(elem, (int, float)):
        return make_tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)  # type: ignore[call-arg]
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(
        "default_collate: batch must contain tensors, NumPy arrays, numbers, strings, dicts or "
        f"lists; found {type(elem).__name__}"
    )


def _pin(batch: Any) -> Any:
    """The batch with its CPU tensors copied into pinned host memory."""
    if isinstance(batch, Tensor):
        return batch.pin_memory() if batch._device.type == "cpu" else batch
    if isinstance(batch, abc.Mapping):
        return {k: _pin(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_pin(b) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_pin(b) for b in batch)
    return batch


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays inside a sample into tensors (the collate for ``batch_size=None``)."""
    from brickwork.creation import tensor as make_tensor

    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return make_tensor(data)
    if isinstance(data, np.generic):
        return make_tensor(np.asarray(data))
    if isinstance(data, abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


class DataLoader:
    """Iterate over a dataset in batches (``torch.utils.data.DataLoader``).

    ``shuffle=True`` draws a new order every epoch from ``generator`` or
    brickwork's default generator (``bw.manual_seed`` makes it reproducible).
    ``sampler`` (an iterable of indices) or ``batch_sampler`` (an iterable of
    index lists) replace the built-in order, e.g. for distributed training.
    ``batch_size=None`` yields single samples.

    ``pin_memory=True`` copies each batch's CPU tensors into page-locked host
    memory, so that ``x.to('cuda', non_blocking=True)`` (as ``bw.fit`` does)
    copies asynchronously and the host prepares the next batch meanwhile. It
    costs one extra host copy per batch, pays off only on a GPU, and whether it
    is faster depends on the machine: measure (``benchmarks/gpu_run.py
    --pin-memory``). On a machine without CUDA it has no effect.

    >>> import brickwork as bw
    >>> ds = bw.data.TensorDataset(bw.arange(10.0), bw.arange(10))
    >>> loader = bw.data.DataLoader(ds, batch_size=4, shuffle=True)
    >>> len(loader)
    3
    >>> [len(x) for x, y in loader]
    [4, 4, 2]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        *,
        generator: Generator | None = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
    ) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got {num_workers!r}")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a bw.Generator, got {type(generator).__name__}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader: shuffle=True is not supported for an IterableDataset")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
                    "sampler and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) is mutually exclusive with drop_last")
        elif batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0
                                         or isinstance(batch_size, bool)):
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        return len(self.sampler)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        batches = self._batches()
        if not self.pin_memory or _backend.cuda_device_count() == 0:
            yield from batches
            return
        for batch in batches:
            yield _pin(batch)

    def _batches(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._iter_stream()
            return
        dataset, collate = self.dataset, self.collate_fn
        if not self._auto_collation:
            for index in self.sampler:  # type: ignore[union-attr]
                yield collate(dataset[index])
            return
        getbatch = getattr(dataset, "__getbatch__", None) if collate is default_collate else None
        getitems = getattr(dataset, "__getitems__", None)
        batches = (self.batch_sampler.index_batches() if isinstance(self.batch_sampler, BatchSampler)
                   else self.batch_sampler)
        for indices in batches:  # type: ignore[union-attr]
            if getbatch is not None:
                yield getbatch(np.asarray(indices, dtype=np.int64))
            elif getitems is not None:
                yield collate(getitems(list(np.asarray(indices).tolist())))
            else:
                yield collate([dataset[int(i)] for i in indices])

    def _iter_stream(self) -> Iterator[Any]:
        collate = self.collate_fn
        if self.batch_size is None:
            for sample in self.dataset:
                yield collate(sample)
            return
        chunk: list[Any] = []
        for sample in self.dataset:
            chunk.append(sample)
            if len(chunk) == self.batch_size:
                yield collate(chunk)
                chunk = []
        if chunk and not self.drop_last:
            yield collate(chunk)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"batches={len(self) if hasattr(self.dataset, '__len__') else '?'})")
