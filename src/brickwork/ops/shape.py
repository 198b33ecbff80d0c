"""Shape and indexing ops: views (reshape, permute, expand, slicing), copies
(cat, gather, index_select, flip, roll, pad, repeat) and ``__setitem__``."""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _backend, dtypes
from brickwork._sync import sync_point
from brickwork.autograd import DeviceMismatchError, Function, _mode, _wrap
from brickwork.ops._util import along_axis_index as _along_axis_index
from brickwork.ops._util import norm_dim, numpy_names, promote, shape_args, sum_to
from brickwork.tensor import Tensor, _cast

# ---------------------------------------------------------------------------
# views


class Reshape(Function):
    is_view = True

    def forward(self, x: Any, shape: tuple[int, ...]) -> Any:
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g.reshape(self.in_shape),)


class Permute(Function):
    is_view = True

    def forward(self, x: Any, axes: tuple[int, ...]) -> Any:
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g.transpose(tuple(np.argsort(self.axes).tolist())),)  # plain ints for CuPy too


class Expand(Function):
    is_view = True

    def forward(self, x: Any, shape: tuple[int, ...]) -> Any:
        self.in_shape = x.shape
        return self.xp.broadcast_to(x, shape)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (sum_to(g, self.in_shape),)


class GetItem(Function):
    """Basic indexing (ints, slices, None, ...): a view of the input."""

    is_view = True

    def forward(self, x: Any, index: tuple) -> Any:
        if not any(i is Ellipsis for i in index):
            # with an Ellipsis, NumPy returns a 0-d view for x[0] on a vector (not a copied scalar),
            # so that x[0].add_(1) writes into x, as in PyTorch
            index = index + (Ellipsis,)
        self.index, self.shape, self.dtype = index, x.shape, x.dtype
        return x[index]

    def backward(self, g: Any) -> tuple[Any, ...]:
        out = self.xp.zeros(self.shape, dtype=g.dtype)
        out[self.index] = g
        return (out,)


class GatherIndex(Function):
    """Advanced indexing (integer arrays, bool masks): a copy; repeats accumulate in backward."""

    def forward(self, x: Any, index: Any) -> Any:
        self.index, self.shape = index, x.shape
        return x[index]

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        out = xp.zeros(self.shape, dtype=g.dtype)
        _add_at(xp, out, self.index, g)
        return (out,)


def _add_at(xp: Any, out: Any, index: Any, values: Any) -> None:
    _backend.scatter_add(out, index, values)


class SetItem(Function):
    """``x[index] = v`` as an op of the graph: the result is a new array."""

    def forward(self, x: Any, v: Any, index: Any) -> Any:
        self.index = index
        self.v_shape = getattr(v, "shape", ())
        out = x.copy()
        out[index] = v
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_x, need_v = self.needs_input_grad
        gx = gv = None
        if need_x:
            gx = g.copy()
            gx[self.index] = 0
        if need_v:
            gv = sum_to(g[self.index], self.v_shape)
        return (gx, gv)


# ---------------------------------------------------------------------------
# copies


class Cat(Function):
    def forward(self, *arrays: Any, axis: int) -> Any:
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g: Any) -> tuple[Any, ...]:
        grads = []
        start = 0
        index = [slice(None)] * g.ndim
        for size, need in zip(self.sizes, self.needs_input_grad):
            if need:
                index[self.axis] = slice(start, start + size)
                grads.append(g[tuple(index)])
            else:
                grads.append(None)
            start += size
        return tuple(grads)


class Flip(Function):
    def forward(self, x: Any, axes: tuple[int, ...]) -> Any:
        self.axes = axes
        return self.xp.flip(x, axes).copy()

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (self.xp.flip(g, self.axes),)


class Roll(Function):
    def forward(self, x: Any, shifts: Any, axes: Any) -> Any:
        self.shifts, self.axes = shifts, axes
        return self.xp.roll(x, shifts, axes)

    def backward(self, g: Any) -> tuple[Any, ...]:
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (self.xp.roll(g, neg, self.axes),)


class Repeat(Function):
    def forward(self, x: Any, reps: tuple[int, ...]) -> Any:
        self.orig_shape = x.shape
        self.in_shape = (1,) * (len(reps) - x.ndim) + x.shape
        self.reps = reps
        return self.xp.tile(x.reshape(self.in_shape), reps)

    def backward(self, g: Any) -> tuple[Any, ...]:
        split = []
        for r, s in zip(self.reps, self.in_shape):
            split += [r, s]
        g = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g.reshape(self.orig_shape),)


class TakeAlong(Function):
    """``gather``: values of ``x`` at ``index`` along ``axis``."""

    def forward(self, x: Any, index: Any, axis: int) -> Any:
        self.index, self.axis, self.shape = index, axis, x.shape
        return self.xp.take_along_axis(x, index, axis=axis)

    def backward(self, g: Any) -> tuple[Any, ...]:
        out = self.xp.zeros(self.shape, dtype=g.dtype)
        _add_at(self.xp, out, _along_axis_index(self.xp, self.index, self.axis), g)
        return (out, None)




