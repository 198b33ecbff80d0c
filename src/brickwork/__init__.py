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


def is_tensor(obj: object) -> builtins_bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> builtins_int:
    return input.numel()


def is_floating_point(input: Tensor) -> builtins_bool:
    return input.is_floating_point()


def try_gpu(i: builtins_int = 0) -> device:
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

builtins_bool = _builtins.bool
builtins_int = _builtins.int


# --- public names (scripts/update_all.py writes this list; tests/test_typing.py checks it) ---
__all__ = [
    "BoolTensor", "ByteTensor", "DoubleTensor", "FloatTensor", "Generator", "HalfTensor", "IntTensor",
    "LongTensor", "Size", "SyncError", "Tensor", "abs", "add", "addcdiv", "addcmul", "all", "allclose",
    "amax", "amin", "any", "arange", "are_deterministic_algorithms_enabled", "argmax", "argmin", "argsort",
    "argwhere", "as_tensor", "asarray", "autograd", "bernoulli", "bitwise_and", "bitwise_not", "bitwise_or",
    "bitwise_xor", "bmm", "bool", "broadcast_tensors", "broadcast_to", "builtins_bool", "builtins_int",
    "cat", "ceil", "chunk", "clamp", "clamp_max", "clamp_min", "clip", "clone", "concat", "concatenate",
    "cos", "cosh", "count_nonzero", "cuda", "cumsum", "data", "device", "distributed", "distributions",
    "div", "divide", "dot", "double", "dtypes", "einsum", "empty", "empty_like", "enable_grad", "eq",
    "equal", "erf", "exp", "expand", "expm1", "eye", "finfo", "flatten", "flip", "fliplr", "flipud",
    "float", "float16", "float32", "float64", "floor", "floor_divide", "fmod", "from_numpy", "full",
    "full_like", "gather", "ge", "get_default_dtype", "get_num_threads", "get_rng_state", "gt", "half",
    "hstack", "iinfo", "index_select", "inference_mode", "initial_seed", "inner", "int", "int16", "int32",
    "int64", "int8", "io", "is_floating_point", "is_grad_enabled", "is_tensor", "isclose", "isfinite",
    "isinf", "isnan", "le", "lerp", "linspace", "load", "load_model", "log", "log10", "log1p", "log2",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logspace", "logsumexp",
    "long", "lt", "manual_seed", "masked_fill", "masked_select", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mm", "moveaxis", "movedim", "mul", "multinomial", "multiply", "mv", "nan_to_num", "narrow",
    "ne", "neg", "negative", "nn", "no_grad", "nonzero", "norm", "normal", "numel", "ones", "ones_like",
    "optim", "outer", "pad", "permute", "pow", "prod", "promote_types", "rand", "rand_like", "randint",
    "randint_like", "randn", "randn_like", "random", "randperm", "ravel", "reciprocal", "relu", "remainder",
    "repeat_interleave", "reshape", "result_type", "roll", "round", "rsqrt", "save", "save_model",
    "scatter", "scatter_add", "seed", "select", "serializable", "set_default_dtype", "set_grad_enabled",
    "set_num_threads", "set_printoptions", "set_rng_state", "short", "sigmoid", "sign", "sin", "sinh",
    "softmax", "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "std_mean", "sub", "subtract",
    "sum", "swapaxes", "swapdims", "sync_guard", "t", "take_along_dim", "tan", "tanh", "tensor",
    "tensor_split", "tile", "topk", "train", "transpose", "tril", "triu", "true_divide", "trunc",
    "try_all_gpus", "try_gpu", "uint8", "unbind", "unflatten", "unsqueeze", "use_deterministic_algorithms",
    "utils", "var", "var_mean", "vstack", "where", "zeros", "zeros_like",
]
# --- end of public names ---
