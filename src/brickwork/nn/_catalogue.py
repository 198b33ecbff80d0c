"""Re-exports of the layer catalogue (linear, conv, pooling, norm, ...)."""

from __future__ import annotations

__all__: list[str] = []
