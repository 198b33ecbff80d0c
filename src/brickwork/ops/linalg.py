"""Matrix products: matmul (with batch broadcasting), mm, bmm, dot, outer, einsum."""

from __future__ import annotations

from typing import Any

from brickwork.autograd import Function
from brickwork.ops import _onednn
from brickwork.ops._util import promote, sum_to
from brickwork.tensor import Tensor


class Matmul(Function):
    """``a @ b`` for inputs of 2+ dimensions (1-D inputs are lifted by :func:`matmul`)."""

    saved_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return _onednn.mm(a, b) if a.ndim == 2 == b.ndim else _onednn.bmm(a, b)

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        ga = gb = None
        if need_a:
            ga = (_onednn.mm(g, b.T) if g.ndim == 2 == b.ndim
                  else sum_to(_onednn.bmm(g, b.swapaxes(-1, -2)), a.shape))
        if need_b:
            if b.ndim == 2 and a.ndim > 2:
                # one large GEMM over the flattened batch instead of a batch of small ones
                gb = _onednn.mm(a.reshape(-1, a.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            elif a.ndim == 2 == g.ndim:
                gb = _onednn.mm(a.T, g)
            else:
                gb = sum_to(_onednn.bmm(a.swapaxes(-1, -2), g), b.shape)
        return (ga, gb)


def _check_matmul(a: Tensor, b: Tensor, op: str) -> None:
    sa, sb = a._data.shape, b._data.shape
    if len(sa) == 0 or len(sb) == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got shapes {sa} and {sb}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise RuntimeError(
            f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
            f"({k_a} columns in the first vs {k_b} rows in the second)"
        )
    if len(sa) > 2 or len(sb) > 2:
        import numpy as np

        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise RuntimeError(
                f"{op}: batch dimensions of shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast"
            ) from None


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics for 1-D and batched inputs.

    >>> import brickwork as bw
    >>> bw.matmul(bw.ones(2, 3), bw.ones(3))
    tensor([3., 3.])
    >>> (bw.ones(5, 2, 3) @ bw.ones(3, 4)).shape  # the batch dimension broadcasts
    brickwork.Size([5, 2, 4])
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError("matmul: both arguments must be tensors")
    _check_matmul(input, other, "matmul")
    input, other = promote(input, other, "matmul")
    a1 = input._data.ndim == 1
    b1 = other._data.ndim == 1
    if not a1 and not b1:
        return Matmul.apply(input, other)
    a = input.unsqueeze(0) if a1 else input
    b = other.unsqueeze(-1) if b1 else other
    out = Matmul.apply(a, b)
    shape = out._data.shape
    if b1:
        shape = shape[:-1]
    if a1:
        shape = shape[:-2] + shape[-1:] if not b1 else shape[:-1]
    return out.reshape(shape)


def rmatmul(input: Tensor, other: Tensor) -> Tensor:
    """``other @ input`` (the reflected product behind ``a @ x`` when ``a`` is not a tensor)."""
    return matmul(other, input)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices (2-d tensors only; see :func:`matmul` for batches and vectors).

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> bw.mm(x, x)
    tensor([[ 7., 10.],
            [15., 22.]])
    """
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(
            f"mm: expects 2-D tensors, got shapes {tuple(input._data.shape)} and {tuple(mat2._data.shape)}"
        )
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` tensors (no broadcasting of the batch).

    >>> import brickwork as bw
    >>> bw.bmm(bw.ones(2, 1, 3), bw.ones(2, 3, 4)).shape
    brickwork.Size([2, 1, 4])
    """
    sa, sb = input._data.shape, mat2._data.shape
    if len(sa) != 3 or len(sb) != 3:
        raise RuntimeError(f"bmm: expects 3-D tensors, got shapes {tuple(sa)} and {tuple(sb)}")
    if sa[0] != sb[0]:
        raise RuntimeError(f"bmm: batch sizes differ: shapes {tuple(sa)} and {tuple(sb)}")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-d tensors of the same length, as a 0-d tensor.

    ``inner`` is the same op in brickwork and takes 1-d tensors only (PyTorch's ``inner`` also
    takes N-d tensors).

    >>> import brickwork as bw
    >>> bw.dot(bw.tensor([1.0, 2.0]), bw.tensor([3.0, 4.0]))
    tensor(11.)
    """
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"dot: expects 1-D tensors, got shapes {tuple(input._data.shape)} and {tuple(other._data.shape)}"
        )
    if input._data.shape != other._data.shape:
        raise RuntimeError(
            f"dot: inconsistent sizes {input._data.shape[0]} and {other._data.shape[0]}"
        )
    return matmul(input, other)


inner = dot


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-d tensors: ``out[i, j] = input[i] * vec2[j]`` (``ger`` is an alias).

    >>> import brickwork as bw
    >>> bw.outer(bw.tensor([1, 2]), bw.tensor([3, 4, 5]))
    tensor([[ 3,  4,  5],
            [ 6,  8, 10]])
    """
    if input._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError("outer: expects 1-D tensors")
    return matmul(input.unsqueeze(1), vec2.unsqueeze(0))


ger = outer


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Product of a matrix and a vector.

    >>> import brickwork as bw
    >>> bw.mv(bw.tensor([[1.0, 2.0], [3.0, 4.0]]), bw.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    return matmul(input, vec)


class Einsum(Function):
    """Einstein summation of any number of operands; each operand's gradient is an einsum of the
    incoming gradient with the other operands (so it is itself differentiable)."""

    def forward(self, *arrays: Any, equation: str) -> Any:
        self.arrays, self.equation = arrays, equation
        return self.xp.einsum(equation, *arrays, optimize=True)

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        lhs, out = self.equation.split("->")
        terms = lhs.split(",")
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(terms) if j != i]
            arrays = [a for j, a in enumerate(self.arrays) if j != i]
            target = terms[i]
            # letters summed away in input i alone (e.g. trace) come back by broadcasting
            present = set(out).union(*others) if others else set(out)
            kept = "".join(c for c in target if c in present)
            gi = xp.einsum(f"{out},{','.join(others)}->{kept}" if others else f"{out}->{kept}",
                           g, *arrays, optimize=True)
            if kept != target:
                gi = _restore(xp, gi, kept, target, self.arrays[i].shape)
            grads.append(gi)
        return tuple(grads)


def _restore(xp: Any, gi: Any, kept: str, target: str, shape: tuple[int, ...]) -> Any:
    """Broadcast a gradient back along letters that only input ``target`` had."""
    if len(set(target)) != len(target):
        raise NotImplementedError("einsum: gradients through repeated indices are not supported")
    src = gi.reshape([gi.shape[kept.index(c)] if c in kept else 1 for c in target])
    return xp.broadcast_to(src, shape).copy()


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation; the equation must name its output (``'ij,jk->ik'``).

    Ellipses (``'...'``) are not supported.

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> bw.einsum("ij,jk->ik", x, x)
    tensor([[ 7., 10.],
            [15., 22.]])
    >>> bw.einsum("ii->", x)
    tensor(5.)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    if "->" not in equation:
        raise ValueError("einsum: brickwork needs an explicit output ('...->...') in the equation")
    if "..." in equation:
        raise NotImplementedError("einsum: ellipsis ('...') is not supported")
    return _einsum_class(len(operands)).apply(*operands, equation=equation)


_EINSUM_CLASSES: dict[int, type[Function]] = {}


def _einsum_class(n: int) -> type[Function]:
    """:class:`Einsum` for ``n`` operands, all saved for backward (``saved_inputs`` is per class)."""
    cls = _EINSUM_CLASSES.get(n)
    if cls is None:
        cls = _EINSUM_CLASSES[n] = type("Einsum", (Einsum,), {"saved_inputs": tuple(range(n)),
                                                              "op_name": "einsum"})
    return cls
