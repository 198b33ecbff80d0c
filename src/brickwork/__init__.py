"""brickwork: a deep-learning framework with PyTorch's names, on NumPy and CuPy.

>>> import brickwork as bw
>>> x = bw.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from __future__ import annotations

import warnings as _warnings

# PyTorch computes inf/nan silently (1 / 0, log(0), 0 / 0); NumPy warns. Silence those NumPy
# floating-point warnings where brickwork's own code triggers them, without touching NumPy's global
# error state (a per-op np.errstate would cost about a microsecond on every op).
_warnings.filterwarnings(
    "ignore", message=r"(divide by zero|invalid value|overflow) encountered", category=RuntimeWarning,
    module=r"brickwork(\.|$)",
)

from brickwork._allocator import tune_malloc as _tune_malloc

_tune_malloc()  # keep freed memory for reuse (glibc); BRICKWORK_MALLOC_TUNING=0 declines it

from brickwork import autograd  # first: tensor.py builds on it
from brickwork import _backend, dtypes
from brickwork.tensor import Size, Tensor
from brickwork import ops  # noqa: F401  (installs the Tensor methods)
from brickwork import cuda
from brickwork._format import set_printoptions
from brickwork._sync import SyncError, sync_guard
from brickwork.autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from brickwork.creation import (
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    arange,
    as_tensor,
    asarray,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from brickwork.dtypes import (
    bool_ as bool,  # noqa: A004 - PyTorch's names shadow builtins on purpose
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from brickwork.dtypes import float_ as float  # noqa: A004
from brickwork.dtypes import int_ as int  # noqa: A004
from brickwork.ops.elementwise import (
    abs, add, addcdiv, addcmul, allclose, bitwise_and, bitwise_not, bitwise_or, bitwise_xor,
    ceil, clamp, clamp_max, clamp_min, clip, cos, div, divide, eq, equal, erf, exp, expm1,
    floor, floor_divide, ge, gt, isclose, isfinite, isinf, isnan, le, lerp, log, log1p, log2,
    log10, logical_and, logical_not, logical_or, logical_xor, lt, masked_fill, maximum,
    minimum, mul, multiply, ne, neg, negative, pow, reciprocal, relu, remainder, round, rsqrt,
    sigmoid, sign, sin, sqrt, square, sub, subtract, tanh, true_divide, trunc, where,
    cosh, fmod, nan_to_num, sinh, tan,
)
from brickwork.dtypes import promote_types
from brickwork.ops._util import result_type
from brickwork.ops.linalg import bmm, dot, einsum, inner, matmul, mm, mv, outer
from brickwork.ops.nn_ops import log_softmax, softmax
from brickwork.ops.reduce import (
    all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, logsumexp, max, mean, min,
    norm, prod, std, std_mean, sum, var, var_mean, argsort, sort, topk,
)
from brickwork.ops.shape import (
    argwhere, broadcast_tensors, broadcast_to, cat, chunk, clone, concat, concatenate, expand,
    flatten, flip, fliplr, flipud, gather, hstack, index_select, masked_select, movedim,
    narrow, nonzero, pad, permute, repeat_interleave, reshape, roll, scatter, scatter_add,
    split, squeeze, stack, swapaxes, swapdims, t, take_along_dim, tensor_split, tile,
    transpose, tril, triu, unbind, unflatten, unsqueeze, vstack, moveaxis, ravel, select,
)
# op breadth (issue 11, opsbreadth): legacy types, new ops, torch.linalg
from brickwork.creation import CharTensor, ShortTensor
from brickwork.ops.special import (
    arctan2, atan2, digamma, erfinv, frac, heaviside, hypot, lgamma, logaddexp, logit, nanmean, nansum,
    xlogy,
)
from brickwork.ops.sets import bincount, bucketize, histc, isin, searchsorted, unique, unique_consecutive
from brickwork.ops.matrix import (
    addmm, baddbmm, block_diag, cdist, cross, diag, diagonal, kron, meshgrid, rot90, tensordot, trace,
    tril_indices, triu_indices,
)
from brickwork.ops.statistics import cumprod, diff, kthvalue, median, nanmedian, nanquantile, quantile
from brickwork.ops.inplace_index import index_add
from brickwork.ops.decompositions import det, inverse, logdet, matrix_power, pinverse, slogdet
from brickwork.ops.decompositions import cholesky_legacy as cholesky
from brickwork.ops.decompositions import qr_legacy as qr
from brickwork.ops.decompositions import svd_legacy as svd
from brickwork import linalg
# end op breadth
from brickwork.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from brickwork._backend import Device as device
from brickwork.io import load, load_model, save, save_model, serializable  # files (issue 4); binds bw.io
from brickwork import nn  # the module system (after the tensor API it builds on)
from brickwork import data, optim, train, utils  # training: optimisers, data, helpers (issue 5)
from brickwork import distributed  # several processes and machines (issue 8)
from brickwork.runtime import (  # runtime settings with torch's names (issue 11, drop-in)
    are_deterministic_algorithms_enabled, finfo, get_default_dtype, get_num_threads, iinfo,
    set_default_dtype, set_num_threads, use_deterministic_algorithms,
)
from brickwork import distributions  # torch.distributions: Normal, Bernoulli, ... (optim breadth, issue 11)

__version__ = "0.1.0"


def is_tensor(obj: object) -> _builtins.bool:
    """True when ``obj`` is a :class:`brickwork.Tensor` (parameters included).

    >>> import brickwork as bw
    >>> bw.is_tensor(bw.zeros(2)), bw.is_tensor([0.0, 0.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> _builtins.int:
    """The number of elements of ``input`` (``input.numel()``).

    >>> import brickwork as bw
    >>> bw.numel(bw.zeros(2, 3))
    6
    """
    return input.numel()


def is_floating_point(input: Tensor) -> _builtins.bool:
    """True when ``input`` has a floating dtype (float16, float32, float64).

    >>> import brickwork as bw
    >>> bw.is_floating_point(bw.tensor([1.0])), bw.is_floating_point(bw.tensor([1]))
    (True, False)
    """
    return input.is_floating_point()


def try_gpu(i: _builtins.int = 0) -> device:
    """GPU ``i`` if it exists, else the CPU.

    >>> import brickwork as bw
    >>> bw.try_gpu() in (bw.device("cpu"), bw.device("cuda:0"))
    True
    """
    if cuda.device_count() >= i + 1:
        return device("cuda", i)
    return device("cpu")


def try_all_gpus() -> list[device]:
    """Every GPU, or ``[cpu]`` when there is none."""
    n = cuda.device_count()
    return [device("cuda", i) for i in range(n)] or [device("cpu")]


import builtins as _builtins  # noqa: E402



# --- public names (scripts/update_all.py writes this list; tests/test_typing.py checks it) ---
__all__ = [
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "Generator", "HalfTensor",
    "IntTensor", "LongTensor", "ShortTensor", "Size", "SyncError", "Tensor", "abs", "add", "addcdiv",
    "addcmul", "addmm", "all", "allclose", "amax", "amin", "any", "arange", "arctan2",
    "are_deterministic_algorithms_enabled", "argmax", "argmin", "argsort", "argwhere", "as_tensor",
    "asarray", "atan2", "autograd", "baddbmm", "bernoulli", "bincount", "bitwise_and", "bitwise_not",
    "bitwise_or", "bitwise_xor", "block_diag", "bmm", "bool", "broadcast_tensors", "broadcast_to",
    "bucketize", "cat", "cdist", "ceil", "cholesky", "chunk", "clamp", "clamp_max", "clamp_min", "clip",
    "clone", "concat", "concatenate", "cos", "cosh", "count_nonzero", "cross", "cuda", "cumprod", "cumsum",
    "data", "det", "device", "diag", "diagonal", "diff", "digamma", "distributed", "distributions", "div",
    "divide", "dot", "double", "dtypes", "einsum", "empty", "empty_like", "enable_grad", "eq", "equal",
    "erf", "erfinv", "exp", "expand", "expm1", "eye", "finfo", "flatten", "flip", "fliplr", "flipud",
    "float", "float16", "float32", "float64", "floor", "floor_divide", "fmod", "frac", "from_numpy", "full",
    "full_like", "gather", "ge", "get_default_dtype", "get_num_threads", "get_rng_state", "gt", "half",
    "heaviside", "histc", "hstack", "hypot", "iinfo", "index_add", "index_select", "inference_mode",
    "initial_seed", "inner", "int", "int16", "int32", "int64", "int8", "inverse", "io", "is_floating_point",
    "is_grad_enabled", "is_tensor", "isclose", "isfinite", "isin", "isinf", "isnan", "kron", "kthvalue",
    "le", "lerp", "lgamma", "linalg", "linspace", "load", "load_model", "log", "log10", "log1p", "log2",
    "log_softmax", "logaddexp", "logdet", "logical_and", "logical_not", "logical_or", "logical_xor",
    "logit", "logspace", "logsumexp", "long", "lt", "manual_seed", "masked_fill", "masked_select", "matmul",
    "matrix_power", "max", "maximum", "mean", "median", "meshgrid", "min", "minimum", "mm", "moveaxis",
    "movedim", "mul", "multinomial", "multiply", "mv", "nan_to_num", "nanmean", "nanmedian", "nanquantile",
    "nansum", "narrow", "ne", "neg", "negative", "nn", "no_grad", "nonzero", "norm", "normal", "numel",
    "ones", "ones_like", "optim", "outer", "pad", "permute", "pinverse", "pow", "prod", "promote_types",
    "qr", "quantile", "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "random",
    "randperm", "ravel", "reciprocal", "relu", "remainder", "repeat_interleave", "reshape", "result_type",
    "roll", "rot90", "round", "rsqrt", "save", "save_model", "scatter", "scatter_add", "searchsorted",
    "seed", "select", "serializable", "set_default_dtype", "set_grad_enabled", "set_num_threads",
    "set_printoptions", "set_rng_state", "short", "sigmoid", "sign", "sin", "sinh", "slogdet", "softmax",
    "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "std_mean", "sub", "subtract", "sum",
    "svd", "swapaxes", "swapdims", "sync_guard", "t", "take_along_dim", "tan", "tanh", "tensor",
    "tensor_split", "tensordot", "tile", "topk", "trace", "train", "transpose", "tril", "tril_indices",
    "triu", "triu_indices", "true_divide", "trunc", "try_all_gpus", "try_gpu", "uint8", "unbind",
    "unflatten", "unique", "unique_consecutive", "unsqueeze", "use_deterministic_algorithms", "utils",
    "var", "var_mean", "vstack", "where", "xlogy", "zeros", "zeros_like",
]
# --- end of public names ---
