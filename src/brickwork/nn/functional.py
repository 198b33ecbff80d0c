"""``brickwork.nn.functional``: the F.* functions (activations, conv, pooling, norms, losses)."""

from __future__ import annotations

from brickwork.ops.nn_ops import linear, log_softmax, softmax

__all__ = ["linear", "softmax", "log_softmax"]
