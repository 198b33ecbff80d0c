"""NAdam, RAdam, Adamax and Adadelta (``torch.optim``), step for step.

Each is one short in-place rule on the parameter's array, written against the
array module ``xp`` of the parameter's device (see ``optimizer.py``).
"""

from __future__ import annotations

import math
from typing import Any

from brickwork.optim.optimizer import Optimizer, _check, _step_tensor, _zeros_like
from brickwork.tensor import Tensor

__all__ = ["NAdam", "RAdam", "Adamax", "Adadelta"]


def _decayed(param: Tensor, grad: Any, group: dict[str, Any], decoupled: bool) -> Any:
    """The gradient after maximize and L2 weight decay; decoupled decay shrinks the parameter instead."""
    if group.get("maximize"):
        grad = -grad
    weight_decay = float(group["weight_decay"])
    if weight_decay != 0:
        if decoupled:
            param._data *= 1.0 - float(group["lr"]) * weight_decay
        else:
            grad = grad + weight_decay * param._data
    return grad


def _moments(grad: Any, state: dict[str, Any], beta1: float, beta2: float, xp: Any) -> tuple[Any, Any]:
    """Update and return Adam's first and second moments in place."""
    exp_avg = state["exp_avg"]._data
    exp_avg_sq = state["exp_avg_sq"]._data
    delta = grad - exp_avg
    delta *= 1.0 - beta1
    exp_avg += delta
    exp_avg_sq *= beta2
    square = xp.multiply(grad, grad, out=xp.empty_like(exp_avg_sq))
    square *= 1.0 - beta2
    exp_avg_sq += square
    return exp_avg, exp_avg_sq


class _AdamFamily(Optimizer):
    """Shared argument checks and state (first and second moments, step) of the Adam variants."""

    _per_element_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Any, lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float, extra: dict[str, Any]) -> None:
        name = type(self).__name__
        _check(name, lr, lr >= 0, "learning rate")
        _check(name, eps, eps >= 0, "epsilon value")
        _check(name, betas[0], 0 <= betas[0] < 1, "beta parameter at index 0")
        _check(name, betas[1], 0 <= betas[1] < 1, "beta parameter at index 1")
        _check(name, weight_decay, weight_decay >= 0, "weight_decay value")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      **extra))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": _step_tensor(), "exp_avg": _zeros_like(param),
                "exp_avg_sq": _zeros_like(param)}


class NAdam(_AdamFamily):
    """NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and a momentum-decay schedule.

    ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))``; the update mixes
    the gradient and the first moment with weights from the running product of
    ``mu``. ``decoupled_weight_decay`` gives NAdamW.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3, *,
                 decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
        _check(type(self).__name__, momentum_decay, momentum_decay >= 0, "momentum_decay value")
        super().__init__(params, lr, betas, eps, weight_decay,
                         dict(momentum_decay=momentum_decay, maximize=maximize,
                              decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = super()._init_state(param, group)
        state["mu_product"] = _step_tensor(1.0)
        return state

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param._device.xp
        state["step"]._data += 1
        step = float(state["step"]._data)
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        grad = _decayed(param, grad, group, group["decoupled_weight_decay"])
        decay = float(group["momentum_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        # torch keeps the product as a float32 tensor (the step counter's dtype); so do we
        mu_product_t = state["mu_product"]._data
        mu_product_t *= mu
        mu_product = float(mu_product_t)
        exp_avg, exp_avg_sq = _moments(grad, state, beta1, beta2, xp)
        denom = xp.sqrt(exp_avg_sq / (1.0 - beta2**step))
        denom += float(group["eps"])
        p = param._data
        p -= grad / denom * (lr * (1.0 - mu) / (1.0 - mu_product))
        p -= exp_avg / denom * (lr * mu_next / (1.0 - mu_product * mu_next))


class RAdam(_AdamFamily):
    """RAdam (``torch.optim.RAdam``): Adam whose adaptive step is used only once its variance is tractable.

    While the length of the approximated simple moving average ``rho_t`` is at
    most 5, the step is the bias-corrected first moment alone (SGD with
    momentum); after that it is rectified Adam. ``decoupled_weight_decay``
    gives RAdamW.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay,
                         dict(maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param._device.xp
        state["step"]._data += 1
        step = float(state["step"]._data)
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        grad = _decayed(param, grad, group, group["decoupled_weight_decay"])
        exp_avg, exp_avg_sq = _moments(grad, state, beta1, beta2, xp)
        bias_correction1 = 1.0 - beta1**step
        bias_correction2 = 1.0 - beta2**step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2**step / bias_correction2
        p = param._data
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = xp.sqrt(exp_avg_sq)
            adaptive += float(group["eps"])
            p -= exp_avg / adaptive * (lr / bias_correction1 * rect * math.sqrt(bias_correction2))
        else:
            p -= exp_avg * (lr / bias_correction1)


class Adamax(_AdamFamily):
    """Adamax (``torch.optim.Adamax``): Adam with the infinity norm for the second moment.

    ``u = max(beta2 * u, |g| + eps)`` and ``p -= lr / (1 - beta1**t) * m / u``.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _per_element_state = ("exp_avg", "exp_inf")

    def __init__(self, params: Any, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, dict(maximize=maximize))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": _step_tensor(), "exp_avg": _zeros_like(param), "exp_inf": _zeros_like(param)}

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param._device.xp
        state["step"]._data += 1
        step = float(state["step"]._data)
        beta1, beta2 = (float(b) for b in group["betas"])
        grad = _decayed(param, grad, group, False)
        exp_avg = state["exp_avg"]._data
        exp_inf = state["exp_inf"]._data
        delta = grad - exp_avg
        delta *= 1.0 - beta1
        exp_avg += delta
        exp_inf *= beta2
        bound = xp.abs(grad)
        bound += float(group["eps"])
        xp.maximum(exp_inf, bound, out=exp_inf)
        param._data -= exp_avg / exp_inf * (float(group["lr"]) / (1.0 - beta1**step))


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``): steps scaled by the ratio of running RMS of updates and gradients.

    ``v = rho * v + (1 - rho) * g * g``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho * u + (1 - rho) * d * d`` and ``p -= lr * d``.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.Adadelta([w], lr=1.0)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9968, -1.9968], requires_grad=True)
    """

    _per_element_state = ("square_avg", "acc_delta")

    def __init__(self, params: Any, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        name = type(self).__name__
        _check(name, lr, lr >= 0, "learning rate")
        _check(name, rho, 0 <= rho <= 1, "rho value")
        _check(name, eps, eps >= 0, "epsilon value")
        _check(name, weight_decay, weight_decay >= 0, "weight_decay value")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": _step_tensor(), "square_avg": _zeros_like(param),
                "acc_delta": _zeros_like(param)}

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = param._device.xp
        state["step"]._data += 1
        rho, eps = float(group["rho"]), float(group["eps"])
        grad = _decayed(param, grad, group, False)
        square_avg = state["square_avg"]._data
        acc_delta = state["acc_delta"]._data
        square_avg *= rho
        square_avg += (1.0 - rho) * (grad * grad)
        delta = xp.sqrt(acc_delta + eps)
        delta /= xp.sqrt(square_avg + eps)
        delta *= grad
        acc_delta *= rho
        acc_delta += (1.0 - rho) * (delta * delta)
        delta *= float(group["lr"])
        param._data -= delta
