"""Neural-network primitives fused for speed and stability: softmax, log_softmax,
linear (matmul + bias in one node). Convolution, pooling and losses build on
these in ``brickwork.nn.functional`` and the kernel modules beside this one."""

from __future__ import annotations

import math
from typing import Any

from brickwork.autograd import Function
from brickwork.ops import _onednn
from brickwork.ops._util import as_float, norm_dim, numpy_names
from brickwork.tensor import Tensor


class Softmax(Function):
    saves_output = True

    def forward(self, x: Any, axis: int) -> Any:
        xp = self.xp
        self.axis = axis
        if x.size == 0:
            self.out = x.copy()
            return self.out
        shifted = x - x.max(axis=axis, keepdims=True)
        e = xp.exp(shifted, out=shifted)
        e /= e.sum(axis=axis, keepdims=True)
        self.out = e
        return e

    def backward(self, g: Any) -> tuple[Any, ...]:
        y = self.out
        gy = g * y
        return (gy - y * gy.sum(axis=self.axis, keepdims=True),)


class LogSoftmax(Function):
    saves_output = True

    def forward(self, x: Any, axis: int) -> Any:
        xp = self.xp
        self.axis = axis
        if x.size == 0:
            self.out = x.copy()
            return self.out
        shifted = x - x.max(axis=axis, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        shifted -= lse
        self.out = shifted
        return shifted

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g - self.xp.exp(self.out) * g.sum(axis=self.axis, keepdims=True),)


class Linear(Function):
    """``x @ weight.T + bias`` as one node: one GEMM forward, one GEMM per gradient."""

    saved_inputs = (0, 1)

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        self.x, self.weight = x, weight
        self.has_bias = bias is not None
        if x.ndim == 2:  # (the size test inline: a batch-1 product pays no call for the choice)
            big = _onednn.gemm_live and x.size * weight.shape[0] >= _onednn.gemm_min_work
            out = _onednn.mm(x, weight.T) if big else x.dot(weight.T)
        elif x.ndim > 2:  # the leading dimensions as one batch: one GEMM (a strided x is copied once)
            out = _onednn.mm(_rows(x), weight.T).reshape(*x.shape[:-1], weight.shape[0])
        else:
            out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_x, need_w, *need_b = self.needs_input_grad
        x, w = self.x, self.weight
        gx = None
        if need_x:
            if g.ndim == 2:
                gx = _onednn.mm(g, w)
            elif g.ndim > 2:  # as forward: the leading dimensions as one GEMM
                gx = _onednn.mm(_rows(g), w).reshape(*g.shape[:-1], w.shape[1])
            else:
                gx = g @ w
        gw = gb = None
        if need_w or (need_b and need_b[0]):
            g2 = _rows(g) if g.ndim != 2 else g
            if need_w:
                gw = _onednn.mm(g2.T, _rows(x) if x.ndim != 2 else x)
            if need_b and need_b[0]:
                gb = g2.sum(axis=0)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def _rows(a: Any) -> Any:
    """``a`` as a matrix of its last dimension's rows (a view when ``a``'s layout allows one)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


@numpy_names
def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """Softmax over ``dim``, computed stably (shifted by the maximum).

    >>> import brickwork as bw
    >>> bw.softmax(bw.tensor([[0.0, 0.0], [0.0, 1000.0]]), dim=1)
    tensor([[0.5000, 0.5000],
            [0.0000, 1.0000]])
    """
    x = as_float(input if dtype is None else input.to(dtype))
    axis = norm_dim(_implicit_dim(dim, x), max(x._data.ndim, 1), "softmax")
    if x._data.ndim == 0:
        return Softmax.apply(x.reshape(1), axis=0).reshape(())
    return Softmax.apply(x, axis=axis)


@numpy_names
def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` computed stably in one step.

    >>> import brickwork as bw
    >>> bw.log_softmax(bw.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    x = as_float(input if dtype is None else input.to(dtype))
    axis = norm_dim(_implicit_dim(dim, x), max(x._data.ndim, 1), "log_softmax")
    if x._data.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), axis=0).reshape(())
    return LogSoftmax.apply(x, axis=axis)


def _implicit_dim(dim: int | None, x: Tensor) -> int:
    if dim is not None:
        return dim
    # PyTorch's legacy choice when dim is omitted
    return 0 if x._data.ndim in (0, 1, 3) else 1


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (weight has PyTorch's layout ``(out, in)``)."""
    if input._data.shape[-1:] != weight._data.shape[-1:] or weight._data.ndim != 2:
        raise RuntimeError(
            f"linear: input of shape {tuple(input._data.shape)} does not fit weight of shape "
            f"{tuple(weight._data.shape)} (expected input.shape[-1] == weight.shape[1])"
        )
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(
            f"linear: input is {input.dtype} but weight is {weight.dtype}; convert one of them "
            "(e.g. model.double() or x.float())"
        )
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)

