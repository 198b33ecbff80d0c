"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any

from brickwork.autograd import _wrap
from brickwork.optim.optimizer import Optimizer, _add_scaled, _check
from brickwork.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``), step for step.

    With ``g`` the gradient (negated when ``maximize``):
    ``g += weight_decay * p``; with momentum, ``buf = g`` at the first step,
    then ``buf = momentum * buf + (1 - dampening) * g``, and ``g = g +
    momentum * buf`` (Nesterov) or ``g = buf``; finally ``p -= lr * g``.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = bw.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w
    tensor([ 0.4600, -0.9200], requires_grad=True)
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        _check("SGD", lr, lr >= 0, "learning rate")
        _check("SGD", momentum, momentum >= 0, "momentum value")
        _check("SGD", weight_decay, weight_decay >= 0, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    _per_element_state = ("momentum_buffer",)

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        p = param._data
        xp = param._device.xp
        if group["maximize"]:
            grad = -grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            grad = grad + float(weight_decay) * p
        momentum = group["momentum"]
        if momentum != 0:
            momentum = float(momentum)
            buf = state.get("momentum_buffer")
            if buf is None:
                state["momentum_buffer"] = _wrap(xp.array(grad, copy=True), param._device)
                buf = state["momentum_buffer"]._data
            else:
                buf = buf._data
                buf *= momentum
                dampening = group["dampening"]
                xp.add(buf, grad if dampening == 0 else (1.0 - dampening) * grad, out=buf)
            grad = grad + momentum * buf if group["nesterov"] else buf
        _add_scaled(xp, p, -float(group["lr"]), grad)
