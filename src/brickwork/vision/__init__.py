"""``brickwork.vision``: a torchvision-compatible subset (datasets, transforms, utils).

Pillow is optional (the ``brickwork[vision]`` extra): it decodes image files and runs the
PIL side of the transforms. Without it, MNIST and CIFAR items are NumPy ``(H, W[, C])``
uint8 arrays (``ToTensor`` takes them) instead of PIL images.
"""

from __future__ import annotations

from brickwork.vision import datasets, transforms, utils

__version__ = "0.28.0+brickwork"

__all__ = ["datasets", "transforms", "utils"]
