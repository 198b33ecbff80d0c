"""Differentiable collectives (``torch.distributed.nn``): see ``functional``."""

from __future__ import annotations

from brickwork.distributed.nn import functional

__all__ = ["functional"]
