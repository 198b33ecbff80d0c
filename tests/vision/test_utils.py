"""brickwork.vision.utils.make_grid / save_image against torchvision.utils."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import brickwork as bw
from brickwork.vision import utils


def _batch(shape, seed=0):
    data = (np.random.default_rng(seed).random(shape) * 3 - 1).astype(np.float32)
    return bw.tensor(data), torch.from_numpy(data.copy())


@pytest.mark.parametrize(
    "shape", [(5, 3, 4, 6), (8, 1, 3, 3), (1, 3, 4, 4), (3, 4, 5), (1, 4, 5), (4, 5), (9, 3, 2, 2)]
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(nrow=3, padding=1, pad_value=0.5),
        dict(normalize=True),
        dict(normalize=True, value_range=(-0.5, 0.5)),
        dict(normalize=True, scale_each=True),
        dict(nrow=2, padding=0, normalize=True, value_range=(0.0, 1.0), scale_each=True),
    ],
)
def test_make_grid_same_as_torchvision(tv, shape, kwargs):
    ours, theirs = _batch(shape)
    got, want = utils.make_grid(ours, **kwargs), tv.utils.make_grid(theirs, **kwargs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6, rtol=0)
    assert ours.numpy().min() < 0  # the input is not normalised in place


def test_make_grid_list_and_errors(tv):
    ours, theirs = _batch((3, 3, 4, 4), seed=1)
    got = utils.make_grid([ours[i] for i in range(3)], nrow=2)
    np.testing.assert_array_equal(
        got.numpy(), tv.utils.make_grid([theirs[i] for i in range(3)], nrow=2).numpy()
    )
    with pytest.raises(TypeError, match="list of tensors"):
        utils.make_grid([])
    with pytest.raises(ValueError, match="shape"):
        utils.make_grid(bw.zeros(1, 1, 1, 1, 1))


def test_save_image_same_file_as_torchvision(tv, tmp_path):
    ours, theirs = _batch((6, 3, 5, 5), seed=2)
    utils.save_image(ours, tmp_path / "ours.png", nrow=3, normalize=True)
    tv.utils.save_image(theirs, tmp_path / "theirs.png", nrow=3, normalize=True)
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "ours.png")), np.asarray(Image.open(tmp_path / "theirs.png"))
    )
