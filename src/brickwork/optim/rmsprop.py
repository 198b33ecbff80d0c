"""RMSprop, plain or centred, with momentum."""

from __future__ import annotations

from typing import Any

from brickwork.optim.optimizer import Optimizer, _check, _step_tensor, _zeros_like
from brickwork.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``), step for step.

    ``v = alpha * v + (1 - alpha) * g * g``; the denominator is
    ``sqrt(v) + eps``, or, when ``centered``, ``sqrt(v - mean_g**2) + eps``
    with ``mean_g = lerp(mean_g, g, 1 - alpha)``. Without momentum
    ``p -= lr * g / denom``; with it ``buf = momentum * buf + g / denom`` and
    ``p -= lr * buf``.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    _per_element_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        _check("RMSprop", lr, lr >= 0, "learning rate")
        _check("RMSprop", eps, eps >= 0, "epsilon value")
        _check("RMSprop", momentum, momentum >= 0, "momentum value")
        _check("RMSprop", weight_decay, weight_decay >= 0, "weight_decay value")
        _check("RMSprop", alpha, alpha >= 0, "alpha value")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize))

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": _step_tensor(), "square_avg": _zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = _zeros_like(param)
        return state

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        p = param._data
        xp = param._device.xp
        state["step"]._data += 1
        alpha = float(group["alpha"])
        if group["maximize"]:
            grad = -grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            grad = grad + float(weight_decay) * p
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square = xp.multiply(grad, grad, out=xp.empty_like(p))  # an array even for 0-d
        square *= 1.0 - alpha
        square_avg += square
        avg = square
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            delta = grad - grad_avg
            delta *= 1.0 - alpha
            grad_avg += delta
            xp.multiply(grad_avg, grad_avg, out=avg)
            xp.subtract(square_avg, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        avg += float(group["eps"])
        lr = float(group["lr"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._data
            buf *= float(group["momentum"])
            xp.divide(grad, avg, out=avg)
            buf += avg
            xp.subtract(p, lr * buf, out=p)
        else:
            xp.divide(grad, avg, out=avg)
            avg *= lr
            p -= avg
