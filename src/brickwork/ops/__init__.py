"""The op set, and the one table that makes ops available as Tensor methods.

Every op is a function of ``brickwork.ops.<family>``; ``TENSOR_METHODS`` below
lists the names under which tensors expose them (``x.exp()``, ``x + y``...).
"""

from __future__ import annotations

from typing import Any

from brickwork.ops import elementwise as ew
from brickwork.ops import inplace as ip
from brickwork.ops import linalg as la
from brickwork.ops import nn_ops as nn
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.tensor import Tensor


def _swap(fn: Any) -> Any:
    """Reflected operator: ``2 - x`` calls ``x.__rsub__(2)``."""

    def reflected(self: Tensor, other: Any) -> Any:
        return fn(other, self)

    reflected.__name__ = f"r{fn.__name__}"
    return reflected


def _returns_self(fn: Any) -> Any:
    """Augmented assignment (``x += y``) must return the tensor itself."""

    def augmented(self: Tensor, other: Any) -> Tensor:
        fn(self, other)
        return self

    return augmented


def _where_method(self: Tensor, condition: Tensor, y: Any) -> Tensor:
    """``x.where(condition, y)``: elements of ``x`` where ``condition`` holds, else of ``y``.

    The method form of :func:`brickwork.where` with ``x`` as ``input``.

    >>> import brickwork as bw
    >>> x = bw.tensor([1.0, -2.0, 3.0])
    >>> x.where(x > 0, 0.0)
    tensor([1., 0., 3.])
    """
    return ew.where(condition, self, y)


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """``x.view_as(other)``: ``x.view(other.shape)``, a view with ``other``'s shape."""
    return sh.view(self, *other._data.shape)


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """``x.reshape_as(other)``: ``x.reshape(other.shape)``."""
    return sh.reshape(self, *other._data.shape)


def _eq_method(self: Tensor, other: Any) -> Any:
    if other is None:
        return False
    try:
        return ew.eq(self, other)
    except TypeError:
        return NotImplemented


def _ne_method(self: Tensor, other: Any) -> Any:
    if other is None:
        return True
    try:
        return ew.ne(self, other)
    except TypeError:
        return NotImplemented


def _pos(self: Tensor) -> Tensor:
    return self


