"""Higher-order gradients: create_graph=True, the engine's rules for it, and the uses people make
of it (gradient penalties, MAML, Hessian-vector products), each against torch in float64."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import brickwork as bw
import brickwork.autograd.functional as BF
from oracle import to_numpy

TOL = dict(rtol=1e-6, atol=1e-9)


def pair(a, requires_grad=True):
    a = np.asarray(a, dtype=np.float64)
    return (bw.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def close(b, t, **kw):
    np.testing.assert_allclose(to_numpy(b), to_numpy(t), **(kw or TOL))


# ---------------------------------------------------------------------------
# the engine


def test_backward_with_create_graph_leaves_a_grad_that_requires_grad_and_warns():
    x = bw.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="reference cycle"):
        (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    close(x.grad, np.array([3.0, 12.0]))
    g = x.grad
    x.grad = None
    g.sum().backward()
    close(x.grad, np.array([6.0, 12.0]))


def test_retain_graph_defaults_to_create_graph():
    x = bw.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    bw.autograd.grad(y, x, create_graph=True)
    (g,) = bw.autograd.grad(y, x)  # the graph is still there
    close(g, (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))))
    with pytest.raises(RuntimeError, match="second time"):
        bw.autograd.grad(y, x)
    z = (x * x).sum()
    bw.autograd.grad(z, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="second time"):
        bw.autograd.grad(z, x)


def test_first_order_gradients_do_not_require_grad():
    x = bw.tensor([1.0, 2.0], requires_grad=True)
    (g,) = bw.autograd.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_grad_accumulates_with_history_when_grad_already_exists():
    bx, tx = pair([0.5, -1.5])
    for x, lib in ((bx, bw), (tx, torch)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x.sin() * x).sum().backward(create_graph=True)
            (x ** 2).sum().backward(create_graph=True)
    close(bx.grad, tx.grad)
    (bh,) = bw.autograd.grad(bx.grad.sum(), bx)
    (th,) = torch.autograd.grad(tx.grad.sum(), tx)
    close(bh, th)


def test_third_derivative_of_a_polynomial_matches_torch():
    bx, tx = pair([0.3, -1.2, 2.0])
    results = []
    for x, lib in ((bx, bw), (tx, torch)):
        y = (2 * x ** 5 - 3 * x ** 4 + x ** 2 - 7 * x).sum()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x, create_graph=True)
        (g4,) = lib.autograd.grad(g3.sum(), x)
        results.append((g1, g2, g3, g4))
    for b, t in zip(*results):
        close(b, t)
    x = np.array([0.3, -1.2, 2.0])
    close(results[0][2], 120 * x ** 2 - 72 * x)


def test_grad_outputs_that_require_grad_are_differentiated_through():
    """The double-vjp trick: d/dv of a vjp is the Jacobian-vector product."""
    bx, tx = pair([0.5, 1.5])
    bv, tv = pair([0.0, 0.0])
    bu, tu = pair([1.0, -2.0], requires_grad=False)
    res = []
    for x, v, u, lib in ((bx, bv, bu, bw), (tx, tv, tu, torch)):
        y = x.sin() * x
        (g,) = lib.autograd.grad(y, x, v, create_graph=True)
        (jv,) = lib.autograd.grad(g, v, u)
        res.append(jv)
    close(*res)


def test_hooks_see_recorded_gradients():
    bx, tx = pair([1.0, 2.0])
    res = []
    for x, lib in ((bx, bw), (tx, torch)):
        y = x * x
        seen = []
        y.register_hook(lambda g, seen=seen: seen.append(g.requires_grad) or g * 3)
        (g,) = lib.autograd.grad((y * x).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        res.append((g, h, seen))
    close(res[0][0], res[1][0])
    close(res[0][1], res[1][1])
    assert res[0][2] == res[1][2]


def test_an_op_that_cannot_be_differentiated_twice_names_itself():
    from brickwork.autograd import Function

    class Opaque(Function):
        saved_inputs = (0,)

        def forward(self, x):
            self.d = 2 * x  # a derived value the recorded backward cannot follow
            return x * x

        def backward(self, g):
            return (g * self.d,)

    x = bw.tensor([1.0, 2.0], requires_grad=True)
    y = Opaque.apply(x).sum()
    with pytest.raises(RuntimeError, match="opaque: double backward.*'d'"):
        bw.autograd.grad(y, x, create_graph=True)
    (g,) = bw.autograd.grad(y, x)  # first order: unaffected, the graph was kept intact
    close(g, np.array([2.0, 4.0]))


def test_custom_function_written_against_the_array_interface_is_twice_differentiable():
    from brickwork.autograd import Function

    class Cube(Function):
        saved_inputs = (0,)

        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, g):
            return (3 * self.x ** 2 * g,)

    x = bw.tensor([2.0, -1.0], requires_grad=True)
    (g,) = bw.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = bw.autograd.grad(g.sum(), x)
    close(h, np.array([12.0, -6.0]))


# ---------------------------------------------------------------------------
# what people use it for


def _mlp_pair(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [(4, 8), (8, 8), (8, 1)]
    b_layers, t_layers = [], []
    for i, (n_in, n_out) in enumerate(sizes):
        w = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
        c = rng.standard_normal(n_out) * 0.1
        bl, tl = bw.nn.Linear(n_in, n_out), torch.nn.Linear(n_in, n_out)
        with bw.no_grad():
            bl.weight.copy_(bw.tensor(w))
            bl.bias.copy_(bw.tensor(c))
        with torch.no_grad():
            tl.weight.copy_(torch.tensor(w))
            tl.bias.copy_(torch.tensor(c))
        b_layers.append(bl)
        t_layers.append(tl)
        if i < len(sizes) - 1:
            b_layers.append(bw.nn.LeakyReLU(0.2) if i == 0 else bw.nn.Tanh())
            t_layers.append(torch.nn.LeakyReLU(0.2) if i == 0 else torch.nn.Tanh())
    return bw.nn.Sequential(*b_layers).double(), torch.nn.Sequential(*t_layers).double()


def _gradient_penalty(lib, critic, real, fake, eps):
    x = eps * real + (1 - eps) * fake
    x.requires_grad_(True)
    out = critic(x)
    (g,) = lib.autograd.grad(out.sum(), x, create_graph=True)
    norm = (g * g).sum(dim=1).sqrt()
    return ((norm - 1) ** 2).mean()


def test_wgan_gp_gradient_penalty_through_an_mlp_matches_torch():
    b_net, t_net = _mlp_pair()
    rng = np.random.default_rng(1)
    real, fake, eps = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.uniform(size=(6, 1))
    bp = _gradient_penalty(bw, b_net, bw.tensor(real), bw.tensor(fake), bw.tensor(eps))
    tp = _gradient_penalty(torch, t_net, torch.tensor(real), torch.tensor(fake), torch.tensor(eps))
    close(bp, tp)
    bp.backward()
    tp.backward()
    for (name, b), t in zip(b_net.named_parameters(), t_net.parameters()):
        if t.grad is None:  # the last bias does not change the input gradient (torch: None too)
            assert b.grad is None, name
            continue
        assert b.grad is not None, name
        close(b.grad, t.grad)


def test_maml_step_matches_torch():
    """One MAML meta-gradient: an inner SGD step on a support set, differentiated through."""
    b_net, t_net = _mlp_pair(seed=3)
    rng = np.random.default_rng(4)
    xs, ys = rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    xq, yq = rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    inner_lr = 0.1
    metas = []
    for net, lib, func in ((b_net, bw, bw.func if hasattr(bw, "func") else None), (t_net, torch, None)):
        params = list(net.parameters())

        def forward(x, ps, lib=lib):
            h = x
            k = 0
            for layer in net:
                if isinstance(layer, (bw.nn.Linear, torch.nn.Linear)):
                    h = h @ ps[k].T + ps[k + 1]
                    k += 2
                else:
                    h = layer(h)
            return h

        T = lib.tensor
        support = ((forward(T(xs), params) - T(ys)) ** 2).mean()
        grads = lib.autograd.grad(support, params, create_graph=True)
        adapted = [p - inner_lr * g for p, g in zip(params, grads)]
        query = ((forward(T(xq), adapted) - T(yq)) ** 2).mean()
        metas.append((query, lib.autograd.grad(query, params)))
    close(metas[0][0], metas[1][0])
    for b, t in zip(metas[0][1], metas[1][1]):
        close(b, t)


def test_newton_step_with_hessian_matches_torch():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 3))
    a = a @ a.T + 3 * np.eye(3)
    w0 = rng.standard_normal(3)

    def loss(lib, w):
        A = lib.tensor(a)
        return 0.5 * (w @ (A @ w)) + (w ** 4).sum() * 0.1

    bw_w, t_w = pair(w0)
    bh = BF.hessian(lambda w: loss(bw, w), bw_w)
    th = TF.hessian(lambda w: loss(torch, w), t_w)
    close(bh, th)


# ---------------------------------------------------------------------------
# brickwork.autograd.functional against torch.autograd.functional


def f_single(x):
    return (x.sin() * x.exp()).sum()


def f_pair(x, y):
    return (x * y.tanh()).sum() + (x ** 2).sum() * y.sum()


def f_vec(x):
    return x ** 2 * x.sum()


def f_multi(x, y):
    return x * y, (x.exp() + y).sum()


X = np.array([0.4, -0.7, 1.1])
Y = np.array([0.2, 0.5, -0.3])


def _both(*arrays):
    pairs = [pair(a, requires_grad=False) for a in arrays]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _compare(b, t):
    if isinstance(t, (tuple, list)):  # (torch's forward-mode jacobian gives lists)
        assert isinstance(b, tuple) and len(b) == len(t)
        for bi, ti in zip(b, t):
            _compare(bi, ti)
    else:
        assert tuple(b.shape) == tuple(t.shape)
        close(b, t)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("case", ["single", "vec", "pair", "multi"])
def test_jacobian(case, strategy):
    fn = {"single": f_single, "vec": f_vec, "pair": f_pair, "multi": f_multi}[case]
    b_in, t_in = _both(X, Y) if case in ("pair", "multi") else _both(X)
    b_arg = b_in if len(b_in) > 1 else b_in[0]
    t_arg = t_in if len(t_in) > 1 else t_in[0]
    kw = {"vectorize": True} if strategy == "forward-mode" else {}
    t = TF.jacobian(fn, t_arg, strategy=strategy, **kw)
    b = BF.jacobian(fn, b_arg, strategy=strategy, **kw)
    _compare(b, t)


@pytest.mark.parametrize("case", ["single", "pair"])
def test_hessian(case):
    fn = {"single": f_single, "pair": f_pair}[case]
    b_in, t_in = _both(X, Y) if case == "pair" else _both(X)
    b_arg = b_in if len(b_in) > 1 else b_in[0]
    t_arg = t_in if len(t_in) > 1 else t_in[0]
    _compare(BF.hessian(fn, b_arg), TF.hessian(fn, t_arg))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("case", ["single", "pair"])
def test_hvp_and_vhp(name, case):
    fn = {"single": f_single, "pair": f_pair}[case]
    if case == "pair":
        (bx, by), (tx, ty) = _both(X, Y)
        (bu, bv), (tu, tv) = _both(Y, X)
        b = getattr(BF, name)(fn, (bx, by), (bu, bv))
        t = getattr(TF, name)(fn, (tx, ty), (tu, tv))
    else:
        (bx,), (tx,) = _both(X)
        (bu,), (tu,) = _both(Y)
        b = getattr(BF, name)(fn, bx, bu)
        t = getattr(TF, name)(fn, tx, tu)
    _compare(b, t)


@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_vjp_and_jvp(name):
    (bx, by), (tx, ty) = _both(X, Y)
    if name == "vjp":
        (bv,), (tv,) = _both(Y)
        b = BF.vjp(lambda x, y: x * y.exp(), (bx, by), bv)
        t = TF.vjp(lambda x, y: x * y.exp(), (tx, ty), tv)
    else:
        (bu, bv), (tu, tv) = _both(Y, X)
        b = BF.jvp(lambda x, y: x * y.exp(), (bx, by), (bu, bv))
        t = TF.jvp(lambda x, y: x * y.exp(), (tx, ty), (tu, tv))
    _compare(b, t)


def test_functional_create_graph_keeps_results_differentiable():
    bx, tx = pair(X)
    res = []
    for x, F in ((bx, BF), (tx, TF)):
        _, hv = F.hvp(f_single, x, x.detach() * 0 + 1, create_graph=True)
        assert hv.requires_grad
        res.append(hv.sum())
    (bg,) = bw.autograd.grad(res[0], bx)
    (tg,) = torch.autograd.grad(res[1], tx)
    close(bg, tg)


def test_functional_results_are_detached_without_create_graph():
    bx, _ = pair(X)
    out, g = BF.vjp(lambda x: (x ** 2).sum(), bx)
    assert not out.requires_grad and not g.requires_grad


def test_functional_strict_and_unused_inputs():
    (bx, by), (tx, ty) = _both(X, Y)
    b = BF.jacobian(lambda x, y: x ** 2, (bx, by))
    t = TF.jacobian(lambda x, y: x ** 2, (tx, ty))
    _compare(b, t)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        BF.jacobian(lambda x, y: x ** 2, (bx, by), strict=True)
    with pytest.raises(RuntimeError, match="pass v"):
        BF.vjp(lambda x: x ** 2, bx)
    with pytest.raises(TypeError, match="tensor or a tuple of tensors"):
        BF.hessian(f_single, [1.0, 2.0, 3.0])


def test_functional_is_reachable_as_in_torch():
    import brickwork.autograd

    assert brickwork.autograd.functional.hessian is BF.hessian
    from brickwork.autograd.functional import hvp  # noqa: F401
