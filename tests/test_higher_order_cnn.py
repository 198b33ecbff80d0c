"""Higher-order gradients through convolutional networks (issue 13): a WGAN-GP gradient penalty
through small CNNs against PyTorch, on both convolution paths (oneDNN and brickwork's own), and a
third derivative of a convolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as tnn

import brickwork as bw
from brickwork import nn
from brickwork.ops import _onednn

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own notice

rng = np.random.default_rng(13)


@pytest.fixture(params=["onednn", "numpy"])
def conv_path(request):
    """Each case runs on both convolution paths (oneDNN runs float32 on the CPU only: the float64
    cases take the own path either way, the float32 ones compare the two)."""
    if request.param == "onednn":
        if not _onednn.available():
            pytest.skip(f"oneDNN path: {_onednn.describe()}")
        with _onednn.forced("onednn"):
            yield request.param
    else:
        with _onednn.forced("numpy"):
            yield request.param


def _plain(lib):
    """Conv2d + ReLU + MaxPool2d + AvgPool2d + AdaptiveAvgPool2d + Linear."""
    return lib.Sequential(
        lib.Conv2d(2, 4, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(4, 6, 3, padding=1), lib.Tanh(), lib.AvgPool2d(2),
        lib.AdaptiveAvgPool2d((2, 2)), lib.Flatten(), lib.Linear(24, 1))


def _varied(lib):
    """Strided, dilated, grouped, asymmetric 'same' and transposed convolutions, overlapping and
    padded max pooling, count_include_pad=False averages, non-dividing adaptive pools, conv1d."""
    return lib.Sequential(
        lib.Conv2d(2, 6, 3, stride=2, padding=1), lib.Tanh(),
        lib.Conv2d(6, 6, 3, dilation=2, padding=2, groups=3), lib.Sigmoid(),
        lib.Conv2d(6, 4, 4, padding="same"), lib.ReLU(),
        lib.MaxPool2d(3, stride=2, padding=1),
        lib.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2), lib.Tanh(),
        lib.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        lib.AdaptiveMaxPool2d((3, 2)), lib.Flatten(2), lib.Conv1d(4, 3, 2, padding=1), lib.Tanh(),
        lib.AdaptiveAvgPool1d(2), lib.Flatten(), lib.Linear(6, 1))


def _pair(build, dtype):
    """The same network in both libraries: torch's random initial weights, copied into brickwork's."""
    torch.manual_seed(0)
    t_model = build(tnn).to(getattr(torch, np.dtype(dtype).name))
    b_model = build(nn).to(getattr(bw, np.dtype(dtype).name))
    b_model.load_state_dict({k: bw.tensor(v.detach().numpy()) for k, v in t_model.state_dict().items()})
    return b_model, t_model


def _gradient_penalty(lib, model, real, fake, eps):
    """WGAN-GP: ``((|dD(x)/dx|_2 - 1)^2).mean()`` at points between real and fake samples, plus
    the critic's loss (so that the first-order terms flow too)."""
    mixed = eps * real + (1 - eps) * fake
    mixed.requires_grad_(True)
    out = model(mixed)
    (g,) = lib.autograd.grad(out.sum(), mixed, create_graph=True)
    norms = (g.reshape(g.shape[0], -1) ** 2).sum(1).sqrt()
    penalty = ((norms - 1) ** 2).mean()
    return model(fake).mean() - model(real).mean() + 10 * penalty, g


@pytest.mark.parametrize("build,size", [(_plain, 12), (_varied, 15)], ids=["plain", "varied"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_wgan_gp_penalty_gradients_match_torch(build, size, dtype, conv_path):
    b_model, t_model = _pair(build, dtype)
    real, fake = (rng.standard_normal((3, 2, size, size)).astype(dtype) for _ in range(2))
    eps = rng.uniform(size=(3, 1, 1, 1)).astype(dtype)
    b_loss, b_g = _gradient_penalty(bw, b_model, *(bw.tensor(a) for a in (real, fake, eps)))
    t_loss, t_g = _gradient_penalty(torch, t_model, *(torch.tensor(a) for a in (real, fake, eps)))
    tol = dict(rtol=1e-6, atol=1e-9) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(b_g.detach().numpy(), t_g.detach().numpy(), **tol)
    np.testing.assert_allclose(b_loss.item(), t_loss.item(), **tol)
    b_names, b_params = zip(*b_model.named_parameters())
    t_names, t_params = zip(*t_model.named_parameters())
    assert b_names == t_names
    b_grads = bw.autograd.grad(b_loss, list(b_params))
    t_grads = torch.autograd.grad(t_loss, list(t_params))
    for name, bg, tg in zip(b_names, b_grads, t_grads):
        scale = float(np.abs(tg.numpy()).max())  # float32: tolerances relative to the layer's gradient
        atol = tol["atol"] if dtype == np.float64 else tol["atol"] * max(scale, 1.0)
        np.testing.assert_allclose(bg.detach().numpy(), tg.numpy(), rtol=tol["rtol"], atol=atol,
                                   err_msg=f"d penalty / d {name}")


def test_gradient_penalty_by_backward_accumulates_into_grad(conv_path):
    """The usual spelling, ``loss.backward()`` after ``grad(..., create_graph=True)``."""
    b_model, t_model = _pair(_plain, np.float32)
    x = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    for lib, model in ((bw, b_model), (torch, t_model)):
        xt = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(model(xt).sum(), xt, create_graph=True)
        (g * g).sum().backward()
    for (name, bp), tp in zip(b_model.named_parameters(), t_model.parameters()):
        if tp.grad is None:  # the last bias: dD/dx does not depend on it
            assert bp.grad is None, name
            continue
        np.testing.assert_allclose(bp.grad.numpy(), tp.grad.numpy(), rtol=2e-4,
                                   atol=2e-5 * max(1.0, float(tp.grad.abs().max())), err_msg=name)


@pytest.mark.parametrize("transposed", [False, True])
def test_third_derivative_of_a_convolution(transposed, conv_path):
    """Orders past two: each recorded backward's convolutions are recorded again."""
    x0 = rng.standard_normal((2, 3, 5, 6))
    w0 = rng.standard_normal((3, 4, 3, 2)) if transposed else rng.standard_normal((4, 3, 3, 2))

    def run(lib, conv):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        y = (conv(x, w, stride=2, padding=1) ** 3).sum()
        (gw,) = lib.autograd.grad(y, w, create_graph=True)
        (gx,) = lib.autograd.grad((gw ** 2).sum(), x, create_graph=True)
        return lib.autograd.grad(gx.sum(), [x, w])

    name = "conv_transpose2d" if transposed else "conv2d"
    got = run(bw, getattr(bw.nn.functional, name))
    want = run(torch, getattr(torch.nn.functional, name))
    for g, t in zip(got, want):
        np.testing.assert_allclose(g.detach().numpy(), t.numpy(), rtol=1e-9, atol=1e-9)


def test_first_order_conv_backward_is_unchanged_by_create_graph_support(conv_path):
    """Without create_graph the gradients are raw arrays from the fast kernels, as before."""
    x = bw.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = bw.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = nn.functional.conv2d(x, w, padding=1)
    gx, gw = bw.autograd.grad(y.sum(), [x, w])
    assert not gx.requires_grad and gx.grad_fn is None and not gw.requires_grad
