"""The nn-breadth layers (issue 11) against their PyTorch twins with copied weights: outputs,
input and parameter gradients in float32 and float64, float64 gradcheck of the layer, printed
form, state-dict keys and get_config; the lazy variants. ``CASES`` also feeds the device suite."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
import brickwork.testing  # noqa: F401 - bw.testing.gradcheck
from brickwork import nn
from nn._catalogue_checks import check_config_round_trip, check_layer, check_repr_and_state_keys, copy_weights

pytestmark = [pytest.mark.filterwarnings("ignore:Using padding=.same."),
              pytest.mark.filterwarnings("ignore:reduction. .mean. divides the total loss")]

rng = np.random.default_rng(41)

# (id, constructor name, args, kwargs, input shapes); the same call builds both twins. Layers with
# dropout are built with dropout=0 so that training mode compares equal.
CASES = [
    ("zeropad1d", "ZeroPad1d", ((1, 2),), {}, [(2, 3, 4)]),
    ("zeropad2d", "ZeroPad2d", (1,), {}, [(2, 3, 4, 5)]),
    ("zeropad2d_crop", "ZeroPad2d", ((1, -1, 0, 2),), {}, [(3, 4, 5)]),
    ("constantpad1d", "ConstantPad1d", (2, 3.5), {}, [(2, 3, 4)]),
    ("constantpad2d", "ConstantPad2d", ((1, 0, 2, 1), -1.0), {}, [(2, 3, 4, 5)]),
    ("reflectionpad1d", "ReflectionPad1d", ((2, 1),), {}, [(2, 3, 5)]),
    ("reflectionpad2d", "ReflectionPad2d", (2,), {}, [(2, 3, 4, 5)]),
    ("replicationpad1d", "ReplicationPad1d", ((3, 1),), {}, [(3, 4)]),
    ("replicationpad2d", "ReplicationPad2d", ((1, 2, 0, 3),), {}, [(2, 3, 4, 5)]),
    ("circularpad2d", "CircularPad2d", (1,), {}, [(2, 3, 4, 5)]),
    ("zeropad3d", "ZeroPad3d", (1,), {}, [(1, 2, 3, 3, 2)]),
    ("upsample_nearest", "Upsample", (), dict(scale_factor=2), [(2, 3, 4, 5)]),
    ("upsample_nearest_size", "Upsample", (), dict(size=(7, 3)), [(2, 3, 4, 5)]),
    ("upsample_nearest_exact", "Upsample", (), dict(scale_factor=1.7, mode="nearest-exact"), [(2, 3, 4, 5)]),
    ("upsample_linear", "Upsample", (), dict(scale_factor=2.5, mode="linear"), [(2, 3, 5)]),
    ("upsample_bilinear", "Upsample", (), dict(scale_factor=2, mode="bilinear"), [(2, 3, 4, 5)]),
    ("upsample_bilinear_ac", "Upsample", (), dict(size=(6, 9), mode="bilinear", align_corners=True),
     [(2, 3, 4, 5)]),
    ("upsample_bicubic", "Upsample", (), dict(scale_factor=(1.5, 0.8), mode="bicubic"), [(1, 2, 4, 5)]),
    ("upsample_trilinear", "Upsample", (), dict(scale_factor=2, mode="trilinear"), [(1, 2, 2, 3, 2)]),
    ("upsampling_nearest2d", "UpsamplingNearest2d", (), dict(scale_factor=3), [(1, 2, 3, 2)]),
    ("upsampling_bilinear2d", "UpsamplingBilinear2d", (), dict(size=(5, 4)), [(1, 2, 3, 2)]),
    ("pixel_shuffle", "PixelShuffle", (2,), {}, [(2, 8, 3, 4)]),
    ("pixel_unshuffle", "PixelUnshuffle", (2,), {}, [(2, 3, 4, 6)]),
    ("instancenorm1d", "InstanceNorm1d", (3,), {}, [(2, 3, 5)]),
    ("instancenorm1d_unbatched", "InstanceNorm1d", (3,), dict(affine=True), [(3, 6)]),
    ("instancenorm2d_stats", "InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True),
     [(2, 3, 4, 5)]),
    ("instancenorm3d", "InstanceNorm3d", (2,), dict(affine=True), [(2, 2, 3, 2, 4)]),
    ("rmsnorm", "RMSNorm", (4,), {}, [(2, 3, 4)]),
    ("rmsnorm_2d_eps", "RMSNorm", ((3, 4),), dict(eps=1e-3), [(2, 3, 4)]),
    ("rmsnorm_noaffine", "RMSNorm", (4,), dict(elementwise_affine=False), [(5, 4)]),
    ("conv3d", "Conv3d", (2, 4, 3), {}, [(2, 2, 4, 5, 4)]),
    ("conv3d_strided_groups", "Conv3d", (4, 6, (2, 3, 2)),
     dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2), [(2, 4, 6, 5, 5)]),
    ("conv3d_same", "Conv3d", (2, 3, (2, 3, 4)), dict(padding="same", bias=False), [(1, 2, 4, 5, 6)]),
    ("conv3d_reflect_unbatched", "Conv3d", (2, 3, 3), dict(padding=1, padding_mode="reflect"),
     [(2, 4, 5, 4)]),
    ("maxpool3d", "MaxPool3d", (2,), {}, [(2, 3, 4, 6, 4)]),
    ("maxpool3d_pad_ceil", "MaxPool3d", (3,), dict(stride=2, padding=1, ceil_mode=True), [(2, 2, 7, 6, 5)]),
    ("maxpool3d_dilation", "MaxPool3d", ((2, 3, 2),), dict(stride=1, dilation=(1, 2, 1)), [(3, 6, 7, 5)]),
    ("maxpool3d_indices", "MaxPool3d", (3,), dict(stride=2, padding=1, return_indices=True),
     [(2, 2, 5, 6, 4)]),
    ("avgpool3d", "AvgPool3d", (2,), {}, [(2, 3, 4, 6, 4)]),
    ("avgpool3d_pad_ceil", "AvgPool3d", (3,), dict(stride=2, padding=1, ceil_mode=True), [(2, 2, 7, 6, 5)]),
    ("avgpool3d_exclude_pad", "AvgPool3d", (3,),
     dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False), [(2, 2, 7, 6, 5)]),
    ("avgpool3d_divisor", "AvgPool3d", ((2, 3, 2),), dict(stride=(1, 2, 1), divisor_override=5),
     [(3, 6, 7, 5)]),
    ("unfold", "Unfold", (3,), dict(padding=1), [(2, 3, 5, 6)]),
    ("unfold_unbatched", "Unfold", ((2, 3),), dict(dilation=(2, 1), padding=(1, 0), stride=(1, 2)),
     [(3, 6, 7)]),
    ("fold", "Fold", ((5, 6), 3), dict(padding=1), [(2, 27, 30)]),
    ("fold_strided", "Fold", ((4, 6), 2), dict(stride=2), [(8, 6)]),
    ("cosine_similarity", "CosineSimilarity", (), {}, [(3, 4), (3, 4)]),
    ("cosine_similarity_bcast", "CosineSimilarity", (), dict(dim=-1), [(2, 3, 4), (3, 4)]),
    ("pairwise_distance", "PairwiseDistance", (), {}, [(3, 4), (3, 4)]),
    ("pairwise_distance_p1", "PairwiseDistance", (), dict(p=1.0, keepdim=True), [(3, 4), (4,)]),
    ("embedding_bag_mean", "EmbeddingBag", (10, 3), {}, [("idx", 4, 3)]),
    ("embedding_bag_max_padding", "EmbeddingBag", (10, 3), dict(mode="max", padding_idx=1), [("idx", 4, 3)]),
    ("transformer_decoder_layer", "TransformerDecoderLayer", (8, 2, 16), dict(dropout=0.0),
     [(4, 2, 8), (5, 2, 8)]),
    ("transformer_decoder_layer_bf_normfirst_gelu", "TransformerDecoderLayer", (8, 2, 16),
     dict(dropout=0.0, batch_first=True, norm_first=True, activation="gelu"), [(2, 4, 8), (2, 5, 8)]),
    ("transformer", "Transformer", (),
     dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=16,
          dropout=0.0), [(5, 2, 8), (4, 2, 8)]),
]

# the Transformer has thousands of parameters (the torch comparison covers it); EmbeddingBag's only
# float input is its weight (gradchecked in test_embedding_bag_gradcheck_and_errors)
GRADCHECK_SKIP = {"transformer", "embedding_bag_mean", "embedding_bag_max_padding"}


def _inputs(shapes):
    """Float arrays of the given shapes; ``("idx", *shape)`` is integer indices in [0, 3) (the
    device suite's convention)."""
    return [rng.integers(0, 3, s[1:]) if s and s[0] == "idx" else rng.standard_normal(s) for s in shapes]


def _pair(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_pytorch(case, train, device):
    _, name, args, kwargs, shapes = case
    check_layer(lambda: getattr(nn, name)(*args, **kwargs), lambda: getattr(torch.nn, name)(*args, **kwargs),
                _inputs(shapes), device, train=train)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_prints_and_names_state_like_pytorch(case):
    _, name, args, kwargs, _ = case
    b_layer, t_layer = _pair(name, args, kwargs)
    check_repr_and_state_keys(b_layer, t_layer)
    check_config_round_trip(b_layer)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in GRADCHECK_SKIP],
                         ids=[c[0] for c in CASES if c[0] not in GRADCHECK_SKIP])
