"""Datasets in torchvision's on-disk layouts: MNIST, FashionMNIST, CIFAR10, ImageFolder."""

from __future__ import annotations

from brickwork.vision.datasets._download import DatasetNotFoundError
from brickwork.vision.datasets._pickle_subset import UnsafePickleError
from brickwork.vision.datasets.cifar import CIFAR10
from brickwork.vision.datasets.folder import DatasetFolder, ImageFolder
from brickwork.vision.datasets.mnist import MNIST, FashionMNIST
from brickwork.vision.datasets.vision import VisionDataset

__all__ = [
    "CIFAR10",
    "DatasetFolder",
    "DatasetNotFoundError",
    "FashionMNIST",
    "ImageFolder",
    "MNIST",
    "UnsafePickleError",
    "VisionDataset",
]
