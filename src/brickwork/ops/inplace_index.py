"""In-place indexed writes and shape changes: ``scatter_``, ``index_add_``, ``tril_``, ``triu_``,
``squeeze_``, ``unsqueeze_``; and ``index_add``, the out-of-place op behind ``index_add_``.

The writes are composites: the out-of-place op, then ``copy_`` (which rewrites the tensor's history
inside the graph). ``squeeze_``/``unsqueeze_`` change only the tensor's shape (its memory is shared),
and inside the graph its history continues through a reshape.
"""

from __future__ import annotations

from typing import Any

from brickwork import _backend
from brickwork.autograd import Function, _mode, _wrap
from brickwork.ops import inplace as ip
from brickwork.ops import shape as sh
from brickwork.ops._util import along_axis_index, norm_dim
from brickwork.tensor import Tensor

__all__ = ["index_add", "index_add_", "scatter_", "tril_", "triu_", "squeeze_", "unsqueeze_"]


class IndexAdd(Function):
    """``input`` with ``alpha * source`` added at ``index`` along ``axis`` (repeats accumulate)."""

    def forward(self, x: Any, index: Any, source: Any, axis: int, alpha: Any) -> Any:
        self.index, self.axis, self.alpha = index, axis, alpha
        out = x.copy()
        full = [slice(None)] * x.ndim
        full[axis] = index
        _backend.scatter_add(out, tuple(full), source * alpha if alpha != 1 else source)
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_x, _, need_src = self.needs_input_grad
        gsrc = None
        if need_src:
            gsrc = self.xp.take(g, self.index, axis=self.axis)
            if self.alpha != 1:
                gsrc = gsrc * self.alpha
        return (g if need_x else None, None, gsrc)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``input`` plus ``alpha * source`` added into the slices ``index`` along ``dim``.

    >>> import brickwork as bw
    >>> bw.zeros(3).index_add(0, bw.tensor([0, 2, 0]), bw.tensor([1.0, 2.0, 3.0]))
    tensor([4., 0., 2.])
    """
    ndim = input._data.ndim
    axis = norm_dim(dim, ndim, "index_add")
    idx = sh._index_array(index, input, "index_add").reshape(-1)
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add: source must be a tensor, got {type(source).__name__}")
    if ndim == 0:
        return sh.reshape(index_add(sh.reshape(input, 1), 0, index, sh.reshape(source, 1), alpha=alpha), ())
    expected = input._data.shape[:axis] + (idx.size,) + input._data.shape[axis + 1:]
    if tuple(source._data.shape) != expected:
        raise RuntimeError(f"index_add: source of shape {tuple(source._data.shape)} does not match the "
                           f"expected shape {expected} (input {tuple(input._data.shape)}, dim {dim}, "
                           f"{idx.size} indices)")
    sh._check_range_on_gpu(idx, input, axis, "index_add")
    if source._data.dtype != input._data.dtype:
        source = source.to(input.dtype)
    return IndexAdd.apply(input, _wrap(idx, input._device), source, axis=axis, alpha=alpha)


def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """In-place :func:`index_add`."""
    return ip.copy_(self, index_add(self, dim, index, source, alpha=alpha))


class ScatterMultiply(Function):
    """``input`` with the entries at ``index`` along ``axis`` multiplied by ``src`` (repeats multiply
    in turn). No gradient, as in PyTorch ("derivative for scatter_ is not implemented")."""

    differentiable = False

    def forward(self, x: Any, index: Any, src: Any, axis: int) -> Any:
        xp = self.xp
        out = xp.array(x, copy=True, order="C")
        if not index.size:
            return out
        part = src[tuple(slice(0, s) for s in index.shape)] if getattr(src, "ndim", 0) else src
        full = xp.broadcast_arrays(*along_axis_index(xp, index, axis))
        linear = xp.ravel_multi_index(tuple(f.reshape(-1) for f in full), out.shape)
        values = xp.broadcast_to(xp.asarray(part, dtype=out.dtype), index.shape).reshape(-1)
        flat = out.reshape(-1)
        while linear.size:  # one pass per repeat of the most repeated position
            unique, first = xp.unique(linear, return_index=True)
            flat[unique] *= values[first]
            rest = xp.ones(linear.size, dtype=bool)
            rest[first] = False
            linear, values = linear[rest], values[rest]
        return out


def scatter_(self: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None, *,
             reduce: str | None = None) -> Tensor:
    """Write ``src`` (a tensor or a number) into this tensor at ``index`` along ``dim``; with
    ``reduce='add'`` or ``'multiply'`` combine instead of overwrite.

    >>> import brickwork as bw
    >>> bw.zeros(2, 3).scatter_(1, bw.tensor([[2], [0]]), 5.0)
    tensor([[0., 0., 5.],
            [5., 0., 0.]])
    """
    if (src is None) == (value is None):
        raise TypeError("scatter_: give exactly one of src (a tensor or number) and value")
    source = value if src is None else src
    if reduce is None:
        return ip.copy_(self, sh.scatter(self, dim, index, source))
    if reduce not in ("add", "multiply"):
        raise RuntimeError(f"scatter_: reduce must be 'add' or 'multiply', got {reduce!r}")
    idx = sh._index_array(index, self, "scatter_")
    if not isinstance(source, Tensor):
        source = _wrap(self._device.xp.full(idx.shape, source, dtype=self._data.dtype), self._device)
    if reduce == "add":
        return ip.copy_(self, sh.scatter_add(self, dim, _wrap(idx, self._device), source.to(self.dtype)))
    if _mode.enabled and (self.requires_grad or source.requires_grad):
        raise RuntimeError("scatter_: reduce='multiply' has no gradient (as in PyTorch); "
                           "run it under bw.no_grad() or use an out-of-place product")
    axis = norm_dim(dim, self._data.ndim, "scatter_")
    sh._check_range_on_gpu(idx, self, axis, "scatter_")
    self._inplace_from(ScatterMultiply, _wrap(idx, self._device), source, axis=axis)
    return self


def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place :func:`brickwork.tril`: zero the entries above the ``diagonal``-th diagonal."""
    return self._inplace_from(sh.Tri, k=diagonal, upper=False)


def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place :func:`brickwork.triu`: zero the entries below the ``diagonal``-th diagonal."""
    return self._inplace_from(sh.Tri, k=diagonal, upper=True)


def _reshape_(self: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    """Give this tensor a new shape over the same memory (only size-1 dims are added or removed)."""
    graph = _mode.enabled and self.requires_grad
    self._check_inplace(graph, op)
    if not graph:
        self._data = self._data.reshape(shape)
        return self
    before = _wrap(self._data, self._device)
    before.requires_grad = True
    before._grad_fn = self._grad_fn
    after = sh.reshape(before, shape)
    self._data = after._data
    self._grad_fn = after._grad_fn
    return self


def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    """In-place :func:`brickwork.squeeze` (the tensor's shape changes; its memory is shared)."""
    return _reshape_(self, tuple(sh.squeeze(self.detach(), dim)._data.shape), "squeeze_")


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """In-place :func:`brickwork.unsqueeze` (the tensor's shape changes; its memory is shared)."""
    return _reshape_(self, tuple(sh.unsqueeze(self.detach(), dim)._data.shape), "unsqueeze_")