TENSOR_METHODS: dict[str, Any] = {
    # operators
    "__add__": ew.add, "__radd__": _swap(ew.add), "__sub__": ew.sub, "__rsub__": _swap(ew.sub),
    "__mul__": ew.mul, "__rmul__": _swap(ew.mul), "__truediv__": ew.div,
    "__rtruediv__": _swap(ew.div), "__floordiv__": ew.floor_divide,
    "__rfloordiv__": _swap(ew.floor_divide), "__mod__": ew.remainder,
    "__rmod__": _swap(ew.remainder), "__pow__": ew.pow, "__rpow__": _swap(ew.pow),
    "__matmul__": la.matmul, "__rmatmul__": _swap(la.matmul), "__neg__": ew.neg, "__pos__": _pos,
    "__abs__": ew.abs, "__invert__": ew.bitwise_not, "__and__": ew.bitwise_and,
    "__rand__": _swap(ew.bitwise_and), "__or__": ew.bitwise_or, "__ror__": _swap(ew.bitwise_or),
    "__xor__": ew.bitwise_xor, "__rxor__": _swap(ew.bitwise_xor),
    "__eq__": _eq_method, "__ne__": _ne_method, "__lt__": ew.lt, "__le__": ew.le,
    "__gt__": ew.gt, "__ge__": ew.ge, "__getitem__": sh.getitem, "__setitem__": sh.setitem,
    "__iadd__": _returns_self(ip.add_), "__isub__": _returns_self(ip.sub_),
    "__imul__": _returns_self(ip.mul_), "__itruediv__": _returns_self(ip.div_),
    "__ipow__": _returns_self(ip.pow_),
    # arithmetic and maths
    "add": ew.add, "sub": ew.sub, "subtract": ew.sub, "mul": ew.mul, "multiply": ew.mul,
    "div": ew.div, "divide": ew.div, "true_divide": ew.div, "floor_divide": ew.floor_divide,
    "remainder": ew.remainder, "pow": ew.pow, "neg": ew.neg, "negative": ew.neg, "abs": ew.abs,
    "absolute": ew.abs, "sign": ew.sign, "exp": ew.exp, "expm1": ew.expm1, "log": ew.log,
    "log1p": ew.log1p, "log2": ew.log2, "log10": ew.log10, "sqrt": ew.sqrt, "rsqrt": ew.rsqrt,
    "square": ew.square, "reciprocal": ew.reciprocal, "sin": ew.sin, "cos": ew.cos,
    "tanh": ew.tanh, "sigmoid": ew.sigmoid, "relu": ew.relu, "erf": ew.erf, "floor": ew.floor,
    "ceil": ew.ceil, "round": ew.round, "trunc": ew.trunc, "clamp": ew.clamp, "clip": ew.clamp,
    "clamp_min": ew.clamp_min, "clamp_max": ew.clamp_max, "maximum": ew.maximum,
    "minimum": ew.minimum, "where": _where_method, "lerp": ew.lerp, "addcmul": ew.addcmul,
    "addcdiv": ew.addcdiv, "masked_fill": ew.masked_fill, "tan": ew.tan, "sinh": ew.sinh,
    "cosh": ew.cosh, "fmod": ew.fmod, "nan_to_num": ew.nan_to_num,
    "bitwise_and": ew.bitwise_and, "bitwise_or": ew.bitwise_or, "bitwise_xor": ew.bitwise_xor,
    "bitwise_not": ew.bitwise_not,
    # comparisons and logic
    "eq": ew.eq, "ne": ew.ne, "lt": ew.lt, "le": ew.le, "gt": ew.gt, "ge": ew.ge,
    "greater": ew.gt, "less": ew.lt, "equal": ew.equal, "isclose": ew.isclose,
    "allclose": ew.allclose, "logical_and": ew.logical_and, "logical_or": ew.logical_or,
    "logical_xor": ew.logical_xor, "logical_not": ew.logical_not, "isnan": ew.isnan,
    "isinf": ew.isinf, "isfinite": ew.isfinite,
    # reductions
    "sum": rd.sum, "mean": rd.mean, "var": rd.var, "std": rd.std, "prod": rd.prod, "max": rd.max,
    "min": rd.min, "amax": rd.amax, "amin": rd.amin, "argmax": rd.argmax, "argmin": rd.argmin,
    "all": rd.all, "any": rd.any, "logsumexp": rd.logsumexp, "cumsum": rd.cumsum, "norm": rd.norm,
    "count_nonzero": rd.count_nonzero, "softmax": nn.softmax, "log_softmax": nn.log_softmax,
    "sort": rd.sort, "argsort": rd.argsort, "topk": rd.topk,
    # linear algebra
    "matmul": la.matmul, "mm": la.mm, "bmm": la.bmm, "dot": la.dot, "outer": la.outer,
    "mv": la.mv, "inner": la.inner,
    # shapes and indexing
    "reshape": sh.reshape, "view": sh.view, "view_as": _view_as, "reshape_as": _reshape_as,
    "flatten": sh.flatten, "unflatten": sh.unflatten, "squeeze": sh.squeeze,
    "unsqueeze": sh.unsqueeze, "permute": sh.permute, "transpose": sh.transpose,
    "swapaxes": sh.transpose, "swapdims": sh.transpose, "t": sh.t, "movedim": sh.movedim,
    "expand": sh.expand, "expand_as": sh.expand_as, "broadcast_to": sh.broadcast_to,
    "repeat": sh.repeat, "tile": sh.tile, "repeat_interleave": sh.repeat_interleave,
    "split": sh.split, "chunk": sh.chunk, "tensor_split": sh.tensor_split, "unbind": sh.unbind,
    "narrow": sh.narrow, "flip": sh.flip, "roll": sh.roll, "gather": sh.gather,
    "scatter_add": sh.scatter_add, "scatter": sh.scatter, "index_select": sh.index_select,
    "masked_select": sh.masked_select, "tril": sh.tril, "triu": sh.triu, "clone": sh.clone,
    "contiguous": sh.contiguous, "ravel": sh.ravel, "select": sh.select, "moveaxis": sh.movedim,
    "nonzero": sh.nonzero, "take_along_dim": sh.take_along_dim,
    # in place
    "add_": ip.add_, "sub_": ip.sub_, "mul_": ip.mul_, "div_": ip.div_, "pow_": ip.pow_,
    "neg_": ip.neg_, "abs_": ip.abs_, "exp_": ip.exp_, "log_": ip.log_, "sqrt_": ip.sqrt_,
    "sigmoid_": ip.sigmoid_, "tanh_": ip.tanh_, "relu_": ip.relu_, "floor_": ip.floor_,
    "ceil_": ip.ceil_, "round_": ip.round_, "trunc_": ip.trunc_, "sign_": ip.sign_,
    "clamp_": ip.clamp_, "clip_": ip.clip_, "masked_fill_": ip.masked_fill_, "lerp_": ip.lerp_,
    "addcmul_": ip.addcmul_, "addcdiv_": ip.addcdiv_, "copy_": ip.copy_, "zero_": ip.zero_,
    "fill_": ip.fill_, "uniform_": ip.uniform_, "normal_": ip.normal_,
    "bernoulli_": ip.bernoulli_, "random_": ip.random_,
}