class ScatterAdd(Function):
    """``input`` plus ``src`` added at ``index`` along ``axis``."""

    def forward(self, x: Any, index: Any, src: Any, axis: int) -> Any:
        self.index, self.axis = index, axis
        out = x.copy()
        full = _along_axis_index(self.xp, index, axis)
        src_part = src[tuple(slice(0, s) for s in index.shape)]
        _add_at(self.xp, out, full, src_part)
        self.src_shape = src.shape
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_x, _, need_src = self.needs_input_grad
        gsrc = None
        if need_src:
            gsrc = self.xp.zeros(self.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, s) for s in self.index.shape)] = self.xp.take_along_axis(
                g, self.index, axis=self.axis)
        return (g if need_x else None, None, gsrc)


class Scatter(Function):
    """``input`` with ``src`` written at ``index`` along ``axis`` (last write wins)."""

    def forward(self, x: Any, index: Any, src: Any, axis: int) -> Any:
        self.index, self.axis = index, axis
        out = x.copy()
        src_part = src[tuple(slice(0, s) for s in index.shape)] if getattr(src, "ndim", 0) else src
        out[_along_axis_index(self.xp, index, axis)] = src_part  # (put_along_axis: NumPy only)
        self.src_shape = getattr(src, "shape", ())
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_x, _, need_src = self.needs_input_grad
        gx = gsrc = None
        if need_x:
            gx = g.copy()
            gx[_along_axis_index(self.xp, self.index, self.axis)] = 0
        if need_src:
            gsrc = self.xp.zeros(self.src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, s) for s in self.index.shape)] = self.xp.take_along_axis(
                g, self.index, axis=self.axis)
        return (gx, None, gsrc)


class IndexSelect(Function):
    def forward(self, x: Any, index: Any, axis: int) -> Any:
        self.index, self.axis, self.shape = index, axis, x.shape
        return self.xp.take(x, index, axis=axis)

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        out = xp.zeros(self.shape, dtype=g.dtype)
        full = [slice(None)] * len(self.shape)
        full[self.axis] = self.index
        _add_at(xp, out, tuple(full), g)
        return (out, None)


class Tri(Function):
    def forward(self, x: Any, k: int, upper: bool) -> Any:
        self.k, self.upper = k, upper
        return self.xp.triu(x, k) if upper else self.xp.tril(x, k)

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (self.xp.triu(g, self.k) if self.upper else self.xp.tril(g, self.k),)


class Copy(Function):
    """An identity that copies: ``clone()`` and ``contiguous()``."""

    def forward(self, x: Any) -> Any:
        return self.xp.array(x, copy=True, order="C")

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g,)


class PadTake(Function):
    """Reflect / replicate / circular padding as an index gather along one axis."""

    def forward(self, x: Any, index: Any, axis: int) -> Any:
        self.index, self.axis, self.shape = index, axis, x.shape
        return self.xp.take(x, index, axis=axis)

    backward = IndexSelect.backward


class ConstantPad(Function):
    def forward(self, x: Any, widths: tuple[tuple[int, int], ...], value: Any) -> Any:
        # negative widths crop, as in PyTorch
        self.widths = widths
        grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
        out = self.xp.pad(x, grow, mode="constant", constant_values=value)
        self.crop = tuple(
            slice(-min(lo, 0), out.shape[i] + min(hi, 0)) for i, (lo, hi) in enumerate(widths)
        )
        return out[self.crop]

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        index = []
        for (lo, hi), n in zip(self.widths, g.shape):
            start = max(lo, 0)
            stop = n - max(hi, 0)
            index.append(slice(start, stop))
        inner = g[tuple(index)]
        pads = tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in self.widths)
        if any(p for pair in pads for p in pair):
            inner = xp.pad(inner, pads)
        return (inner,)


# ---------------------------------------------------------------------------
# functions: views


