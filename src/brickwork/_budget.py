"""A thread-local allocation budget for rebuilding a model from a file.

``bw.load_model`` calls constructors with arguments read from an untrusted
file. Inside :func:`allocation_budget`, every size-taking creation function
(``zeros``, ``empty``, ``randn``, ...) charges the elements it is about to
allocate, and one that would exceed the budget raises
:class:`AllocationBudgetError` *before* allocating, so a 300-byte file
cannot make ``nn.Linear(50000, 50000)`` take 9 GiB before its shapes are
checked against the file's tensors. Outside the context nothing is counted.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

__all__ = ["AllocationBudgetError", "allocation_budget", "charge"]

_local = threading.local()


class AllocationBudgetError(MemoryError):
    """A creation function asked for more elements than the current budget has left."""

    def __init__(self, op: str, shape: tuple[int, ...], left: int) -> None:
        self.op, self.shape, self.left = op, shape, left
        super().__init__(f"{op}{shape} asks for {math.prod(shape)} elements, {left} are left in the "
                         "allocation budget")


@contextlib.contextmanager
def allocation_budget(elements: int) -> Iterator[None]:
    """Allow at most ``elements`` elements through the creation functions in this thread, inside."""
    previous = getattr(_local, "left", None)
    _local.left = elements
    try:
        yield
    finally:
        _local.left = previous


def charge(shape: tuple[int, ...], op: str) -> None:
    """Count an allocation of ``shape`` against the budget (if one is active); raise past it."""
    left = getattr(_local, "left", None)
    if left is None:
        return
    n = math.prod(shape)
    if n > left:
        raise AllocationBudgetError(op, shape, left)
    _local.left = left - n