# op breadth (issue 11, opsbreadth): new families, registered in one block
from brickwork.ops import decompositions as dc  # noqa: E402
from brickwork.ops import inplace_index as ii  # noqa: E402
from brickwork.ops import matrix as mx  # noqa: E402
from brickwork.ops import sets as st  # noqa: E402
from brickwork.ops import special as sp  # noqa: E402
from brickwork.ops import statistics as ss  # noqa: E402

TENSOR_METHODS.update({
    "atan2": sp.atan2, "arctan2": sp.arctan2, "hypot": sp.hypot, "logaddexp": sp.logaddexp,
    "erfinv": sp.erfinv, "lgamma": sp.lgamma, "digamma": sp.digamma, "frac": sp.frac, "logit": sp.logit,
    "xlogy": sp.xlogy, "heaviside": sp.heaviside, "nansum": sp.nansum, "nanmean": sp.nanmean,
    "unique": st.unique, "unique_consecutive": st.unique_consecutive, "bincount": st.bincount,
    "histc": st.histc, "isin": st.isin,
    "diag": mx.diag, "diagonal": mx.diagonal, "trace": mx.trace, "kron": mx.kron, "cross": mx.cross,
    "addmm": mx.addmm, "baddbmm": mx.baddbmm, "rot90": mx.rot90,
    "median": ss.median, "nanmedian": ss.nanmedian, "kthvalue": ss.kthvalue, "quantile": ss.quantile,
    "nanquantile": ss.nanquantile, "cumprod": ss.cumprod, "diff": ss.diff,
    "det": dc.det, "inverse": dc.inverse, "logdet": dc.logdet, "slogdet": dc.slogdet,
    "cholesky": dc.cholesky_legacy, "svd": dc.svd_legacy, "qr": dc.qr_legacy, "pinverse": dc.pinverse,
    "matrix_power": dc.matrix_power,
    "index_add": ii.index_add, "index_add_": ii.index_add_, "scatter_": ii.scatter_, "tril_": ii.tril_,
    "triu_": ii.triu_, "squeeze_": ii.squeeze_, "unsqueeze_": ii.unsqueeze_,
})
# end op breadth

for _name, _fn in TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)
