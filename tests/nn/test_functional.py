"""``brickwork.nn.functional``: PyTorch's names and argument order, docstrings, and the
composites that live only here (bilinear, normalize, cosine_similarity, prelu)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch.nn.functional as TF

import brickwork as bw
import brickwork.nn.functional as F
from oracle import check_op

rng = np.random.default_rng(43)


def test_every_function_is_pytorchs_name_with_a_docstring():
    for name in F.__all__:
        ours = getattr(F, name)
        assert callable(ours) and ours.__doc__, name
        assert hasattr(TF, name), f"{name} is not a torch.nn.functional name"


# positional parameters that tutorial code passes positionally must come in PyTorch's order
POSITIONAL = ["linear", "bilinear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
              "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
              "batch_norm", "layer_norm", "group_norm", "dropout", "embedding", "cross_entropy", "nll_loss",
              "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
              "binary_cross_entropy_with_logits", "leaky_relu", "elu", "hardtanh", "softplus", "softmax",
              "log_softmax", "scaled_dot_product_attention", "pad", "normalize", "one_hot", "glu", "prelu"]


def _leading(fn, n):
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [p.name for p in params[:n]]


@pytest.mark.parametrize("name", POSITIONAL)
def test_argument_order_is_pytorchs(name):
    try:
        theirs = inspect.signature(getattr(TF, name))
    except (TypeError, ValueError):
        pytest.skip(f"torch.nn.functional.{name} is a builtin without a Python signature")
    n = len([p for p in theirs.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    ours = _leading(getattr(F, name), n)
    assert ours == _leading(getattr(TF, name), n)


def test_bilinear(device):
    check_op(F.bilinear, TF.bilinear, [rng.standard_normal((3, 2)), rng.standard_normal((3, 4)),
                                        rng.standard_normal((5, 2, 4)), rng.standard_normal(5)], device)
    check_op(F.bilinear, TF.bilinear, [rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 4)),
                                        rng.standard_normal((5, 2, 4))], device, gradcheck=False)


def test_normalize_and_cosine_similarity(device):
    check_op(F.normalize, TF.normalize, [rng.standard_normal((3, 4))], device)
    check_op(lambda x: F.normalize(x, p=1, dim=0), lambda x: TF.normalize(x, p=1, dim=0),
             [rng.standard_normal((3, 4))], device, gradcheck=False)
    check_op(F.cosine_similarity, TF.cosine_similarity, [rng.standard_normal((3, 4)),
                                                          rng.standard_normal((3, 4))], device)


def test_prelu_per_channel_and_shared(device):
    check_op(F.prelu, TF.prelu, [rng.standard_normal((2, 3, 4)), rng.standard_normal(3)], device)
    check_op(F.prelu, TF.prelu, [rng.standard_normal((2, 3)), rng.standard_normal(1)], device)
    with pytest.raises(RuntimeError, match="weight has 4 entries"):
        F.prelu(bw.zeros(2, 3), bw.zeros(4))


def test_relu_inplace_and_pad_reexport(device):
    x = bw.tensor([-1.0, 2.0], device=device)
    assert F.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    assert F.pad(bw.ones(1, 2, device=device), (1, 1)).shape == (1, 4)
