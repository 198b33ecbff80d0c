"""Loss functions, with PyTorch's reductions and conventions.

Fused primitives where fusing buys speed or stability: cross-entropy over
class indices (log-softmax, pick, weights, label smoothing and the reduction
in one node; backward is ``softmax - one_hot`` scaled), NLL, binary
cross-entropy (logs clamped at -100, as in PyTorch) and binary cross-entropy
with logits (stable for any logit: ``log1p(exp(-|x|))``). The regression
losses (MSE, L1, smooth L1, Huber) and KL divergence are composites.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from brickwork import _backend, dtypes
from brickwork._traced import Traced
from brickwork.autograd import DeviceMismatchError, Function
from brickwork.ops import activation as act
from brickwork.ops import elementwise as ew
from brickwork.ops import reduce as rd
from brickwork.ops._util import along_axis_index, as_float, sum_to
from brickwork.ops.nn_ops import log_softmax
from brickwork.tensor import Tensor

__all__ = [
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------
# class-index losses


class ClassNLL(Function):
    """Negative log-likelihood of class indices along axis 1, optionally from logits.

    ``from_logits`` fuses the log-softmax (that is cross-entropy). Per element
    ``i`` with target ``t``: ``loss_i = (1-ε)·w[t]·(-logp[i, t]) + ε/C·Σ_c w[c]·(-logp[i, c])``,
    zero where ``t == ignore_index``; ``mean`` divides by ``Σ_i w[t_i]`` over
    the counted elements, exactly as PyTorch.
    """

    op_name = "cross_entropy"
    saved_inputs = (0,)
    # class weights are constants (as in PyTorch); the fused log-softmax is read by a first-order
    # backward only: a recorded one takes log_softmax of the input again
    double_backward_constants = ("logp", "wt", "weight")

    def forward(self, x: Any, *, target: Any, weight: Any, ignore_index: int,
                label_smoothing: float, reduction: str, from_logits: bool) -> Any:
        xp = self.xp
        c = x.shape[1]
        if from_logits:
            logp = x - x.max(axis=1, keepdims=True)
            logp -= xp.log(xp.exp(logp).sum(axis=1, keepdims=True))
        else:
            logp = x
        valid = target != ignore_index
        safe_t = xp.where(valid, target, 0)[:, None]
        picked = xp.take_along_axis(logp, safe_t, axis=1)[:, 0]
        wt = weight[safe_t[:, 0]] * valid if weight is not None else valid.astype(x.dtype)
        loss = picked * wt
        xp.negative(loss, out=loss)
        eps = label_smoothing
        if eps:
            wb = weight.reshape((1, c) + (1,) * (x.ndim - 2)) if weight is not None else None
            smooth = -(logp * wb).sum(axis=1) if wb is not None else -logp.sum(axis=1)
            smooth *= valid
            loss *= 1 - eps
            loss += (eps / c) * smooth
        self.denominator = None
        if reduction == "mean":
            self.denominator = wt.sum()
            with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as PyTorch
                out = loss.sum() / self.denominator
        elif reduction == "sum":
            out = loss.sum()
        else:
            out = loss
        if self.needs_input_grad[0]:
            self.x, self.logp, self.safe_t, self.valid, self.wt = x, logp, safe_t, valid, wt
            self.weight, self.from_logits, self.eps = weight, from_logits, eps
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        logp, safe_t, wt, eps = self.logp, self.safe_t, self.wt, self.eps
        if self.from_logits and type(g) is Traced:  # recorded: log-softmax as a differentiable op
            logp = Traced(log_softmax(self.x.t, dim=1))
        c = logp.shape[1]
        if self.denominator is not None:
            g = g / self.denominator
        g_el = xp.broadcast_to(g, wt.shape)
        pick = g_el * wt  # coefficient of -logp[i, t_i]
        if eps:
            pick = pick * (1 - eps)
        expand = (slice(None), None)
        if self.from_logits:
            gx = xp.exp(logp)
            coef = pick.copy()
            if eps:
                total_w = self.weight.sum() if self.weight is not None else c
                coef += (eps / c) * total_w * g_el * self.valid
            gx *= coef[expand]
        else:
            gx = xp.zeros_like(logp)
        at_target = xp.take_along_axis(gx, safe_t, axis=1)
        at_target -= pick[expand]
        gx[along_axis_index(xp, safe_t, 1)] = at_target  # (put_along_axis is not in every CuPy)
        if eps:
            smooth = ((eps / c) * g_el * self.valid)[expand]
            if self.weight is not None:
                smooth = smooth * self.weight.reshape((1, c) + (1,) * (logp.ndim - 2))
            gx -= smooth
        return (gx,)


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _class_targets(op: str, input: Tensor, target: Tensor, weight: Tensor | None,
                   ignore_index: int) -> tuple[Tensor, Any]:
    """Validate an ``(N, C, d...)`` input against integer targets ``(N, d...)``."""
    x = input
    if x._data.ndim == 1:  # unbatched (C,) with a 0-d target
        x = x.unsqueeze(0)
        tshape_expected = ()
    else:
        tshape_expected = (x._data.shape[0],) + x._data.shape[2:]
    if x._data.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got {tuple(input.shape)}")
    if target._device is not input._device:
        raise DeviceMismatchError(op, [input._device, target._device])
    t = target._data
    if tuple(t.shape) != tshape_expected:
        raise ValueError(
            f"{op}: expected target of shape {tshape_expected} (class indices) for input of "
            f"shape {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    if t.ndim == 0:
        t = t.reshape(1)
    c = x._data.shape[1]
    if weight is not None and tuple(weight._data.shape) != (c,):
        raise RuntimeError(f"{op}: weight has shape {tuple(weight.shape)}, expected ({c},) "
                           f"for {c} classes")
    if t.size:
        with input._device.activate():
            bad = (t != ignore_index) & ((t < 0) | (t >= c))
            if input._device.type != "cpu":  # checked on the GPU, reported at the next host sync
                _backend.check_on_device(bad.any(), f"{op}: a target is out of bounds for {c} classes "
                                                    f"(input of shape {tuple(input.shape)})")
        if input._device.type == "cpu" and bad.any():
            raise IndexError(
                f"{op}: target {int(t[bad].flat[0])} is out of bounds for {c} classes "
                f"(input of shape {tuple(input.shape)})"
            )
    return x, t


def _class_loss(op: str, input: Tensor, target: Tensor, weight: Tensor | None,
                ignore_index: int, reduction: str, label_smoothing: float,
                from_logits: bool) -> Tensor:
    x, t = _class_targets(op, input, target, weight, ignore_index)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")
    w = None
    if weight is not None:
        if weight._device is not input._device:
            raise DeviceMismatchError(op, [input._device, weight._device])
        w = weight._data.astype(x._data.dtype, copy=False)
    out = ClassNLL.apply(x, target=t, weight=w, ignore_index=int(ignore_index),
                         label_smoothing=float(label_smoothing), reduction=reduction,
                         from_logits=from_logits)
    if reduction == "none" and input._data.ndim == 1:
        out = out.reshape(())
    return out


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``(N, C, d1, ...)`` (or ``(C,)``) and a target.

    The target is either class indices ``(N, d1, ...)`` (integer; fused,
    with ``ignore_index``) or class probabilities of the input's shape
    (floating point). ``weight`` rescales each class; ``label_smoothing``
    mixes the target with the uniform distribution. ``mean`` of class
    indices divides by the summed weights of the counted elements.

    >>> import brickwork as bw
    >>> cross_entropy(bw.tensor([[0.0, 0.0]]), bw.tensor([1]))
    tensor(0.6931)
    """
    op = "cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if target._data.dtype.kind == "f":
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    return _class_loss(op, input, target, weight, ignore_index, reduction, label_smoothing, True)


