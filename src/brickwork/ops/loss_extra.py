"""More losses and distances with PyTorch's formulas and reductions: margin ranking, hinge
embedding, soft margin, multi-label soft margin, multi-class margin, multi-label margin,
triplet margin, cosine embedding, Poisson NLL, Gaussian NLL; ``pairwise_distance``.

All are composites of tested ops (no hand-written backward). Targets are
read on the device (masks built with ``xp``), never copied to the host.
"""

from __future__ import annotations

import math
from typing import Any

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.ops import activation as act
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops.loss import _check_reduction, _legacy_reduction, _reduce
from brickwork.tensor import Tensor

__all__ = ["pairwise_distance", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "cosine_embedding_loss",
           "poisson_nll_loss", "gaussian_nll_loss"]


def _reduction(size_average: Any, reduce: Any, reduction: str, op: str) -> str:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    return reduction


def _as_float(t: Tensor, like: Tensor) -> Tensor:
    return t if t._data.dtype == like._data.dtype else t.to(like.dtype)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``‖x1 - x2 + eps‖_p`` over the last dim.

    >>> import brickwork as bw
    >>> pairwise_distance(bw.tensor([[0.0, 0.0]]), bw.tensor([[3.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    return rd.norm(x1 - x2 + eps, p, dim=-1, keepdim=keepdim)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -y · (x1 - x2) + margin)`` for targets ``y`` in {1, -1}.

    >>> import brickwork as bw
    >>> margin_ranking_loss(bw.tensor([1.0]), bw.tensor([2.0]), bw.tensor([1.0]))
    tensor(1.)
    """
    reduction = _reduction(size_average, reduce, reduction, "margin_ranking_loss")
    loss = ew.clamp_min(-_as_float(target, input1) * (input1 - input2) + margin, 0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``y == 1``, ``max(0, margin - x)`` where ``y == -1``."""
    reduction = _reduction(size_average, reduce, reduction, "hinge_embedding_loss")
    zero = input * 0
    below = ew.where(target != 1, ew.clamp_min(margin - input, 0), zero)
    itself = ew.where(target != -1, input, zero)
    return _reduce(below + itself, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-y · x))``, the logistic loss for targets in {1, -1}."""
    reduction = _reduction(size_average, reduce, reduction, "soft_margin_loss")
    return _reduce(-act.logsigmoid(_as_float(target, input) * input), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: Any = None, reduce: Any = None,
                                reduction: str = "mean") -> Tensor:
    """Per-class binary logistic losses of ``(N, C)`` logits, averaged over the classes."""
    reduction = _reduction(size_average, reduce, reduction, "multilabel_soft_margin_loss")
    y = _as_float(target, input)
    loss = -(y * act.logsigmoid(input) + (1 - y) * act.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    classes = input._data.shape[-1] if input._data.ndim else 1
    loss = rd.sum(loss, dim=-1) / classes if input._data.ndim else loss
    return _reduce(loss, reduction)


def _class_index(target: Tensor, op: str) -> Any:
    """The target class indices as an ``xp`` integer array."""
    data = target._data
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target, got {target.dtype}")
    return data


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``Σ_{i≠y} max(0, margin - x[y] + x[i])^p / C`` per sample.

    >>> import brickwork as bw
    >>> multi_margin_loss(bw.tensor([[0.1, 0.2, 0.4, 0.8]]), bw.tensor([3]))
    tensor(0.3250)
    """
    op = "multi_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p}")
    unbatched = input._data.ndim <= 1
    x = input.reshape(1, -1) if unbatched else input
    if x._data.ndim != 2:
        raise ValueError(f"{op}: expected a (N, C) or (C,) input, got shape {tuple(input.shape)}")
    idx = _class_index(target, op).reshape(-1)
    n, c = x._data.shape
    if idx.shape[0] != n:
        raise ValueError(f"{op}: expected {n} targets for input of shape {tuple(input.shape)}, "
                         f"got target of shape {tuple(target.shape)}")
    xp = input._device.xp
    index = _wrap(idx.reshape(n, 1), input._device)
    picked = sh.gather(x, 1, index)                        # (N, 1): x[y]
    terms = ew.clamp_min(margin - picked + x, 0)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * sh.index_select(weight, 0, _wrap(idx, input._device)).reshape(n, 1)
    others = _wrap(xp.arange(c)[None, :] != idx.reshape(n, 1), input._device)
    loss = rd.sum(ew.where(others, terms, terms * 0), dim=1) / c
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Any = None,
                           reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss; ``target`` lists each sample's classes, ended by the first -1.

    ``Σ_{j target} Σ_{i not target} max(0, 1 - (x[j] - x[i])) / C`` per sample.

    >>> import brickwork as bw
    >>> multilabel_margin_loss(bw.tensor([[0.1, 0.2, 0.4, 0.8]]), bw.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """
    op = "multilabel_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    unbatched = input._data.ndim <= 1
    x = input.reshape(1, -1) if unbatched else input
    idx = _class_index(target, op)
    idx = idx.reshape(1, -1) if unbatched else idx
    if x._data.ndim != 2 or idx.shape != x._data.shape:
        raise ValueError(f"{op}: expected input (N, C) or (C,) and a target of the same shape, "
                         f"got {tuple(input.shape)} and {tuple(target.shape)}")
    xp = input._device.xp
    n, c = x._data.shape
    # a target entry counts while no -1 came before it
    valid = xp.cumprod(idx != -1, axis=1).astype(bool)                           # (N, J)
    safe = xp.where(valid, idx, 0)
    is_target = ((safe[:, :, None] == xp.arange(c)[None, None, :]) & valid[:, :, None]).any(1)
    picked = sh.gather(x, 1, _wrap(safe, input._device))                         # (N, J)
    hinge = ew.clamp_min(1 - picked.unsqueeze(2) + x.unsqueeze(1), 0)            # (N, J, C)
    counted = _wrap(valid[:, :, None] & ~is_target[:, None, :], input._device)
    loss = rd.sum(ew.where(counted, hinge, hinge * 0), dim=(1, 2)) / c
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise ``p``-norm distance."""
    reduction = _reduction(size_average, reduce, reduction, "triplet_margin_loss")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ew.clamp_min(margin + d_pos - d_neg, 0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Any = None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet margin loss with any ``distance_function`` (default: pairwise L2 distance)."""
    _check_reduction(reduction, "triplet_margin_with_distance_loss")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = ew.minimum(d_neg, dist(positive, negative))
    return _reduce(ew.clamp_min(margin + d_pos - d_neg, 0), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y == 1``, ``max(0, cos(x1, x2) - margin)`` where ``y == -1``."""
    reduction = _reduction(size_average, reduce, reduction, "cosine_embedding_loss")
    tiny = 1e-12
    dot = rd.sum(input1 * input2, dim=-1)
    norms = ew.sqrt((rd.sum(input1 * input1, dim=-1) + tiny) * (rd.sum(input2 * input2, dim=-1)
                                                                 + tiny))
    cos = dot / norms
    zero = cos * 0
    loss = ew.where(target == 1, 1 - cos, zero) + \
        ew.where(target == -1, ew.clamp_min(cos - margin, 0), zero)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood: ``exp(x) - y·x`` (``log_input``) or ``x - y·log(x + eps)``;
    ``full`` adds Stirling's approximation of ``log(y!)`` where ``y > 1``."""
    reduction = _reduction(size_average, reduce, reduction, "poisson_nll_loss")
    if log_input:
        loss = ew.exp(input) - target * input
    else:
        loss = input - target * ew.log(input + eps)
    if full:
        safe = ew.where(target > 1, target, target * 0 + 2)
        stirling = safe * ew.log(safe) - safe + 0.5 * ew.log(2 * math.pi * safe)
        loss = loss + ew.where(target > 1, stirling, stirling * 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``0.5 · (log(var) + (x - y)² / var)`` (+ ``0.5·log(2π)`` with ``full``).

    ``var`` has the input's shape, or one dim fewer / a trailing 1 (one
    variance per sample). It is clamped at ``eps`` for the value only; the
    gradient passes through the clamp unchanged, as in PyTorch.
    """
    op = "gaussian_nll_loss"
    _check_reduction(reduction, op)
    if not isinstance(var, Tensor):
        var = input.detach() * 0 + float(var)
    in_shape, v_shape = tuple(input.shape), tuple(var.shape)
    if v_shape != in_shape:
        if in_shape[:-1] == v_shape:
            var = var.unsqueeze(-1)
        elif not (in_shape[:-1] == v_shape[:-1] and v_shape[-1:] == (1,)):
            raise ValueError(f"{op}: var of shape {v_shape} does not fit input of shape "
                             f"{in_shape} (expected the same shape, one dim fewer, or a last "
                             "dim of 1)")
    with var._device.activate():  # checked where var lives (on a GPU: reported at the next host sync)
        _backend.check_on_device((var._data < 0).any(), f"{op}: var has negative entries", ValueError)
    var = var + (ew.clamp_min(var, eps) - var).detach()
    diff = input - target
    loss = 0.5 * (ew.log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
