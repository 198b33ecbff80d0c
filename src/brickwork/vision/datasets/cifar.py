"""CIFAR-10 from the files torchvision downloads: ``root/cifar-10-batches-py/{data_batch_1..5, test_batch,
batches.meta}``, read without unpickling.

Those files are Python pickles. brickwork reads them with a data-only subset of the pickle
protocol (``_pickle_subset``) that builds plain values and NumPy arrays and refuses every other
opcode and global, so a hostile file raises an error instead of running code. (The binary
release, ``cifar-10-batches-bin``, would avoid pickles altogether, but then files that
torchvision downloaded would not be found.) Every file's MD5 is checked, as torchvision does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from brickwork.vision.datasets import _download
from brickwork.vision.datasets._pickle_subset import load_data_pickle
from brickwork.vision.datasets.vision import VisionDataset, array_image

__all__ = ["CIFAR10"]


class CIFAR10(VisionDataset):
    """CIFAR-10: 32x32 colour images of 10 classes; items ``(PIL RGB image, int)``.

    ``data`` is the uint8 NumPy array ``(N, 32, 32, 3)`` and ``targets`` a list of ints, as in
    torchvision. Without Pillow the image is the uint8 ``(32, 32, 3)`` array.
    """

    base_folder: ClassVar[str] = "cifar-10-batches-py"
    url: ClassVar[str] = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename: ClassVar[str] = "cifar-10-python.tar.gz"
    tgz_md5: ClassVar[str] = "c58f30108f718f92721af3b95e74349a"
    train_list: ClassVar[list[tuple[str, str]]] = [
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ]
    test_list: ClassVar[list[tuple[str, str]]] = [("test_batch", "40351d587109b95175f43aff81a1287e")]
    meta: ClassVar[dict[str, str]] = {
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "5ff9c542aee3614f3951f8cda6e48888",
    }

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
        bad = self._bad_files()
        if bad:
            folder = self.root / self.base_folder
            lines = "\n".join(
                f"  {folder / name}  ({problem}; MD5 should be {md5})" for name, md5, problem in bad
            )
            raise _download.DatasetNotFoundError(
                f"{type(self).__name__}: dataset not found or corrupted in {folder}:\n{lines}\n"
                f"Pass download=True, "
                f"or download {self.url} (MD5 {self.tgz_md5}) and extract it in {self.root}"
            )
        images, self.targets = [], []
        for name, _ in self.train_list if train else self.test_list:
            entry = self._load(name)
            images.append(np.asarray(entry["data"], dtype=np.uint8))
            labels = entry["labels"] if "labels" in entry else entry["fine_labels"]
            self.targets.extend(int(label) for label in labels)
        data = np.vstack(images).reshape(-1, 3, 32, 32)
        self.data = np.ascontiguousarray(data.transpose(0, 2, 3, 1))  # HWC, as PIL wants it
        if len(self.targets) != len(self.data):
            raise ValueError(f"{type(self).__name__}: {len(self.data)} images but {len(self.targets)} labels")
        self.classes = [str(name) for name in self._load(self.meta["filename"])[self.meta["key"]]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def _load(self, name: str) -> dict[str, Any]:
        path = self.root / self.base_folder / name
        entry = load_data_pickle(path.read_bytes(), where=str(path))
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: expected a dict, found {type(entry).__name__}")
        return {(k.decode("latin-1") if isinstance(k, bytes) else k): v for k, v in entry.items()}

    def _bad_files(self) -> list[tuple[str, str, str]]:
        bad = []
        folder = self.root / self.base_folder
        for name, md5 in [*self.train_list, *self.test_list, (self.meta["filename"], self.meta["md5"])]:
            path = folder / name
            if not path.is_file():
                bad.append((name, md5, "missing"))
            elif _download.md5_of(path) != md5:
                bad.append((name, md5, "wrong MD5"))
        return bad

    def download(self) -> None:
        """Fetch and extract the archive unless every file is present with the right MD5."""
        if not self._bad_files():
            return
        archive = self.root / self.filename
        if not _download.check_integrity(archive, self.tgz_md5):
            help_text = f"  {archive}  (MD5 {self.tgz_md5}; from {self.url}), then extract it in {self.root}"
            _download.fetch_from_mirrors(
                type(self).__name__, [self.url], self.root, self.filename, self.tgz_md5, help_text
            )
        _download.extract_tar(archive, self.root, self.base_folder)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: a PIL RGB image (or uint8 array without Pillow) and an int."""
        return self._item(array_image(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        """The split."""
        return f"Split: {'Train' if self.train else 'Test'}"
