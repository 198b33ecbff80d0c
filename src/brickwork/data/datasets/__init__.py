"""Datasets: the bundled UCI digits, and MNIST / Fashion-MNIST read from IDX files."""

from __future__ import annotations

from brickwork.data.datasets.digits import Digits
from brickwork.data.datasets.mnist import MNIST, FashionMNIST, read_idx

__all__ = ["Digits", "MNIST", "FashionMNIST", "read_idx"]
