"""Adagrad: per-element learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

from brickwork.autograd import _wrap
from brickwork.optim.optimizer import Optimizer, _check, _step_tensor
from brickwork.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``), step for step.

    ``sum += g * g`` (starting from ``initial_accumulator_value``) and
    ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.Adagrad([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    _per_element_state = ("sum",)

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False) -> None:
        _check("Adagrad", lr, lr >= 0, "learning rate")
        _check("Adagrad", lr_decay, lr_decay >= 0, "lr_decay value")
        _check("Adagrad", weight_decay, weight_decay >= 0, "weight_decay value")
        _check("Adagrad", initial_accumulator_value, initial_accumulator_value >= 0,
               "initial_accumulator_value")
        _check("Adagrad", eps, eps >= 0, "epsilon value")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # PyTorch fills this in the constructor; brickwork waits for the first
        # update, when a lazy parameter has its shape
        total = param._device.xp.full_like(param._data, group["initial_accumulator_value"])
        return {"step": _step_tensor(), "sum": _wrap(total, param._device)}

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        p = param._data
        xp = param._device.xp
        step_t = state["step"]._data
        step_t += 1
        step = float(step_t)
        if group["maximize"]:
            grad = -grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            grad = grad + float(weight_decay) * p
        clr = float(group["lr"]) / (1 + (step - 1) * float(group["lr_decay"]))
        total = state["sum"]._data
        square = xp.multiply(grad, grad, out=xp.empty_like(p))  # an array even for 0-d
        total += square
        std = xp.sqrt(total, out=square)
        std += float(group["eps"])
        xp.divide(grad, std, out=std)
        std *= clr
        p -= std
