"""``brickwork.nn.functional``: the F.* functions (activations, conv, pooling, norms, losses).

Fused primitives live in ``brickwork.ops`` (``conv``, ``pool``, ``norm``,
``loss``, ``activation``, ``dropout``, ``embedding``, ``nn_ops``) and are
re-exported here under PyTorch's names; the rest (attention, bilinear,
normalize, the simple activations) are composites of tested ops with no
backward of their own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork.autograd import _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import linalg, nn_ops
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops.activation import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softplus,
)
from brickwork.ops.attention import masked_softmax
from brickwork.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from brickwork.ops.dropout import dropout, dropout1d, dropout2d, dropout3d
from brickwork.ops.embedding import embedding, one_hot
from brickwork.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from brickwork.ops.nn_ops import linear
from brickwork.ops.norm import batch_norm, group_norm, layer_norm
from brickwork.ops.pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from brickwork.ops.shape import pad
from brickwork.tensor import Tensor

__all__ = [
    # linear and shape
    "linear", "bilinear", "pad", "one_hot", "embedding", "normalize", "cosine_similarity",
    # convolution and pooling
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d",
    # normalisation and dropout
    "batch_norm", "layer_norm", "group_norm", "dropout", "dropout1d", "dropout2d", "dropout3d",
    # activations
    "relu", "relu_", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "softplus", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid", "sigmoid", "tanh",
    "softsign", "tanhshrink", "threshold", "prelu", "glu", "softmax", "log_softmax", "softmin",
    # losses
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    # attention
    "scaled_dot_product_attention",
    # nn breadth (issue 11)
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
    "pixel_unshuffle", "conv3d", "max_pool3d", "avg_pool3d", "unfold", "fold", "instance_norm",
    "rms_norm", "embedding_bag", "pairwise_distance", "margin_ranking_loss",
    "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "multilabel_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "cosine_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
]

# nn breadth (issue 11): resampling, 3-D conv/pool, unfold/fold, norms, bags, more losses
from brickwork.ops.conv3d import avg_pool3d, conv3d, fold, max_pool3d, unfold  # noqa: E402
from brickwork.ops.embedding_bag import embedding_bag  # noqa: E402
from brickwork.ops.loss_extra import (  # noqa: E402
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    pairwise_distance,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from brickwork.ops.norm_extra import instance_norm, rms_norm  # noqa: E402
from brickwork.ops.resample import (  # noqa: E402
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)
from brickwork.ops.unpool import max_unpool1d, max_unpool2d, max_unpool3d  # noqa: E402

# end nn breadth


# ---------------------------------------------------------------------------
# activations that are existing ops or small composites


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` (``inplace=True`` writes into ``input``).

    >>> import brickwork as bw
    >>> relu(bw.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return input.relu_() if inplace else ew.relu(input)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return input.relu_()


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return ew.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return ew.tanh(input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    >>> import brickwork as bw
    >>> softsign(bw.tensor([1.0, -3.0]))
    tensor([ 0.5000, -0.7500])
    """
    return input / (ew.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - ew.tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``.

    >>> import brickwork as bw
    >>> threshold(bw.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    out = ew.where(input > threshold, input, value)
    return input.copy_(out) if inplace else out


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, ``weight · x`` elsewhere; ``weight`` has 1 or ``C`` (dim 1) entries.

    >>> import brickwork as bw
    >>> prelu(bw.tensor([[-2.0, 3.0]]), bw.tensor([0.5]))
    tensor([[-1.,  3.]])
    """
    n = weight._data.size
    if n != 1:
        if input._data.ndim < 2 or input._data.shape[1] != n:
            raise RuntimeError(
                f"prelu: weight has {n} entries but the input of shape {tuple(input.shape)} has "
                f"{input._data.shape[1] if input._data.ndim >= 2 else 1} channels (dim 1)"
            )
        weight = weight.reshape((n,) + (1,) * (input._data.ndim - 2))
    else:
        weight = weight.reshape(())
    return ew.where(input > 0, input, input * weight)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a · sigmoid(b)`` for the two halves of ``input`` along ``dim``."""
    if input._data.shape[dim] % 2:
        raise RuntimeError(
            f"glu: halving dimension must be even, but dimension {dim} of input of shape "
            f"{tuple(input.shape)} is {input._data.shape[dim]}"
        )
    a, b = sh.chunk(input, 2, dim)
    return a * ew.sigmoid(b)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """Softmax over ``dim``, computed stably (PyTorch's argument order).

    >>> import brickwork as bw
    >>> softmax(bw.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    return nn_ops.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``log(softmax(x))`` over ``dim``, computed stably in one step."""
    return nn_ops.log_softmax(input, dim, dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``softmax(-x)`` over ``dim``."""
    return softmax(-input, dim=dim, dtype=dtype)


# ---------------------------------------------------------------------------
# linear maps and normalisation helpers


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = Σ_ij x1[..., i] · W[o, i, j] · x2[..., j] + b[o]``.

    >>> import brickwork as bw
    >>> bilinear(bw.ones(1, 2), bw.ones(1, 3), bw.ones(4, 2, 3)).shape
    brickwork.Size([1, 4])
    """
    if weight._data.ndim != 3:
        raise RuntimeError(f"bilinear: weight must be 3-D (out, in1, in2), got {tuple(weight.shape)}")
    o, i, j = weight._data.shape
    if input1._data.shape[-1:] != (i,) or input2._data.shape[-1:] != (j,) \
            or input1._data.shape[:-1] != input2._data.shape[:-1]:
        raise RuntimeError(
            f"bilinear: inputs of shapes {tuple(input1.shape)} and {tuple(input2.shape)} do not fit "
            f"weight of shape {tuple(weight.shape)} (expected (..., {i}) and (..., {j}) with equal "
            "leading dims)"
        )
    lead = input1._data.shape[:-1]
    x1 = input1.reshape(-1, i)
    x2 = input2.reshape(-1, j)
    # (N, i) @ (i, o·j) -> (N, o, j), then contract j with x2
    mixed = linalg.matmul(x1, weight.permute(1, 0, 2).reshape(i, o * j)).reshape(-1, o, j)
    out = linalg.matmul(mixed, x2.unsqueeze(-1)).squeeze(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, o)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Any = None) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim``.

    >>> import brickwork as bw
    >>> normalize(bw.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    norm = rd.norm(input, p, dim=dim, keepdim=True)
    return input / ew.clamp_min(norm, eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (norms clamped at ``eps``).

    >>> import brickwork as bw
    >>> cosine_similarity(bw.tensor([[1.0, 0.0]]), bw.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    n1 = ew.clamp_min(rd.norm(x1, 2, dim=dim, keepdim=True), eps)
    n2 = ew.clamp_min(rd.norm(x2, 2, dim=dim, keepdim=True), eps)
    return rd.sum((x1 / n1) * (x2 / n2), dim=dim)


# ---------------------------------------------------------------------------
# attention


def _additive_mask(mask: Tensor, like: Tensor, allowed_when_true: bool, op: str) -> Tensor:
    """A bool mask becomes a float mask of 0 and -inf; a float mask is used as is."""
    if mask._device is not like._device:
        from brickwork.autograd import DeviceMismatchError

        raise DeviceMismatchError(op, [like._device, mask._device])
    data = mask._data
    if data.dtype.kind == "b":
        xp = like._device.xp
        blocked = ~data if allowed_when_true else data
        arr = xp.where(blocked, like._data.dtype.type(-np.inf), like._data.dtype.type(0))
        return _wrap(arr, like._device)
    if data.dtype.kind != "f":
        raise TypeError(f"{op}: attention masks must be bool or floating point, got {mask.dtype}")
    return mask if data.dtype == like._data.dtype else mask.to(like.dtype)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(Q Kᵀ · scale + mask) V`` over ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``.

    ``attn_mask`` is bool (True = may attend, PyTorch's convention here) or
    float (added to the scores); ``is_causal`` masks future positions;
    ``scale`` defaults to ``1 / sqrt(E)``. ``dropout_p`` drops attention
    weights (pass 0 in evaluation, as in PyTorch). A query whose keys are all
    masked gets a zero output, as in PyTorch (not NaN).

    >>> import brickwork as bw
    >>> q = k = v = bw.ones(1, 2, 4)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    brickwork.Size([1, 2, 4])
    """
    op = "scaled_dot_product_attention"
    if query._data.shape[-1] != key._data.shape[-1] or key._data.shape[-2] != value._data.shape[-2]:
        raise RuntimeError(
            f"{op}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
            f"{tuple(value.shape)} do not fit (expected (..., L, E), (..., S, E), (..., S, Ev))"
        )
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key, value)
    length, source = query._data.shape[-2], key._data.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query._data.shape[-1]) if query._data.shape[-1] else 1.0
    scores = linalg.matmul(query * scale, sh.transpose(key, -2, -1))
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(f"{op}: pass either attn_mask or is_causal=True, not both")
        xp = query._device.xp
        causal = xp.tril(xp.ones((length, source), dtype=bool))
        attn_mask = _wrap(causal, query._device)
    mask = _additive_mask(attn_mask, scores, True, op) if attn_mask is not None else None
    weights = masked_softmax(scores, mask)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return linalg.matmul(weights, value)


def _repeat_kv_heads(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """Grouped-query attention: repeat key/value heads (dim -3) to the query's head count."""
    hq, hk = query._data.shape[-3], key._data.shape[-3]
    if hq % hk:
        raise RuntimeError(
            f"scaled_dot_product_attention: query heads ({hq}) must be a multiple of key/value "
            f"heads ({hk}) with enable_gqa=True"
        )
    reps = hq // hk
    return sh.repeat_interleave(key, reps, dim=-3), sh.repeat_interleave(value, reps, dim=-3)
