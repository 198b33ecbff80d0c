"""``brickwork.linalg``: PyTorch's ``torch.linalg`` (batched, float32/float64, with gradients).

>>> import brickwork as bw
>>> a = bw.tensor([[4.0, 1.0], [1.0, 3.0]])
>>> bw.linalg.solve(a, bw.tensor([1.0, 2.0]))
tensor([0.0909, 0.6364])
"""

from __future__ import annotations

from brickwork.ops.decompositions import (
    cholesky,
    cross,
    det,
    eigh,
    eigvalsh,
    inv,
    matrix_norm,
    matrix_power,
    norm,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    vector_norm,
)
from brickwork.ops.linalg import matmul
from brickwork.ops.matrix import diagonal as _diagonal
from brickwork.tensor import Tensor


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """``linalg.diagonal``: the diagonals of the last two dims (``Tensor.diagonal`` defaults to 0, 1)."""
    return _diagonal(A, offset, dim1, dim2)

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
           "matrix_power", "norm", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm"]
