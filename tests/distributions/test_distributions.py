"""brickwork.distributions against torch.distributions: values, gradients, shapes, sample moments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import distributions as bd

td = torch.distributions
DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _pair(arr, dtype):
    """The same leaf in both libraries."""
    arr = np.asarray(arr, dtype=dtype)
    return bw.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


def _close(b, t, dtype):
    np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), **_tol(dtype))


def _grads_close(b_out, t_out, b_leaves, t_leaves, dtype):
    w = np.random.default_rng(0).standard_normal(tuple(t_out.shape)).astype(dtype)
    (b_out * bw.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for bl, tl in zip(b_leaves, t_leaves):
        if tl.grad is None:  # the output does not depend on this parameter (Normal's entropy and loc)
            assert bl.grad is None or not bl.grad.numpy().any()
            continue
        np.testing.assert_allclose(bl.grad.numpy(), tl.grad.numpy(), **_tol(dtype))


RNG = np.random.default_rng(3)
LOC = RNG.standard_normal((3, 4))
SCALE = RNG.uniform(0.5, 2.0, (4,))
LOGITS = RNG.standard_normal((3, 5))
PROBS = RNG.uniform(0.05, 1.0, (3, 5))
BINARY = (RNG.uniform(size=(3, 5)) < 0.5)


def _build(name, dtype):
    """(brickwork distribution, torch distribution, their leaves, a valid value as an array)."""
    if name == "Normal":
        (bl, tl), (bs, ts) = _pair(LOC, dtype), _pair(SCALE, dtype)
        return bd.Normal(bl, bs), td.Normal(tl, ts), [bl, bs], [tl, ts], (LOC * 0.5 + 0.3).astype(dtype)
    if name == "Uniform":
        (bl, tl), (bh, th) = _pair(LOC, dtype), _pair(LOC + SCALE + 1, dtype)
        return bd.Uniform(bl, bh), td.Uniform(tl, th), [bl, bh], [tl, th], (LOC + 0.5).astype(dtype)
    kind = name.split("-")[1]
    b, t = _pair(PROBS / 1.1 if kind == "probs" else LOGITS, dtype)
    if name.startswith("Bernoulli"):
        return bd.Bernoulli(**{kind: b}), td.Bernoulli(**{kind: t}), [b], [t], BINARY.astype(dtype)
    if name.startswith("Categorical"):
        return (bd.Categorical(**{kind: b}), td.Categorical(**{kind: t}), [b], [t],
                np.array([[0, 4, 2], [1, 1, 3]]))  # broadcasts against batch (3,)
    counts = np.array([[2, 0, 1, 3, 0], [0, 0, 0, 0, 6], [1, 1, 1, 1, 2]], dtype=dtype)
    return bd.Multinomial(6, **{kind: b}), td.Multinomial(6, **{kind: t}), [b], [t], counts


NAMES = ["Normal", "Uniform", "Bernoulli-probs", "Bernoulli-logits", "Categorical-probs",
         "Categorical-logits", "Multinomial-probs", "Multinomial-logits"]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_log_prob_values_and_gradients_match_torch(name, dtype):
    b, t, bl, tl, value = _build(name, dtype)
    assert tuple(b.batch_shape) == tuple(t.batch_shape)
    assert tuple(b.event_shape) == tuple(t.event_shape)
    b_lp, t_lp = b.log_prob(bw.tensor(value)), t.log_prob(torch.tensor(value))
    assert tuple(b_lp.shape) == tuple(t_lp.shape)
    _close(b_lp, t_lp, dtype)
    _grads_close(b_lp, t_lp, bl, tl, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_entropy_values_and_gradients_match_torch(name, dtype):
    b, t, bl, tl, _ = _build(name, dtype)
    if name.startswith("Multinomial") and dtype == np.float64:
        # torch's Multinomial entropy is accurate to ~1e-8 only in float64 (see the exact test below)
        np.testing.assert_allclose(b.entropy().detach().numpy(), t.entropy().detach().numpy(), rtol=1e-7)
        return
    _close(b.entropy(), t.entropy(), dtype)
    _grads_close(b.entropy(), t.entropy(), bl, tl, dtype)


def test_multinomial_entropy_is_exact():
    import itertools
    import math
    p, n = np.array([0.2, 0.3, 0.5]), 4
    exact = 0.0
    for c in itertools.product(range(n + 1), repeat=3):
        if sum(c) == n:
            lp = math.lgamma(n + 1) - sum(math.lgamma(k + 1) for k in c) + sum(
                k * math.log(q) for k, q in zip(c, p))
            exact -= math.exp(lp) * lp
    got = bd.Multinomial(n, probs=bw.tensor(p)).entropy().item()
    assert got == pytest.approx(exact, rel=1e-13)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_moments_and_parameterisations_match_torch(name, dtype):
    b, t, bl, tl, _ = _build(name, dtype)
    for attr in ("mean", "variance", "stddev"):
        bm, tm = getattr(b, attr), getattr(t, attr)
        assert tuple(bm.shape) == tuple(tm.shape), attr
        np.testing.assert_allclose(bm.detach().numpy(), tm.detach().numpy(), err_msg=attr, **_tol(dtype))
    if not name.startswith(("Normal", "Uniform")):
        _close(b.probs, t.probs, dtype)
        _close(b.logits, t.logits, dtype)
        _grads_close(b.probs, t.probs, bl, tl, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_sample_shapes_dtypes_and_statistics(name):
    b, t, _, _, _ = _build(name, np.float64)
    n = 20000
    for shape in [(), (2,), (2, 3)]:
        assert tuple(b.sample(shape).shape) == tuple(t.sample(shape).shape)
    s = b.sample((n,))
    assert str(s.dtype).split(".")[-1] == str(t.sample((2,)).dtype).split(".")[-1]
    assert not s.requires_grad
    arr = s.numpy().astype(np.float64)
    if name.startswith("Categorical"):
        freq = np.stack([(arr == k).mean(0) for k in range(5)], -1)
        np.testing.assert_allclose(freq, b.probs.detach().numpy(), atol=0.02)
        return
    mean, var = b.mean.detach().numpy(), b.variance.detach().numpy()
    np.testing.assert_allclose(arr.mean(0), mean, atol=5 * np.sqrt(var.max() / n) + 1e-12)
    np.testing.assert_allclose(arr.var(0), var, rtol=0.08, atol=1e-3)
    if name == "Uniform":
        assert (arr >= b.low.detach().numpy()).all() and (arr < b.high.detach().numpy()).all()
    if name.startswith("Bernoulli"):
        assert set(np.unique(arr)) <= {0.0, 1.0}
    if name.startswith("Multinomial"):
        np.testing.assert_array_equal(arr.sum(-1), 6)


@pytest.mark.parametrize("name", ["Normal", "Uniform"])
def test_rsample_gradients_agree_with_torch_in_expectation(name):
    b, t, bl, tl, _ = _build(name, np.float64)
    n = 20000
    # d/dparam E[x^2], estimated through reparameterised samples in both libraries
    (b.rsample((n,)) ** 2).mean(0).sum().backward()
    (t.rsample((n,)) ** 2).mean(0).sum().backward()
    for bleaf, tleaf in zip(bl, tl):
        np.testing.assert_allclose(bleaf.grad.numpy(), tleaf.grad.numpy(), rtol=0.1, atol=0.1)


def test_rsample_gradient_for_a_fixed_draw():
    loc, scale = bw.tensor(1.0, requires_grad=True), bw.tensor(2.0, requires_grad=True)
    x = bd.Normal(loc, scale).rsample((3,), generator=bw.Generator().manual_seed(5))
    x.sum().backward()
    eps = (x.detach().numpy() - 1.0) / 2.0
    np.testing.assert_allclose(loc.grad.numpy(), 3.0)
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(), rtol=1e-6)
    low, high = bw.tensor(1.0, requires_grad=True), bw.tensor(3.0, requires_grad=True)
    y = bd.Uniform(low, high).rsample((4,), generator=bw.Generator().manual_seed(5))
    y.sum().backward()
    u = (y.detach().numpy() - 1.0) / 2.0
    np.testing.assert_allclose(high.grad.numpy(), u.sum(), rtol=1e-6)
    np.testing.assert_allclose(low.grad.numpy(), 4 - u.sum(), rtol=1e-6)


def test_discrete_distributions_have_no_rsample():
    for d in (bd.Bernoulli(probs=0.3), bd.Categorical(logits=bw.zeros(3)),
              bd.Multinomial(2, probs=bw.ones(2))):
        assert not d.has_rsample
        with pytest.raises(NotImplementedError, match="no reparameterised sample"):
            d.rsample()


def test_validate_args_rejects_bad_parameters_and_values():
    with pytest.raises(ValueError, match="Normal: expected parameter scale"):
        bd.Normal(bw.tensor([0.0, 1.0]), bw.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Uniform: expected parameter low"):
        bd.Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="Bernoulli: expected parameter probs"):
        bd.Bernoulli(probs=bw.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="Categorical: expected parameter probs"):
        bd.Categorical(probs=bw.tensor([0.5, -0.1]))
    with pytest.raises(ValueError, match="either probs or logits"):
        bd.Bernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match="either probs or logits"):
        bd.Categorical()
    with pytest.raises(ValueError, match="within the support"):
        bd.Bernoulli(probs=0.5).log_prob(bw.tensor(0.5))
    with pytest.raises(ValueError, match="within the support"):
        bd.Categorical(probs=bw.ones(3)).log_prob(bw.tensor(3))
    with pytest.raises(ValueError, match="within the support"):
        bd.Uniform(0.0, 1.0).log_prob(bw.tensor(1.5))
    with pytest.raises(ValueError, match="within the support"):
        bd.Multinomial(3, probs=bw.ones(2)).log_prob(bw.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="total_count"):
        bd.Multinomial(2.5, probs=bw.ones(2))
    # validation off: no checks, values follow the formulas (as torch with validate_args=False)
    assert np.isnan(bd.Normal(0.0, -1.0, validate_args=False).log_prob(bw.tensor(0.0)).item())
    out = bd.Uniform(0.0, 1.0, validate_args=False).log_prob(bw.tensor(1.5)).item()
    assert out == float("-inf") == td.Uniform(0.0, 1.0, validate_args=False).log_prob(
        torch.tensor(1.5)).item()


def test_set_default_validate_args():
    bd.Distribution.set_default_validate_args(False)
    try:
        bd.Normal(0.0, -1.0)
    finally:
        bd.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        bd.Normal(0.0, -1.0)


def test_scalar_and_broadcast_parameters_match_torch():
    b = bd.Normal(bw.tensor([[0.0], [1.0]]), 2.0)
    t = td.Normal(torch.tensor([[0.0], [1.0]]), 2.0)
    assert tuple(b.batch_shape) == tuple(t.batch_shape) == (2, 1)
    v = np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32)
    _close(b.log_prob(bw.tensor(v)), t.log_prob(torch.tensor(v)), np.float32)
    assert bd.Uniform(0.0, 4.0).entropy().dtype == bw.float32
    assert tuple(bd.Categorical(logits=bw.zeros(2, 3, 4)).sample((5,)).shape) == (5, 2, 3)


def test_exported_as_brickwork_distributions():
    assert bw.distributions is bd
    assert {"Normal", "Bernoulli", "Categorical", "Multinomial", "Uniform"} <= set(bd.__all__)
