"""What DDP needs from the autograd engine: a leaf's gradient is final (and its hooks run)
as soon as its last contribution arrives, and post-accumulate-grad hooks see ``.grad``."""

from __future__ import annotations

import numpy as np
import pytest

import brickwork as bw
from brickwork.autograd import Function


class Mark(Function):
    """Identity whose backward logs that it ran."""

    log: list[str] = []

    def forward(self, x):
        return x

    def backward(self, grad):
        Mark.log.append("mark backward")
        return (grad,)


def test_post_accumulate_hook_runs_with_the_final_grad_before_backward_ends():
    Mark.log = []
    w1 = bw.ones(3, requires_grad=True)
    w2 = bw.full((3,), 2.0, requires_grad=True)
    w2.register_post_accumulate_grad_hook(lambda p: Mark.log.append(f"w2 grad {p.grad.tolist()}"))
    w1.register_post_accumulate_grad_hook(lambda p: Mark.log.append(f"w1 grad {p.grad.tolist()}"))
    h = Mark.apply(w1 * 3)
    (h * w2 + w2).sum().backward()  # w2 is used twice: one call, with the sum
    assert Mark.log == ["w2 grad [4.0, 4.0, 4.0]", "mark backward", "w1 grad [6.0, 6.0, 6.0]"]


def test_post_accumulate_hook_sees_accumulated_grad_and_can_be_removed():
    w = bw.ones(2, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0, 2.0], [5.0, 5.0]]
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2 and w.grad.tolist() == [6.0, 6.0]


def test_post_accumulate_hook_with_backward_inputs_and_rules():
    w = bw.ones(2, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 4).sum().backward(inputs=[w])
    assert seen == [[4.0, 4.0]]
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="does not require grad"):
        bw.ones(2).register_post_accumulate_grad_hook(print)


def test_gradient_hooks_still_rewrite_the_gradient_and_leaves_still_accumulate():
    x = bw.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    y = x * x
    (y + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 50.0])
    root = bw.ones(2, requires_grad=True)
    root.backward(bw.tensor([1.0, 2.0]))  # a leaf as the root of backward
    assert root.grad.tolist() == [1.0, 2.0]
