"""MNIST and Fashion-MNIST in torchvision's layout: the IDX files in ``root/<Name>/raw``.

The four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``) are read extracted or still gzipped
(``.gz``), with brickwork's IDX reader. ``download=True`` fetches the missing ``.gz`` files
from the mirrors, checks their MD5 and extracts them next to themselves, as torchvision does, so
either library can read what the other downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.data.datasets.mnist import read_idx
from brickwork.vision.datasets import _download
from brickwork.vision.datasets.vision import VisionDataset, array_image

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(VisionDataset):
    """The MNIST digits: items ``(image, target)``, the image a 28x28 PIL ``L`` image, the target an int.

    ``data`` is a uint8 tensor ``(N, 28, 28)`` and ``targets`` an int64 tensor, as in torchvision.
    Without Pillow the image is a uint8 NumPy ``(28, 28)`` array (``ToTensor`` takes both).
    """

    mirrors: ClassVar[list[str]] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes: ClassVar[list[str]] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        missing = self._missing()
        if missing:
            raise _download.DatasetNotFoundError(
                f"{type(self).__name__}: dataset not found: {len(missing)} of {len(self.resources)} "
                f"files missing "
                f"in {self.raw_folder}. Pass download=True, or put these files there "
                "(gzipped or extracted):\n" + self._manual_help(missing)
            )
        prefix = "train" if train else "t10k"
        images = read_idx(self._path(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._path(f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"{type(self).__name__}: {self.raw_folder}: expected uint8 images (N, H, W) and N "
                f"labels, found "
                f"images {images.shape} of {images.dtype} and labels {labels.shape}"
            )
        self.data = _wrap(images, _backend.CPU)
        self.targets = _wrap(labels.astype(np.int64), _backend.CPU)

    @property
    def raw_folder(self) -> Path:
        """``root/<ClassName>/raw``, where the files are read from and downloaded to."""
        return self.root / type(self).__name__ / "raw"

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> index."""
        return {name: i for i, name in enumerate(self.classes)}

    def _path(self, stem: str) -> Path:
        plain = self.raw_folder / stem
        return plain if plain.is_file() else self.raw_folder / f"{stem}.gz"

    def _missing(self) -> list[tuple[str, str]]:
        return [
            (name, md5) for name, md5 in self.resources if not self._path(name.removesuffix(".gz")).is_file()
        ]

    def _manual_help(self, files: list[tuple[str, str]]) -> str:
        return "\n".join(
            f"  {self.raw_folder / name}  (MD5 {md5}; from {self.mirrors[0]}{name})" for name, md5 in files
        )

    def download(self) -> None:
        """Fetch the missing files from the mirrors (MD5 checked), then extract them next to the ``.gz``."""
        for name, md5 in self._missing():
            gz = self.raw_folder / name
            if not _download.check_integrity(gz, md5):
                _download.fetch_from_mirrors(
                    type(self).__name__,
                    [m + name for m in self.mirrors],
                    self.raw_folder,
                    name,
                    md5,
                    self._manual_help([(name, md5)]),
                )
            _download.extract_gzip(gz, self.raw_folder / name.removesuffix(".gz"))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: a PIL ``L`` image (or uint8 array without Pillow) and an int."""
        return self._item(array_image(self.data._data[index]), int(self.targets._data[index]))

    def extra_repr(self) -> str:
        """The split."""
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format, ten kinds of clothing; in ``root/FashionMNIST/raw``."""

    mirrors: ClassVar[list[str]] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes: ClassVar[list[str]] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
