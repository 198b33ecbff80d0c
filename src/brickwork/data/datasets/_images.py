"""What the bundled and downloaded image datasets share: items, vectorised batches, transforms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.data.dataset import Dataset, _index_array
from brickwork.tensor import Tensor


class ImageClassification(Dataset):
    """An in-memory image classification set; subclasses fill ``_images`` and ``_labels``.

    ``_float_images(index)`` turns the stored pixels of the rows ``index`` into a float32
    ``(B, 1, H, W)`` array in [0, 1]; items are ``(image, label)`` and ``__getbatch__`` builds a
    whole batch with one fancy-index (unless a transform asks for per-item calls).
    """

    transform: Callable[[Tensor], Any] | None
    target_transform: Callable[[int], Any] | None
    _images: np.ndarray
    _labels: np.ndarray

    def _float_images(self, index: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image: Any = _wrap(self._float_images(np.asarray([index]))[0], _backend.CPU)
        label: Any = int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __getbatch__(self, indices: Any) -> list[Any]:
        index = _index_array(indices)
        if self.transform is not None or self.target_transform is not None:
            from brickwork.data.dataloader import default_collate

            return default_collate([self[int(i)] for i in index])
        return [_wrap(self._float_images(index), _backend.CPU),
                _wrap(self._labels[index], _backend.CPU)]
