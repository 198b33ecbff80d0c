"""Max/avg pooling (1-d, 2-d) and adaptive pooling against PyTorch and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
import brickwork.ops.pool as pool_ops
from oracle import check_op

rng = np.random.default_rng(5)


def _data(*shape):
    return rng.standard_normal(shape)


POOL2D_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
]


def _one_d(kw):
    return {k: (v[0] if isinstance(v, tuple) else v) for k, v in kw.items()}


@pytest.mark.parametrize("kw", POOL2D_CASES + [dict(kernel_size=(2, 3), dilation=(2, 1), padding=1)],
                         ids=str)
def test_max_pool(kw, device):
    check_op(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), [_data(2, 3, 7, 8)],
             device)
    kw1 = _one_d(kw)
    check_op(lambda x: F.max_pool1d(x, **kw1), lambda x: TF.max_pool1d(x, **kw1), [_data(2, 3, 9)],
             device)
    # return_indices: PyTorch's flat h * W + w positions
    x = _data(2, 3, 7, 8)
    out, idx = F.max_pool2d(bw.tensor(x, device=device), return_indices=True, **kw)
    t_out, t_idx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(idx.cpu().numpy(), t_idx.numpy())
    assert idx.dtype == bw.int64 and not idx.requires_grad
    np.testing.assert_allclose(out.cpu().numpy(), t_out.numpy())


@pytest.mark.parametrize("kw", POOL2D_CASES, ids=str)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(kw, count_include_pad, device):
    check_op(lambda x: F.avg_pool2d(x, count_include_pad=count_include_pad, **kw),
             lambda x: TF.avg_pool2d(x, count_include_pad=count_include_pad, **kw),
             [_data(2, 3, 7, 8)], device)
    kw1 = _one_d(kw)
    check_op(lambda x: F.avg_pool1d(x, count_include_pad=count_include_pad, **kw1),
             lambda x: TF.avg_pool1d(x, count_include_pad=count_include_pad, **kw1), [_data(3, 9)],
             device, gradcheck=False)


def test_avg_pool_divisor_override(device):
    check_op(lambda x: F.avg_pool2d(x, 3, 2, 1, divisor_override=5),
             lambda x: TF.avg_pool2d(x, 3, 2, 1, divisor_override=5), [_data(1, 2, 6, 7)], device)


def test_max_pool_ties_go_to_the_first_maximum_as_in_pytorch(device):
    x = np.array([[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]])
    check_op(lambda x: F.max_pool2d(x, 2, 1), lambda x: TF.max_pool2d(x, 2, 1), [x], device,
             gradcheck=False)
    check_op(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [x], device, gradcheck=False)


def test_max_pool_propagates_nan(device):
    x = np.array([[[[1.0, np.nan], [0.0, 3.0]]]])
    out = F.max_pool2d(bw.tensor(x, device=device), 2)
    assert np.isnan(out.cpu().numpy()).all()


def test_pool_outputs_are_contiguous_so_view_works(device):
    y = F.conv2d(bw.ones(2, 1, 6, 6, device=device), bw.ones(3, 1, 3, 3, device=device))
    for pooled in (F.max_pool2d(y, 2), F.avg_pool2d(y, 2)):
        assert pooled.is_contiguous()
        assert pooled.view(2, -1).shape == (2, 12)


def test_pool_unbatched_and_empty(device):
    check_op(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [_data(3, 4, 4)], device,
             gradcheck=False)
    check_op(lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [_data(0, 3, 4, 4)], device,
             gradcheck=False)


@pytest.mark.parametrize("size", [1, 2, (3, 2), (None, 3), (5, 7)], ids=str)
def test_adaptive_pools(size, device):
    check_op(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
             [_data(2, 3, 6, 7)], device)
    check_op(lambda x: F.adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size),
             [_data(2, 3, 6, 7)], device)
    x = _data(2, 3, 6, 7)
    _, idx = F.adaptive_max_pool2d(bw.tensor(x, device=device), size, return_indices=True)
    _, want = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(idx.cpu().numpy(), want.numpy())


def test_adaptive_pools_1d(device):
    check_op(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: TF.adaptive_avg_pool1d(x, 4),
             [_data(2, 3, 7)], device)
    check_op(lambda x: F.adaptive_max_pool1d(x, 4), lambda x: TF.adaptive_max_pool1d(x, 4),
             [_data(2, 3, 7)], device)


def test_pool_errors(device):
    x = bw.zeros(1, 1, 4, 4, device=device)
    with pytest.raises(RuntimeError, match="padding should be .* at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="too small for kernel_size"):
        F.max_pool2d(x, 5)
    with pytest.raises(RuntimeError, match="expected a 3-D .* or 4-D"):
        F.avg_pool2d(bw.zeros(4, device=device), 2)


@pytest.mark.parametrize("kernel", [(5, 5), (6, 4), (4, 8)], ids=str)
def test_large_tiling_windows_take_the_reshape_path(kernel, device):
    # windows of more than 16 elements that tile the input: global-pooling style
    x = _data(2, 3, 12, 8)
    check_op(lambda x: F.avg_pool2d(x, kernel), lambda x: TF.avg_pool2d(x, kernel), [x[..., :10, :10]]
             if kernel == (5, 5) else [x], device, gradcheck=False)
    check_op(lambda x: F.max_pool2d(x, kernel), lambda x: TF.max_pool2d(x, kernel), [x[..., :10, :10]]
             if kernel == (5, 5) else [x], device, gradcheck=False)
    check_op(lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: TF.adaptive_avg_pool2d(x, 1), [x], device)
    check_op(lambda x: F.adaptive_max_pool2d(x, 1), lambda x: TF.adaptive_max_pool2d(x, 1), [x], device)
    ties = np.ones((1, 1, 5, 5))
    check_op(lambda x: F.max_pool2d(x, 5), lambda x: TF.max_pool2d(x, 5), [ties], device, gradcheck=False)


def _batch_innermost(x):
    """The same values with a convolution output's memory layout ((C, H, W, B) memory)."""
    return x.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1)], ids=str)
