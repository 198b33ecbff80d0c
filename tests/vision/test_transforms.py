"""brickwork.vision.transforms against torchvision.transforms on the same PIL images and tensors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

import brickwork as bw
from brickwork.vision import transforms as T
from brickwork.vision.transforms import functional as F

MODES = ["nearest", "nearest-exact", "bilinear", "bicubic"]


def _rgb(h: int = 13, w: int = 17, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pil(mode: str = "RGB", h: int = 13, w: int = 17) -> Image.Image:
    image = Image.fromarray(_rgb(h, w))
    return image if mode == "RGB" else image.convert(mode)


def _same_pil(a: Image.Image, b: Image.Image) -> None:
    assert a.mode == b.mode and a.size == b.size
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _pair(arr: np.ndarray) -> tuple[bw.Tensor, torch.Tensor]:
    return bw.tensor(arr), torch.from_numpy(arr.copy())


def _close(ours: bw.Tensor, theirs: torch.Tensor, atol: float = 0.0) -> None:
    assert ours.dtype.np == theirs.numpy().dtype, (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=atol, rtol=0)


# -- conversions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "1", "I", "F", "LA"])
def test_to_tensor_and_pil_to_tensor_pil(tv, mode):
    TF = tv.transforms.functional
    image = _pil(mode)
    _close(F.to_tensor(image), TF.to_tensor(image))
    _close(F.pil_to_tensor(image), TF.pil_to_tensor(image))


@pytest.mark.parametrize(
    "arr", [_rgb(), _rgb()[:, :, 0], np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)]
)
def test_to_tensor_ndarray(tv, arr):
    _close(T.ToTensor()(arr), tv.transforms.ToTensor()(arr))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_to_pil_image(tv, channels, dtype):
    data = np.random.default_rng(1).random((channels, 5, 7)).astype(np.float32)
    if dtype == np.uint8:
        data = (data * 255).astype(np.uint8)
    ours, theirs = _pair(data)
    _same_pil(T.ToPILImage()(ours), tv.transforms.ToPILImage()(theirs))
    hwc = np.ascontiguousarray(data.transpose(1, 2, 0))
    _same_pil(F.to_pil_image(hwc), tv.transforms.functional.to_pil_image(hwc))


def test_to_pil_image_modes(tv):
    data = np.random.default_rng(2).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    ours, theirs = _pair(data)
    _same_pil(F.to_pil_image(ours, "HSV"), tv.transforms.functional.to_pil_image(theirs, "HSV"))
    gray = np.random.default_rng(2).integers(-100, 100, (1, 4, 5), dtype=np.int32)
    ours, theirs = _pair(gray)
    _same_pil(F.to_pil_image(ours), tv.transforms.functional.to_pil_image(theirs))
    with pytest.raises(ValueError, match="RGB"):
        F.to_pil_image(bw.tensor(data), "LA")


@pytest.mark.parametrize("target", [bw.float32, bw.float64, bw.uint8, bw.int16, bw.int32])
@pytest.mark.parametrize("source", [np.uint8, np.float32, np.int16])
def test_convert_image_dtype(tv, source, target):
    rng = np.random.default_rng(3)
    data = rng.random((3, 4, 5)).astype(np.float32)
    data = (data * 200).astype(source) if source != np.float32 else data
    torch_target = getattr(torch, target.name)
    ours, theirs = _pair(data)
    if source == np.float32 and target is bw.int32:
        with pytest.raises(RuntimeError):
            tv.transforms.functional.convert_image_dtype(theirs, torch_target)
        with pytest.raises(RuntimeError, match="safely"):
            F.convert_image_dtype(ours, target)
        return
    _close(
        T.ConvertImageDtype(target)(ours), tv.transforms.ConvertImageDtype(torch_target)(theirs), atol=1e-7
    )


def test_normalize(tv):
    data = np.random.default_rng(4).random((2, 3, 5, 6)).astype(np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    ours, theirs = _pair(data)
    _close(T.Normalize(mean, std)(ours), tv.transforms.Normalize(mean, std)(theirs))
    same = T.Normalize(mean, std, inplace=True)(ours)
    assert same is ours
    _close(ours, tv.transforms.Normalize(mean, std)(torch.from_numpy(data)))
    with pytest.raises(ValueError, match="zero"):
        F.normalize(bw.tensor(data), mean, [1.0, 0.0, 1.0])
    with pytest.raises(TypeError, match="float"):
        F.normalize(bw.tensor(data).to(bw.uint8), mean, std)


# -- resize ---------------------------------------------------------------------------------------------
SIZES = [(9, 11), (40, 31), (17, 50), 7, 30, [5]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_resize_tensor(tv, mode, antialias, size):
    rng = np.random.default_rng(5)
    data = rng.random((2, 3, 17, 23)).astype(np.float32)
    mode_t, mode_b = tv.transforms.InterpolationMode(mode), T.InterpolationMode(mode)
    ours, theirs = _pair(data)
    _close(
        T.Resize(size, mode_b, antialias=antialias)(ours),
        tv.transforms.Resize(size, mode_t, antialias=antialias)(theirs),
        atol=5e-6,
    )
    # uint8 images: resampled in float32 and rounded, as torchvision does; an exact tie (x.5) may
    # round the other way after float32 rounding of the weights
    pixels = rng.integers(0, 256, (3, 17, 23), dtype=np.uint8)
    ours, theirs = _pair(pixels)
    got = F.resize(ours, size, mode_b, antialias=antialias).numpy().astype(int)
    want = tv.transforms.functional.resize(theirs, size, mode_t, antialias=antialias).numpy().astype(int)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1 and (got != want).mean() < 0.01


def test_resize_float64_and_2d(tv):
    data = np.random.default_rng(6).random((3, 10, 8))
    ours, theirs = _pair(data)
    _close(F.resize(ours, [4, 5]), tv.transforms.functional.resize(theirs, [4, 5]), atol=1e-12)
    # torchvision refuses (H, W) tensors; brickwork resizes them as one channel
    _close(
        F.resize(bw.tensor(data[0]), [4, 5]), tv.transforms.functional.resize(theirs, [4, 5])[0], atol=1e-12
    )


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "box", "hamming", "lanczos"])
@pytest.mark.parametrize("size", [(9, 11), (40, 31), 7, 30])
@pytest.mark.parametrize("pil_mode", ["RGB", "L"])
def test_resize_pil(tv, mode, size, pil_mode):
    image = _pil(pil_mode)
    _same_pil(
        T.Resize(size, T.InterpolationMode(mode))(image),
        tv.transforms.Resize(size, tv.transforms.InterpolationMode(mode))(image),
    )


def test_resize_max_size_and_pil_constants(tv):
    image = _pil("RGB", 13, 40)
    _same_pil(T.Resize(10, max_size=20)(image), tv.transforms.Resize(10, max_size=20)(image))
    assert T.Resize(10, max_size=20)(image).size == (20, 6)
    ours, theirs = _pair(np.asarray(image).transpose(2, 0, 1).copy())
    _close(F.resize(ours, 10, max_size=20), tv.transforms.functional.resize(theirs, 10, max_size=20), atol=1)
    assert T.Resize(8, interpolation=Image.BICUBIC).interpolation is T.InterpolationMode.BICUBIC
    with pytest.raises(ValueError, match="max_size"):
        F.resize(image, 10, max_size=10)
    with pytest.raises(ValueError, match="max_size"):
        F.resize(image, [10, 12], max_size=30)
    with pytest.raises(ValueError, match="tensors"):
        F.resize(bw.zeros(3, 4, 4), 2, T.InterpolationMode.LANCZOS)
    assert F.resize(image, [13, 40]) is image


# -- crops and padding ---------------------------------------------------------------------------------
CROPS = [5, (4, 9), (13, 17), (20, 5), (30, 30), (14, 18), [6]]


@pytest.mark.parametrize("size", CROPS)
def test_center_crop(tv, size):
    image = _pil()
    _same_pil(T.CenterCrop(size)(image), tv.transforms.CenterCrop(size)(image))
    ours, theirs = _pair(np.random.default_rng(7).random((2, 3, 13, 17)).astype(np.float32))
    _close(T.CenterCrop(size)(ours), tv.transforms.CenterCrop(size)(theirs))


@pytest.mark.parametrize("box", [(0, 0, 5, 5), (-3, 2, 8, 6), (10, 14, 9, 9), (-2, -4, 20, 30)])
def test_crop_outside_is_zero(tv, box):
    image = _pil()
    _same_pil(F.crop(image, *box), tv.transforms.functional.crop(image, *box))
    ours, theirs = _pair(_rgb().transpose(2, 0, 1).copy())
    _close(F.crop(ours, *box), tv.transforms.functional.crop(theirs, *box))


PADDINGS = [2, (1, 3), (0, 1, 2, 3), [4], (-1, 2, 1, -2)]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad(tv, padding, mode):
    for pil_mode, fill in (("RGB", 7), ("RGB", (1, 2, 3)), ("L", 9), ("P", 3)):
        image = _pil("RGB").convert(pil_mode) if pil_mode == "P" else _pil(pil_mode)
        _same_pil(T.Pad(padding, fill, mode)(image), tv.transforms.Pad(padding, fill, mode)(image))
    for data in (
        np.random.default_rng(8).random((2, 3, 6, 7)).astype(np.float32),
        _rgb(6, 7).transpose(2, 0, 1),
    ):
        ours, theirs = _pair(np.ascontiguousarray(data))
        _close(T.Pad(padding, 3, mode)(ours), tv.transforms.Pad(padding, 3, mode)(theirs))


def test_hflip_vflip(tv):
    image = _pil()
    _same_pil(F.hflip(image), tv.transforms.functional.hflip(image))
    _same_pil(F.vflip(image), tv.transforms.functional.vflip(image))
    ours, theirs = _pair(np.random.default_rng(9).random((2, 3, 4, 5)).astype(np.float32))
    _close(F.hflip(ours), tv.transforms.functional.hflip(theirs))
    _close(F.vflip(ours), tv.transforms.functional.vflip(theirs))
    _close(T.RandomHorizontalFlip(p=1.0)(ours), tv.transforms.functional.hflip(theirs))
    assert T.RandomHorizontalFlip(p=0.0)(ours) is ours
    _close(T.RandomVerticalFlip(p=1.0)(ours), tv.transforms.functional.vflip(theirs))


def test_random_horizontal_flip_frequency():
    bw.manual_seed(0)
    image = bw.tensor(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    flips = sum(int(T.RandomHorizontalFlip(0.3)(image).numpy()[0, 0, 0] == 2.0) for _ in range(2000))
    assert 0.27 < flips / 2000 < 0.33


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=8),
        dict(size=(10, 12), padding=2),
        dict(size=20, pad_if_needed=True),
        dict(size=(16, 24), padding=(1, 2), pad_if_needed=True, fill=5, padding_mode="reflect"),
    ],
)
def test_random_crop_same_as_functional(tv, kwargs):
    """Seeded brickwork crop == torchvision's functional crop at the params brickwork's get_params draws."""
    image = _pil()
    for seed in range(5):
        bw.manual_seed(seed)
        ours = T.RandomCrop(**kwargs)(image)
        bw.manual_seed(seed)
        padded = image
        size = T.RandomCrop(**kwargs).size
        if kwargs.get("padding") is not None:
            padded = tv.transforms.functional.pad(
                padded, kwargs["padding"], kwargs.get("fill", 0), kwargs.get("padding_mode", "constant")
            )
        if kwargs.get("pad_if_needed"):
            w, h = padded.size
            if w < size[1]:
                padded = tv.transforms.functional.pad(
                    padded, [size[1] - w, 0], kwargs.get("fill", 0), kwargs.get("padding_mode", "constant")
                )
            if h < size[0]:
                padded = tv.transforms.functional.pad(
                    padded, [0, size[0] - h], kwargs.get("fill", 0), kwargs.get("padding_mode", "constant")
                )
        params = T.RandomCrop.get_params(padded, size)
        _same_pil(ours, tv.transforms.functional.crop(padded, *params))
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(30)(image)


def test_random_crop_params_cover_all_offsets():
    bw.manual_seed(1)
    image = bw.zeros(1, 6, 5)
    seen = {T.RandomCrop.get_params(image, (4, 4))[:2] for _ in range(400)}
    assert seen == {(i, j) for i in range(3) for j in range(2)}
    assert T.RandomCrop.get_params(image, (6, 5)) == (0, 0, 6, 5)


def test_random_resized_crop_same_as_functional(tv):
    image = _pil("RGB", 30, 40)
    data = np.random.default_rng(10).random((3, 30, 40)).astype(np.float32)
    for seed in range(5):
        for interpolation in (T.InterpolationMode.BILINEAR, T.InterpolationMode.NEAREST):
            mode_t = tv.transforms.InterpolationMode(interpolation.value)
            bw.manual_seed(seed)
            ours = T.RandomResizedCrop((12, 16), interpolation=interpolation)(image)
            bw.manual_seed(seed)
            params = T.RandomResizedCrop.get_params(image, (0.08, 1.0), (3 / 4, 4 / 3))
            _same_pil(ours, tv.transforms.functional.resized_crop(image, *params, [12, 16], mode_t))
            bw.manual_seed(seed)
            ours_t = T.RandomResizedCrop(10, interpolation=interpolation)(bw.tensor(data))
            theirs = tv.transforms.functional.resized_crop(torch.from_numpy(data), *params, [10, 10], mode_t)
            _close(ours_t, theirs, atol=5e-6)


def test_random_resized_crop_params_distribution_and_fallback(tv):
    bw.manual_seed(2)
    image = bw.zeros(3, 50, 60)
    for _ in range(300):
        top, left, h, w = T.RandomResizedCrop.get_params(image, (0.2, 0.5), (0.5, 2.0))
        assert 0 <= top <= 50 - h and 0 <= left <= 60 - w
        assert 0.2 * 3000 * 0.8 < h * w < 0.5 * 3000 * 1.2
        assert 0.5 * 0.8 < w / h < 2.0 * 1.2
    # no try can succeed: both fall back to the same central crop
    for shape, ratio in (((3, 50, 60), (1.0, 1.0)), ((3, 20, 80), (0.5, 2.0)), ((3, 80, 20), (0.75, 1.0))):
        theirs = tv.transforms.RandomResizedCrop.get_params(torch.zeros(shape), [4.0, 5.0], list(ratio))
        assert T.RandomResizedCrop.get_params(bw.zeros(*shape), (4.0, 5.0), ratio) == tuple(theirs)


# -- colour ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,factor",
    [
        ("brightness", 0.0),
        ("brightness", 1.7),
        ("contrast", 0.4),
        ("contrast", 2.0),
        ("saturation", 0.0),
        ("saturation", 1.6),
        ("hue", -0.3),
        ("hue", 0.11),
        ("hue", 0.5),
    ],
)
def test_adjust_colour(tv, name, factor):
    ours_fn, theirs_fn = getattr(F, f"adjust_{name}"), getattr(tv.transforms.functional, f"adjust_{name}")
    for mode in ("RGB", "L"):
        image = _pil(mode)
        _same_pil(ours_fn(image, factor), theirs_fn(image, factor))
    rgb = _rgb().transpose(2, 0, 1).copy()
    for data in (
        rgb.astype(np.float32) / 255,
        rgb,
        rgb[:1].copy(),
        np.stack([rgb, rgb[::-1]]).astype(np.float32) / 255,
    ):
        ours, theirs = _pair(data)
        got, want = ours_fn(ours, factor), theirs_fn(theirs, factor)
        if data.dtype == np.uint8:
            # values are truncated to uint8 after float32 arithmetic: a float32 rounding step apart
            diff = np.abs(got.numpy().astype(int) - want.numpy().astype(int))
            assert got.dtype is bw.uint8 and diff.max() <= 1 and (diff != 0).mean() < 0.01
        else:
            _close(got, want, atol=2e-6)


def test_grayscale(tv):
    for channels in (1, 3):
        image = _pil()
        _same_pil(T.Grayscale(channels)(image), tv.transforms.Grayscale(channels)(image))
        for data in (
            _rgb().transpose(2, 0, 1).copy(),
            np.random.default_rng(11).random((2, 3, 4, 5)).astype(np.float32),
        ):
            ours, theirs = _pair(data)
            _close(T.Grayscale(channels)(ours), tv.transforms.Grayscale(channels)(theirs))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(brightness=0.4),
        dict(contrast=(0.2, 1.5), saturation=0.3),
        dict(hue=0.2),
        dict(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    ],
)
def test_color_jitter_same_as_functional(tv, kwargs):
    theirs_t = tv.transforms.ColorJitter(**kwargs)
    ours_t = T.ColorJitter(**kwargs)
    for name in ("brightness", "contrast", "saturation", "hue"):
        want = getattr(theirs_t, name)
        assert getattr(ours_t, name) == (None if want is None else tuple(want))
    image = _pil()
    data = np.random.default_rng(12).random((3, 13, 17)).astype(np.float32)
    TF = tv.transforms.functional
    adjust = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for seed in range(4):
        for img, ours_img in ((image, image), (torch.from_numpy(data), bw.tensor(data))):
            bw.manual_seed(seed)
            got = ours_t(ours_img)
            bw.manual_seed(seed)
            order, *factors = T.ColorJitter.get_params(
                ours_t.brightness, ours_t.contrast, ours_t.saturation, ours_t.hue
            )
            want = img
            for index in order:
                if factors[index] is not None:
                    want = adjust[index](want, factors[index])
            if isinstance(want, torch.Tensor):
                _close(got, want, atol=2e-6)
            else:
                _same_pil(got, want)


def test_color_jitter_params_distribution():
    bw.manual_seed(3)
    orders, values = set(), []
    for _ in range(500):
        order, b, c, s, h = T.ColorJitter.get_params((0.5, 1.5), None, (0.0, 2.0), (-0.1, 0.1))
        orders.add(tuple(order))
        assert c is None and 0.5 <= b <= 1.5 and 0.0 <= s <= 2.0 and -0.1 <= h <= 0.1
        values.append(b)
    assert len(orders) == 24 and abs(np.mean(values) - 1.0) < 0.05
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-1)


def test_compose_lambda_and_seeded_repeatability(tv):
    pipeline = T.Compose(
        [
            T.RandomResizedCrop(8),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Lambda(lambda x: x * 2),
            T.Normalize([0.5] * 3, [0.25] * 3),
        ]
    )
    image = _pil()
    bw.manual_seed(4)
    first = pipeline(image)
    bw.manual_seed(4)
    assert np.array_equal(first.numpy(), pipeline(image).numpy())
    assert first.shape == (3, 8, 8) and "RandomResizedCrop" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="PIL image or a brickwork tensor"):
        F.hflip(np.zeros((3, 3)))


def test_without_pillow_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"brickwork\[vision\]"):
        F.to_pil_image(bw.zeros(3, 2, 2))
    # arrays need no Pillow
    assert F.to_tensor(np.zeros((2, 2, 3), dtype=np.uint8)).shape == (3, 2, 2)
