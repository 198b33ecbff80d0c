"""Losses against PyTorch: every reduction, weights, ignore_index, label smoothing, K-dim
targets, class probabilities, large logits; and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from oracle import (
    check_against_torch,
    check_double_against_torch,
    check_op,
    gradcheck_arrays,
    gradgradcheck_arrays,
)

rng = np.random.default_rng(13)
REDUCTIONS = ["none", "mean", "sum"]
CLASS_SHAPES = [((4, 5), (4,)), ((5,), ()), ((3, 4, 2, 3), (3, 2, 3))]


def _targets(shape, classes, ignore=True):
    t = rng.integers(0, classes, shape)
    if ignore and t.size > 2:
        t.flat[1] = -100
    return t


@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(shapes, reduction, smoothing, weighted, device):
    x_shape, t_shape = shapes
    classes = x_shape[0] if len(x_shape) == 1 else x_shape[1]
    t = _targets(t_shape, classes)
    w = rng.random(classes) + 0.1
    kw = dict(reduction=reduction, label_smoothing=smoothing)

    def ours(x, w):
        return F.cross_entropy(x, bw.tensor(t, device=x.device), weight=w if weighted else None, **kw)

    def theirs(x, w):
        return TF.cross_entropy(x, torch.tensor(t), weight=w if weighted else None, **kw)

    x = rng.standard_normal(x_shape) * 3
    for dt in (np.float32, np.float64):
        # the weight is a constant, as in PyTorch's class weights
        check_against_torch(lambda x: ours(x, bw.tensor(w.astype(dt), device=x.device)),
                            lambda x: theirs(x, torch.tensor(w.astype(dt))), [x.astype(dt)], device)
    check_double_against_torch(lambda x: ours(x, bw.tensor(w, device=x.device)),
                               lambda x: theirs(x, torch.tensor(w)), [x], device)
    if reduction == "mean" and len(x_shape) == 2:
        gradcheck_arrays(lambda x: ours(x, bw.tensor(w, device=x.device)), [x], device)
        gradgradcheck_arrays(lambda x: ours(x, bw.tensor(w, device=x.device)), [x], device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_probabilities(reduction, smoothing, weighted, device):
    w = rng.random(4) + 0.1
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    for shape in [(3, 4), (2, 4, 3)]:
        p = rng.random(shape)
        p /= p.sum(1, keepdims=True)
        check_op(lambda x, p: F.cross_entropy(x, p, weight=bw.tensor(w, dtype=x.dtype, device=x.device)
                                              if weighted else None, **kw),
                 lambda x, p: TF.cross_entropy(x, p, weight=torch.tensor(w, dtype=x.dtype)
                                               if weighted else None, **kw),
                 [rng.standard_normal(shape), p], device, gradcheck=shape == (3, 4))


def test_cross_entropy_is_stable_for_huge_logits(device):
    big = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 0.0, 1e4]])
    t = np.array([1, 1, 0])
    check_op(lambda x: F.cross_entropy(x, bw.tensor(t, device=x.device)),
             lambda x: TF.cross_entropy(x, torch.tensor(t)), [big], device, gradcheck=False)


def test_cross_entropy_all_ignored_mean_is_nan_like_pytorch(device):
    x = bw.zeros(2, 3, device=device, requires_grad=True)
    loss = F.cross_entropy(x, bw.tensor([-100, -100], device=device))
    assert np.isnan(loss.item())
    want = TF.cross_entropy(torch.zeros(2, 3), torch.tensor([-100, -100]))
    assert torch.isnan(want)


def test_cross_entropy_errors_name_shapes_and_bad_targets(device):
    x = bw.zeros(2, 3, device=device)
    # (on a GPU the check runs there and is reported at the next host sync: .cpu() here)
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"
                       if device.type == "cpu" else "a target is out of bounds for 3 classes"):
        F.cross_entropy(x, bw.tensor([0, 3], device=device)).cpu()
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\)"):
        F.cross_entropy(x, bw.tensor([0, 1, 2], device=device))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(x, bw.tensor([0, 1], device=device), reduction="avg")


@pytest.mark.parametrize("shapes", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(shapes, reduction, device):
    x_shape, t_shape = shapes
    classes = x_shape[0] if len(x_shape) == 1 else x_shape[1]
    t = _targets(t_shape, classes)
    w = rng.random(classes) + 0.1
    check_op(lambda x: F.nll_loss(x, bw.tensor(t, device=x.device),
                                  bw.tensor(w, dtype=x.dtype, device=x.device), reduction=reduction),
             lambda x: TF.nll_loss(x, torch.tensor(t), torch.tensor(w, dtype=x.dtype), reduction=reduction),
             [rng.standard_normal(x_shape)], device)


@pytest.mark.parametrize("shape", [(5,), (3, 4), ()], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(shape, reduction, device):
    p = 1 / (1 + np.exp(-rng.standard_normal(shape) * 2))
    y, w = rng.random(shape), rng.random(shape)
    check_op(lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
             lambda p, y: TF.binary_cross_entropy(p, y, reduction=reduction), [p, y], device)
    for dt in (np.float32, np.float64):
        check_against_torch(
            lambda p, y: F.binary_cross_entropy(p, y, bw.tensor(w.astype(dt), device=p.device),
                                                reduction=reduction),
            lambda p, y: TF.binary_cross_entropy(p, y, torch.tensor(w.astype(dt)), reduction=reduction),
            [p.astype(dt), y.astype(dt)], device)
    check_double_against_torch(  # (the weight is a constant, as in PyTorch)
        lambda p, y: F.binary_cross_entropy(p, y, bw.tensor(w, device=p.device), reduction=reduction),
        lambda p, y: TF.binary_cross_entropy(p, y, torch.tensor(w), reduction=reduction), [p, y], device)


def test_binary_cross_entropy_clamps_log_at_minus_100(device):
    p = np.array([0.0, 1.0, 0.5, 1e-30])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    check_against_torch(lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
                        lambda p, y: TF.binary_cross_entropy(p, y, reduction="none"), [p, y], device,
                        grad=False)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(bw.tensor([1.5], device=device), bw.tensor([1.0], device=device)).cpu()


@pytest.mark.parametrize("shape", [(5,), (3, 4), ()], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(shape, reduction, device):
    x, y = rng.standard_normal(shape) * 3, rng.random(shape)
    check_op(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
             lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction=reduction), [x, y], device)
    if shape:
        w, pw = rng.random(shape), rng.random(shape[-1:]) * 3
        for dt in (np.float32, np.float64):
            check_against_torch(
                lambda x, y: F.binary_cross_entropy_with_logits(
                    x, y, bw.tensor(w.astype(dt), device=x.device), reduction=reduction,
                    pos_weight=bw.tensor(pw.astype(dt), device=x.device)),
                lambda x, y: TF.binary_cross_entropy_with_logits(
                    x, y, torch.tensor(w.astype(dt)), reduction=reduction,
                    pos_weight=torch.tensor(pw.astype(dt))),
                [x.astype(dt), y.astype(dt)], device)
        # pos_weight's own gradient, by central differences
        gradcheck_arrays(lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                         [x, y, pw], device)
        # (torch takes weight and pos_weight as constants; pos_weight's own, by differences below)
        check_double_against_torch(
            lambda x, y: F.binary_cross_entropy_with_logits(
                x, y, bw.tensor(w, device=x.device), reduction=reduction,
                pos_weight=bw.tensor(pw, device=x.device)),
            lambda x, y: TF.binary_cross_entropy_with_logits(
                x, y, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)),
            [x, y], device)
        gradgradcheck_arrays(lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
                             [x, y, pw], device)


def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits(device):
    big = np.array([1e4, -1e4, 0.0, 30.0, -30.0, 1e4])
    y = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 1.0])
    check_op(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
             lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction="none"), [big, y], device,
             gradcheck=False)
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(bw.zeros(3, 1, device=device), bw.zeros(3, device=device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction, device):
    x, y = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: TF.mse_loss(a, b, reduction=reduction), [x, y], device)
    check_op(lambda a, b: F.l1_loss(a, b, reduction=reduction),
             lambda a, b: TF.l1_loss(a, b, reduction=reduction), [x, y], device)
    for beta in (0.0, 0.5, 2.0):
        check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                 lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y], device,
                 gradcheck=False)
    for delta in (0.5, 2.0):
        check_op(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta),
                 lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta), [x, y], device,
                 gradcheck=False)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's deprecation notice
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, device):
    p = rng.random((3, 4))
    target = np.log(p) if log_target else p
    check_op(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
             lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
             [rng.standard_normal((3, 4)), target], device, gradcheck=False)


def test_legacy_size_average_and_reduce_flags(device):
    x, y = bw.tensor([1.0, 3.0], device=device), bw.tensor([0.0, 0.0], device=device)
    assert F.mse_loss(x, y, size_average=False).item() == 10.0
    assert F.mse_loss(x, y, reduce=False).shape == (2,)


def test_mismatched_regression_shapes_warn(device):
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(bw.zeros(3, 1, device=device), bw.zeros(3, device=device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_losses_with_per_element_weight(name, reduction, device):
    x, y, w = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4)), rng.random((3, 4))
    check_op(lambda a, b, w: getattr(F, name)(a, b, reduction=reduction, weight=w),
             lambda a, b, w: getattr(TF, name)(a, b, reduction=reduction, weight=w), [x, y, w], device,
             gradcheck=name != "huber_loss")
    with pytest.raises(ValueError, match="same size"):
        getattr(F, name)(bw.zeros(3, device=device), bw.zeros(3, device=device),
                         weight=bw.ones(2, device=device))


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_class_losses_with_an_empty_batch(reduction, device):
    empty = np.zeros((0, 4))
    t = np.zeros((0,), dtype=np.int64)
    check_op(lambda x: F.cross_entropy(x, bw.tensor(t, device=x.device), reduction=reduction),
             lambda x: TF.cross_entropy(x, torch.tensor(t), reduction=reduction), [empty], device,
             gradcheck=False)
    check_op(lambda x: F.nll_loss(x, bw.tensor(t, device=x.device), reduction=reduction),
             lambda x: TF.nll_loss(x, torch.tensor(t), reduction=reduction), [empty], device, gradcheck=False)
