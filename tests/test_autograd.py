"""The autograd engine: backward, grad, grad modes, hooks, graph freeing, deep graphs, device checks."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork.autograd import DeviceMismatchError, Function, _wrap


def test_backward_accumulates_into_leaves(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_backward_with_gradient_matches_torch(device):
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    v = np.array([[1.0, 0.5], [-1.0, 2.0]])
    x = bw.tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    (x.exp() * x).backward(bw.tensor(v, device=device))
    (tx.exp() * tx).backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy())


def test_seed_gradient_is_not_aliased_into_grad(device):
    x = bw.zeros(3, device=device, requires_grad=True)
    v = bw.ones(3, device=device)
    (x + 0).backward(v)
    (x + 0).backward(v)
    assert v.tolist() == [1.0, 1.0, 1.0]
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_shared_gradient_arrays_are_not_aliased(device):
    # add's backward passes the same array to both inputs; the leaves' grads must be separate
    a = bw.zeros(2, device=device, requires_grad=True)
    b = bw.zeros(2, device=device, requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(5)
    assert b.grad.tolist() == [1.0, 1.0]


def test_implicit_gradient_only_for_scalars(device):
    x = bw.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3,\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(2,\).*\(3,\)"):
        (x * 2).backward(bw.ones(2, device=device))
    (x * 2).sum(0, keepdim=True).backward()  # one element: fine
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_on_tensor_without_grad_raises(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        bw.ones(1, device=device).backward()
    x = bw.ones(1, device=device, requires_grad=True)
    with bw.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_second_backward_raises_and_retain_graph_allows_it(device):
    x = bw.ones(2, device=device, requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * 2 * np.e * np.ones(2), rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    z = (x * x).sum()
    bw.autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="second time"):
        bw.autograd.grad(z, x)


def test_autograd_grad(device):
    a = np.array([1.0, 2.0, 3.0])
    x = bw.tensor(a, device=device, requires_grad=True)
    w = bw.tensor(a[::-1].copy(), device=device, requires_grad=True)
    h = x * w
    out = (h.sin() * x).sum()
    gx, gh = bw.autograd.grad(out, [x, h], retain_graph=True)
    tx = torch.tensor(a, requires_grad=True)
    tw = torch.tensor(a[::-1].copy(), requires_grad=True)
    th = tx * tw
    tgx, tgh = torch.autograd.grad((th.sin() * tx).sum(), [tx, th])
    np.testing.assert_allclose(gx.cpu().numpy(), tgx.numpy())
    np.testing.assert_allclose(gh.cpu().numpy(), tgh.numpy())
    assert x.grad is None and w.grad is None  # grad() leaves .grad alone
    (gw,) = bw.autograd.grad(out, w, grad_outputs=bw.tensor(2.0, device=device))
    (tgw,) = torch.autograd.grad((th.sin() * tx).sum() if False else (tx * tw).sin().mul(tx).sum(), tw,
                                 grad_outputs=torch.tensor(2.0, dtype=torch.float64))
    np.testing.assert_allclose(gw.cpu().numpy(), tgw.numpy())


def test_autograd_grad_unused_inputs(device):
    x = bw.ones(2, device=device, requires_grad=True)
    z = bw.ones(2, device=device, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        bw.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = bw.autograd.grad(y, [x, z], allow_unused=True)
    assert gx.tolist() == [2.0, 2.0] and gz is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        bw.autograd.grad((x * 2).sum(), [bw.ones(2, device=device)])


def test_autograd_grad_of_broadcast_leaf(device):
    b = bw.tensor(1.5, device=device, requires_grad=True)
    x = bw.ones(2, 3, device=device)
    (g,) = bw.autograd.grad((x * b).sum(), b)
    assert g.shape == () and g.item() == 6.0


def test_backward_of_several_roots_and_inputs(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = bw.tensor([3.0, 4.0], device=device, requires_grad=True)
    a, b = x * y, x + y
    bw.autograd.backward([a, b], [bw.ones(2, device=device), bw.full((2,), 2.0, device=device)])
    assert x.grad.tolist() == [5.0, 6.0] and y.grad.tolist() == [3.0, 4.0]
    x.grad = y.grad = None
    (x * y).sum().backward(inputs=[x])
    assert x.grad.tolist() == [3.0, 4.0] and y.grad is None


def test_grad_modes(device):
    x = bw.ones(2, device=device, requires_grad=True)
    with bw.no_grad():
        assert not (x * 2).requires_grad
        with bw.enable_grad():
            assert (x * 2).requires_grad
        assert not bw.is_grad_enabled()
    assert bw.is_grad_enabled()
    with bw.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    bw.set_grad_enabled(False)  # a plain call takes effect at once, as in PyTorch
    try:
        assert not bw.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        bw.set_grad_enabled(True)
    with bw.inference_mode():
        assert not (x * 2).requires_grad
    with bw.inference_mode(False):
        assert (x * 2).requires_grad


def test_grad_modes_as_decorators(device):
    x = bw.ones(2, device=device, requires_grad=True)

    @bw.no_grad()
    def f():
        return x * 2

    @bw.inference_mode()
    def g():
        return x * 2

    @bw.enable_grad()
    def h():
        return x * 2

    assert not f().requires_grad and not g().requires_grad
    with bw.no_grad():
        assert h().requires_grad
    assert bw.is_grad_enabled()


def test_grad_mode_restored_after_exception(device):
    with pytest.raises(ValueError), bw.no_grad():
        raise ValueError
    assert bw.is_grad_enabled()


def test_grad_mode_is_per_thread(device):
    x = bw.ones(2, device=device, requires_grad=True)
    inside, release = threading.Event(), threading.Event()

    def worker():
        with bw.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    try:
        assert bw.is_grad_enabled() and (x * 2).requires_grad
    finally:
        release.set()
        t.join()


def test_requires_grad_(device):
    x = bw.ones(2, device=device)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        bw.ones(2, dtype=bw.int64, device=device).requires_grad_()
    y = bw.ones(2, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_is_leaf_grad_fn_and_non_leaf_grad(device):
    x = bw.ones(2, device=device, requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None
    assert bw.ones(2, device=device).is_leaf
    y.sum().backward()
    assert y.grad is None


def test_retain_grad_accumulates_like_torch(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z = (y * y).sum()
    z.backward(retain_graph=True)
    assert y.grad.tolist() == [4.0, 8.0]
    z.backward()
    assert y.grad.tolist() == [8.0, 16.0]
    x.retain_grad()  # a no-op on leaves
    with pytest.raises(RuntimeError, match="does not require grad"):
        bw.ones(1, device=device).retain_grad()


def test_register_hook_on_leaf_and_non_leaf(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(("x", g.tolist())))
    y = x * 3
    y.register_hook(lambda g: seen.append(("y", g.tolist())))
    y.register_hook(lambda g: g * 10)  # returning a tensor replaces the gradient
    (y * y).sum().backward()
    assert seen == [("y", [6.0, 12.0]), ("x", [180.0, 360.0])]
    assert x.grad.tolist() == [180.0, 360.0]


def test_leaf_hook_can_replace_gradient_and_be_removed(device):
    x = bw.ones(2, device=device, requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    (x * 5).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    handle.remove()
    (x * 5).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        bw.ones(1, device=device).register_hook(lambda g: g)


def test_hook_result_is_not_aliased_into_grad(device):
    x = bw.zeros(2, device=device, requires_grad=True)
    keep = bw.ones(2, device=device)
    x.register_hook(lambda g: keep)
    (x * 1).sum().backward()
    (x * 1).sum().backward()
    assert keep.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


def test_hooks_with_autograd_grad(device):
    x = bw.ones(2, device=device, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (g,) = bw.autograd.grad(y.sum(), x)
    assert g.tolist() == [4.0, 4.0]


def test_detach_shares_storage_and_cuts_history(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 7.0
    assert y[0].item() == 7.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad


def test_data_shares_storage_without_history(device):
    x = bw.ones(3, device=device, requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d.mul_(4)
    assert x.tolist() == [4.0, 4.0, 4.0]
    x.data = bw.zeros(2, device=device)
    assert x.shape == (2,) and x.requires_grad


def test_custom_function(device):
    class Cube(Function):
        saved_inputs = (0,)

        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, grad):
            return (3 * self.x**2 * grad,)

    x = bw.tensor([1.0, -2.0], device=device, requires_grad=True)
    y = Cube.apply(x)
    assert repr(y.grad_fn) == "<CubeBackward>"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]


def test_deep_chain_backpropagates_without_recursion(device):
    x = bw.tensor([1.0, 2.0], dtype=bw.float64, device=device, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0001**10_000] * 2, rtol=1e-4)
    del y
    gc.collect()


def test_deep_graph_can_be_deleted_without_backward(device):
    x = bw.ones(1, device=device, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    del y  # freeing a long chain of nodes must not hit the recursion limit
    gc.collect()


def test_graph_frees_saved_arrays_after_backward(device):
    x = bw.randn(50, device=device, requires_grad=True)
    h = x * 2
    y = h.sin()  # saves h's array
    saved = weakref.ref(h._data)
    node = weakref.ref(h.grad_fn)
    del h
    gc.collect()
    assert saved() is not None  # still needed by sin's backward
    y.sum().backward()
    gc.collect()
    assert saved() is None  # released once backward ran
    assert node() is None or "next" not in node().__dict__


def test_graph_keeps_alive_only_what_backward_needs(device):
    x = bw.randn(50, device=device, requires_grad=True)
    h = x * 2
    y = h + 1  # add needs no values for its backward
    z = y.relu()  # relu keeps a mask, not its input
    ref_h, ref_y = weakref.ref(h._data), weakref.ref(y._data)
    del h, y
    gc.collect()
    assert ref_h() is None and ref_y() is None
    z.sum().backward()
    assert x.grad.shape == (50,)


def test_retain_graph_keeps_saved_arrays(device):
    x = bw.randn(5, device=device, requires_grad=True)
    h = x * 2
    y = h.sin().sum()
    saved = weakref.ref(h._data)
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None


def test_device_mismatch_names_op_and_both_devices():
    # a tensor that claims to live on cuda:0 (its array is NumPy): the device check runs before any kernel
    cpu = bw.ones(3)
    fake_gpu = _wrap(np.ones(3, dtype=np.float32), bw.device("cuda:0"))
    for fn, op in [(lambda: cpu + fake_gpu, "add"), (lambda: fake_gpu * cpu, "mul"),
                   (lambda: bw.where(cpu > 0, cpu, fake_gpu), "where"),
                   (lambda: bw.cat([cpu, fake_gpu]), "cat"),
                   (lambda: bw.eye(3) @ _wrap(np.ones((3, 2), dtype=np.float32), bw.device("cuda:0")),
                    "matmul")]:
        with pytest.raises(DeviceMismatchError) as info:
            fn()
        msg = str(info.value)
        assert op in msg and "cpu" in msg and "cuda:0" in msg, msg
        assert info.value.op == op or op in info.value.op


def test_device_mismatch_in_backward_seed():
    x = bw.ones(3, requires_grad=True)
    fake_gpu = _wrap(np.ones(3, dtype=np.float32), bw.device("cuda:0"))
    with pytest.raises(DeviceMismatchError, match="cuda:0"):
        (x * 2).backward(fake_gpu)


def test_iter_graph_lists_nodes(device):
    x = bw.ones(2, device=device, requires_grad=True)
    y = (x * 2 + 1).exp()
    names = sorted(type(n).__name__ for n in bw.autograd.iter_graph(y))
    assert names == ["Add", "Exp", "Mul"]


def test_retain_grad_sees_what_hooks_made_of_the_gradient(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 10)  # registered after retain_grad, still runs before it
    h.sum().backward()
    assert h.grad.tolist() == [10.0, 10.0] and x.grad.tolist() == [20.0, 20.0]
    y = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    y.register_hook(lambda g: g * 10)
    y.retain_grad()
    (y * 1).sum().backward()
    assert y.grad.tolist() == [10.0, 10.0]


def test_grad_mode_decorators_without_parentheses_and_set_grad_enabled(device):
    x = bw.ones(1, device=device, requires_grad=True)

    @bw.no_grad
    def f(t):
        return t * 2

    @bw.inference_mode
    def g(t):
        return t * 2

    @bw.enable_grad
    def h(t):
        return t * 2

    @bw.set_grad_enabled(False)
    def k(t):
        return t * 2

    assert bw.is_grad_enabled()  # decorating with set_grad_enabled(False) does not switch it off
    assert not f(x).requires_grad and not g(x).requires_grad and not k(x).requires_grad
    assert f.__name__ == "f" and bw.is_grad_enabled()
    with bw.no_grad():
        assert h(x).requires_grad


def test_gradcheck_catches_a_wrong_backward(device):
    from brickwork.testing import gradcheck

    class WrongSquare(Function):
        saved_inputs = (0,)

        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad):
            return (grad * self.x,)  # should be 2 * x * grad

    x = bw.randn(3, dtype=bw.float64, device=device, requires_grad=True)
    assert gradcheck(lambda t: t * t, [x])
    with pytest.raises(AssertionError, match="differs from central differences"):
        gradcheck(WrongSquare.apply, [x])
    assert gradcheck(WrongSquare.apply, [x], raise_exception=False) is False
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * t, [bw.randn(3, device=device, requires_grad=True)])


def test_gradcheck_on_several_inputs_and_outputs(device):
    from brickwork.testing import gradcheck

    a = bw.randn(2, 3, dtype=bw.float64, device=device, requires_grad=True)
    b = bw.randn(3, dtype=bw.float64, device=device, requires_grad=True)
    c = bw.tensor([1, 2], device=device)  # integer inputs are passed through, not perturbed
    assert gradcheck(lambda x, y, i: (x * y, (x.T @ x).sum() * i.sum()), [a, b, c])
    assert gradcheck(lambda x: x.T[::2], [a])  # non-contiguous outputs


@pytest.mark.parametrize("mode", ["no_grad", "no_grad_bare", "inference_mode", "enable_grad",
                                  "set_grad_enabled"])
def test_grad_mode_decorators_on_generator_functions_match_torch(mode):
    # issue 12 item 10c: @bw.no_grad() on a generator function left grad on inside it
    def run(lib):
        decorators = {"no_grad": lambda: lib.no_grad(), "no_grad_bare": lambda: lib.no_grad,
                      "inference_mode": lambda: lib.inference_mode(),
                      "enable_grad": lambda: lib.enable_grad(),
                      "set_grad_enabled": lambda: lib.set_grad_enabled(False)}

        @decorators[mode]()
        def gen(x):
            got = yield (x * 2).requires_grad, lib.is_grad_enabled()
            try:
                yield got, lib.is_grad_enabled()
            except KeyError:
                yield "thrown", lib.is_grad_enabled()
            return "finished"

        x = lib.ones(2, requires_grad=True)
        seen = []
        with lib.set_grad_enabled(mode != "enable_grad"):
            it = gen(x)
            seen.append(next(it))
            seen.append(lib.is_grad_enabled())  # the caller's own mode between yields
            seen.append(it.send("sent"))
            seen.append(it.throw(KeyError("k")))
            with pytest.raises(StopIteration) as stop:
                next(it)
            seen.append(stop.value.value)
            closing = gen(x)
            next(closing)
            closing.close()
            seen.append(lib.is_grad_enabled())
        return seen

    assert run(bw) == run(torch)
    assert run(bw)[0] == ((mode == "enable_grad",) * 2)
    assert bw.is_grad_enabled() and torch.is_grad_enabled()


@pytest.mark.parametrize("where", ["leaf", "non_leaf", "autograd_grad"])
@pytest.mark.parametrize("returned,message", [
    (lambda g: bw.ones(2), "changed the size of value.*shape \\(3,\\).*shape \\(2,\\)"),
    (lambda g: g.reshape(3, 1), "changed the size of value.*shape \\(3,\\).*shape \\(3, 1\\)"),
    (lambda g: g.double(), "changed the type of value.*float32.*float64"),
], ids=["smaller", "reshaped", "dtype"])
def test_hook_returning_a_different_gradient_names_the_hook(where, returned, message):
    # issue 12 item 10c: a hook returning the wrong shape gave a raw NumPy broadcast error
    def wrong_grad_hook(g):
        return returned(g)

    x = bw.ones(3, requires_grad=True)
    y = x * 2
    (x if where != "non_leaf" else y).register_hook(wrong_grad_hook)
    with pytest.raises(RuntimeError, match="hook 'wrong_grad_hook' has " + message):
        if where == "autograd_grad":
            bw.autograd.grad((y * 3).sum(), x)
        else:
            (y * 3).sum().backward()


def test_hook_returning_a_non_tensor_is_a_type_error():
    x = bw.ones(3, requires_grad=True)
    x.register_hook(lambda g: 2.0)
    with pytest.raises(TypeError, match="must return a Tensor or None, got float"):
        (x * 2).sum().backward()
