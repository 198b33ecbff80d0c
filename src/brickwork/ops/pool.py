"""Pooling kernels: max/avg pooling (1-d and 2-d) and adaptive avg/max pooling.

Windows are swept with strided slices, one per kernel offset: a 2×2 pooling
is the maximum (or sum) of four strided views ``x[..., i::2, j::2]``. There is
no reshape over non-trailing axes and no Python loop over the batch; the
pooled axes are always the last one or two, so any leading dims (batched or
not) work unchanged. Outputs are C-contiguous, so ``.view`` works on them
as it does in PyTorch.

The sweeps work in the memory order of the input (a convolution's output is
batch-innermost, see ``ops/conv.py``): the window maximum or sum is built in
a buffer of that layout and copied into the C-contiguous output once, and
gradients are built in the input's layout, so that the elementwise ops
around a pooling never transpose memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _traced
from brickwork.autograd import Function, _wrap
from brickwork.ops import linalg
from brickwork.ops._util import as_size, batch_outermost_copy, empty_in_layout, int_tuple, memory_order
from brickwork.tensor import Tensor

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
]


class _Geometry:
    """Where the windows of one pooling lie along the last two axes."""

    def __init__(self, in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                 padding: tuple[int, int], dilation: tuple[int, int], ceil_mode: bool) -> None:
        self.in_hw, self.kernel, self.stride = in_hw, kernel, stride
        self.padding, self.dilation = padding, dilation
        self.out_hw = tuple(
            pool_output_size(n, k, s, p, d, ceil_mode)
            for n, k, s, p, d in zip(in_hw, kernel, stride, padding, dilation)
        )
        # the padded extent: the windows of ceil_mode may run past the right padding
        self.padded_hw = tuple(
            max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
            for n, o, k, s, p, d in zip(in_hw, self.out_hw, kernel, stride, padding, dilation)
        )

    @property
    def needs_padding(self) -> bool:
        return self.padded_hw != self.in_hw

    def pad(self, xp: Any, x: Any, value: float) -> Any:
        if not self.needs_padding:
            return x
        (h, w), (ph, pw) = self.in_hw, self.padding
        out = empty_in_layout(xp, x, x.shape[:-2] + self.padded_hw)
        out.fill(value)
        out[..., ph:ph + h, pw:pw + w] = x
        return out

    def crop(self, x_padded: Any) -> Any:
        if not self.needs_padding:
            return x_padded
        (h, w), (ph, pw) = self.in_hw, self.padding
        return x_padded[..., ph:ph + h, pw:pw + w]

    def windows(self) -> list[tuple[slice, slice]]:
        """One ``(rows, cols)`` strided slice per kernel offset, in PyTorch's scan order."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out_hw
        return [
            (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)
        ]

    @property
    def large_tiles(self) -> bool:
        """Big windows that tile the input exactly (e.g. global pooling): one reshape + reduce
        beats a loop over ``kh·kw`` strided slices."""
        (kh, kw), (sh, sw), (h, w), (oh, ow) = self.kernel, self.stride, self.in_hw, self.out_hw
        return (kh * kw > 16 and (kh, kw) == (sh, sw) and self.dilation == (1, 1)
                and not self.needs_padding and oh * kh == h and ow * kw == w)

    def tiles(self, x: Any) -> Any:
        """``(..., oh, kh, ow, kw)`` view of an input that :attr:`large_tiles` covers."""
        (kh, kw), (oh, ow) = self.kernel, self.out_hw
        return x.reshape(x.shape[:-2] + (oh, kh, ow, kw))

    @property
    def covers_input(self) -> bool:
        """The windows tile the input exactly, without overlap or padding: a gradient written
        window by window needs no zero fill first."""
        return (not self.needs_padding and not self.overlapping and self.dilation == (1, 1)
                and all(o * k == n for o, k, n in zip(self.out_hw, self.kernel, self.in_hw)))

    @property
    def overlapping(self) -> bool:
        return any(s < d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation))


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool) -> int:
    """PyTorch's pooling output length (a last window must start inside input or left padding)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


# Sweeping a pooling's windows reads and writes arrays the size of its input once per kernel
# offset; far beyond a core's cache, each pass runs at memory speed. Cut into parts of about
# this many input bytes (whole H×W planes), every part's passes stay in cache: AlexNet's first
# max-pool (128×96×54×54, 3×3 stride 2) forward and backward took 288 ms whole, 118 ms in
# parts of one image (one thread).
PART_BYTES = 1 << 20


def cache_sized_parts(xp: Any, x: Any) -> list[slice] | None:
    """Slices of the flattened leading axes of a C-contiguous NumPy array ``x`` (``(..., H,
    W)``) of about :data:`PART_BYTES` each; ``None`` when ``x`` is small enough to sweep
    whole, is laid out otherwise, or lives on a device (whose kernels are not cache-bound).

    >>> import numpy as np
    >>> cache_sized_parts(np, np.zeros((32, 256, 256), np.float32))[:2]
    [slice(0, 4, None), slice(4, 8, None)]
    """
    if xp is not np or x.ndim < 3 or not x.flags.c_contiguous or x.nbytes <= 4 * PART_BYTES:
        return None
    planes = x.size // (x.shape[-2] * x.shape[-1])
    per_part = max(1, PART_BYTES // (x.shape[-2] * x.shape[-1] * x.itemsize))
    return [slice(i, min(i + per_part, planes)) for i in range(0, planes, per_part)]


# ---------------------------------------------------------------------------
# primitives


class MaxPool2d(Function):
    """Max over each window of the last two axes; the gradient goes to the first maximum.

    Recorded (``create_graph=True``), the backward scatters the gradient to the positions of
    the maxima (constants) with a recorded scatter, whose own backward gathers.
    """

    op_name = "max_pool2d"
    # the whole-window backward reads a view of the input; the strided one reads offsets the
    # forward found. Both are declared, so an in-place change of either tensor before
    # backward raises (stricter than PyTorch for the output)
    saved_inputs = (0,)
    saves_output = True
    # the input's windows, of which a recorded backward reads only where the maxima lie
    double_backward_constants = ("flat",)

    def forward(self, x: Any, geometry: _Geometry) -> Any:
        xp = self.xp
        self.geometry = geometry
        lead = x.shape[:-2]
        if x.dtype.kind == "f":
            fill = -np.inf
        else:
            fill = np.iinfo(x.dtype).min
        if geometry.large_tiles:
            tiles = geometry.tiles(x)
            if self.needs_input_grad[0]:
                self.x_shape, self.order = x.shape, memory_order(x)
                self.flat = tiles.swapaxes(-3, -2).reshape(lead + geometry.out_hw + (-1,))
            return tiles.max(axis=(-3, -1))
        self.parts = cache_sized_parts(xp, x)
        if self.parts is not None:
            return self._forward_in_parts(x, geometry, fill)
        xpad = geometry.pad(xp, x, fill)
        views = window_views(xp, xpad, geometry)
        shape, order = lead + geometry.out_hw, memory_order(xpad)
        if self.needs_input_grad[0]:
            # the gradient needs only where each maximum lies: one small offset per output
            peak, self.winner = window_max_and_offset(xp, views, shape, order)
            self.padded_shape, self.order = xpad.shape, order
            return batch_outermost_copy(xp, peak)
        peak = empty_in_layout(xp, None, shape, dtype=x.dtype, order=order)
        peak[...] = views[0]
        for v in views[1:]:
            xp.maximum(peak, v, out=peak)
        return batch_outermost_copy(xp, peak)

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):
            return self._backward_recorded(g)
        xp, geo = self.xp, self.geometry
        if geo.large_tiles:
            flat = self.flat  # (..., oh, ow, kh·kw); argmax picks the first maximum (or NaN)
            gx = xp.zeros(flat.shape, dtype=g.dtype)
            xp.put_along_axis(gx, xp.argmax(flat, axis=-1)[..., None], g[..., None], axis=-1)
            (kh, kw), (oh, ow) = geo.kernel, geo.out_hw
            gx = gx.reshape(g.shape[:-2] + (oh, ow, kh, kw)).swapaxes(-3, -2)
            out = empty_in_layout(xp, g, self.x_shape, order=self.order)  # the input's layout
            geo.tiles(out)[...] = gx
            return (out,)
        if self.parts is not None:
            return (self._backward_in_parts(g),)
        return (self._scatter(g, self.winner, self.padded_shape, self.order),)

    def _forward_in_parts(self, x: Any, geometry: _Geometry, fill: Any) -> Any:
        """The forward on each of :attr:`parts` (of the flattened leading axes) in turn."""
        lead = x.shape[:-2]
        flat = x.reshape((-1,) + x.shape[-2:])
        out = np.empty(flat.shape[:1] + geometry.out_hw, dtype=x.dtype)
        winner = None
        for part in self.parts:
            xpad = geometry.pad(np, flat[part], fill)
            views = window_views(np, xpad, geometry)
            if not self.needs_input_grad[0]:
                peak = out[part]
                peak[...] = views[0]
                for v in views[1:]:
                    np.maximum(peak, v, out=peak)
                continue
            out[part], offsets = window_max_and_offset(np, views, out[part].shape,
                                                       memory_order(xpad))
            if winner is None:
                winner = np.empty(out.shape, dtype=offsets.dtype)
            winner[part] = offsets
        if winner is not None:
            self.winner = winner.reshape(lead + geometry.out_hw)
            self.padded_shape, self.order = lead + geometry.padded_hw, tuple(range(x.ndim))
        return out.reshape(lead + geometry.out_hw)

    def _backward_in_parts(self, g: Any) -> Any:
        geo = self.geometry
        flat = np.ascontiguousarray(g).reshape((-1,) + g.shape[-2:])
        winner = self.winner.reshape(flat.shape)
        gx = np.empty(flat.shape[:1] + geo.in_hw, dtype=g.dtype)
        for part in self.parts:
            shape = (part.stop - part.start,) + geo.padded_hw
            if geo.needs_padding:  # built padded, then cropped into place
                gx[part] = self._scatter(flat[part], winner[part], shape, (0, 1, 2))
            else:
                self._scatter(flat[part], winner[part], shape, (0, 1, 2), out=gx[part])
        return gx.reshape(g.shape[:-2] + geo.in_hw)

    def _scatter(self, g: Any, winner: Any, padded_shape: tuple[int, ...],
                 order: tuple[int, ...], out: Any = None) -> Any:
        """The input's gradient: ``g`` at each window's maximum (``winner``), cropped; written
        into ``out`` if given (a geometry without padding only)."""
        # Each kernel offset passes on the gradient of the outputs whose maximum it holds (an
        # inf or NaN gradient reaches only the maximum, as in PyTorch). Overlapping windows
        # add into deinterleaved planes, interleaved at the end; others write their strided
        # view of the gradient once. All arrays are in the input's memory order.
        xp, geo = self.xp, self.geometry
        if memory_order(g) != memory_order(winner):
            g_in_layout = empty_in_layout(xp, winner, dtype=g.dtype)
            g_in_layout[...] = g
            g = g_in_layout
        if geo.overlapping:
            planes = Deinterleaved.zeros(xp, geo, padded_shape, order, g.dtype)
            views = planes.windows()
        else:
            gx = out if out is not None else empty_in_layout(xp, None, padded_shape,
                                                             dtype=g.dtype, order=order)
            if not geo.covers_input:
                gx.fill(0)
            views = [gx[..., rows, cols] for rows, cols in geo.windows()]
        hit = empty_in_layout(xp, winner, dtype=bool)
        share = empty_in_layout(xp, winner, dtype=g.dtype) if geo.overlapping else None
        # with a finite gradient a product is exact, and faster than a select (the check would
        # read device data on the host: a device always selects)
        finite = xp is np and bool(xp.isfinite(g).all())
        zero = g.dtype.type(0)
        for k, view in enumerate(views):
            xp.equal(winner, k, out=hit)
            if share is None:  # disjoint windows: each element is written once
                if finite:
                    xp.multiply(g, hit, out=view)
                else:
                    view[...] = xp.where(hit, g, zero)
                continue
            if finite:
                xp.multiply(g, hit, out=share)
            else:
                share[...] = xp.where(hit, g, zero)
            view += share
        return geo.crop(planes.interleave(xp, out) if geo.overlapping else gx)

    def _backward_recorded(self, g: Any) -> tuple[Any, ...]:
        """``g`` added into a zero (padded) input at each window's maximum, recorded."""
        xp, geo = self.xp, self.geometry
        if geo.large_tiles:  # stride = kernel, no dilation or padding: the same positions
            offset, shape = xp.argmax(self.flat, axis=-1), self.x_shape
        else:
            offset, shape = self.winner, self.padded_shape
        positions = window_positions(xp, offset, geo, shape[-1])
        return (geo.crop(scatter_to_flat_index(xp, g, positions, shape)),)


