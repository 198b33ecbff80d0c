"""What the vision datasets share: root, transforms, torchvision's repr, items as PIL images."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from brickwork.data.dataset import Dataset
from brickwork.vision import _pil


class VisionDataset(Dataset):
    """Base class: ``root`` plus the ``transform`` (image) and ``target_transform`` (label) callables."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _item(self, image: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def extra_repr(self) -> str:
        """Lines added to the repr by subclasses."""
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        for name, value in (("Transforms", self.transform), ("Target transforms", self.target_transform)):
            if value is not None:
                lines.append(f"{name}: " + repr(value).replace("\n", "\n    "))
        return "\n".join([f"Dataset {type(self).__name__}"] + ["    " + line for line in lines])


def array_image(pixels: np.ndarray) -> Any:
    """``(H, W)`` or ``(H, W, 3)`` uint8 pixels as a PIL image, or as a NumPy copy without Pillow."""
    if _pil.available():
        return _pil.image_module("array_image").fromarray(np.ascontiguousarray(pixels))
    return np.array(pixels, copy=True)