def test_pools_on_batch_innermost_input(kw, device):
    # windows swept in the input's memory order; ties (the rounded data) go to the first maximum
    x = np.round(_data(3, 2, 6, 7))
    check_op(lambda x: F.max_pool2d(_batch_innermost(x), **kw), lambda x: TF.max_pool2d(x, **kw),
             [x], device, gradcheck=False)
    check_op(lambda x: F.avg_pool2d(_batch_innermost(x), **kw), lambda x: TF.avg_pool2d(x, **kw),
             [_data(3, 2, 6, 7)], device)
    out = F.max_pool2d(_batch_innermost(bw.tensor(x, device=device)), **kw)
    assert out.is_contiguous()


def test_max_pool_gradient_with_nan_on_batch_innermost_input(device):
    x = _data(2, 2, 4, 4)
    x[0, 1, 1, 2] = np.nan
    x[1, 0, 0, 0] = x[1, 0, 0, 1] = 5.0  # a tie: the first offset takes the gradient
    check_op(lambda x: F.max_pool2d(_batch_innermost(x), 2), lambda x: TF.max_pool2d(x, 2), [x],
             device, gradcheck=False)


def test_global_pools_on_batch_innermost_input_keep_its_layout(device):
    # whole-window (tiled) pooling, as at the end of a ResNet: values and gradients as PyTorch,
    # and the input gradient in the input's memory order
    check_op(lambda x: F.adaptive_avg_pool2d(_batch_innermost(x), 1),
             lambda x: TF.adaptive_avg_pool2d(x, 1), [_data(3, 2, 6, 6)], device)
    check_op(lambda x: F.max_pool2d(_batch_innermost(x), 6), lambda x: TF.max_pool2d(x, 6),
             [_data(3, 2, 6, 6)], device, gradcheck=False)
    x = bw.tensor(_data(3, 2, 6, 6), device=device).permute(1, 2, 3, 0).contiguous()
    x.requires_grad_(True)
    for pool in (lambda t: F.avg_pool2d(t, 6), lambda t: F.max_pool2d(t, 6)):
        x.grad = None
        seen = []
        inner = x.permute(3, 0, 1, 2)
        inner.register_hook(lambda g: seen.append(g))
        pool(inner).sum().backward()
        assert seen[0].permute(1, 2, 3, 0).is_contiguous()


def test_max_pool_backward_refuses_an_output_modified_in_place():
    import brickwork as bw
    from brickwork.nn import functional as F

    x = bw.randn(1, 1, 4, 4, requires_grad=True)
    y = F.max_pool2d(x * 1, 2)
    y.mul_(0)  # backward reads y's values to route the gradient
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    h = x * 1
    z = F.max_pool2d(h, 2)
    h.add_(1)  # ... and the input's
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


# Windows read through stride-phase planes, the first-maximum offsets saved by the forward: ties
# (small integer values), several NaNs in a window, overlapping windows, padding, ceil_mode,
# dilation and unequal strides, on NCHW and batch-innermost inputs, against PyTorch.
ROUTING_CASES = [
    dict(kernel_size=3, stride=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 3), dilation=(2, 1), padding=(1, 0)),
    dict(kernel_size=2, stride=3),
]