def test_layer_gradcheck(case):
    _, name, args, kwargs, shapes = case
    layer = getattr(nn, name)(*args, **kwargs).to(bw.float64)
    layer.train()
    inputs = [bw.tensor(a, requires_grad=True) for a in _inputs(shapes)]
    assert bw.testing.gradcheck(lambda *xs: layer(*xs), inputs)


REPR_ONLY = [
    ("Upsample", (), dict(size=(3, 4), mode="bilinear", align_corners=True)),
    ("Upsample", (), dict(scale_factor=(2, 3), mode="nearest")),
    ("ConstantPad3d", ((1, 2, 3, 4, 5, 6), 0.5), {}),
    ("ReflectionPad3d", (1,), {}),
    ("ReplicationPad3d", (2,), {}),
    ("CircularPad1d", (3,), {}),
    ("InstanceNorm2d", (4,), dict(momentum=None, eps=1e-3)),
    ("InstanceNorm1d", (4,), dict(affine=True, bias=False)),
    ("RMSNorm", ((2, 3),), dict(eps=1e-3, elementwise_affine=False)),
    ("EmbeddingBag", (10, 3), {}),
    ("EmbeddingBag", (10, 3), dict(mode="max", padding_idx=0, max_norm=1.0)),
    ("EmbeddingBag", (10, 3), dict(mode="sum", norm_type=1.0, scale_grad_by_freq=True,
                                   include_last_offset=True)),
    ("Conv3d", (2, 4, (1, 2, 3)), dict(stride=2, padding=1, groups=2, bias=False)),
    ("MaxPool3d", (3,), dict(stride=1, padding=1, dilation=2, ceil_mode=True)),
    ("AvgPool3d", ((2, 3, 1),), {}),
    ("MaxPool3d", (2,), dict(return_indices=True)),
    ("MaxUnpool1d", (3,), dict(stride=2, padding=1)),
    ("MaxUnpool2d", (2,), {}),
    ("MaxUnpool3d", ((2, 3, 1),), dict(stride=1)),
    ("Fold", ((4, 5), 2), dict(dilation=2, padding=1)),
    ("TripletMarginLoss", (), dict(margin=2.0, p=1, swap=True)),
    ("MultiMarginLoss", (), dict(p=2, weight=None)),
    ("TransformerDecoder", (), {}),
]


