"""``torch.backends.mps``: Apple's Metal backend, which brickwork does not have."""

from __future__ import annotations


def is_available() -> bool:
    """False: brickwork runs on NumPy (CPU) and CuPy (NVIDIA GPUs) only."""
    return False


def is_built() -> bool:
    """False: brickwork has no Metal backend."""
    return False