def _soft_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                        label_smoothing: float) -> Tensor:
    """Class-probability targets: ``-Σ_c w_c · p_c · log_softmax(x)_c`` (a composite)."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"cross_entropy: class-probability targets must have the input's shape "
            f"{tuple(input.shape)}, got {tuple(target.shape)}"
        )
    class_dim = 0 if input._data.ndim == 1 else 1
    c = input._data.shape[class_dim]
    logp = log_softmax(input, dim=class_dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        if tuple(weight._data.shape) != (c,):
            raise RuntimeError(f"cross_entropy: weight has shape {tuple(weight.shape)}, "
                               f"expected ({c},) for {c} classes")
        prod = prod * weight.reshape((c,) + (1,) * (input._data.ndim - class_dim - 1))
    loss = -rd.sum(prod, dim=class_dim)
    if reduction == "mean":
        count = input._data.size // c if c else 0
        return rd.sum(loss) / count
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities ``(N, C, d1, ...)``.

    >>> import brickwork as bw
    >>> nll_loss(bw.tensor([[-1.0, -2.0]]), bw.tensor([1]))
    tensor(2.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0, False)


# ---------------------------------------------------------------------------
# binary losses


class BinaryCrossEntropy(Function):
    """``-(y·log x + (1-y)·log(1-x))`` elementwise, each log clamped at -100 (PyTorch)."""

    op_name = "binary_cross_entropy"
    saved_inputs = (0, 1)
    double_backward_constants = ("log_x", "log_1mx")  # (a recorded backward takes the logs again)

    def forward(self, x: Any, y: Any) -> Any:
        xp = self.xp
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        self.x, self.y, self.log_x, self.log_1mx = x, y, log_x, log_1mx
        return -(log_1mx + y * (log_x - log_1mx))

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        x, y = self.x, self.y
        need_x, need_y = self.needs_input_grad
        gx = gy = None
        if need_x:
            denom = xp.maximum((1 - x) * x, 1e-12)
            gx = g * (x - y) / denom
        if need_y:
            if type(g) is Traced:
                log_x, log_1mx = xp.maximum(xp.log(x), -100), xp.maximum(xp.log(1 - x), -100)
            else:
                log_x, log_1mx = self.log_x, self.log_1mx
            gy = g * (log_1mx - log_x)
        return (gx, gy)


class BinaryCrossEntropyWithLogits(Function):
    """``(1-y)·x + (1 + (pw-1)·y)·softplus(-x)``: stable for any logit."""

    op_name = "binary_cross_entropy_with_logits"
    saved_inputs = (0, 1, 2)  # (pos_weight is None when not given)
    double_backward_constants = ("sp",)  # (a recorded backward takes softplus(-x) again)

    def forward(self, x: Any, y: Any, pos_weight: Any) -> Any:
        xp = self.xp
        sp = xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x) = max(-x, 0) + log1p(exp(-|x|))
        sp += xp.maximum(-x, 0)
        self.x, self.y, self.pos_weight, self.sp = x, y, pos_weight, sp
        out = (1 - y) * x
        if pos_weight is None:
            out += sp
        else:
            out += (1 + (pos_weight - 1) * y) * sp
        return out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        x, y, pw, sp = self.x, self.y, self.pos_weight, self.sp
        need = self.needs_input_grad
        gx = gy = gpw = None
        if type(g) is Traced:  # recorded: stable differentiable ops for any logit
            sp = Traced(-act.logsigmoid(x.t))
        if need[0]:
            if type(g) is Traced:
                one_minus_sig = Traced((-x.t).sigmoid())
            else:
                with np.errstate(over="ignore"):
                    one_minus_sig = 1 / (1 + xp.exp(x))  # sigmoid(-x)
            if pw is None:
                gx = g * ((1 - y) - one_minus_sig)
            else:
                gx = g * ((1 - y) - (1 + (pw - 1) * y) * one_minus_sig)
        if need[1]:
            gy = g * (-x + (pw - 1) * sp) if pw is not None else g * -x
        if need[2]:
            gpw = sum_to(g * y * sp, pw.shape)
        return (gx, gy, gpw)


def _same_size(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: target size {tuple(target.shape)} must be the same as input size "
            f"{tuple(input.shape)}"
        )


def _weighted(loss: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target`` (same shape).

    Each log is clamped at -100, so a probability of exactly 0 or 1 gives a
    finite loss, as in PyTorch.

    >>> import brickwork as bw
    >>> binary_cross_entropy(bw.tensor([0.5]), bw.tensor([1.0]))
    tensor(0.6931)
    """
    op = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    _same_size(op, input, target)
    x, y = as_float(input), _like(target, input)
    if x._data.size:
        d = x._data
        # (on a GPU checked there and reported at the next host sync; NaN fails the check, as in PyTorch)
        with x._device.activate():
            _backend.check_on_device(~((d >= 0) & (d <= 1)).all(),
                                     f"{op}: all elements of input should be between 0 and 1", RuntimeError)
    return _weighted(BinaryCrossEntropy.apply(x, y), weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step (logits of any size, e.g. ±1e4).

    ``pos_weight`` (broadcast along the last dim) weighs the positive term.

    >>> import brickwork as bw
    >>> binary_cross_entropy_with_logits(bw.tensor([0.0]), bw.tensor([1.0]))
    tensor(0.6931)
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    _same_size(op, input, target)
    x, y = as_float(input), _like(target, input)
    pw = None if pos_weight is None else _like(pos_weight, input)
    loss = BinaryCrossEntropyWithLogits.apply(x, y, pw)
    return _weighted(loss, weight, reduction)


def _like(t: Tensor, input: Tensor) -> Tensor:
    """``t`` in the input's floating dtype (targets may be given as integers)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a tensor, got {type(t).__name__}")
    if t._device is not input._device:
        raise DeviceMismatchError("loss", [input._device, t._device])
    want = input._data.dtype if input._data.dtype.kind == "f" else np.dtype(np.float32)
    return t if t._data.dtype == want else t.to(dtypes.from_numpy_dtype(want))


# ---------------------------------------------------------------------------
# regression losses (composites)


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return rd.mean(loss)
    if reduction == "sum":
        return rd.sum(loss)
    return loss


def _difference(op: str, input: Tensor, target: Tensor) -> Tensor:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{op}: using a target size {tuple(target.shape)} that is different to the input size "
            f"{tuple(input.shape)}; they will be broadcast, which is likely not what you want",
            stacklevel=3,
        )
    return input - target


def _per_element_weight(loss: Tensor, weight: Tensor | None, reduction: str, input: Tensor,
                        op: str, mean_over_weights: bool) -> Tensor:
    """PyTorch's optional elementwise ``weight`` of the regression losses."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weights and input must have the same size, got weight "
                         f"{tuple(weight.shape)} and input {tuple(input.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_over_weights:
        return rd.sum(loss) / rd.sum(weight)
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)²`` (``weight``: per element; mean divides by its sum).

    >>> import brickwork as bw
    >>> mse_loss(bw.tensor([1.0, 2.0]), bw.tensor([1.0, 4.0]))
    tensor(2.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    d = _difference("mse_loss", input, target)
    return _per_element_weight(d * d, weight, reduction, input, "mse_loss", True)


def l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|`` (``weight``: per element; mean divides by its sum).

    >>> import brickwork as bw
    >>> l1_loss(bw.tensor([1.0, 2.0]), bw.tensor([1.0, 4.0]))
    tensor(1.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    loss = ew.abs(_difference("l1_loss", input, target))
    return _per_element_weight(loss, weight, reduction, input, "l1_loss", True)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5·d²/beta`` where ``|d| < beta``, else ``|d| - 0.5·beta`` (``beta=0``: L1).

    >>> import brickwork as bw
    >>> smooth_l1_loss(bw.tensor([0.0, 0.0]), bw.tensor([0.5, 3.0]), reduction="none")
    tensor([0.1250, 2.5000])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = _difference("smooth_l1_loss", input, target)
    a = ew.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    loss = ew.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5·d²`` where ``|d| < delta``, else ``delta·(|d| - 0.5·delta)`` (optionally weighted).

    >>> import brickwork as bw
    >>> huber_loss(bw.tensor([0.0, 0.0]), bw.tensor([0.5, 3.0]), reduction="none")
    tensor([0.1250, 2.5000])
    """
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = _difference("huber_loss", input, target)
    a = ew.abs(d)
    loss = ew.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _per_element_weight(loss, weight, reduction, input, "huber_loss", False)


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` as log-probabilities (``reduction='batchmean'`` supported).

    >>> import brickwork as bw
    >>> kl_div(bw.tensor([0.25, 0.75]).log(), bw.tensor([0.5, 0.5]), reduction="sum")
    tensor(0.1438)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: invalid reduction {reduction!r}")
    if log_target:
        loss = ew.exp(target) * (target - input)
    else:
        # 0 · log 0 is taken as 0, as PyTorch's xlogy
        safe = ew.where(target > 0, target, 1.0)
        loss = ew.where(target > 0, target * (ew.log(safe) - input), 0.0 * input)
    if reduction == "batchmean":
        n = input._data.shape[0] if input._data.ndim else 1
        return rd.sum(loss) / n
    return _reduce(loss, reduction)
