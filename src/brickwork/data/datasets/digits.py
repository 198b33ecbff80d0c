"""The UCI handwritten digits (8x8), bundled with brickwork: works offline.

Source: E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository, 1998, https://doi.org/10.24432/C50P49,
licensed CC BY 4.0 -- the 1,797-image copy that scikit-learn ships
(``sklearn/datasets/data/digits.csv.gz``). See ``../_bundled/DIGITS-LICENSE.txt``.

The bundled file ``digits.npz`` (``np.savez_compressed``, read with
``allow_pickle=False``) holds the pixels as uint8 counts 0..16 and a fixed
stratified split: for each class, a permutation drawn once with
``numpy.random.default_rng(0)`` puts 30 images in the test set, so the test
set has 300 images (30 per digit) and the training set the other 1,497. The
indices into the original file's order are stored next to the images
(``train_index``, ``test_index``), so the split never depends on a random
generator at load time. :func:`build_bundle` re-creates the file.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.data.datasets._images import ImageClassification
from brickwork.tensor import Tensor

__all__ = ["Digits"]

_BUNDLE = "digits.npz"
TEST_PER_CLASS = 30


def _load_bundle() -> dict[str, np.ndarray]:
    path = resources.files("brickwork.data").joinpath("_bundled", _BUNDLE)
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


class Digits(ImageClassification):
    """The bundled UCI digits: items are ``(image, label)``.

    ``image`` is a float32 tensor of shape ``(1, 8, 8)`` scaled to [0, 1]
    (pixel counts / 16), ``label`` an int 0..9. ``train=True`` gives the
    1,497 training images, ``train=False`` the 300 test images (fixed split,
    see the module docstring). ``data`` (uint8 counts, ``(N, 8, 8)``) and
    ``targets`` (int64) hold the whole split as tensors. Batches are
    vectorised (``__getbatch__``) unless a transform is given.

    >>> import brickwork as bw
    >>> train, test = bw.data.datasets.Digits(), bw.data.datasets.Digits(train=False)
    >>> len(train), len(test)
    (1497, 300)
    >>> image, label = train[0]
    >>> image.shape, image.dtype, type(label).__name__
    (brickwork.Size([1, 8, 8]), brickwork.float32, 'int')
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, transform: Callable[[Tensor], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None) -> None:
        bundle = _load_bundle()
        split = "train" if train else "test"
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        counts = bundle[f"{split}_images"]
        labels = bundle[f"{split}_labels"].astype(np.int64)
        self._images = (counts.astype(np.float32) / np.float32(16.0))[:, None, :, :]
        self._labels = labels
        self.data = _wrap(counts, _backend.CPU)
        self.targets = _wrap(labels, _backend.CPU)

    def _float_images(self, index: np.ndarray) -> np.ndarray:
        return self._images[index]

    def __repr__(self) -> str:
        return f"Digits(split={'train' if self.train else 'test'}, images={len(self)})"


def build_bundle(csv_gz: str, out: str) -> None:
    """Write ``digits.npz`` from scikit-learn's ``digits.csv.gz`` (64 pixels + label per row).

    Get the CSV with ``pip download scikit-learn --no-deps`` and unzip
    ``sklearn/datasets/data/digits.csv.gz`` from the wheel.
    """
    with gzip.open(csv_gz, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise ValueError(f"build_bundle: expected 1797 rows of 65 numbers, got {table.shape}")
    images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = table[:, 64].astype(np.uint8)
    rng = np.random.default_rng(0)
    test = np.sort(np.concatenate([
        rng.permutation(np.nonzero(labels == d)[0])[:TEST_PER_CLASS] for d in range(10)
    ]))
    train = np.setdiff1d(np.arange(len(labels)), test)
    np.savez_compressed(
        out,
        train_images=images[train], train_labels=labels[train], train_index=train.astype(np.int16),
        test_images=images[test], test_labels=labels[test], test_index=test.astype(np.int16),
    )
