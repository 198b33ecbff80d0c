"""Convolution kernels: conv1d/conv2d and their transposes, by im2col + one GEMM.

Layout of :class:`Conv2d`: batch-innermost ("CHWN") memory. The input is
read as ``(C, H, W, B)``, so the column matrix ``(C·kh·kw, Ho·Wo·B)`` is
filled with one block copy per kernel offset ``(i, j)`` whose contiguous runs
are whole output rows of the batch (``Wo·B`` values), not ``Wo`` values as
with channel-major ``(C, B, H, W)`` memory: 3-6x faster im2col/col2im at the
sizes of LeNet and small ResNets (measured, see benchmarks/RESULTS.md). The
GEMM ``W(O, C·kh·kw) @ cols`` writes ``(O, Ho, Wo, B)`` memory; the op
returns it as an NCHW *view* (a transpose, no copy), and the next
convolution, batch norm or elementwise op reads it as it is (NumPy's ufuncs
keep the layout of their inputs). The input gradient (col2im) is computed
only when the input requires grad.

Measured refinements (see ``Conv2d``): the output rows are processed in
chunks whose column matrix fits in cache (one GEMM per chunk, still large),
the chunks reuse one scratch buffer (fresh large arrays cost page faults that
outweigh the copies), and backward rebuilds each chunk's columns from the
saved input instead of keeping a column matrix that is ``kh·kw`` times the
input's size.

:class:`ConvTranspose2d` keeps channel-major ``(C, B, H, W)`` memory (its
col2im runs once per call and is not on the hot path of the benchmarks).

One-dimensional convolutions run through the same code with a height of 1.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from brickwork import _traced, creation
from brickwork.autograd import Function
from brickwork.ops import _onednn
from brickwork.ops._util import int_tuple, transposed_copy
from brickwork.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "conv_output_size"]

Pads = tuple[tuple[int, int], tuple[int, int]]


# ---------------------------------------------------------------------------
# array helpers (shared with the transposed convolution)


def im2col(xp: Any, x_cm: Any, kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], out_hw: tuple[int, int], out: Any = None) -> Any:
    """Columns ``(C, kh, kw, B, Ho, Wo)`` of a channel-major input ``(C, B, H, W)``.

    Row ``(c, i, j)`` holds, for every output pixel, the input value under
    kernel offset ``(i, j)``: one strided block copy per offset.
    """
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    c, b = x_cm.shape[:2]
    cols = xp.empty((c, kh, kw, b, ho, wo), dtype=x_cm.dtype) if out is None else out
    for i in range(kh):
        top = i * dh
        rows = slice(top, top + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            left = j * dw
            cols[:, i, j] = x_cm[:, :, rows, left:left + sw * (wo - 1) + 1:sw]
    return cols


def col2im(xp: Any, cols: Any, full_hw: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], out: Any = None) -> Any:
    """Adjoint of :func:`im2col`: scatter-add columns back into ``(C, B, H, W)``
    (into ``out``, which must start at zero, when given)."""
    c, kh, kw, b, ho, wo = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    if out is None:
        out = xp.zeros((c, b) + tuple(full_hw), dtype=cols.dtype)
    for i in range(kh):
        top = i * dh
        rows = slice(top, top + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            left = j * dw
            out[:, :, rows, left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]
    return out


_scratch = threading.local()


def scratch(xp: Any, shape: tuple[int, ...], dtype: Any, slot: str) -> Any:
    """A reusable work buffer (one per slot and thread) for arrays that never leave a kernel.

    Fresh large arrays cost page faults (the kernel zeroes new pages) that
    here cost more than the copies themselves; chunk buffers are reused instead.
    Each slot keeps one flat array, grown when a larger shape is asked for, so
    that chunks of different sizes (the last chunk of a batch) share it.
    """
    cache = getattr(_scratch, "buffers", None)
    if cache is None:
        cache = _scratch.buffers = {}
    dtype = np.dtype(dtype)
    key = (slot, xp.__name__, dtype.str)
    size = 1
    for s in shape:
        size *= s
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = cache[key] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


CHUNK_BYTES = 4 << 20  # about the size of one chunk's column matrix: cache-sized (measured)


def row_chunks(rows: int, bytes_per_row: int, budget: int | None = None) -> list[tuple[int, int]]:
    """Split output rows so each chunk's column matrix takes about ``budget`` bytes."""
    budget = CHUNK_BYTES if budget is None else budget
    step = max(1, min(rows, budget // max(bytes_per_row, 1)))
    return [(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)] or [(0, 0)]


def _batch_innermost(x: Any) -> Any:
    """``(B, C, H, W) -> (C, H, W, B)``: a free view when x already has batch-innermost memory."""
    return x.transpose(1, 2, 3, 0)


def _to_batch_innermost(xp: Any, x: Any) -> Any:
    """``(B, C, H, W) -> (C, H, W, B)`` C-contiguous: free for a convolution's output, a
    transposing copy of an NCHW input (:func:`transposed_copy`: 5x faster than a plain copy
    for 3×32×32 images)."""
    v = _batch_innermost(x)
    if v.flags.c_contiguous:
        return v
    if x.flags.c_contiguous:
        return transposed_copy(xp, x.reshape(x.shape[0], -1)).reshape(v.shape)
    return xp.ascontiguousarray(v)


def _inside(out_range: tuple[int, int], offset: int, stride: int, size: int,
            pad: int) -> tuple[int, int, int]:
    """Outputs ``[a, b)`` of ``out_range`` whose input index ``r·stride + offset - pad`` lies in
    ``[0, size)`` (the others read zero padding), and the input index of output ``a``."""
    r0, r1 = out_range
    a = max(r0, -(-(pad - offset) // stride))
    b = max(a, min(r1, (size - 1 - offset + pad) // stride + 1))
    return a, b, a * stride + offset - pad


def im2col_rows(x_hwb: Any, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], pads: Pads, rows: tuple[int, int], wo: int,
                out: Any) -> Any:
    """Columns ``(C, kh, kw, r1 - r0, Wo, B)`` of output rows ``rows = (r0, r1)`` of a
    batch-innermost input ``(C, H, W, B)``: one block copy per kernel offset. The zero padding
    is never materialised: the parts of a block that read it are set to zero."""
    (kh, kw), (sh, sw), (dh, dw), ((pt, _), (pl, _)), (r0, r1) = kernel, stride, dilation, pads, rows
    h, w = x_hwb.shape[1:3]
    col_ranges = [_inside((0, wo), j * dw, sw, w, pl) for j in range(kw)]
    for i in range(kh):
        ra, rb, top = _inside(rows, i * dh, sh, h, pt)
        src_rows = slice(top, top + sh * (rb - ra - 1) + 1, sh)
        for j, (wa, wb, left) in enumerate(col_ranges):
            block = out[:, i, j]
            if ra > r0:
                block[:, :ra - r0] = 0
            if rb < r1:
                block[:, rb - r0:] = 0
            if rb == ra:
                continue
            inner = block[:, ra - r0:rb - r0]  # (C, rows inside, Wo, B)
            if wa > 0:
                inner[:, :, :wa] = 0
            if wb < wo:
                inner[:, :, wb:] = 0
            if wb > wa:
                inner[:, :, wa:wb] = x_hwb[:, src_rows, left:left + sw * (wb - wa - 1) + 1:sw]
    return out


def col2im_rows(cols: Any, kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], pads: Pads, rows: tuple[int, int], out: Any) -> Any:
    """Adjoint of :func:`im2col_rows`: add columns ``(C, kh, kw, r1 - r0, Wo, B)`` into the
    batch-innermost input gradient ``out`` ``(C, H, W, B)`` (what fell on padding is dropped)."""
    (kh, kw), (sh, sw), (dh, dw), ((pt, _), (pl, _)), r0 = kernel, stride, dilation, pads, rows[0]
    h, w = out.shape[1:3]
    wo = cols.shape[4]
    col_ranges = [_inside((0, wo), j * dw, sw, w, pl) for j in range(kw)]
    for i in range(kh):
        ra, rb, top = _inside(rows, i * dh, sh, h, pt)
        if rb == ra:
            continue
        dst_rows = slice(top, top + sh * (rb - ra - 1) + 1, sh)
        for j, (wa, wb, left) in enumerate(col_ranges):
            if wb > wa:
                out[:, dst_rows, left:left + sw * (wb - wa - 1) + 1:sw] += cols[:, i, j, ra - r0:rb - r0,
                                                                                 wa:wb]
    return out


def _channel_major(x: Any) -> Any:
    """``(B, C, H, W) -> (C, B, H, W)``: a free view when x is already channel-major."""
    return x.transpose(1, 0, 2, 3)


def _pad_cm(xp: Any, x_cm: Any, pads: Pads) -> Any:
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x_cm
    c, b, h, w = x_cm.shape
    out = xp.zeros((c, b, h + pt + pb, w + pl + pr), dtype=x_cm.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x_cm
    return out


def _is_pointwise(kernel: tuple[int, int], stride: tuple[int, int], pads: Pads) -> bool:
    """A 1x1 convolution with stride 1 and no padding: the input is its own column matrix."""
    return kernel == (1, 1) and stride == (1, 1) and pads == ((0, 0), (0, 0))


def _gemm(xp: Any, a: Any, b: Any) -> Any:
    """``a @ b`` for stacks of groups ``(g, m, k) @ (g, k, n)``, one BLAS call when g == 1."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return xp.matmul(a, b)


def _gemm_into(xp: Any, a: Any, b: Any, out: Any) -> None:
    """``out[...] = a @ b`` for ``(g, m, k) @ (g, k, n)``; ``out`` may be ``(g, m, rows, n / rows)``
    (a block of output rows): the GEMM writes straight into it (BLAS takes its row stride)."""
    target = out.reshape(out.shape[0], out.shape[1], -1)  # a view: the rows of a block are adjacent
    if a.shape[0] == 1:
        xp.matmul(a[0], b[0], out=target[0])
    else:
        xp.matmul(a, b, out=target)


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """Output length of a convolution/pooling window sweep (floor mode)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


# ---------------------------------------------------------------------------
# primitives


class Conv2d(Function):
    """``out[b, o] = sum_c W[o, c] ⋆ x[b, c] + bias[o]`` for 3-D (1-d conv) and 4-D inputs.

    Each direction (forward, input gradient, weight gradient) runs on oneDNN
    where it is installed and faster for that geometry, else on brickwork's own
    path (the choice is measured per geometry: :func:`_onednn.choose`). The own
    path works on batch-innermost memory (see the module docstring): the output
    rows are processed in chunks whose column matrix fits in cache
    (:func:`row_chunks`), so im2col and the GEMM work on cache-resident memory,
    and no column matrix is kept for backward (which rebuilds each chunk's
    columns from the saved input, as PyTorch's kernels do).

    Recorded (``create_graph=True``), the backward runs brickwork's convolutions
    instead, which are differentiable again: the input gradient is a transposed
    convolution of the gradient, the weight gradient a convolution of the input
    with the gradient (:func:`conv_input_gradient`, :func:`conv_weight_gradient`).
    """

    op_name = "conv2d"
    saved_inputs = (0, 1)
    # the input in batch-innermost memory, kept for the first-order weight gradient only (a
    # recorded backward reads the input itself)
    double_backward_constants = ("x_hwb",)

    def forward(self, x: Any, weight: Any, bias: Any = None, *, stride: tuple[int, int],
                pads: Pads, dilation: tuple[int, int], groups: int) -> Any:
        need_x, need_w = self.needs_input_grad[:2]
        # the arrays as they came (a recorded backward finds its inputs by identity with them)
        self.x, self.weight, self.x_hwb = (x if need_w else None), (weight if need_x else None), None
        self.one_d = x.ndim == 3
        if self.one_d:
            x, weight = x[:, :, None, :], weight[:, :, None, :]
        bsz, c, h, w = x.shape
        o, cg, kh, kw = weight.shape
        (pt, pb), (pl, pr) = pads
        ho = conv_output_size(h, kh, stride[0], pt + pb, dilation[0])
        wo = conv_output_size(w, kw, stride[1], pl + pr, dilation[1])
        self.geometry = (x.shape, (kh, kw), stride, pads, dilation, groups, (ho, wo))
        self.has_bias = bias is not None
        self.onednn = self.xp is np and _onednn.usable(x, weight, *(() if bias is None else (bias,)))
        _onednn.announce_once()
        key = (x.shape, x.strides, weight.shape, self.has_bias, stride, pads, dilation, groups)
        self.key = key
        if self.onednn and _onednn.choose("forward", key) == "onednn":
            with _onednn.timed("forward", key, "onednn"):
                out = _onednn.conv_forward(x, weight, bias, (bsz, o, ho, wo), stride, pads, dilation, groups)
        else:
            with _onednn.timed("forward", key, "numpy", self.onednn):
                out = self._forward_own(x, weight, bias, need_w)
        return out[:, :, 0, :] if self.one_d else out

    def _forward_own(self, x: Any, weight: Any, bias: Any, need_w: bool) -> Any:
        xp = self.xp
        _, kernel, _, _, _, groups, (ho, wo) = self.geometry
        bsz, o = x.shape[0], weight.shape[0]
        x_hwb = _to_batch_innermost(xp, x)
        w2 = weight.reshape(groups, o // groups, -1)
        out = xp.empty((o, ho, wo, bsz), dtype=x.dtype)
        out_rows = out.reshape(groups, o // groups, ho, wo * bsz)
        bias_rows = None if bias is None else bias.reshape(groups, o // groups, 1, 1)
        for r0, r1, cols in self._columns(x_hwb):
            _gemm_into(xp, w2, cols, out_rows[:, :, r0:r1])
            if bias_rows is not None:  # while the chunk's output is in cache
                out_rows[:, :, r0:r1] += bias_rows
        self.x_hwb = x_hwb if need_w else None
        return out.transpose(3, 0, 1, 2)

    def _columns(self, x_hwb: Any) -> Any:
        """``(r0, r1, cols)`` per chunk of output rows; cols is ``(groups, C/g·kh·kw, n)``
        with ``n = (r1 - r0)·Wo·B``.

        The chunks share one scratch buffer: each ``cols`` is valid until the next is made.
        """
        _, kernel, stride, pads, dilation, groups, (ho, wo) = self.geometry
        c, bsz = x_hwb.shape[0], x_hwb.shape[3]
        rows = c * kernel[0] * kernel[1]
        if _is_pointwise(kernel, stride, pads):  # the input is its own column matrix
            yield 0, ho, x_hwb.reshape(groups, rows // groups, -1)
            return
        for r0, r1 in row_chunks(ho, rows * wo * bsz * x_hwb.dtype.itemsize):
            size = (c, kernel[0], kernel[1], r1 - r0, wo, bsz)
            buffer = scratch(self.xp, size, x_hwb.dtype, "columns")
            im2col_rows(x_hwb, kernel, stride, dilation, pads, (r0, r1), wo, buffer)
            yield r0, r1, buffer.reshape(groups, rows // groups, -1)

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):
            return self._backward_recorded(g)
        need_x, need_w, *need_b = self.needs_input_grad
        need_b = bool(need_b and need_b[0])
        x_shape, kernel, stride, pads, dilation, groups, (ho, wo) = self.geometry
        x, weight = self.x, self.weight
        if self.one_d:
            g = g[:, :, None, :]
            x = None if x is None else x[:, :, None, :]
            weight = None if weight is None else weight[:, :, None, :]
        onednn = self.onednn and g.dtype == np.float32
        if onednn and not _onednn.usable(g):  # e.g. the stride-0 gradient of a sum
            g = np.ascontiguousarray(g)
        key = self.key + (g.strides,)
        g_rows = None  # the gradient as (groups, O/groups, Ho, Wo·B) rows, made when the own path runs
        memo: dict = {}  # oneDNN's copy of g in its own layout, made once for both gradients
        gx = gw = gb = None
        if need_w:
            if onednn and _onednn.choose("weight gradient", key) == "onednn":
                with _onednn.timed("weight gradient", key, "onednn"):
                    gw, gb = _onednn.conv_backward_weights(x, g, self.weight_shape(g), need_b, stride,
                                                           pads, dilation, groups, memo)
            else:
                with _onednn.timed("weight gradient", key, "numpy", onednn):
                    g_rows = self._gradient_rows(g)
                    gw = self._weight_gradient_own(g_rows, x)
        if need_b and gb is None:
            gb = g.sum(axis=(0, 2, 3))
        if need_x:
            if onednn and _onednn.choose("input gradient", key) == "onednn":
                with _onednn.timed("input gradient", key, "onednn"):
                    gx = _onednn.conv_backward_data(g, weight, x_shape, stride, pads, dilation, groups,
                                                    memo)
            else:
                with _onednn.timed("input gradient", key, "numpy", onednn):
                    g_rows = self._gradient_rows(g) if g_rows is None else g_rows
                    gx = self._input_gradient_own(g_rows, weight)
        if self.one_d:
            gx = None if gx is None else gx[:, :, 0, :]
            gw = None if gw is None else gw[:, :, 0, :]
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _backward_recorded(self, g: Any) -> tuple[Any, ...]:
        """The gradients as brickwork convolutions (``create_graph=True``): they are recorded, and
        their own backwards are again convolutions, so any order of derivative works."""
        need_x, need_w, *need_b = self.needs_input_grad
        x_shape, kernel, stride, pads, dilation, groups, _ = self.geometry
        g = g.t.unsqueeze(2) if self.one_d else g.t
        gx = gw = gb = None
        if need_x:
            weight = self.weight.t.unsqueeze(2) if self.one_d else self.weight.t
            gx = conv_input_gradient(g, weight, x_shape, stride, pads, dilation, groups)
            gx = gx.squeeze(2) if self.one_d else gx
        if need_w:
            x = self.x.t.unsqueeze(2) if self.one_d else self.x.t
            gw = conv_weight_gradient(x, g, kernel, stride, pads, dilation, groups)
            gw = gw.squeeze(2) if self.one_d else gw
        if need_b and need_b[0]:
            gb = g.sum(dim=(0, 2, 3))
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def weight_shape(self, g: Any) -> tuple[int, ...]:
        x_shape, kernel, _, _, _, groups, _ = self.geometry
        return (g.shape[1], x_shape[1] // groups) + tuple(kernel)

    def _gradient_rows(self, g: Any) -> Any:
        xp = self.xp
        _, _, _, _, _, groups, (ho, wo) = self.geometry
        g_hwb = _batch_innermost(g)
        if not g_hwb.flags.c_contiguous:  # a transient copy: the scratch buffer spares fresh pages
            buf = scratch(xp, g_hwb.shape, g.dtype, "grad")
            buf[...] = g_hwb
            g_hwb = buf
        o, bsz = g.shape[1], g.shape[0]
        return g_hwb.reshape(groups, o // groups, ho, wo * bsz)

    def _weight_gradient_own(self, g_rows: Any, x: Any) -> Any:
        xp = self.xp
        x_shape, kernel, _, _, _, groups, _ = self.geometry
        if self.x_hwb is None:  # the forward ran on oneDNN, which keeps the input as it came
            self.x_hwb = _to_batch_innermost(xp, x)
        c, og = x_shape[1], g_rows.shape[1]
        # accumulated transposed, cols @ g.T: 5-10 % faster in OpenBLAS than g @ cols.T (measured)
        gw_t = xp.zeros((groups, c // groups * kernel[0] * kernel[1], og), dtype=g_rows.dtype)
        for r0, r1, cols in self._columns(self.x_hwb):
            g_chunk = g_rows[:, :, r0:r1].reshape(groups, og, -1)
            gw_t += _gemm(xp, cols, g_chunk.transpose(0, 2, 1))
        return gw_t.transpose(0, 2, 1).reshape(og * groups, -1, *kernel)

    def _input_gradient_own(self, g_rows: Any, weight: Any) -> Any:
        xp = self.xp
        x_shape, kernel, stride, pads, dilation, groups, (ho, wo) = self.geometry
        bsz, c, h, w = x_shape
        og = g_rows.shape[1]
        w2t = weight.reshape(groups, og, -1).transpose(0, 2, 1)
        if _is_pointwise(kernel, stride, pads):  # the columns were the input itself
            gx_hwb = _gemm(xp, w2t, g_rows.reshape(groups, og, -1)).reshape(c, ho, wo, bsz)
        else:
            gx_hwb = xp.zeros((c, h, w, bsz), dtype=g_rows.dtype)
            rows = c // groups * kernel[0] * kernel[1]
            for r0, r1 in row_chunks(ho, c * kernel[0] * kernel[1] * wo * bsz * g_rows.dtype.itemsize):
                gcols = scratch(xp, (groups, rows, (r1 - r0) * wo * bsz), g_rows.dtype, "gcols")
                g_chunk = g_rows[:, :, r0:r1].reshape(groups, og, -1)
                _gemm_into(xp, w2t, g_chunk, gcols)
                gcols = gcols.reshape(c, kernel[0], kernel[1], r1 - r0, wo, bsz)
                col2im_rows(gcols, kernel, stride, dilation, pads, (r0, r1), gx_hwb)
        return gx_hwb.transpose(3, 0, 1, 2)


class ConvTranspose2d(Function):
    """The adjoint of :class:`Conv2d` with respect to its input (a "deconvolution").

    Recorded (``create_graph=True``), its input gradient is a convolution of the gradient and
    its weight gradient a convolution of the gradient with the input.
    """

    op_name = "conv_transpose2d"
    saved_inputs = (0, 1)
    # channel-major copies for the first-order backward's GEMMs (a recorded backward reads the
    # input and weight themselves)
    double_backward_constants = ("x_cm", "w2")

    def forward(self, x: Any, weight: Any, bias: Any = None, *, stride: tuple[int, int],
                padding: tuple[int, int], output_padding: tuple[int, int],
                dilation: tuple[int, int], groups: int) -> Any:
        xp = self.xp
        need_x, need_w = self.needs_input_grad[:2]
        self.x, self.weight = (x if need_w else None), (weight if need_x else None)
        self.one_d = x.ndim == 3
        if self.one_d:
            x, weight = x[:, :, None, :], weight[:, :, None, :]
        bsz, c, h, w = x.shape
        _, og, kh, kw = weight.shape
        o = og * groups
        full = tuple(
            (size - 1) * s + d * (k - 1) + 1 + op
            for size, s, d, k, op in zip((h, w), stride, dilation, (kh, kw), output_padding)
        )
        out_hw = (full[0] - 2 * padding[0], full[1] - 2 * padding[1])
        x_cm = _channel_major(x).reshape(groups, c // groups, bsz * h * w)
        w2 = weight.reshape(groups, c // groups, og * kh * kw)
        cols = _gemm(xp, w2.transpose(0, 2, 1), x_cm).reshape(o, kh, kw, bsz, h, w)
        out_full = col2im(xp, cols, full, stride, dilation)
        ph, pw = padding
        out = out_full[:, :, ph:ph + out_hw[0], pw:pw + out_hw[1]]
        if bias is not None:
            out += bias[:, None, None, None]
        self.has_bias = bias is not None
        self.geometry = ((kh, kw), stride, padding, dilation, groups, (h, w), full)
        self.x_cm = x_cm if need_w else None
        self.w2 = w2 if need_x else None
        out = out.transpose(1, 0, 2, 3)
        return out[:, :, 0, :] if self.one_d else out

    def backward(self, g: Any) -> tuple[Any, ...]:
        if _traced.is_traced(g):
            return self._backward_recorded(g)
        xp = self.xp
        need_x, need_w, *need_b = self.needs_input_grad
        kernel, stride, padding, dilation, groups, (h, w), full = self.geometry
        if self.one_d:
            g = g[:, :, None, :]
        bsz, o, ho, wo = g.shape
        g_cm = _channel_major(g)
        gx = gw = gb = None
        if need_b and need_b[0]:
            gb = g_cm.sum(axis=(1, 2, 3))
        if need_x or need_w:
            ph, pw = padding
            pads = ((ph, full[0] - ho - ph), (pw, full[1] - wo - pw))
            g_full = _pad_cm(xp, g_cm, pads)
            gcols = im2col(xp, g_full, kernel, stride, dilation, (h, w))
            gcols = gcols.reshape(groups, o // groups * kernel[0] * kernel[1], bsz * h * w)
            if need_x:
                gx = _gemm(xp, self.w2, gcols)
                gx = gx.reshape(groups * gx.shape[1], bsz, h, w).transpose(1, 0, 2, 3)
                if self.one_d:
                    gx = gx[:, :, 0, :]
            if need_w:
                gw = _gemm(xp, self.x_cm, gcols.transpose(0, 2, 1))
                gw = gw.reshape(-1, o // groups, *kernel)
                if self.one_d:
                    gw = gw[:, :, 0, :]
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _backward_recorded(self, g: Any) -> tuple[Any, ...]:
        """The gradients as brickwork convolutions (``create_graph=True``)."""
        need_x, need_w, *need_b = self.needs_input_grad
        kernel, stride, (ph, pw), dilation, groups, (h, w), _ = self.geometry
        pads = ((ph, ph), (pw, pw))
        g = g.t.unsqueeze(2) if self.one_d else g.t
        gx = gw = gb = None
        if need_x:  # the convolution this one is the transpose of, cut to the input's size
            weight = self.weight.t.unsqueeze(2) if self.one_d else self.weight.t
            gx = Conv2d.apply(g, weight, stride=stride, pads=pads, dilation=dilation, groups=groups)
            if tuple(gx.shape[2:]) != (h, w):  # output_padding of at least a stride
                gx = gx[:, :, :h, :w]
            gx = gx.squeeze(2) if self.one_d else gx
        if need_w:  # the weight gradient of that convolution, with the roles of x and g swapped
            x = self.x.t.unsqueeze(2) if self.one_d else self.x.t
            gw = conv_weight_gradient(g, x, kernel, stride, pads, dilation, groups)
            gw = gw.squeeze(2) if self.one_d else gw
        if need_b and need_b[0]:
            gb = g.sum(dim=(0, 2, 3))
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def conv_input_gradient(g: Tensor, weight: Tensor, x_shape: tuple[int, ...],
                        stride: tuple[int, int], pads: Pads, dilation: tuple[int, int],
                        groups: int) -> Tensor:
    """The input gradient of a 2-D convolution as a transposed convolution of ``g`` (recorded,
    differentiable): the output padding makes it cover the padded input up to its last row, and
    asymmetric padding (``'same'`` with an even kernel) is cut off afterwards."""
    (pt, pb), (pl, pr) = pads
    h, w = x_shape[2:]
    # rows (columns) of the padded input below the last window: 0 <= extra < stride
    extra = tuple(
        size + lo + hi - ((out - 1) * s + d * (k - 1) + 1)
        for size, (lo, hi), out, s, d, k in zip((h, w), pads, g.shape[2:], stride, dilation,
                                                 weight.shape[2:]))
    if pt == pb and pl == pr:
        return ConvTranspose2d.apply(g, weight, stride=stride, padding=(pt, pl),
                                     output_padding=extra, dilation=dilation, groups=groups)
    full = ConvTranspose2d.apply(g, weight, stride=stride, padding=(0, 0), output_padding=extra,
                                 dilation=dilation, groups=groups)
    return full[:, :, pt:pt + h, pl:pl + w]


def conv_weight_gradient(x: Tensor, g: Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                         pads: Pads, dilation: tuple[int, int], groups: int) -> Tensor:
    """The weight gradient ``(O, C/groups, kh, kw)`` of a 2-D convolution of ``x`` whose output
    gradient is ``g``, as one convolution (recorded, differentiable).

    ``gw[o, c, i, j] = sum_{b, p, q} xpad[b, c, p·s + i·d, q·s + j·d] · g[b, o, p, q]`` is a
    convolution over the batch: the input is ``x`` with batch and channels swapped (``C/groups``
    images of ``groups·B`` channels), the kernel is ``g`` with batch and channels swapped, and
    stride and dilation trade places. Its output may run past the kernel by less than a stride.
    """
    bsz, c, h, w = x.shape
    o = g.shape[1]
    if bsz == 0:
        return creation.zeros(o, c // groups, *kernel, dtype=x.dtype, device=x.device)
    images = x.reshape(bsz, groups, c // groups, h, w).permute(2, 1, 0, 3, 4)
    images = images.reshape(c // groups, groups * bsz, h, w)
    out = Conv2d.apply(images, g.transpose(0, 1), stride=dilation, pads=pads, dilation=stride,
                       groups=groups)
    return out[:, :, :kernel[0], :kernel[1]].transpose(0, 1)


# ---------------------------------------------------------------------------
# argument handling


def _check_conv_inputs(op: str, input: Tensor, weight: Tensor, bias: Tensor | None,
                       spatial: int, in_channels_axis: int, groups: int) -> bool:
    """Validate ranks, channels and dtypes; returns True for an unbatched input."""
    nd = input._data.ndim
    if weight._data.ndim != spatial + 2:
        raise RuntimeError(
            f"{op}: expected a {spatial + 2}-D weight, got weight of shape {tuple(weight.shape)}"
        )
    if nd not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got input of shape {tuple(input.shape)}"
        )
    if groups < 1:
        raise RuntimeError(f"{op}: groups must be a positive integer, got {groups}")
    unbatched = nd == spatial + 1
    channels = input._data.shape[0 if unbatched else 1]
    if in_channels_axis == 1:  # conv: weight (O, C/g, k...)
        expected = weight._data.shape[1] * groups
        if weight._data.shape[0] % groups:
            raise RuntimeError(
                f"{op}: out_channels {weight._data.shape[0]} is not divisible by groups={groups}"
            )
    else:  # transposed conv: weight (C, O/g, k...)
        expected = weight._data.shape[0]
        if expected % groups:
            raise RuntimeError(f"{op}: in_channels {expected} is not divisible by groups={groups}")
    if channels != expected:
        raise RuntimeError(
            f"{op}: weight of shape {tuple(weight.shape)} (groups={groups}) expects input with "
            f"{expected} channels, but got input of shape {tuple(input.shape)} with {channels} "
            "channels"
        )
    if input._data.dtype != weight._data.dtype or (
        bias is not None and bias._data.dtype != weight._data.dtype
    ):
        found = f"input {input.dtype}, weight {weight.dtype}"
        if bias is not None:
            found += f", bias {bias.dtype}"
        raise RuntimeError(f"{op}: input and parameters must have the same dtype, got {found}")
    if bias is not None:
        out_ch = weight._data.shape[0] if in_channels_axis == 1 else weight._data.shape[1] * groups
        if tuple(bias._data.shape) != (out_ch,):
            raise RuntimeError(
                f"{op}: expected bias of shape ({out_ch},), got {tuple(bias.shape)}"
            )
    return unbatched


def _resolve_padding(padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                     dilation: tuple[int, ...], op: str) -> tuple[tuple[int, int], ...]:
    """``(lo, hi)`` per spatial dim; ``'same'`` may be asymmetric, as in PyTorch."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{op}: invalid padding string {padding!r}, expected 'same' or 'valid'")
    p = int_tuple(padding, n, "padding", op)
    if any(v < 0 for v in p):
        raise RuntimeError(f"{op}: negative padding is not supported, got {p}")
    return tuple((v, v) for v in p)


def _conv(op: str, spatial: int, input: Tensor, weight: Tensor, bias: Tensor | None,
          stride: Any, padding: Any, dilation: Any, groups: int) -> Tensor:
    unbatched = _check_conv_inputs(op, input, weight, bias, spatial, 1, groups)
    kernel = tuple(weight._data.shape[2:])
    stride = int_tuple(stride, spatial, "stride", op)
    dilation = int_tuple(dilation, spatial, "dilation", op)
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise RuntimeError(f"{op}: stride and dilation must be positive, got {stride}, {dilation}")
    pads = _resolve_padding(padding, kernel, stride, dilation, op)
    x = input.unsqueeze(0) if unbatched else input
    in_sizes = x._data.shape[2:]
    for size, k, (lo, hi), d in zip(in_sizes, kernel, pads, dilation):
        if size + lo + hi < d * (k - 1) + 1:
            raise RuntimeError(
                f"{op}: input of shape {tuple(input.shape)} (padded spatial size {size + lo + hi}) "
                f"is smaller than the kernel (effective size {d * (k - 1) + 1})"
            )
    if spatial == 1:
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    args = (x, weight) if bias is None else (x, weight, bias)
    out = Conv2d.apply(*args, stride=stride, pads=pads, dilation=dilation, groups=int(groups))
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over ``(B, C, L)`` or ``(C, L)`` inputs.

    ``weight`` is ``(out_channels, in_channels // groups, k)``; ``padding`` is an
    int, a 1-tuple, ``'valid'`` or ``'same'``.

    >>> import brickwork as bw
    >>> x = bw.ones(1, 1, 5)
    >>> conv1d(x, bw.ones(1, 1, 3), padding=1)
    tensor([[[2., 3., 3., 3., 2.]]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over ``(B, C, H, W)`` or ``(C, H, W)`` inputs.

    ``weight`` is ``(out_channels, in_channels // groups, kh, kw)``; ``padding``
    is an int, a pair, ``'valid'`` or ``'same'`` (asymmetric for even kernels,
    as in PyTorch). The result is an NCHW view of batch-innermost memory.

    >>> import brickwork as bw
    >>> x = bw.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, bw.ones(1, 1, 2, 2), stride=2)
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op: str, spatial: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int,
                    dilation: Any) -> Tensor:
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    unbatched = _check_conv_inputs(op, input, weight, bias, spatial, 0, groups)
    stride = int_tuple(stride, spatial, "stride", op)
    padding = int_tuple(padding, spatial, "padding", op)
    output_padding = int_tuple(output_padding, spatial, "output_padding", op)
    dilation = int_tuple(dilation, spatial, "dilation", op)
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation) or any(p < 0 for p in padding):
        raise RuntimeError(
            f"{op}: stride and dilation must be positive and padding non-negative, got "
            f"stride={stride}, padding={padding}, dilation={dilation}"
        )
    for op_, s, d in zip(output_padding, stride, dilation):
        if not (0 <= op_ < max(s, d)):
            raise RuntimeError(
                f"{op}: output_padding {output_padding} must be smaller than either stride "
                f"{stride} or dilation {dilation}"
            )
    kernel = tuple(weight._data.shape[2:])
    x = input.unsqueeze(0) if unbatched else input
    for size, k, s, d, p, op_ in zip(x._data.shape[2:], kernel, stride, dilation, padding,
                                     output_padding):
        if (size - 1) * s + d * (k - 1) + 1 + op_ - 2 * p <= 0:
            raise RuntimeError(
                f"{op}: padding {padding} is too large for input of shape {tuple(input.shape)} "
                f"and kernel {kernel}: the output would be empty"
            )
    if spatial == 1:
        stride, dilation = (1,) + stride, (1,) + dilation
        padding, output_padding = (0,) + padding, (0,) + output_padding
    args = (x, weight) if bias is None else (x, weight, bias)
    out = ConvTranspose2d.apply(*args, stride=stride, padding=padding,
                                output_padding=output_padding, dilation=dilation,
                                groups=int(groups))
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-D transposed convolution; ``weight`` is ``(in_channels, out_channels // groups, k)``.

    >>> import brickwork as bw
    >>> conv_transpose1d(bw.ones(1, 1, 2), bw.ones(1, 1, 2), stride=2)
    tensor([[[1., 1., 1., 1.]]])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution; ``weight`` is ``(in_channels, out_channels // groups, kh, kw)``.

    Output size per dim: ``(in - 1)·stride - 2·padding + dilation·(k - 1) + output_padding + 1``.

    >>> import brickwork as bw
    >>> conv_transpose2d(bw.ones(1, 1, 2, 2), bw.ones(1, 1, 2, 2)).shape
    brickwork.Size([1, 1, 3, 3])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