def window_positions(xp: Any, offset: Any, geo: _Geometry, width: int) -> Any:
    """Flat positions ``row·width + col`` in the padded input of the kernel offsets ``offset``
    (row-major in the window) of every output ``(..., oh, ow)``."""
    (oh, ow), (sh, sw), (dh, dw), kw = geo.out_hw, geo.stride, geo.dilation, geo.kernel[1]
    k = offset.astype(np.int64)
    rows = xp.arange(oh, dtype=np.int64)[:, None] * sh + k // kw * dh
    cols = xp.arange(ow, dtype=np.int64)[None, :] * sw + k % kw * dw
    return rows * width + cols


class Deinterleaved:
    """A padded input split by stride phase: plane ``(a, b)`` holds ``xpad[..., a::sh, b::sw]``.

    A window offset reads one plane with unit steps, so each sweep over it runs
    on contiguous rows instead of steps of ``sh``/``sw`` (several times faster on
    a convolution's batch-innermost output, whose rows are then long runs). With
    stride 1 the single plane is the input itself. Planes are in the input's
    memory order.
    """

    def __init__(self, xp: Any, xpad: Any, geo: _Geometry) -> None:
        self.geo, self.shape, self.order = geo, xpad.shape, memory_order(xpad)
        (sh, sw), lead = geo.stride, xpad.shape[:-2]
        if (sh, sw) == (1, 1):
            self.planes = {(0, 0): xpad}
            return
        self.planes = {}
        (kh, kw), (dh, dw) = geo.kernel, geo.dilation
        for a, b in sorted({((i * dh) % sh, (j * dw) % sw) for i in range(kh) for j in range(kw)}):
            plane = empty_in_layout(xp, None, lead + self._plane_hw(a, b), dtype=xpad.dtype,
                                    order=self.order)
            plane[...] = xpad[..., a::sh, b::sw]
            self.planes[a, b] = plane

    def _plane_hw(self, a: int, b: int) -> tuple[int, int]:
        (sh, sw) = self.geo.stride
        return len(range(a, self.shape[-2], sh)), len(range(b, self.shape[-1], sw))

    @classmethod
    def zeros(cls, xp: Any, geo: _Geometry, shape: tuple[int, ...], order: tuple[int, ...],
              dtype: Any) -> Deinterleaved:
        """Zero planes of every stride phase of a ``shape`` array, for a gradient."""
        out = cls.__new__(cls)
        out.geo, out.shape, out.order, out.planes = geo, tuple(shape), order, {}
        for a in range(geo.stride[0]):
            for b in range(geo.stride[1]):
                plane = empty_in_layout(xp, None, shape[:-2] + out._plane_hw(a, b), dtype=dtype,
                                        order=order)
                plane.fill(0)
                out.planes[a, b] = plane
        return out

    def windows(self) -> list[Any]:
        """One unit-step view per kernel offset, in PyTorch's scan order (as ``geo.windows``)."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = (self.geo.kernel, self.geo.stride,
                                                  self.geo.dilation, self.geo.out_hw)
        views = []
        for i in range(kh):
            for j in range(kw):
                r, c = i * dh, j * dw
                plane = self.planes[r % sh, c % sw]
                views.append(plane[..., r // sh:r // sh + oh, c // sw:c // sw + ow])
        return views

    def interleave(self, xp: Any, out: Any = None) -> Any:
        """The full array of these planes (every phase present, as :meth:`zeros` makes them),
        written into ``out`` if given."""
        (sh, sw) = self.geo.stride
        first = self.planes[0, 0]
        if (sh, sw) == (1, 1) and out is None:
            return first
        if out is None:
            out = empty_in_layout(xp, None, self.shape, dtype=first.dtype, order=self.order)
        for (a, b), plane in self.planes.items():
            out[..., a::sh, b::sw] = plane
        return out


def window_views(xp: Any, xpad: Any, geo: _Geometry) -> list[Any]:
    """One view of ``xpad`` per kernel offset; overlapping windows (several reads of each
    element) read deinterleaved planes, made once, instead of strided views."""
    if geo.overlapping:
        return Deinterleaved(xp, xpad, geo).windows()
    return [xpad[..., rows, cols] for rows, cols in geo.windows()]


def window_max_and_offset(xp: Any, views: list[Any], shape: tuple[int, ...],
                          order: tuple[int, ...]) -> tuple[Any, Any]:
    """The maximum of every window and the index of the kernel offset holding it.

    ``views`` holds one view of the input per kernel offset, in PyTorch's scan
    order; ``shape`` and ``order`` are the output's shape and memory order. The
    offset is PyTorch's: the first maximum in row-major window order, except
    that a NaN is the maximum where it appears (the last NaN when there are
    several). Offsets are ``uint8`` for windows of up to 255 elements.
    """
    code = np.uint8 if len(views) <= 255 else np.int32
    peak = empty_in_layout(xp, None, shape, dtype=views[0].dtype, order=order)
    winner = empty_in_layout(xp, None, shape, dtype=code, order=order)
    update = empty_in_layout(xp, None, shape, dtype=bool, order=order)
    scratch = empty_in_layout(xp, None, shape, dtype=bool, order=order)
    offset = empty_in_layout(xp, None, shape, dtype=code, order=order)

    def sweep(nan_aware: bool) -> None:
        # offsets are visited in increasing order and replace the winner only when strictly
        # greater (a tie keeps the earlier one), so the winner is the largest updating offset
        peak[...] = views[0]
        winner.fill(0)
        for k, v in enumerate(views[1:], start=1):
            xp.greater(v, peak, out=update)
            if nan_aware:
                xp.not_equal(v, v, out=scratch)
                xp.logical_or(update, scratch, out=update)
            xp.maximum(peak, v, out=peak)  # NaN propagates: the values are right either way
            xp.multiply(update, code(k), out=offset)
            xp.maximum(winner, offset, out=winner)

    if xp is not np:  # on a device a check would read device data on the host: no shortcut
        sweep(nan_aware=peak.dtype.kind == "f")
        return peak, winner
    sweep(nan_aware=False)
    # NaNs are rare: only then sweep again with the NaN rule for the offsets
    if peak.dtype.kind == "f" and bool(xp.isnan(peak).any()):
        sweep(nan_aware=True)
    return peak, winner


class AvgPool2d(Function):
    """Mean over each window of the last two axes (``divisor`` scalar or per output pixel).

    The pooling is linear: its backward is :class:`AvgPool2dTranspose` (the gradient spread
    over the windows), recorded as that op when ``create_graph=True``.
    """

    op_name = "avg_pool2d"
    double_backward_constants = ("divisor",)  # per-pixel window sizes: geometry, not data

    def forward(self, x: Any, geometry: _Geometry, divisor: Any) -> Any:
        self.geometry, self.divisor = geometry, divisor
        out, self.grad_shape, self.order = window_means(self.xp, x, geometry, divisor)
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):
            return (AvgPool2dTranspose.apply(g.t, geometry=self.geometry, divisor=self.divisor,
                                             shape=self.grad_shape, order=self.order),)
        return (spread_window_means(self.xp, g, self.geometry, self.divisor, self.grad_shape,
                                    self.order),)


class AvgPool2dTranspose(Function):
    """The adjoint of :class:`AvgPool2d`: each output's gradient spread evenly over its window
    (the backward of an average pooling, as an op of its own); its backward is that pooling."""

    op_name = "avg_pool2d_backward"
    double_backward_constants = ("divisor",)

    def forward(self, g: Any, geometry: _Geometry, divisor: Any, shape: tuple[int, ...],
                order: tuple[int, ...]) -> Any:
        self.geometry, self.divisor = geometry, divisor
        return spread_window_means(self.xp, g, geometry, divisor, shape, order)

    def backward(self, gg: Any) -> tuple[Any, ...]:
        if _traced.is_traced(gg):
            return (AvgPool2d.apply(gg.t, geometry=self.geometry, divisor=self.divisor),)
        return (window_means(self.xp, gg, self.geometry, self.divisor)[0],)


def window_means(xp: Any, x: Any, geometry: _Geometry, divisor: Any) -> tuple[Any, Any, Any]:
    """The average pooling of ``x``, and the shape and memory order its gradient is built in
    (the input's, padded)."""
    if geometry.large_tiles and isinstance(divisor, float):
        out = geometry.tiles(x).sum(axis=(-3, -1))
        out /= divisor
        return out, x.shape, memory_order(x)
    xpad = geometry.pad(xp, x, 0)
    windows = geometry.windows()
    rows, cols = windows[0]
    total = empty_in_layout(xp, xpad, x.shape[:-2] + geometry.out_hw)
    total[...] = xpad[..., rows, cols]
    for rows, cols in windows[1:]:
        total += xpad[..., rows, cols]
    total /= divisor if isinstance(divisor, float) else xp.asarray(divisor, dtype=x.dtype)
    return batch_outermost_copy(xp, total), xpad.shape, memory_order(xpad)


def spread_window_means(xp: Any, g: Any, geo: _Geometry, d: Any, shape: tuple[int, ...],
                        order: tuple[int, ...]) -> Any:
    """The adjoint of :func:`window_means`: ``g / divisor`` added over each window, built in
    ``shape`` (the padded input's) and memory ``order``, then cropped to the input."""
    if geo.large_tiles and isinstance(d, float):
        share = g / d
        # spread over each tile, written in the input's memory order: the ops before this
        # pooling (a convolution's batch-innermost output) then get their layout back
        gx = empty_in_layout(xp, g, shape, order=order)
        geo.tiles(gx)[...] = share[..., :, None, :, None]  # (tiles: a view, axes only split)
        return gx
    share = empty_in_layout(xp, g, g.shape, order=order)  # in the input's memory order
    xp.divide(g, d if isinstance(d, float) else xp.asarray(d, dtype=g.dtype), out=share)
    gx = empty_in_layout(xp, g, shape, order=order)
    if not geo.covers_input:
        gx.fill(0)
    for rows, cols in geo.windows():
        if geo.overlapping:
            gx[..., rows, cols] += share
        else:
            gx[..., rows, cols] = share
    return geo.crop(gx)


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive windows ``[floor(i·n/o), ceil((i+1)·n/o))``."""

    op_name = "adaptive_max_pool2d"

    def forward(self, x: Any, out_hw: tuple[int, int]) -> Any:
        xp = self.xp
        rows, cols = (adaptive_windows(n, o) for n, o in zip(x.shape[-2:], out_hw))
        lead = x.shape[:-2]
        out = xp.empty(lead + tuple(out_hw), dtype=x.dtype)
        flat_index = xp.empty(lead + tuple(out_hw), dtype=np.int64)
        width = x.shape[-1]
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                window = x[..., r0:r1, c0:c1].reshape(lead + (-1,))
                k = _nan_first_argmax(xp, window)
                out[..., i, j] = xp.take_along_axis(window, k[..., None], axis=-1)[..., 0]
                flat_index[..., i, j] = (r0 + k // (c1 - c0)) * width + c0 + k % (c1 - c0)
        self.flat_index, self.in_shape = flat_index, x.shape
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (scatter_to_flat_index(self.xp, g, self.flat_index, self.in_shape),)


def _nan_first_argmax(xp: Any, window: Any) -> Any:
    k = xp.argmax(window, axis=-1)
    if window.dtype.kind == "f":
        nan = xp.isnan(window)
        k = xp.where(nan.any(axis=-1), xp.argmax(nan, axis=-1), k)
    return k


def scatter_to_flat_index(xp: Any, g: Any, flat_index: Any, in_shape: tuple[int, ...]) -> Any:
    """Add ``g`` into a zero input at ``flat_index`` (positions within the last two axes).

    The sums go into one flat array made here (so that, recorded, ``xp.add.at`` records them)."""
    lead = in_shape[:-2]
    n = in_shape[-2] * in_shape[-1]
    m = int(np.prod(lead))
    idx = flat_index.reshape(m, -1)
    if lead:
        idx = idx + (xp.arange(m) * n)[:, None]
    gx = xp.zeros((m * n,), dtype=g.dtype)
    xp.add.at(gx, idx.reshape(-1), g.reshape(-1))
    return gx.reshape(in_shape)


def adaptive_windows(n: int, out: int) -> list[tuple[int, int]]:
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


# ---------------------------------------------------------------------------
# argument handling


def _geometry(op: str, input: Tensor, spatial: int, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool) -> _Geometry:
    nd = input._data.ndim
    if nd not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got input of shape {tuple(input.shape)}"
        )
    kernel = int_tuple(kernel_size, spatial, "kernel_size", op)
    stride = kernel if stride is None or stride == () or stride == [] else int_tuple(
        stride, spatial, "stride", op)
    padding = int_tuple(padding, spatial, "padding", op)
    dilation = int_tuple(dilation, spatial, "dilation", op)
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise RuntimeError(
            f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={kernel}, "
            f"stride={stride}, dilation={dilation}"
        )
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{op}: padding should be non-negative and at most half of the effective kernel "
                f"size, got padding={padding} for kernel_size={kernel}"
            )
    if spatial == 1:
        kernel, stride, padding, dilation = (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation
    in_hw = (1,) + input._data.shape[-1:] if spatial == 1 else tuple(input._data.shape[-2:])
    geo = _Geometry(in_hw, kernel, stride, padding, dilation, bool(ceil_mode))
    if min(geo.out_hw) <= 0:
        raise RuntimeError(
            f"{op}: input of shape {tuple(input.shape)} is too small for kernel_size "
            f"{kernel[-spatial:]} (output size would be {geo.out_hw[-spatial:]})"
        )
    return geo


def _as_2d(input: Tensor, spatial: int) -> Tensor:
    return input.unsqueeze(-2) if spatial == 1 else input


def _from_2d(out: Tensor, spatial: int) -> Tensor:
    return out.squeeze(-2) if spatial == 1 else out


def _max_pool(op: str, spatial: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    geo = _geometry(op, input, spatial, kernel_size, stride, padding, dilation, ceil_mode)
    x = _as_2d(input, spatial)
    out = MaxPool2d.apply(x, geometry=geo)
    if not return_indices:
        return _from_2d(out, spatial)
    xp = x._device.xp
    winner = getattr(out.grad_fn, "winner", None)
    if winner is None:  # no graph (or whole-window pooling): find the offsets here
        xpad = geo.pad(xp, x._data,
                       -np.inf if x._data.dtype.kind == "f" else np.iinfo(x._data.dtype).min)
        winner = window_max_and_offset(xp, window_views(xp, xpad, geo),
                                       xpad.shape[:-2] + geo.out_hw, memory_order(xpad))[1]
    indices = _flat_indices(xp, winner, geo)
    return _from_2d(out, spatial), _from_2d(_wrap(indices, x._device), spatial)


def _flat_indices(xp: Any, winner: Any, geo: _Geometry) -> Any:
    """PyTorch's ``return_indices``: flat positions in the unpadded input's last two axes."""
    (oh, ow), (sh, sw), (ph, pw), (dh, dw), kw = (geo.out_hw, geo.stride, geo.padding,
                                                  geo.dilation, geo.kernel[1])
    w = geo.in_hw[1]
    i, j = winner.astype(np.int64) // kw, winner.astype(np.int64) % kw
    rows = xp.arange(oh, dtype=np.int64)[:, None] * sh - ph + i * dh
    cols = xp.arange(ow, dtype=np.int64)[None, :] * sw - pw + j * dw
    return rows * w + cols


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over the last axis of ``(N, C, L)`` or ``(C, L)`` inputs.

    >>> import brickwork as bw
    >>> max_pool1d(bw.tensor([[1.0, 3.0, 2.0, 0.0, 5.0]]), 2)
    tensor([[3., 2.]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max pooling over the last two axes of ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    ``stride`` defaults to ``kernel_size``; padding is with -inf; with
    ``return_indices=True`` also returns PyTorch's flat ``h * W + w`` argmax indices.

    >>> import brickwork as bw
    >>> max_pool2d(bw.arange(16.0).reshape(1, 4, 4), 2)
    tensor([[[ 5.,  7.],
             [13., 15.]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_divisor(geo: _Geometry, count_include_pad: bool, divisor_override: Any) -> Any:
    """A float when every window has the same divisor, else an ``(oh, ow)`` NumPy array."""
    if divisor_override is not None:
        if int(divisor_override) == 0:
            raise RuntimeError("avg_pool: divisor_override must be non-zero")
        return float(divisor_override)
    sizes = []
    for n, o, k, s, p in zip(geo.in_hw, geo.out_hw, geo.kernel, geo.stride, geo.padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        full = end - start
        if not count_include_pad:
            full = np.minimum(end, n) - np.maximum(start, 0)
        sizes.append(full)
    divisor = sizes[0][:, None] * sizes[1][None, :]
    if (divisor == divisor.flat[0]).all():
        return float(divisor.flat[0])
    return divisor.astype(np.float64)


def _avg_pool(op: str, spatial: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Any = None) -> Tensor:
    geo = _geometry(op, input, spatial, kernel_size, stride, padding, 1, ceil_mode)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")
    divisor = _avg_divisor(geo, count_include_pad, divisor_override)
    if not isinstance(divisor, float) and input._device.type != "cpu":
        divisor = input._device.xp.asarray(divisor)
    out = AvgPool2d.apply(_as_2d(input, spatial), geometry=geo, divisor=divisor)
    return _from_2d(out, spatial)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Average pooling over the last axis of ``(N, C, L)`` or ``(C, L)`` inputs.

    >>> import brickwork as bw
    >>> avg_pool1d(bw.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)
    tensor([[2., 1.]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Average pooling over the last two axes of ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    Padding counts as zeros in the divisor unless ``count_include_pad=False``.

    >>> import brickwork as bw
    >>> avg_pool2d(bw.arange(16.0).reshape(1, 4, 4), 2)
    tensor([[[ 2.5000,  4.5000],
             [10.5000, 12.5000]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_size(op: str, input: Tensor, output_size: Any, spatial: int) -> tuple[int, ...]:
    nd = input._data.ndim
    if nd not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got input of shape {tuple(input.shape)}"
        )
    in_sizes = input._data.shape[-spatial:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != spatial:
            raise ValueError(f"{op}: output_size must have {spatial} elements, got {output_size!r}")
        sizes = tuple(n if o is None else as_size(o, op, "output_size")
                      for n, o in zip(in_sizes, output_size))
    else:
        sizes = (as_size(output_size, op, "output_size"),) * spatial
    if any(s <= 0 for s in sizes) or any(n == 0 for n in in_sizes):
        raise RuntimeError(
            f"{op}: output_size {sizes} must be positive and the input {tuple(input.shape)} "
            "must have non-empty spatial dims"
        )
    return sizes


def _pool_matrix(n: int, out: int, like: Tensor) -> Tensor:
    """``(out, n)`` averaging matrix of the adaptive windows (a constant)."""
    m = np.zeros((out, n), dtype=like._data.dtype)
    for i, (a, b) in enumerate(adaptive_windows(n, out)):
        m[i, a:b] = 1.0 / (b - a)
    arr = m if like._device.type == "cpu" else like._device.xp.asarray(m)
    return _wrap(arr, like._device)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (``None`` in ``output_size`` keeps that dim).

    Evenly dividing sizes run the strided avg-pool kernel; otherwise the
    windows overlap and the pooling is two small matrix products
    ``A_h @ x @ A_w.T`` with PyTorch's window bounds.

    >>> import brickwork as bw
    >>> adaptive_avg_pool2d(bw.arange(16.0).reshape(1, 4, 4), 1)
    tensor([[[7.5000]]])
    """
    return _adaptive_avg("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of the last axis to ``output_size`` elements."""
    return _adaptive_avg("adaptive_avg_pool1d", input, output_size, 1)


def _adaptive_avg(op: str, input: Tensor, output_size: Any, spatial: int) -> Tensor:
    sizes = _adaptive_size(op, input, output_size, spatial)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")
    in_sizes = input._data.shape[-spatial:]
    if all(n % o == 0 for n, o in zip(in_sizes, sizes)):
        kernel = tuple(n // o for n, o in zip(in_sizes, sizes))
        if spatial == 1:
            return avg_pool1d(input, kernel)
        return avg_pool2d(input, kernel)
    out = linalg.matmul(input, _pool_matrix(in_sizes[-1], sizes[-1], input).T)
    if spatial == 2:
        out = linalg.matmul(_pool_matrix(in_sizes[0], sizes[0], input), out)
    return out


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, with PyTorch's adaptive windows.

    >>> import brickwork as bw
    >>> adaptive_max_pool2d(bw.arange(16.0).reshape(1, 4, 4), (1, 2))
    tensor([[[13., 15.]]])
    """
    return _adaptive_max("adaptive_max_pool2d", input, output_size, 2, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of the last axis to ``output_size`` elements."""
    return _adaptive_max("adaptive_max_pool1d", input, output_size, 1, return_indices)


def _adaptive_max(op: str, input: Tensor, output_size: Any, spatial: int,
                  return_indices: bool) -> Any:
    sizes = _adaptive_size(op, input, output_size, spatial)
    in_sizes = input._data.shape[-spatial:]
    if all(n % o == 0 for n, o in zip(in_sizes, sizes)):
        kernel = tuple(n // o for n, o in zip(in_sizes, sizes))
        pool = max_pool1d if spatial == 1 else max_pool2d
        return pool(input, kernel, return_indices=return_indices)
    x = _as_2d(input, spatial)
    out = AdaptiveMaxPool2d.apply(x, out_hw=(1,) + sizes if spatial == 1 else sizes)
    if not return_indices:
        return _from_2d(out, spatial)
    index = out.grad_fn.flat_index if out.grad_fn is not None else _adaptive_indices(x, out)
    return _from_2d(out, spatial), _from_2d(_wrap(index, x._device), spatial)


def _adaptive_indices(x: Tensor, out: Tensor) -> Any:
    fn = AdaptiveMaxPool2d.__new__(AdaptiveMaxPool2d)
    fn.xp = x._device.xp
    fn.forward(x._data, out_hw=tuple(out._data.shape[-2:]))
    return fn.flat_index

