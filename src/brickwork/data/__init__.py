"""Data loading (``torch.utils.data``): datasets, samplers, the DataLoader, bundled datasets.

Array-backed datasets batch with one fancy-index per batch through the
``__getbatch__(indices)`` protocol; see ``dataset.py`` and ``dataloader.py``.
"""

from __future__ import annotations

from brickwork.data import datasets
from brickwork.data.dataloader import DataLoader, default_collate, default_convert
from brickwork.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from brickwork.data.distributed import DistributedSampler as DistributedSampler  # issue 8
from brickwork.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
)

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
    "DataLoader", "default_collate", "default_convert", "Sampler", "SequentialSampler",
    "RandomSampler", "SubsetRandomSampler", "BatchSampler", "datasets",
]
