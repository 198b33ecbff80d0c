"""conv1d / conv2d / conv_transpose1d / conv_transpose2d against PyTorch and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from brickwork.ops import _onednn
from oracle import check_op, gradcheck_arrays

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own notice

rng = np.random.default_rng(3)


def _data(*shape):
    return rng.standard_normal(shape)


@pytest.fixture(params=["onednn", "numpy"], autouse=True)
def conv_path(request):
    """Every case runs on both convolution paths: oneDNN's kernels (float32 on the CPU, where the
    library is installed) and brickwork's own im2col + GEMM path."""
    if request.param == "onednn":
        if not _onednn.available():
            pytest.skip(f"oneDNN path: {_onednn.describe()}")
        with _onednn.forced("onednn"):
            yield request.param
    else:
        with _onednn.forced("numpy"):
            yield request.param


CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(1, 2), stride=(2, 1), dilation=(2, 1)),
    dict(padding="same"),
    dict(padding="same", dilation=2),
    dict(padding="valid", stride=(1, 2)),
    dict(groups=2, padding=1),
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=str)
def test_conv2d(kw, device):
    groups = kw.get("groups", 1)
    x, w, b = _data(2, 4, 6, 5), _data(6, 4 // groups, 3, 2), _data(6)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [x, w, b], device, gradcheck=False)
    # central differences on a smaller problem
    xs, ws = _data(1, 4, 4, 4), _data(2, 4 // groups, 2, 3)
    gradcheck_arrays(lambda x, w: F.conv2d(x, w, **kw), [xs, ws], device)


@pytest.mark.parametrize("kw", [dict(), dict(padding=1), dict(stride=2, groups=3)], ids=str)
def test_conv2d_1x1_takes_the_no_im2col_path(kw, device):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [_data(2, 3, 4, 3), _data(6, 3 // kw.get("groups", 1), 1, 1), _data(6)], device)


def test_conv2d_unbatched_and_empty_batch(device):
    check_op(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
             [_data(3, 5, 5), _data(2, 3, 3, 3)], device, gradcheck=False)
    check_op(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b),
             [_data(0, 3, 5, 5), _data(2, 3, 3, 3), _data(2)], device, gradcheck=False)


def test_conv2d_reads_conv_output_views_and_skips_input_gradient(device, conv_path):
    # the output of one conv (numpy path: an NCHW view of batch-innermost memory) feeds the next
    x = bw.tensor(_data(2, 3, 7, 7).astype(np.float32), device=device)
    w1 = bw.tensor(_data(4, 3, 3, 3).astype(np.float32), device=device, requires_grad=True)
    w2 = bw.tensor(_data(5, 4, 3, 3).astype(np.float32), device=device, requires_grad=True)
    y1 = F.conv2d(x, w1)
    on_onednn = conv_path == "onednn" and device.type == "cpu"
    assert y1.is_contiguous() == on_onednn  # documented layouts: oneDNN NCHW, own path a transposed view
    out = F.conv2d(y1, w2, padding=1)
    # the first conv's input needs no grad: its node is told so, and skips col2im
    assert y1.grad_fn.needs_input_grad == (False, True)
    out.sum().backward()
    tx = torch.tensor(x.cpu().numpy())
    tw1 = torch.tensor(w1.detach().cpu().numpy(), requires_grad=True)
    tw2 = torch.tensor(w2.detach().cpu().numpy(), requires_grad=True)
    want = TF.conv2d(TF.conv2d(tx, tw1), tw2, padding=1)
    want.sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), want.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(w1.grad.cpu().numpy(), tw1.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert x.grad is None


@pytest.mark.parametrize("kw", [dict(), dict(stride=2), dict(padding=1, dilation=2), dict(groups=2),
                                dict(padding="same")], ids=str)
def test_conv1d(kw, device):
    groups = kw.get("groups", 1)
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw),
             [_data(2, 4, 7), _data(6, 4 // groups, 3), _data(6)], device)
    check_op(lambda x, w: F.conv1d(x, w, **kw), lambda x, w: TF.conv1d(x, w, **kw),
             [_data(4, 7), _data(2, 4 // groups, 2)], device, gradcheck=False)


TRANSPOSE_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(stride=2, output_padding=1),
    dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2)),
    dict(groups=2, stride=2),
    dict(stride=3, dilation=2, output_padding=1, padding=2),
]


@pytest.mark.parametrize("kw", TRANSPOSE_CASES, ids=str)
def test_conv_transpose2d(kw, device):
    groups = kw.get("groups", 1)
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
             [_data(2, 4, 3, 4), _data(4, 6 // groups, 3, 2), _data(6)], device, gradcheck=False)
    gradcheck_arrays(lambda x, w: F.conv_transpose2d(x, w, **kw),
                     [_data(1, 2, 2, 3), _data(2, 4 // groups, 2, 2)], device)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, output_padding=1), dict(padding=1, groups=2)],
                         ids=str)
def test_conv_transpose1d(kw, device):
    groups = kw.get("groups", 1)
    check_op(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
             lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw),
             [_data(2, 4, 5), _data(4, 6 // groups, 3), _data(6)], device)


def test_conv_errors_name_op_shapes_and_channels(device):
    x = bw.zeros(2, 3, 8, 8, device=device)
    with pytest.raises(RuntimeError, match=r"conv2d: weight of shape \(6, 4, 5, 5\).*4 channels.*"
                                           r"\(2, 3, 8, 8\) with 3 channels"):
        F.conv2d(x, bw.zeros(6, 4, 5, 5, device=device))
    with pytest.raises(RuntimeError, match="smaller than the kernel"):
        F.conv2d(x, bw.zeros(6, 3, 9, 9, device=device))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.conv2d(x, bw.zeros(6, 3, 3, 3, dtype=bw.float64, device=device))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, bw.zeros(6, 3, 3, 3, device=device), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="expected a 3-D .* or 4-D"):
        F.conv2d(bw.zeros(8, 8, device=device), bw.zeros(6, 3, 3, 3, device=device))
    with pytest.raises(RuntimeError, match="output_padding"):
        F.conv_transpose2d(x, bw.zeros(3, 2, 3, 3, device=device), stride=2, output_padding=2)


def test_conv_keeps_float32(device):
    out = F.conv2d(bw.ones(1, 2, 4, 4, device=device), bw.ones(3, 2, 3, 3, device=device),
                   bw.zeros(3, device=device))
    assert out.dtype == bw.float32


def _batch_innermost(x):
    """The same values with a convolution output's memory layout ((C, H, W, B) memory)."""
    return x.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(2, 1), dilation=(2, 1)),
                                dict(groups=2, stride=(1, 2))], ids=str)
def test_conv2d_in_row_chunks_and_on_batch_innermost_input(kw, device, monkeypatch):
    # one output row per chunk: every chunk boundary of im2col, the GEMMs and col2im is crossed
    from brickwork.ops import conv

    monkeypatch.setattr(conv, "CHUNK_BYTES", 1)
    groups = kw.get("groups", 1)
    check_op(lambda x, w, b: F.conv2d(_batch_innermost(x), w, b, **kw),
             lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [_data(3, 4, 7, 6), _data(6, 4 // groups, 3, 2), _data(6)], device, gradcheck=False)
    gradcheck_arrays(lambda x, w: F.conv2d(x, w, **kw), [_data(2, 4, 5, 4), _data(2, 4 // groups, 2, 3)],
                     device)


def test_conv2d_output_is_a_view_of_batch_innermost_memory(device, conv_path):
    y = F.conv2d(bw.ones(3, 2, 5, 5, device=device), bw.ones(4, 2, 3, 3, device=device))
    assert y.shape == (3, 4, 3, 3)
    if conv_path == "onednn" and device.type == "cpu":
        assert y.is_contiguous()  # oneDNN's results come back as C-contiguous NCHW
        return
    assert y.permute(1, 2, 3, 0).is_contiguous()  # (C, H, W, B) memory, read by the next conv as is


def _second_derivatives(lib, fn, arrays, seed=11):
    """``d/d(inputs) [sum(u · d(sum(v · fn(inputs)))/d(inputs))]``: every input's second-order term."""
    r = np.random.default_rng(seed)
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    v = lib.tensor(r.standard_normal(tuple(out.shape)).astype(arrays[0].dtype))
    firsts = lib.autograd.grad((out * v).sum(), inputs, create_graph=True)
    total = sum((g * lib.tensor(r.standard_normal(tuple(g.shape)).astype(arrays[0].dtype))).sum()
                for g in firsts)
    seconds = lib.autograd.grad(total, inputs, allow_unused=True)  # (the bias's is None: unused)
    return [np.zeros(a.shape, a.dtype) if t is None else t.detach().cpu().numpy()
            for a, t in zip(arrays * 2, (*firsts, *seconds))]


@pytest.mark.parametrize("kw", CONV2D_CASES + [dict(stride=2, padding=(0, 1), groups=2)], ids=str)
@pytest.mark.parametrize("op", ["conv2d", "conv1d", "conv_transpose2d"])
def test_double_backward_in_float32_on_both_paths(op, kw, conv_path):
    """float32 is where oneDNN runs: the convolutions of a recorded backward run on it too (the
    float64 second-derivative checks of check_op take the own path)."""
    groups = kw.get("groups", 1)
    if op == "conv1d":
        kw = {k: (v if isinstance(v, str) else (v[0] if isinstance(v, tuple) else v))
              for k, v in kw.items()}
        arrays = [_data(2, 4, 9), _data(6, 4 // groups, 3), _data(6)]
    elif op == "conv_transpose2d":
        if isinstance(kw.get("padding"), str):
            pytest.skip("a transposed convolution takes no padding string")
        arrays = [_data(2, 4, 4, 5), _data(4, 6 // groups, 3, 2), _data(6)]
    else:
        arrays = [_data(2, 4, 6, 5), _data(6, 4 // groups, 3, 2), _data(6)]
    arrays = [a.astype(np.float32) for a in arrays]
    got = _second_derivatives(bw, lambda x, w, b: getattr(F, op)(x, w, b, **kw), arrays)
    want = _second_derivatives(torch, lambda x, w, b: getattr(TF, op)(x, w, b, **kw), arrays)
    for i, (g, t) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, t, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(t).max())),
                                   err_msg=f"term {i}")