@pytest.mark.parametrize("case", REPR_ONLY, ids=[f"{c[0]}{c[1]}{c[2]}" for c in REPR_ONLY])
def test_more_configurations_print_like_pytorch(case):
    name, args, kwargs = case
    if name == "TransformerDecoder":
        b = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))
        t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16), 2,
                                        norm=torch.nn.LayerNorm(8))
        check_repr_and_state_keys(b, t)
        return
    check_repr_and_state_keys(*_pair(name, args, kwargs))
    check_config_round_trip(getattr(nn, name)(*args, **kwargs))


# -- lazy construction ------------------------------------------------------------------------

LAZY = [
    (lambda: nn.LazyConv3d(4, 3, padding=1), lambda: torch.nn.LazyConv3d(4, 3, padding=1), nn.Conv3d,
     (2, 3, 4, 5, 4)),
    (lambda: nn.Conv3d(None, 4, 2, bias=False), lambda: torch.nn.LazyConv3d(4, 2, bias=False), nn.Conv3d,
     (2, 3, 4, 5, 4)),
    (nn.LazyInstanceNorm1d, torch.nn.LazyInstanceNorm1d, nn.InstanceNorm1d, (2, 3, 6)),
    (nn.LazyInstanceNorm2d, torch.nn.LazyInstanceNorm2d, nn.InstanceNorm2d, (2, 3, 4, 5)),
    (nn.LazyInstanceNorm3d, torch.nn.LazyInstanceNorm3d, nn.InstanceNorm3d, (2, 3, 2, 3, 2)),
    (lambda: nn.InstanceNorm2d(None, affine=True),
     lambda: torch.nn.LazyInstanceNorm2d(track_running_stats=False),
     nn.InstanceNorm2d, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("case", LAZY, ids=[f"lazy{i}" for i in range(len(LAZY))])
def test_lazy_variants_infer_their_size_and_match_pytorch(case):
    make_b, make_t, cls, shape = case
    layer = make_b()
    assert type(layer) is cls and any(p.is_pending for p in layer.parameters())
    assert "?" in repr(layer)
    x = rng.standard_normal(shape).astype(np.float32)
    t_layer = make_t()
    t_out = t_layer(torch.tensor(x))  # materialises the torch twin (its own random init)
    layer(bw.tensor(x))
    assert type(layer) is cls and not any(p.is_pending for p in layer.parameters())
    check_repr_and_state_keys(layer, t_layer)
    copy_weights(t_layer, layer)
    np.testing.assert_allclose(layer(bw.tensor(x)).detach().numpy(), t_out.detach().numpy(),
                               rtol=2e-4, atol=2e-5)
    with pytest.raises((RuntimeError, ValueError), match="in_channels|num_features|expected"):
        bad = list(shape)
        bad[-len(shape) + (0 if len(shape) == shape_rank(cls) else 1)] += 1
        layer(bw.randn(*bad))


def shape_rank(cls):
    """The unbatched input rank of a layer class (channels first)."""
    return {nn.Conv3d: 4, nn.InstanceNorm1d: 2, nn.InstanceNorm2d: 3, nn.InstanceNorm3d: 4}[cls]


def test_lazy_layers_load_a_state_dict_without_a_forward():
    t = torch.nn.Conv3d(3, 4, 2)
    b = nn.LazyConv3d(4, 2)
    b.load_state_dict({k: bw.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    assert b.in_channels == 3 and tuple(b.weight.shape) == (4, 3, 2, 2, 2)
    t2 = torch.nn.InstanceNorm2d(5, affine=True, track_running_stats=True)
    b2 = nn.LazyInstanceNorm2d()
    b2.load_state_dict({k: bw.tensor(v.detach().numpy()) for k, v in t2.state_dict().items()})
    assert b2.num_features == 5


# -- behaviour and errors ---------------------------------------------------------------------


def test_instance_norm_running_stats_follow_pytorch_over_steps():
    t = torch.nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.3)
    b = nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.3)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 5)).astype(np.float32)
        t(torch.tensor(x))
        b(bw.tensor(x))
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(b.state_dict()[key].numpy(), t.state_dict()[key].numpy(), rtol=1e-5)
    assert int(b.num_batches_tracked) == int(t.num_batches_tracked) == 0  # as PyTorch: not counted
    t.eval()
    b.eval()
    x = rng.standard_normal((2, 3, 2, 5)).astype(np.float32)
    np.testing.assert_allclose(b(bw.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


def test_instance_norm_channel_mismatch_raises_or_warns_as_pytorch():
    with pytest.raises(RuntimeError, match="built for num_features=3"):
        nn.InstanceNorm1d(3, track_running_stats=True)(bw.randn(2, 4, 5))
    with pytest.raises(RuntimeError, match="built for num_features=3"):
        nn.InstanceNorm1d(3, affine=True)(bw.randn(2, 4, 5))
    with pytest.warns(UserWarning, match="num_features is not used"):
        out = nn.InstanceNorm1d(3)(bw.randn(2, 4, 5))
    assert tuple(out.shape) == (2, 4, 5)


def test_embedding_bag_max_norm_renormalises_rows_like_pytorch():
    weights = rng.standard_normal((6, 3)) * 3
    t = torch.nn.EmbeddingBag(6, 3, max_norm=1.5, mode="sum").double()
    b = nn.EmbeddingBag(6, 3, max_norm=1.5, mode="sum").to(bw.float64)
    t.weight.data = torch.tensor(weights)
    b.load_state_dict({"weight": bw.tensor(weights)})
    idx, offsets = np.array([0, 2, 2, 5]), np.array([0, 3])
    np.testing.assert_allclose(b(bw.tensor(idx), bw.tensor(offsets)).detach().numpy(),
                               t(torch.tensor(idx), torch.tensor(offsets)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6)


def test_rmsnorm_eps_none_uses_the_dtype_epsilon():
    x = np.zeros((2, 3))
    out = nn.RMSNorm(3, elementwise_affine=False).to(bw.float64)(bw.tensor(x))
    assert np.isfinite(out.numpy()).all()
    tiny = np.full((1, 3), 1e-9, dtype=np.float32)
    np.testing.assert_allclose(nn.RMSNorm(3)(bw.tensor(tiny)).detach().numpy(),
                               torch.nn.RMSNorm(3)(torch.tensor(tiny)).detach().numpy(), rtol=1e-5)


def test_padding_layer_errors_name_the_problem():
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be an int or a tuple of 4"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="ReflectionPad2d: expected a 3-D or 4-D input"):
        nn.ReflectionPad2d(1)(bw.ones(4, 4))
    with pytest.raises(RuntimeError, match="reflect padding"):
        nn.ReflectionPad1d(3)(bw.ones(1, 2, 3))


def test_max_pool3d_with_indices_round_trips_through_max_unpool3d():
    x = bw.tensor(np.abs(rng.standard_normal((2, 3, 4, 6, 4))).astype(np.float32) + 0.1)  # maxima > 0
    out, idx = nn.MaxPool3d(2, return_indices=True)(x)
    assert idx.dtype == bw.int64 and tuple(idx.shape) == tuple(out.shape)
    back = nn.MaxUnpool3d(2)(out, idx)
    assert tuple(back.shape) == tuple(x.shape)
    np.testing.assert_array_equal(nn.MaxPool3d(2)(back).numpy(), out.numpy())


# -- losses (module forms; targets of their own kinds) -----------------------------------------

N, C = 4, 5
X, X2, X3 = (rng.standard_normal((N, C)) for _ in range(3))
V, V2 = rng.standard_normal(N), rng.standard_normal(N)
SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
CLASSES = np.array([0, 3, 4, 1])
MULTI = np.array([[3, 0, -1, 1, 2], [1, -1, 2, 2, 2], [0, 1, 2, 3, 4], [-1, 0, 0, 0, 0]])
BITS = rng.integers(0, 2, (N, C)).astype(float)
W = rng.uniform(0.5, 2.0, C)
COUNTS = rng.integers(0, 5, (N, C)).astype(float)
VAR = rng.uniform(0.1, 2.0, (N, C))

LOSSES = [
    ("margin_ranking", "MarginRankingLoss", dict(margin=0.3), [V, V2, SIGNS], [0, 1]),
    ("hinge_embedding", "HingeEmbeddingLoss", dict(margin=0.5), [X, np.sign(X2)], [0]),
    ("soft_margin", "SoftMarginLoss", {}, [X, np.sign(X2)], [0]),
    ("multilabel_soft_margin", "MultiLabelSoftMarginLoss", {}, [X, BITS], [0]),
    ("multilabel_soft_margin_w", "MultiLabelSoftMarginLoss", dict(weight=W), [X, BITS], [0]),
    ("multi_margin", "MultiMarginLoss", {}, [X, CLASSES], [0]),
    ("multi_margin_p2_w", "MultiMarginLoss", dict(p=2, margin=0.7, weight=W), [X, CLASSES], [0]),
    ("multi_margin_unbatched", "MultiMarginLoss", {}, [X[0], CLASSES[:1].reshape(())], [0]),
    ("multilabel_margin", "MultiLabelMarginLoss", {}, [X, MULTI], [0]),
    ("multilabel_margin_unbatched", "MultiLabelMarginLoss", {}, [X[0], MULTI[0]], [0]),
    ("triplet", "TripletMarginLoss", {}, [X, X2, X3], [0, 1, 2]),
    ("triplet_p1_swap", "TripletMarginLoss", dict(p=1, swap=True, margin=2.0), [X, X2, X3], [0, 1, 2]),
    ("triplet_distance", "TripletMarginWithDistanceLoss", dict(margin=0.5, swap=True), [X, X2, X3],
     [0, 1, 2]),
    ("cosine_embedding", "CosineEmbeddingLoss", dict(margin=0.2), [X, X2, SIGNS], [0, 1]),
    ("poisson_nll", "PoissonNLLLoss", {}, [X, COUNTS], [0]),
    ("poisson_nll_full", "PoissonNLLLoss", dict(log_input=False, full=True), [np.abs(X) + 0.1, COUNTS], [0]),
    ("gaussian_nll", "GaussianNLLLoss", {}, [X, X2, VAR], [0, 1, 2]),
    ("gaussian_nll_full_per_sample", "GaussianNLLLoss", dict(full=True), [X, X2, VAR[:, 0]], [0, 1, 2]),
    ("gaussian_nll_clamped", "GaussianNLLLoss", dict(eps=0.5), [X, X2, VAR], [0, 1, 2]),
    ("kl_div_log_target", "KLDivLoss", dict(log_target=True), [X, X2], [0, 1]),
    ("nll", "NLLLoss", dict(weight=W, ignore_index=3), [X, CLASSES], [0]),
]


def _as(lib, value):
    if not isinstance(value, np.ndarray):
        return value
    return bw.tensor(value) if lib is bw else torch.tensor(value)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_matches_pytorch(case, reduction):
    _, name, kwargs, arrays, grad_of = case
    for dt in (np.float32, np.float64):
        cast = [a.astype(dt) if a.dtype.kind == "f" else a for a in arrays]
        b_loss = getattr(nn, name)(**{k: _as(bw, v.astype(dt) if isinstance(v, np.ndarray) else v)
                                      for k, v in kwargs.items()}, reduction=reduction)
        t_loss = getattr(torch.nn, name)(**{k: _as(torch, v.astype(dt) if isinstance(v, np.ndarray) else v)
                                            for k, v in kwargs.items()}, reduction=reduction)
        assert repr(b_loss) == repr(t_loss)
        b_in = [bw.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(cast)]
        t_in = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(cast)]
        bo, to = b_loss(*b_in), t_loss(*t_in)
        tol = dict(rtol=1e-5, atol=1e-6) if dt == np.float32 else dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bo.detach().numpy(), to.detach().numpy(), **tol)
        seed = rng.standard_normal(tuple(to.shape)).astype(dt)
        (bo * bw.tensor(seed)).sum().backward()
        (to * torch.tensor(seed)).sum().backward()
        for i in grad_of:
            np.testing.assert_allclose(b_in[i].grad.numpy(), t_in[i].grad.numpy(), err_msg=f"grad {i}", **tol)
    if reduction == "mean" and case[0] != "gaussian_nll_clamped":  # (the clamp passes gradients, as in torch)
        b_loss = getattr(nn, name)(**{k: _as(bw, v) for k, v in kwargs.items()})
        inputs = [bw.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
        assert bw.testing.gradcheck(lambda *xs: b_loss(*xs), inputs)
        check_config_round_trip(b_loss) if "weight" not in kwargs else None


def test_gaussian_nll_rejects_negative_and_misshapen_variances():
    with pytest.raises(ValueError, match="negative"):
        nn.GaussianNLLLoss()(bw.tensor(X), bw.tensor(X2), bw.tensor(-VAR))
    with pytest.raises(ValueError, match="does not fit"):
        nn.GaussianNLLLoss()(bw.tensor(X), bw.tensor(X2), bw.tensor(VAR[:2]))


# -- EmbeddingBag ------------------------------------------------------------------------------

BAG_INPUT = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0])
BAG_OFFSETS = np.array([0, 2, 2, 5, 9])  # the second bag is empty


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 0, 2])
@pytest.mark.parametrize("layout", ["offsets", "last_offset", "2d"])
def test_embedding_bag_matches_pytorch(mode, padding_idx, layout):
    weights = rng.standard_normal((10, 3))
    if layout == "2d":
        args, kw = [rng.integers(0, 10, (4, 3))], {}
    elif layout == "offsets":
        args, kw = [BAG_INPUT, BAG_OFFSETS], {}
    else:
        args, kw = [BAG_INPUT, np.append(BAG_OFFSETS, len(BAG_INPUT))], dict(include_last_offset=True)
    for with_weights in ([False, True] if mode == "sum" else [False]):
        for dt in (np.float32, np.float64):
            t = torch.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx, **kw)
            b = nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx, **kw).to(
                bw.float64 if dt == np.float64 else bw.float32)
            t.weight.data = torch.tensor(weights.astype(dt))
            b.load_state_dict({"weight": bw.tensor(weights.astype(dt))})
            assert repr(b) == repr(t)
            psw = rng.standard_normal(args[0].shape).astype(dt)
            t_args, b_args = [torch.tensor(a) for a in args], [bw.tensor(a) for a in args]
            if with_weights:
                filler = [None] if len(args) == 1 else []  # 2-D input: offsets=None comes first
                t_args += filler + [torch.tensor(psw, requires_grad=True)]
                b_args += filler + [bw.tensor(psw, requires_grad=True)]
            to, bo = t(*t_args), b(*b_args)
            tol = dict(rtol=1e-5, atol=1e-6) if dt == np.float32 else dict(rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(bo.detach().numpy(), to.detach().numpy(), **tol)
            seed = rng.standard_normal(tuple(to.shape)).astype(dt)
            (to * torch.tensor(seed)).sum().backward()
            (bo * bw.tensor(seed)).sum().backward()
            np.testing.assert_allclose(b.weight.grad.numpy(), t.weight.grad.numpy(), **tol)
            if with_weights:
                np.testing.assert_allclose(b_args[-1].grad.numpy(), t_args[-1].grad.numpy(), **tol)


def test_embedding_bag_gradcheck_and_errors():
    bag = nn.EmbeddingBag(6, 2, mode="mean").to(bw.float64)
    idx, offsets = bw.tensor([0, 2, 2, 5, 1]), bw.tensor([0, 3])
    assert bw.testing.gradcheck(lambda w: bw.nn.functional.embedding_bag(idx, w, offsets), [bag.weight])
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        bag(idx, offsets, per_sample_weights=bw.ones(5))
    with pytest.raises(ValueError, match="offsets must be None when the input is 2-D"):
        bag(bw.tensor([[0, 1]]), offsets)
    with pytest.raises(ValueError, match="offsets are needed"):
        bag(idx)
