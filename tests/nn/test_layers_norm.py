"""BatchNorm modules: running statistics as buffers, momentum (incl. None), eval mode,
track_running_stats, affine, against PyTorch over several training steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import nn
from nn._catalogue_checks import check_layer, copy_weights

rng = np.random.default_rng(29)


def _steps(b_layer, t_layer, shape, steps=3, dt=np.float64, device="cpu"):
    for _ in range(steps):
        x = rng.standard_normal(shape).astype(dt)
        bx = bw.tensor(x, requires_grad=True, device=device)
        tx = torch.tensor(x, requires_grad=True)
        bo, to = b_layer(bx), t_layer(tx)
        np.testing.assert_allclose(bo.detach().cpu().numpy(), to.detach().numpy(), rtol=1e-7, atol=1e-9)
        bo.sum().backward()
        to.sum().backward()
        np.testing.assert_allclose(bx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-9)
    for (name, bb), (_, tb) in zip(b_layer.named_buffers(), t_layer.named_buffers()):
        np.testing.assert_allclose(bb.cpu().numpy(), tb.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (4, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 2, 2)), ("BatchNorm3d", (2, 3, 2, 2, 2))])
@pytest.mark.parametrize("kw", [dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3),
                                dict(affine=False), dict(bias=False),
                                dict(track_running_stats=False)], ids=str)
def test_batchnorm_train_then_eval_matches_pytorch(cls, shape, kw, device):
    b_layer = getattr(nn, cls)(3, **kw).double()
    t_layer = getattr(torch.nn, cls)(3, **kw).double()
    copy_weights(t_layer, b_layer)
    b_layer.to(device)  # running statistics are updated in place on the device
    _steps(b_layer, t_layer, shape, device=device)
    b_layer.eval()
    t_layer.eval()
    _steps(b_layer, t_layer, shape, steps=1, device=device)


def test_batchnorm_parity_with_gradients_of_parameters(device):
    check_layer(lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3),
                [rng.standard_normal((4, 3, 2, 2))], device, train=True)
    check_layer(lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), [rng.standard_normal((4, 3))],
                device, train=False)


def test_batchnorm_buffers_and_counter():
    bn = nn.BatchNorm2d(3)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == bw.int64
    bn(bw.randn(4, 3, 2, 2))
    bn(bw.randn(4, 3, 2, 2))
    assert bn.num_batches_tracked.item() == 2
    bn.eval()
    bn(bw.randn(4, 3, 2, 2))
    assert bn.num_batches_tracked.item() == 2
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and bn.running_var.numpy().tolist() == [1.0, 1.0, 1.0]


def test_batchnorm_eval_is_a_fixed_affine_map():
    bn = nn.BatchNorm1d(2).eval()
    with bw.no_grad():
        bn.running_mean.copy_(bw.tensor([1.0, -1.0]))
        bn.running_var.copy_(bw.tensor([4.0, 1.0]))
    out = bn(bw.tensor([[3.0, 0.0]]))
    np.testing.assert_allclose(out.detach().numpy(), [[2.0 / np.sqrt(4 + 1e-5), 1.0 / np.sqrt(1 + 1e-5)]],
                               rtol=1e-6)


def test_batchnorm_errors_name_layer_and_sizes():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D"):
        nn.BatchNorm2d(3)(bw.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match="BatchNorm1d was built for num_features=3 but received an input "
                                           "with num_features=5"):
        nn.BatchNorm1d(3)(bw.zeros(2, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(bw.zeros(1, 3))


def test_layernorm_and_groupnorm_init_and_errors():
    ln = nn.LayerNorm(4)
    assert ln.weight.tolist() == [1.0] * 4 and ln.bias.tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match="LayerNorm was built for normalized_shape=\\(4,\\)"):
        ln(bw.zeros(2, 5))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)


@pytest.mark.parametrize("kw", [dict(), dict(affine=False), dict(bias=False)], ids=str)
def test_batchnorm_inference_under_no_grad_matches_pytorch(kw):
    b_layer, t_layer = nn.BatchNorm2d(3, **kw), torch.nn.BatchNorm2d(3, **kw)
    with torch.no_grad():
        t_layer.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        t_layer.running_var.copy_(torch.tensor([1.5, 0.5, 3.0]))
        if t_layer.weight is not None:
            t_layer.weight.copy_(torch.tensor([2.0, -1.0, 0.5]))
        if t_layer.bias is not None:
            t_layer.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    copy_weights(t_layer, b_layer)
    b_layer.eval()
    t_layer.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    with bw.no_grad():
        got = b_layer(bw.tensor(x))
    np.testing.assert_allclose(got.numpy(), t_layer(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (0, 3, 4, 4)), ("BatchNorm1d", (0, 3)),
                                       ("BatchNorm1d", (0, 3, 5)), ("BatchNorm2d", (2, 3, 0, 4)),
                                       ("BatchNorm3d", (0, 3, 2, 2, 2))])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_on_an_empty_batch_matches_torch(cls, shape, training, momentum):
    # issue 12 item 10c: training on an empty batch raised "expected more than 1 value per channel"
    def run(lib):
        m = getattr(lib.nn, cls)(3, momentum=momentum)
        m.train(training)
        x = lib.ones(*shape, requires_grad=True)
        y = m(x)
        y.sum().backward()
        return (tuple(y.shape), tuple(x.grad.shape), m.running_mean.tolist(), m.running_var.tolist(),
                int(m.num_batches_tracked), m.weight.grad.tolist(), m.bias.grad.tolist())

    assert run(bw) == run(torch)


def test_functional_batch_norm_on_an_empty_batch():
    out = bw.nn.functional.batch_norm(bw.ones(0, 3), None, None, training=True)
    assert out.shape == (0, 3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bw.nn.functional.batch_norm(bw.ones(1, 3), None, None, training=True)
