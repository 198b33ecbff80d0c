"""Samplers: the order in which a DataLoader visits a dataset's indices.

A sampler is an iterable of indices with a length. The built-in ones can also
give a whole epoch's order at once, as one NumPy array (``index_array()``), so
that :class:`BatchSampler` slices batches out of it without per-sample Python
work. A custom sampler (e.g. a distributed one) only needs ``__iter__`` and
``__len__``; pass it as ``DataLoader(sampler=...)`` or wrap it in a
``BatchSampler`` and pass ``batch_sampler=...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized

import numpy as np

from brickwork import _backend
from brickwork.random import Generator, rng_for

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: an iterable of dataset indices (``__iter__``, ideally ``__len__``)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def index_array(self) -> np.ndarray:
        """One epoch's indices as an int64 array (the default collects ``__iter__``)."""
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order: a permutation, or ``num_samples`` draws with ``replacement``.

    Draws come from ``generator`` or brickwork's default CPU generator, so
    ``bw.manual_seed`` makes the order reproducible; each epoch (each
    ``iter``) gives a new order.

    >>> import brickwork as bw
    >>> g = bw.Generator().manual_seed(0)
    >>> sorted(RandomSampler(range(5), generator=g))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or self.num_samples < 0 or \
                isinstance(self.num_samples, bool):
            raise ValueError(
                f"RandomSampler: num_samples should be a non-negative integer, got {self.num_samples!r}"
            )

    @property
    def num_samples(self) -> int:
        """Indices drawn per epoch: ``num_samples`` if given, else the dataset's length."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def index_array(self) -> np.ndarray:
        n = len(self.data_source)
        rng = rng_for(_backend.CPU, self.generator)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        full, rest = divmod(self.num_samples, n) if n else (0, 0)
        parts = [rng.permutation(n) for _ in range(full)]
        if rest:
            parts.append(rng.permutation(n)[:rest])
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (new each epoch)."""

    def __init__(self, indices: Iterable[int], generator: Generator | None = None) -> None:
        self.indices = np.asarray(list(indices), dtype=np.int64)
        self.generator = generator

    def index_array(self) -> np.ndarray:
        return self.indices[rng_for(_backend.CPU, self.generator).permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size``.

    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays, sliced from one epoch's order (what the DataLoader uses)."""
        if isinstance(self.sampler, Sampler):
            order = self.sampler.index_array()
        else:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        n, size = len(order), self.batch_size
        stop = n - n % size if self.drop_last else n
        for start in range(0, stop, size):
            yield order[start:start + size]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.index_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
