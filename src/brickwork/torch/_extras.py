"""Root ``torch`` names that only drop-in mode serves (brickwork itself has no such name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["compile"]


def compile(model: Any = None, **options: Any) -> Any:  # noqa: A001 - torch's name
    """``torch.compile``: a documented pass-through; returns ``model`` unchanged (no compilation).

    Used as ``torch.compile(model)`` or as a decorator ``@torch.compile(mode=...)``.
    """
    if model is None:
        def decorate(fn: Callable[..., Any]) -> Any:
            return fn
        return decorate
    return model