def _compare_routing(x, g, kw, device, layout):
    xt = torch.tensor(x, requires_grad=True)
    yt, it = TF.max_pool2d(xt, **kw, return_indices=True)
    yt.backward(torch.tensor(g))
    xb = bw.tensor(x, device=device, requires_grad=True)
    yb, ib = F.max_pool2d(layout(xb), **kw, return_indices=True)
    yb.backward(bw.tensor(g, device=device))
    np.testing.assert_array_equal(yb.detach().cpu().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(ib.cpu().numpy(), it.numpy())
    # overlapping windows sum several gradients into one element, in another order than torch
    np.testing.assert_allclose(xb.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kw", ROUTING_CASES, ids=str)
@pytest.mark.parametrize("innermost", [False, True], ids=["nchw", "batch_innermost"])
def test_max_pool_routes_ties_and_nans_as_pytorch(kw, innermost, device):
    x = rng.integers(0, 3, size=(3, 2, 9, 10)).astype(np.float32)  # many ties
    x[0, 0, 1:3, 1:3] = np.nan  # several NaNs in one window: PyTorch takes the last
    x[1, 1, 4, 4] = np.nan
    g = rng.standard_normal((3, 2) + tuple(TF.max_pool2d(torch.tensor(x), **kw).shape[-2:]))
    layout = _batch_innermost if innermost else (lambda t: t)
    _compare_routing(x, g.astype(np.float32), kw, device, layout)
    _compare_routing(np.nan_to_num(x, nan=1.0), g.astype(np.float32), kw, device, layout)


def test_max_pool_non_finite_gradient_reaches_only_the_maximum(device):
    x = rng.standard_normal((2, 1, 7, 7)).astype(np.float32)
    g = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    g[0, 0, 1, 1], g[1, 0, 0, 2] = np.inf, np.nan
    _compare_routing(x, g, dict(kernel_size=3, stride=2), device, lambda t: t)
    _compare_routing(x, g, dict(kernel_size=2), device, lambda t: t)


def test_max_pool_return_indices_without_graph_take_the_last_nan(device):
    x = np.array([[[[np.nan, 1.0, np.nan], [2.0, np.nan, 0.0], [1.0, 1.0, 1.0]]]], np.float32)
    _, index = F.max_pool2d(bw.tensor(x, device=device), 3, 1, return_indices=True)
    assert index.cpu().numpy().item() == TF.max_pool2d(torch.tensor(x), 3, 1,
                                                       return_indices=True)[1].item() == 4


@pytest.mark.parametrize("kw", ROUTING_CASES, ids=str)
def test_large_max_pools_run_in_cache_sized_parts_with_the_same_results(kw, monkeypatch):
    # parts of two (n, c) planes each: the split, the padding of every part and the offsets
    # written back must give PyTorch's values, indices and gradients, NaNs and ties included
    monkeypatch.setattr(pool_ops, "PART_BYTES", 2 * 9 * 10 * 4)
    x = rng.integers(0, 3, size=(5, 2, 9, 10)).astype(np.float32)
    x[0, 0, 1:3, 1:3] = np.nan
    x[2, 1, 4, 4] = np.nan
    g = rng.standard_normal((5, 2) + tuple(TF.max_pool2d(torch.tensor(x), **kw).shape[-2:]))
    parts = pool_ops.cache_sized_parts(np, x)
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    _compare_routing(x, g.astype(np.float32), kw, "cpu", lambda t: t)
    # without a graph the forward alone is split too; recorded, the gradient is a scatter of g
    np.testing.assert_array_equal(F.max_pool2d(bw.tensor(x), **kw).numpy(),
                                  TF.max_pool2d(torch.tensor(x), **kw).numpy())
    x = np.nan_to_num(x, nan=5.0) + rng.standard_normal(x.shape).astype(np.float32)
    xb, xt = bw.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gb, gt = bw.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    v = rng.standard_normal(x.shape)
    (dxb,) = bw.autograd.grad(F.max_pool2d(xb, **kw), xb, gb, create_graph=True)
    (dxt,) = torch.autograd.grad(TF.max_pool2d(xt, **kw), xt, gt, create_graph=True)
    (dxb * bw.tensor(v)).sum().backward()
    (dxt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(dxb.detach().numpy(), dxt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(gb.grad.numpy(), gt.grad.numpy(), rtol=1e-6)


def test_small_or_device_or_strided_inputs_pool_whole():
    big = np.zeros((64, 128, 128), np.float32)  # 4 MiB: at the bound, still swept whole
    assert pool_ops.cache_sized_parts(np, big) is None
    assert pool_ops.cache_sized_parts(np, np.zeros((65, 128, 128), np.float32)) is not None
    assert pool_ops.cache_sized_parts(np, np.zeros((128, 65, 128), np.float32).transpose(1, 0, 2)) is None
    assert pool_ops.cache_sized_parts(object(), np.zeros((65, 128, 128), np.float32)) is None
