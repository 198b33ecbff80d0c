"""``torch.backends`` in drop-in mode: cudnn flags (recorded, brickwork has no cuDNN) and mps."""

from __future__ import annotations

from brickwork.torch.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