def reshape(input: Tensor, *sizes: Any, shape: Any = None) -> Tensor:
    """A tensor with the same data and a new shape (one size may be -1): ``reshape(2, 3)``,
    ``reshape((2, 3))`` or ``reshape(shape=(2, 3))``.

    >>> import brickwork as bw
    >>> bw.arange(6).reshape(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    if shape is not None:
        sizes = (shape,)
    shape = _infer_shape(shape_args(sizes, "reshape"), input._data.size, input._data.shape, "reshape")
    if shape == input._data.shape:
        return _alias(input)
    return Reshape.apply(input, shape=shape)


def _alias(t: Tensor) -> Tensor:
    """A view of the whole tensor (same storage and version counter), inside the graph if t is."""
    if t.requires_grad and _mode.enabled:
        return Reshape.apply(t, shape=t._data.shape)
    out = _wrap(t._data, t._device)
    out._version = t._version
    out._base = t if t._base is None else t._base
    return out


def view(input: Tensor, *shape: Any) -> Tensor:
    """Like reshape, but the data must be viewable without a copy.

    >>> import brickwork as bw
    >>> x = bw.zeros(2, 3)
    >>> x.view(3, 2).shape
    brickwork.Size([3, 2])
    >>> x.t().view(6)
    Traceback (most recent call last):
        ...
    RuntimeError: view: size (6,) is not compatible with the input's size and stride ...
    """
    if len(shape) == 1 and (isinstance(shape[0], dtypes.DType) or shape[0] in (np.float32,)):
        raise NotImplementedError("view(dtype) is not supported")
    shape = _infer_shape(shape_args(shape, "view"), input._data.size, input._data.shape, "view")
    data = input._data
    if not data.flags.c_contiguous and data.size > 1:
        try:
            np.reshape(np.lib.stride_tricks.as_strided(np.empty(0, data.dtype), data.shape,
                                                       data.strides), shape, copy=False)
        except (ValueError, AttributeError):
            raise RuntimeError(
                f"view: size {shape} is not compatible with the input's size and stride "
                f"(shape {tuple(data.shape)}, non-contiguous); use .reshape(...) instead"
            ) from None
    return Reshape.apply(input, shape=shape)


def _infer_shape(shape: tuple[int, ...], size: int, old: tuple[int, ...], op: str) -> tuple[int, ...]:
    if -1 in shape:
        if shape.count(-1) > 1:
            raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got {shape}")
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or size % known:
            raise RuntimeError(
                f"{op}: shape {list(shape)} is invalid for input of size {size} (shape {tuple(old)})"
            )
        shape = tuple(size // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: invalid negative size in shape {list(shape)}")
        n *= s
    if n != size:
        raise RuntimeError(
            f"{op}: shape {list(shape)} is invalid for input of size {size} (shape {tuple(old)})"
        )
    return shape


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (a view when possible).

    A 0-d tensor gives shape ``(1,)``.

    >>> import brickwork as bw
    >>> bw.flatten(bw.zeros(2, 3, 4), 1).shape
    brickwork.Size([2, 12])
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    s = norm_dim(start_dim, len(shape), "flatten")
    e = norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


@numpy_names
def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1); the inverse of :func:`flatten`.

    >>> import brickwork as bw
    >>> bw.unflatten(bw.zeros(2, 12), 1, (3, -1)).shape
    brickwork.Size([2, 3, 4])
    """
    shape = input._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _infer_shape(tuple(sizes), shape[d], (shape[d],), "unflatten")
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


@numpy_names
def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Remove dimensions of size 1: all of them, or only ``dim`` (an int or a tuple of ints).

    A named dimension whose size is not 1 is kept, as in PyTorch.

    >>> import brickwork as bw
    >>> bw.zeros(1, 2, 1).squeeze().shape
    brickwork.Size([2])
    >>> bw.zeros(1, 2, 1).squeeze(0).shape
    brickwork.Size([2, 1])
    """
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {norm_dim(d, len(shape), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return reshape(input, new)


@numpy_names
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at position ``dim`` (negative counts from the end).

    >>> import brickwork as bw
    >>> bw.zeros(2, 3).unsqueeze(1).shape
    brickwork.Size([2, 1, 3])
    """
    shape = input._data.shape
    d = norm_dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:d] + (1,) + shape[d:])


def permute(input: Tensor, *order: Any, dims: Any = None) -> Tensor:
    """The dimensions in a new order: ``permute(2, 0, 1)``, ``permute((2, 0, 1))`` or ``dims=``.

    >>> import brickwork as bw
    >>> bw.zeros(2, 3, 4).permute(2, 0, 1).shape
    brickwork.Size([4, 2, 3])
    """
    dims = shape_args(order if dims is None else (dims,), "permute")
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute: number of dims {len(dims)} does not match the tensor's {nd} dimensions"
        )
    axes = tuple(norm_dim(d, nd, "permute") for d in dims)
    if sorted(axes) != list(range(nd)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of 0..{nd - 1}")
    return Permute.apply(input, axes=axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1`` (a view). ``swapaxes`` and ``swapdims`` are aliases.

    >>> import brickwork as bw
    >>> bw.arange(6).reshape(2, 3).transpose(0, 1)
    tensor([[0, 3],
            [1, 4],
            [2, 5]])
    """
    nd = input._data.ndim
    if nd == 0:
        return _alias(input)
    a, b = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, axes=tuple(axes))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dimensions (0-d and 1-d tensors come back as they are).

    >>> import brickwork as bw
    >>> bw.tensor([[1, 2]]).t()
    tensor([[1],
            [2]])
    """
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {input._data.ndim}")
    return transpose(input, 0, -1) if input._data.ndim == 2 else _alias(input)


def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view when possible)."""
    return reshape(input, -1)


@numpy_names
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim`` (that dimension removed): ``x.select(1, 2)`` is ``x[:, 2]``.

    >>> import brickwork as bw
    >>> bw.arange(6).reshape(2, 3).select(1, 2)
    tensor([2, 5])
    """
    axis = norm_dim(dim, input._data.ndim, "select")
    n = input._data.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dimension {axis} of size {n}")
    return GetItem.apply(input, index=(slice(None),) * axis + (int(index),))


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others in order.

    ``moveaxis`` is an alias.

    >>> import brickwork as bw
    >>> bw.movedim(bw.zeros(2, 3, 4), 0, -1).shape
    brickwork.Size([3, 4, 2])
    """
    nd = input._data.ndim
    src = [norm_dim(s, nd, "movedim") for s in ((source,) if isinstance(source, int) else source)]
    dst = [norm_dim(d, nd, "movedim") for d in
           ((destination,) if isinstance(destination, int) else destination)]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, axes=tuple(order))


moveaxis = movedim


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying (-1 keeps a size).

    >>> import brickwork as bw
    >>> bw.tensor([[1], [2]]).expand(2, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]])
    """
    sizes = shape_args(sizes, "expand")
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
            f"dimensions ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed for new leading dimensions")
            s = shape[i - lead]
        elif i >= lead and shape[i - lead] not in (1, s):
            raise RuntimeError(
                f"expand: the expanded size {s} must match the existing size {shape[i - lead]} "
                f"at dimension {i} (shape {tuple(shape)} to {tuple(sizes)})"
            )
        target.append(s)
    return Expand.apply(input, shape=tuple(target))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``expand(input, *other.shape)``: broadcast to ``other``'s shape without copying."""
    return expand(input, *other._data.shape)


