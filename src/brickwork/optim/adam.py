"""Adam and AdamW (decoupled weight decay), with AMSGrad."""

from __future__ import annotations

import math
from typing import Any

from brickwork.optim.optimizer import Optimizer, _check, _step_tensor, _zeros_like
from brickwork.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), step for step.

    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g * g``, and
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``,
    where ``g`` includes ``weight_decay * p`` (L2 penalty) unless
    ``decoupled_weight_decay`` (AdamW), which instead shrinks ``p`` by
    ``1 - lr * weight_decay`` before the update. With ``amsgrad`` the running
    maximum of ``v`` is used.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _per_element_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        name = type(self).__name__
        _check(name, lr, lr >= 0, "learning rate")
        _check(name, eps, eps >= 0, "epsilon value")
        _check(name, betas[0], 0 <= betas[0] < 1, "beta parameter at index 0")
        _check(name, betas[1], 0 <= betas[1] < 1, "beta parameter at index 1")
        _check(name, weight_decay, weight_decay >= 0, "weight_decay value")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": _step_tensor(), "exp_avg": _zeros_like(param),
                 "exp_avg_sq": _zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(param)
        return state

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        p = param._data
        xp = param._device.xp
        step_t = state["step"]._data
        step_t += 1
        step = float(step_t)
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if group["maximize"]:
            grad = -grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p *= 1.0 - lr * weight_decay
            else:
                grad = grad + float(weight_decay) * p
        exp_avg = state["exp_avg"]._data
        exp_avg_sq = state["exp_avg_sq"]._data
        # exp_avg.lerp_(grad, 1 - beta1), in the form PyTorch's lerp uses for weights < 0.5
        delta = grad - exp_avg
        delta *= 1.0 - beta1
        exp_avg += delta
        exp_avg_sq *= beta2
        square = xp.multiply(grad, grad, out=xp.empty_like(p))  # an array even for 0-d
        square *= 1.0 - beta2
        exp_avg_sq += square
        bias_correction1 = 1.0 - beta1**step
        bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]._data
            xp.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second, out=square)
        denom /= bias_correction2_sqrt
        denom += float(group["eps"])
        xp.divide(exp_avg, denom, out=denom)
        denom *= lr / bias_correction1
        p -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``; default ``weight_decay=0.01``).

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
