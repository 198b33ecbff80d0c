"""``torch.backends.cudnn``: the flags code sets; brickwork records them (it does not use cuDNN)."""

from __future__ import annotations

benchmark: bool = False
deterministic: bool = False
enabled: bool = True
allow_tf32: bool = True


def is_available() -> bool:
    """False: brickwork does not call cuDNN (its GPU kernels are CuPy's)."""
    return False


def version() -> None:
    """None: no cuDNN is in use."""
    return None