def broadcast_to(input: Tensor, shape: Any) -> Tensor:
    """Broadcast to ``shape`` without copying (as :func:`expand`, with the shape as one tuple).

    >>> import brickwork as bw
    >>> bw.broadcast_to(bw.tensor([1, 2]), (2, 2))
    tensor([[1, 2],
            [1, 2]])
    """
    return expand(input, *shape)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape (views, no copies).

    >>> import brickwork as bw
    >>> a, b = bw.broadcast_tensors(bw.zeros(3, 1), bw.zeros(1, 4))
    >>> a.shape, b.shape
    (brickwork.Size([3, 4]), brickwork.Size([3, 4]))
    """
    shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    return tuple(expand(t, *shape) for t in tensors)


# ---------------------------------------------------------------------------
# indexing


def _convert_index(index: Any, t: Tensor) -> tuple[Any, bool]:
    """Turn a user index into one NumPy/CuPy understands; also say if it is advanced."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    xp = t._device.xp
    for item in index:
        if isinstance(item, Tensor):
            if item._device is not t._device:
                raise DeviceMismatchError("indexing (index tensor)", [t._device, item._device])
            if item._data.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int or bool tensors")
            if item._data.ndim == 0 and item._data.dtype.kind != "b":
                sync_point("indexing with a 0-d integer tensor (its value is read)")
                out.append(int(item._data))
                continue
            if item._data.dtype.kind == "b":
                sync_point("indexing with a bool mask (the result's size depends on the data)")
            out.append(item._data)
            advanced = True
        elif isinstance(item, (list, np.ndarray)):
            arr = np.asarray(item)
            if arr.dtype.kind == "f":
                raise IndexError("indices must be integers or bools, got floats")
            out.append(xp.asarray(arr) if xp is not np else arr)
            advanced = True
        elif isinstance(item, (bool, np.bool_)):
            out.append(bool(item))
            advanced = True
        else:
            out.append(item)
    if advanced and t._device.type != "cpu":
        _check_indices_on_gpu(out, t)
    return tuple(out), advanced


def _check_indices_on_gpu(items: list[Any], t: Tensor) -> None:
    """Integer index arrays on a GPU: CuPy wraps out-of-range ones around silently, so check them
    there (reported at the next host sync); NumPy raises by itself on the CPU."""
    shape = t._data.shape
    used = sum(it.ndim if _backend.is_array(it) and it.dtype.kind == "b" else 1
               for it in items if it is not None and it is not Ellipsis and not isinstance(it, bool))
    axis = 0
    with t._device.activate():
        for it in items:
            if it is Ellipsis:
                axis += len(shape) - used
            elif it is None or isinstance(it, bool):
                continue
            elif _backend.is_array(it) and it.dtype.kind == "b":
                axis += it.ndim
            else:
                if _backend.is_array(it) and it.size and axis < len(shape):
                    n = shape[axis]
                    _backend.check_on_device(
                        (it.max() >= n) | (it.min() < -n),
                        f"indexing: an index is out of bounds for dimension {axis} with size {n} "
                        f"(tensor of shape {tuple(shape)})")
                axis += 1


def getitem(input: Tensor, index: Any) -> Tensor:
    idx, advanced = _convert_index(index, input)
    try:
        if advanced:
            return GatherIndex.apply(input, index=idx)
        return GetItem.apply(input, index=idx)
    except IndexError as exc:
        raise IndexError(f"index {index!r} is out of bounds for a tensor of shape "
                         f"{tuple(input._data.shape)}: {exc}") from None


