"""Datasets: the map-style protocol, in-memory tensors, subsets, concatenation, splits.

A map-style dataset has ``__len__`` and ``__getitem__(i)`` (one sample). It
may also have ``__getbatch__(indices)``, brickwork's vectorised protocol: given
a 1-d int64 NumPy array of indices, return the whole batch at once, already
collated, i.e. exactly what ``default_collate([self[i] for i in indices])``
would return (a tuple sample becomes a list of batched tensors). Array-backed
datasets implement it with one fancy-index per array, so the DataLoader does
no per-sample Python work. (PyTorch's ``__getitems__(indices) -> list of
samples`` is also honoured, followed by the ``collate_fn``.)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from brickwork.autograd import _wrap
from brickwork.random import Generator, rng_for
from brickwork.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets: implement ``__getitem__`` and ``__len__``.

    >>> import brickwork as bw
    >>> class Squares(bw.data.Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return i, i * i
    >>> next(iter(bw.data.DataLoader(Squares(), batch_size=4)))
    [tensor([0, 1, 2, 3]), tensor([0, 1, 4, 9])]
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: implement ``__iter__`` (the DataLoader batches what it yields)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, don't index it")


def _index_array(indices: Any) -> np.ndarray:
    arr = np.asarray(indices)
    if arr.dtype.kind not in "iu":
        if arr.size == 0:
            return arr.astype(np.int64)
        raise TypeError(f"dataset indices must be integers, got an array of {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _take(t: Tensor, index: np.ndarray) -> Tensor:
    """Rows ``index`` of ``t`` with one fancy-index (no graph: datasets hold data, not parameters)."""
    idx = index if t._device.type == "cpu" else t._device.xp.asarray(index)
    if t.requires_grad:
        from brickwork.ops.shape import index_select

        return index_select(t, 0, _wrap(idx, t._device))
    return _wrap(t._data[idx], t._device)


class TensorDataset(Dataset):
    """Samples are the rows of equally long tensors: ``dataset[i] == (t[i] for t in tensors)``.

    >>> import brickwork as bw
    >>> ds = bw.data.TensorDataset(bw.arange(6.0).reshape(3, 2), bw.tensor([0, 1, 0]))
    >>> ds[1]
    (tensor([2., 3.]), tensor(1))
    >>> ds.__getbatch__([2, 0])
    [tensor([[4., 5.],
            [0., 1.]]), tensor([0, 0])]
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a Tensor")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d; it needs a first (sample) dimension")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if t.shape[0] != n:
                raise ValueError(
                    f"TensorDataset: size mismatch between tensors: argument 0 has {n} rows but "
                    f"argument {i} has {t.shape[0]}"
                )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getbatch__(self, indices: Any) -> list[Tensor]:
        index = _index_array(indices)
        return [_take(t, index) for t in self.tensors]

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._array: np.ndarray | None = None

    def __getitem__(self, idx: int | list[int]) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[int(self.indices[idx])]

    def __getbatch__(self, indices: Any) -> Any:
        if self._array is None or len(self._array) != len(self.indices):
            self._array = _index_array(self.indices)
        mapped = self._array[_index_array(indices)]
        return _fetch_batch(self.dataset, mapped)

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other (``ds1 + ds2``)."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]

    def __getbatch__(self, indices: Any) -> Any:
        index = _index_array(indices)
        index = np.where(index < 0, index + len(self), index)
        which = np.searchsorted(np.asarray(self.cumulative_sizes), index, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        parts, positions = [], []
        for d in np.unique(which):
            mask = which == d
            parts.append(_fetch_batch(self.datasets[d], index[mask] - starts[d]))
            positions.append(np.nonzero(mask)[0])
        if len(parts) == 1:
            return parts[0]
        order = np.argsort(np.concatenate(positions), kind="stable")
        return _reorder(_concat_batches(parts), order)


def _fetch_batch(dataset: Any, index: np.ndarray) -> Any:
    """The collated batch of ``dataset`` at ``index``: vectorised when the dataset can."""
    getbatch = getattr(dataset, "__getbatch__", None)
    if getbatch is not None:
        return getbatch(index)
    from brickwork.data.dataloader import default_collate

    return default_collate([dataset[int(i)] for i in index])


def _concat_batches(parts: list[Any]) -> Any:
    first = parts[0]
    if isinstance(first, Tensor):
        from brickwork.ops.shape import cat

        return cat(parts)
    if isinstance(first, Mapping):
        return {k: _concat_batches([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)) and first and not isinstance(first[0], (str, bytes)):
        merged = [_concat_batches(list(group)) for group in zip(*parts)]
        return type(first)(merged) if isinstance(first, tuple) else merged
    return [x for p in parts for x in p]


def _reorder(batch: Any, order: np.ndarray) -> Any:
    if isinstance(batch, Tensor):
        return _take(batch, order)
    if isinstance(batch, Mapping):
        return {k: _reorder(v, order) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], (Tensor, Mapping, list, tuple)):
        items = [_reorder(v, order) for v in batch]
        return type(batch)(items) if isinstance(batch, tuple) else items
    return [batch[i] for i in order]


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths (or fractions).

    Fractions summing to 1 are turned into lengths as PyTorch does (floors,
    then the remainder spread one by one from the first subset). The order
    comes from ``generator`` or brickwork's default generator, so
    ``bw.manual_seed`` makes it reproducible.

    >>> import brickwork as bw
    >>> train, val = bw.data.random_split(range(10), [0.8, 0.2], generator=bw.Generator().manual_seed(0))
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)  # type: ignore[arg-type]
    lengths = list(lengths)
    total = sum(lengths)
    if lengths and math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: {frac}")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            f"random_split: the lengths sum to {sum(lengths)} but the dataset has {n} samples"
        )
    from brickwork import _backend

    perm = rng_for(_backend.CPU, generator).permutation(n)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + int(length)].tolist()))
        offset += int(length)
    return out