def setitem(input: Tensor, index: Any, value: Any) -> None:
    """``input[index] = value`` (in place; inside the graph it rewrites history)."""
    idx, _ = _convert_index(index, input)
    if isinstance(value, (list, tuple, np.ndarray)):
        from brickwork.creation import tensor

        value = tensor(value, dtype=dtypes.from_numpy_dtype(input._data.dtype), device=input._device)
    if isinstance(value, Tensor):
        if value._device is not input._device:
            raise DeviceMismatchError("index assignment (value)", [input._device, value._device])
        if value._data.dtype != input._data.dtype:
            value = _cast(value, dtypes.from_numpy_dtype(input._data.dtype))
        value = _strip_leading_ones(value)
    graph = _mode.enabled and (input.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if not graph:
        input._check_inplace(False, "index assignment")
        with input._device.activate():
            try:
                input._data[idx] = value._data if isinstance(value, Tensor) else value
            except ValueError as exc:
                raise RuntimeError(
                    f"index assignment: a value of shape {tuple(getattr(value, 'shape', ()))} cannot be "
                    f"broadcast to the indexed part of a tensor of shape {tuple(input._data.shape)} "
                    f"(index {index!r}): {exc}") from None
        input._version[0] += 1
        return
    if not isinstance(value, Tensor):
        value = _wrap(input._device.xp.asarray(value, dtype=input._data.dtype), input._device)
    input._inplace_from(SetItem, value, index=idx)


def _strip_leading_ones(value: Tensor) -> Tensor:
    """PyTorch's rule for ``x[index] = value``: leading size-1 dims of ``value`` are dropped before
    it is broadcast to the indexed part (``zeros(5)[2] = ones(1, 1)`` works)."""
    shape = value._data.shape
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    return reshape(value, shape[lead:]) if lead else value


# ---------------------------------------------------------------------------
# functions: copies


@numpy_names
def cat(tensors: Any, dim: int = 0) -> Tensor:
    """Concatenate along ``dim`` (dtypes promote as in PyTorch).

    >>> import brickwork as bw
    >>> bw.cat([bw.zeros(1, 2), bw.ones(2, 2)]).shape
    brickwork.Size([3, 2])
    >>> bw.cat([bw.tensor([1]), bw.tensor([2.5])])
    tensor([1.0000, 2.5000])
    """
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    # PyTorch skips legacy empty 1-D tensors of shape (0,)
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    first = kept[0]
    target = first
    for t in kept[1:]:
        target = promote(target, t, "cat")[0] if t._data.dtype != target._data.dtype else target
    nd = first._data.ndim
    if nd == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = norm_dim(dim, nd, "cat")
    for i, t in enumerate(kept):
        if t._data.ndim != nd:
            raise RuntimeError(
                f"cat: tensors must have the same number of dimensions: tensor 0 has {nd}, "
                f"tensor {i} has {t._data.ndim}"
            )
        for d in range(nd):
            if d != axis and t._data.shape[d] != first._data.shape[d]:
                raise RuntimeError(
                    f"cat: sizes of tensors must match except in dimension {axis}: tensor 0 has "
                    f"shape {tuple(first._data.shape)}, tensor {i} has shape {tuple(t._data.shape)}"
                )
    dt = target._data.dtype
    kept = [t if t._data.dtype == dt else _cast(t, dtypes.from_numpy_dtype(dt)) for t in kept]
    return Cat.apply(*kept, axis=axis)


concat = concatenate = cat


@numpy_names
def stack(tensors: Any, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim``.

    >>> import brickwork as bw
    >>> bw.stack([bw.tensor([1, 2]), bw.tensor([3, 4])], dim=1)
    tensor([[1, 3],
            [2, 4]])
    """
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(
                f"stack: all tensors must have the same shape: tensor 0 has {tuple(shape)}, "
                f"tensor {i} has {tuple(t._data.shape)}"
            )
    d = norm_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors: Any) -> Tensor:
    """Concatenate along dimension 1, or along 0 for 1-d tensors (NumPy's and PyTorch's rule).

    >>> import brickwork as bw
    >>> bw.hstack([bw.tensor([1, 2]), bw.tensor([3])])
    tensor([1, 2, 3])
    """
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors: Any) -> Tensor:
    """Concatenate along dimension 0, 1-d tensors taken as rows.

    >>> import brickwork as bw
    >>> bw.vstack([bw.tensor([1, 2]), bw.tensor([3, 4])])
    tensor([[1, 2],
            [3, 4]])
    """
    return cat([t if t._data.ndim > 1 else unsqueeze(t, 0) for t in tensors], 0)


def split(input: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` (the last may be smaller) or of the given sizes.

    >>> import brickwork as bw
    >>> bw.split(bw.arange(5), 2)
    (tensor([0, 1]), tensor([2, 3]), tensor([4]))
    >>> bw.split(bw.arange(5), [1, 4])
    (tensor([0]), tensor([1, 2, 3, 4]))
    """
    axis = norm_dim(dim, input._data.ndim, "split")
    n = input._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if n == 0:
            sizes = [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins_sum(sizes) != n:
            raise RuntimeError(
                f"split: sizes {sizes} sum to {builtins_sum(sizes)} but dimension {axis} has size {n}"
            )
    pieces = []
    start = 0
    for s in sizes:
        pieces.append(narrow(input, axis, start, s))
        start += s
    return tuple(pieces)


builtins_sum = sum


@numpy_names
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ``ceil(n / chunks)`` along ``dim`` (possibly fewer pieces).

    >>> import brickwork as bw
    >>> [c.tolist() for c in bw.arange(5).chunk(3)]
    [[0, 1], [2, 3], [4]]
    """
    axis = norm_dim(dim, input._data.ndim, "chunk")
    n = input._data.shape[axis]
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    size = -(-n // chunks) if n else 1
    return split(input, max(size, 1), axis)


@numpy_names
def tensor_split(input: Tensor, sections: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into exactly ``sections`` pieces along ``dim``, sizes differing by at most one.

    Only an int ``sections`` is supported (PyTorch also takes a list of indices).

    >>> import brickwork as bw
    >>> [c.tolist() for c in bw.tensor_split(bw.arange(7), 3)]
    [[0, 1, 2], [3, 4], [5, 6]]
    """
    axis = norm_dim(dim, input._data.ndim, "tensor_split")
    n = input._data.shape[axis]
    base, extra = divmod(n, sections)
    sizes = [base + 1] * extra + [base] * (sections - extra)
    return split(input, sizes, axis)


@numpy_names
def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim`` as a tuple, that dimension removed.

    >>> import brickwork as bw
    >>> bw.unbind(bw.arange(6).reshape(2, 3))
    (tensor([0, 1, 2]), tensor([3, 4, 5]))
    """
    axis = norm_dim(dim, input._data.ndim, "unbind")
    index = [slice(None)] * input._data.ndim
    out = []
    for i in range(input._data.shape[axis]):
        index[axis] = i
        out.append(GetItem.apply(input, index=tuple(index)))
    return tuple(out)


@numpy_names
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start + length`` of dimension ``dim`` (a view; ``start`` may be negative).

    >>> import brickwork as bw
    >>> bw.arange(6).reshape(2, 3).narrow(1, 1, 2)
    tensor([[1, 2],
            [4, 5]])
    """
    axis = norm_dim(dim, input._data.ndim, "narrow")
    n = input._data.shape[axis]
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise RuntimeError(f"narrow: start {start} + length {length} exceeds dimension size {n}")
    index = [slice(None)] * input._data.ndim
    index[axis] = slice(start, start + length)
    return GetItem.apply(input, index=tuple(index))


def flip(input: Tensor, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (an int or a tuple); a copy, as in PyTorch.

    >>> import brickwork as bw
    >>> bw.flip(bw.arange(6).reshape(2, 3), (0, 1))
    tensor([[5, 4, 3],
            [2, 1, 0]])
    """
    nd = input._data.ndim
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(norm_dim(d, nd, "flip") for d in dims)
    if nd == 0:
        return Copy.apply(input)
    return Flip.apply(input, axes=axes)


def fliplr(input: Tensor) -> Tensor:
    """Reverse the columns (dimension 1); see :func:`flip`."""
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Reverse the rows (dimension 0); see :func:`flip`."""
    return flip(input, (0,))


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements cyclically by ``shifts`` along ``dims`` (the flattened tensor without ``dims``).

    >>> import brickwork as bw
    >>> bw.roll(bw.arange(5), 2)
    tensor([3, 4, 0, 1, 2])
    >>> bw.roll(bw.arange(6).reshape(2, 3), 1, 1)
    tensor([[2, 0, 1],
            [5, 3, 4]])
    """
    if dims is None:
        flat = Roll.apply(flatten(input), shifts=shifts, axes=None)
        return reshape(flat, input._data.shape)
    nd = input._data.ndim
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else tuple(dims)
    axes = tuple(norm_dim(d, nd, "roll") for d in dims)
    return Roll.apply(input, shifts=tuple(shifts), axes=axes)


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor ``sizes`` times along each dimension (PyTorch's ``repeat``).

    Unlike :func:`tile`, ``sizes`` must cover every dimension (new leading ones may be added).

    >>> import brickwork as bw
    >>> bw.tensor([1, 2]).repeat(2, 2)
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]])
    """
    reps = shape_args(sizes, "repeat")
    if len(reps) < input._data.ndim:
        raise RuntimeError(
            f"repeat: the number of repeat dims ({len(reps)}) can not be smaller than the "
            f"number of tensor dims ({input._data.ndim})"
        )
    return Repeat.apply(input, reps=reps)


def tile(input: Tensor, *dims: Any) -> Tensor:
    """Repeat the tensor along each dimension; fewer ``dims`` than dimensions count from the right.

    Unlike :meth:`Tensor.repeat`, ``dims`` may be shorter than the number of dimensions.

    >>> import brickwork as bw
    >>> bw.tile(bw.tensor([[1, 2]]), (2,))
    tensor([[1, 2, 1, 2]])
    """
    reps = shape_args(dims, "tile")
    reps = (1,) * (input._data.ndim - len(reps)) + reps
    return Repeat.apply(input, reps=reps)


@numpy_names
def repeat_interleave(input: Tensor, repeats: int, dim: Any = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (the flattened tensor when ``dim`` is None).

    ``repeats`` is an int here (PyTorch also takes a tensor of per-element counts).

    >>> import brickwork as bw
    >>> bw.repeat_interleave(bw.tensor([1, 2]), 2)
    tensor([1, 1, 2, 2])
    """
    if dim is None:
        input, dim = flatten(input), 0
    axis = norm_dim(dim, input._data.ndim, "repeat_interleave")
    index = np.repeat(np.arange(input._data.shape[axis]), repeats)
    return index_select(input, axis, _wrap(input._device.xp.asarray(index), input._device))


def _index_array(index: Any, like: Tensor, op: str) -> Any:
    if isinstance(index, Tensor):
        if index._device is not like._device:
            raise DeviceMismatchError(f"{op} (index)", [like._device, index._device])
        arr = index._data
    else:
        arr = like._device.xp.asarray(np.asarray(index))
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: index must be an integer tensor, got {arr.dtype}")
    return arr


def _check_range_on_gpu(idx: Any, like: Tensor, axis: int, op: str) -> None:
    """CuPy's gathers and scatters do not check bounds (an index past the end wraps around): on a
    GPU, check there and report at the next host sync. (NumPy raises by itself on the CPU.)"""
    if like._device.type == "cpu" or not idx.size:
        return
    n = like._data.shape[axis]
    with like._device.activate():
        _backend.check_on_device((idx.max() >= n) | (idx.min() < -n),
                                 f"{op}: index out of range for dimension {axis} of size {n}")


@numpy_names
def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for dim 0, and so on.

    >>> import brickwork as bw
    >>> bw.gather(bw.tensor([[1, 2], [3, 4]]), 1, bw.tensor([[0, 0], [1, 0]]))
    tensor([[1, 1],
            [4, 3]])
    """
    axis = norm_dim(dim, input._data.ndim, "gather")
    idx = _index_array(index, input, "gather")
    if input._data.ndim == 0 and idx.ndim == 0:  # a 0-d tensor gathers like a 1-element vector
        return reshape(gather(reshape(input, 1), 0, _wrap(idx.reshape(1), input._device)), ())
    if idx.ndim != input._data.ndim:
        raise RuntimeError(
            f"gather: index has {idx.ndim} dimensions but input has {input._data.ndim}"
        )
    for d in range(idx.ndim):
        if d != axis and idx.shape[d] > input._data.shape[d]:
            raise RuntimeError(
                f"gather: index shape {tuple(idx.shape)} exceeds input shape "
                f"{tuple(input._data.shape)} at dimension {d}"
            )
    _check_range_on_gpu(idx, input, axis, "gather")
    data = input._data
    if idx.shape != data.shape:
        # take_along_axis needs equal sizes off the axis: view the needed part
        part = tuple(slice(0, s) if d != axis else slice(None) for d, s in enumerate(idx.shape))
        input = GetItem.apply(input, index=part)
    return TakeAlong.apply(input, _wrap(idx, input._device), axis=axis)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Values of ``input`` at ``indices`` along ``dim`` (PyTorch's argument order); the other
    dimensions broadcast. Without ``dim`` both are flattened first.

    >>> import brickwork as bw
    >>> x = bw.tensor([[10, 30, 20], [60, 40, 50]])
    >>> bw.take_along_dim(x, x.argmax(1, keepdim=True), dim=1)
    tensor([[30],
            [60]])
    """
    if dim is None:
        return gather(flatten(input), 0, flatten(indices))
    axis = norm_dim(dim, input._data.ndim, "take_along_dim")
    ishape, jshape = input._data.shape, tuple(indices.shape)
    if len(ishape) != len(jshape):
        raise RuntimeError(
            f"take_along_dim: input {tuple(ishape)} and indices {jshape} need the same number of dimensions"
        )
    try:
        common = list(np.broadcast_shapes(ishape[:axis] + ishape[axis + 1:],
                                          jshape[:axis] + jshape[axis + 1:]))
    except ValueError:
        raise RuntimeError(
            f"take_along_dim: shapes {tuple(ishape)} and {jshape} cannot be broadcast outside dim {axis}"
        ) from None
    in_shape = common[:axis] + [ishape[axis]] + common[axis:]
    idx_shape = common[:axis] + [jshape[axis]] + common[axis:]
    idx = indices if isinstance(indices, Tensor) else _wrap(input._device.xp.asarray(indices), input._device)
    return gather(expand(input, *in_shape), axis, expand(idx, *idx_shape))


@numpy_names
def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate).

    For dim 1: ``out[i][index[i][j]] += src[i][j]``. ``Tensor.scatter_add`` is the same
    out-of-place op.

    >>> import brickwork as bw
    >>> bw.zeros(2, 3).scatter_add(1, bw.tensor([[0, 0, 2], [1, 1, 1]]), bw.ones(2, 3))
    tensor([[2., 0., 1.],
            [0., 3., 0.]])
    """
    axis = norm_dim(dim, input._data.ndim, "scatter_add")
    idx = _index_array(index, input, "scatter_add")
    _check_range_on_gpu(idx, input, axis, "scatter_add")
    return ScatterAdd.apply(input, _wrap(idx, input._device), src, axis=axis)


@numpy_names
def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, value: Any = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor) or ``value`` (a scalar) written at ``index`` along ``dim``.

    For dim 1: ``out[i][index[i][j]] = src[i][j]``; ``src`` may also be a scalar. See
    :meth:`Tensor.scatter_` for the in-place form.

    >>> import brickwork as bw
    >>> bw.zeros(2, 3).scatter(1, bw.tensor([[2], [0]]), 5.0)
    tensor([[0., 0., 5.],
            [5., 0., 0.]])
    """
    axis = norm_dim(dim, input._data.ndim, "scatter")
    idx = _index_array(index, input, "scatter")
    _check_range_on_gpu(idx, input, axis, "scatter")
    if src is None:
        src = value
    return Scatter.apply(input, _wrap(idx, input._device), src, axis=axis)


@numpy_names
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries at ``index`` (a 0-d or 1-d integer tensor) along ``dim``, copied.

    >>> import brickwork as bw
    >>> bw.arange(6).reshape(2, 3).index_select(0, bw.tensor([1, 0, 1]))
    tensor([[3, 4, 5],
            [0, 1, 2],
            [3, 4, 5]])
    """
    axis = norm_dim(dim, input._data.ndim, "index_select")
    idx = _index_array(index, input, "index_select")
    if idx.ndim > 1:
        raise RuntimeError("index_select: index must be 0- or 1-dimensional")
    if input._data.ndim == 0:  # a 0-d tensor selects like a 1-element vector, and stays 0-d
        if idx.size != 1:
            raise IndexError("index_select: a 0-d tensor takes exactly one index")
        return reshape(index_select(reshape(input, 1), 0, _wrap(idx.reshape(1), input._device)), ())
    n = input._data.shape[axis]
    if idx.size:  # (on a GPU checked there, reported at the next host sync: no sync per call)
        with input._device.activate():
            _backend.check_on_device((idx.max() >= n) | (idx.min() < -n),
                                     f"index_select: index out of range for dimension {axis} of size {n}")
    return IndexSelect.apply(input, _wrap(idx.reshape(-1), input._device), axis=axis)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where the bool ``mask`` (broadcast to ``input``) is true, as a 1-d tensor.

    The result's size depends on the data: a host sync on a GPU.

    >>> import brickwork as bw
    >>> x = bw.arange(6).reshape(2, 3)
    >>> bw.masked_select(x, x > 2)
    tensor([3, 4, 5])
    """
    shape = np.broadcast_shapes(input._data.shape, mask._data.shape)
    return getitem(expand(input, *shape), expand(mask, *shape).contiguous())


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions; the rest set to zero. ``diagonal`` shifts the edge.

    >>> import brickwork as bw
    >>> bw.tril(bw.ones(3, 3))
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]])
    """
    return Tri.apply(input, k=diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions; the rest set to zero. ``diagonal`` shifts the edge.

    >>> import brickwork as bw
    >>> bw.triu(bw.ones(3, 3), diagonal=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]])
    """
    return Tri.apply(input, k=diagonal, upper=True)


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:
    """A copy with its own memory, still in the graph (its gradient flows back to ``input``).

    ``memory_format`` is accepted for PyTorch compatibility and ignored (arrays are C-ordered).

    >>> import brickwork as bw
    >>> x = bw.tensor([1.0, 2.0])
    >>> y = x.clone()
    >>> y[0] = 5.0
    >>> x
    tensor([1., 2.])
    """
    return Copy.apply(input)


def contiguous(input: Tensor, memory_format: Any = None) -> Tensor:
    """``input`` itself when it is C-contiguous, else a C-ordered copy (in the graph)."""
    if input._data.flags.c_contiguous:
        return input
    return Copy.apply(input)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements (a host sync: the result's size depends on the data).

    >>> import brickwork as bw
    >>> bw.nonzero(bw.tensor([0, 3, 0, 4]))
    tensor([[1],
            [3]])
    >>> bw.nonzero(bw.tensor([0, 3, 0, 4]), as_tuple=True)
    (tensor([1, 3]),)
    """
    sync_point("nonzero() (the result's size depends on the data)")
    xp = input._device.xp
    idx = xp.nonzero(input._data)
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64), input._device) for i in idx)
    if not idx:
        return _wrap(xp.zeros((int(bool(input._data)), 0), dtype=np.int64), input._device)
    return _wrap(xp.stack(idx, axis=1).astype(np.int64), input._device)


def argwhere(input: Tensor) -> Tensor:
    """Indices of the non-zero elements, one row per element (the same as :func:`nonzero`).

    >>> import brickwork as bw
    >>> bw.argwhere(bw.tensor([[0, 1], [2, 0]]))
    tensor([[0, 1],
            [1, 0]])
    """
    return nonzero(input)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: Any = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions: ``pad = (left, right, top, bottom, ...)``.

    ``mode`` is 'constant' (``value``, default 0), 'reflect', 'replicate' or 'circular'.

    >>> import brickwork as bw
    >>> bw.pad(bw.ones(1, 2), (1, 1))
    tensor([[0., 1., 1., 0.]])
    >>> bw.pad(bw.tensor([[1.0, 2.0, 3.0]]), (2, 0), mode="reflect")
    tensor([[3., 2., 1., 2., 3.]])
    """
    pad = tuple(int(p) for p in pad)
    nd = input._data.ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise RuntimeError(
            f"pad: padding length {len(pad)} must be even and at most twice the number of "
            f"dimensions ({nd})"
        )
    widths = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        widths[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return ConstantPad.apply(input, widths=tuple(widths), value=0 if value is None else value)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if np_mode is None:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    out = input
    xp = input._device.xp
    for axis, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = input._data.shape[axis]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"pad: reflect padding ({lo}, {hi}) must be smaller than the dimension size {n}"
            )
        index = np.pad(np.arange(n), (lo, hi), mode=np_mode)
        out = PadTake.apply(out, index=xp.asarray(index), axis=axis)
    return out
