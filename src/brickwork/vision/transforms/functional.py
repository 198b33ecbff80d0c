"""The functional forms of the transforms, on PIL images and on brickwork tensors ``(..., C, H, W)``.

Same arguments and numbers as ``torchvision.transforms.functional``: a PIL image goes through
Pillow (so resizing, colour enhancement and padding are Pillow's own), a tensor through array
code written against its device's ``xp``. Tensor results are new tensors without autograd
history (the transforms are data preparation, not part of a model).
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from brickwork import dtypes
from brickwork.autograd import _wrap
from brickwork.tensor import Tensor
from brickwork.vision import _pil
from brickwork.vision.transforms._interpolate import resize_array

__all__ = [
    "InterpolationMode",
    "get_dimensions",
    "get_image_size",
    "get_image_num_channels",
    "to_tensor",
    "pil_to_tensor",
    "to_pil_image",
    "convert_image_dtype",
    "normalize",
    "resize",
    "pad",
    "crop",
    "center_crop",
    "resized_crop",
    "hflip",
    "vflip",
    "rgb_to_grayscale",
    "to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
]


class InterpolationMode(Enum):
    """Resampling filters; tensors support the first four, PIL images all of them."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer filter constants, both ways
_FROM_PIL = {
    0: InterpolationMode.NEAREST,
    2: InterpolationMode.BILINEAR,
    3: InterpolationMode.BICUBIC,
    4: InterpolationMode.BOX,
    5: InterpolationMode.HAMMING,
    1: InterpolationMode.LANCZOS,
}
_TO_PIL = {
    InterpolationMode.NEAREST: 0,
    InterpolationMode.NEAREST_EXACT: 0,
    InterpolationMode.BILINEAR: 2,
    InterpolationMode.BICUBIC: 3,
    InterpolationMode.BOX: 4,
    InterpolationMode.HAMMING: 5,
    InterpolationMode.LANCZOS: 1,
}


def _interpolation(value: Any, where: str) -> InterpolationMode:
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, int) and value in _FROM_PIL:
        return _FROM_PIL[value]
    raise TypeError(
        f"{where}: interpolation must be an InterpolationMode or a Pillow filter constant, got {value!r}"
    )


# -- what kind of image ---------------------------------------------------------------------------------
def _kind(img: Any, where: str) -> str:
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise TypeError(
                f"{where}: a tensor image needs at least 2 dimensions (..., H, W), got shape "
                f"{tuple(img.shape)}"
            )
        return "tensor"
    if _pil.is_image(img):
        return "pil"
    hint = "; convert NumPy arrays with ToTensor() first" if isinstance(img, np.ndarray) else ""
    if isinstance(img, np.ndarray) and not _pil.available():
        hint += (" (datasets return NumPy arrays because Pillow is not installed: "
                 "`pip install 'brickwork[vision]'`)")
    raise TypeError(f"{where}: expected a PIL image or a brickwork tensor, got {type(img).__name__}{hint}")


def _new(img: Tensor, arr: Any) -> Tensor:
    return _wrap(arr, img.device)


def _xp(img: Tensor) -> Any:
    return img.device.xp


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` of a PIL image or tensor."""
    if _kind(img, "get_dimensions") == "tensor":
        shape = tuple(img.shape)
        channels = 1 if len(shape) == 2 else shape[-3]
        return [channels, shape[-2], shape[-1]]
    return [len(img.getbands()), img.height, img.width]


def get_image_size(img: Any) -> list[int]:
    """``[width, height]`` of a PIL image or tensor."""
    _, height, width = get_dimensions(img)
    return [width, height]


def get_image_num_channels(img: Any) -> int:
    """The number of channels of a PIL image or tensor."""
    return get_dimensions(img)[0]


# -- conversions -----------------------------------------------------------------------------------------
_PIL_NUMPY_TYPES = {
    "I": np.int32,
    "I;16" if sys.byteorder == "little" else "I;16B": np.int16,
    "F": np.float32,
}


def to_tensor(pic: Any) -> Tensor:
    """A PIL image or ``(H, W[, C])`` NumPy array as a ``(C, H, W)`` tensor; uint8 becomes float32 / 255."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: expected a (H, W) or (H, W, C) array, got shape {pic.shape}")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1))
    elif _pil.is_image(pic):
        arr = np.array(pic, dtype=_PIL_NUMPY_TYPES.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = arr * np.uint8(255)
        arr = np.ascontiguousarray(arr.reshape(pic.height, pic.width, len(pic.getbands())).transpose(2, 0, 1))
    else:
        raise TypeError(f"to_tensor: expected a PIL image or a NumPy array, got {type(pic).__name__}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / np.float32(255)
    elif arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    from brickwork import _backend

    return _wrap(arr, _backend.CPU)


def pil_to_tensor(pic: Any) -> Tensor:
    """A PIL image as a ``(C, H, W)`` tensor of its own pixel type (no scaling)."""
    if not _pil.is_image(pic):
        raise TypeError(f"pil_to_tensor: expected a PIL image, got {type(pic).__name__}")
    arr = np.array(pic, copy=True)
    arr = np.ascontiguousarray(arr.reshape(pic.height, pic.width, len(pic.getbands())).transpose(2, 0, 1))
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    from brickwork import _backend

    return _wrap(arr, _backend.CPU)


_ONE_CHANNEL_MODES = {
    np.dtype(np.uint8): "L",
    np.dtype(np.int16): "I;16",
    np.dtype(np.int32): "I",
    np.dtype(np.float32): "F",
}
_MODES_BY_CHANNELS = {2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """A ``(C, H, W)`` tensor or ``(H, W, C)`` array as a PIL image; floats are scaled by 255, truncated."""
    image = _pil.image_module("to_pil_image")
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(
                f"to_pil_image: expected a (C, H, W) or (H, W) tensor, got shape {tuple(pic.shape)}"
            )
        arr = pic.numpy(force=True)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape[0] > 4:
            raise ValueError(
                f"to_pil_image: expected at most 4 channels, got {arr.shape[0]} (shape {arr.shape})"
            )
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * arr.dtype.type(255)).astype(np.uint8)
        arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: expected a (H, W) or (H, W, C) array, got shape {pic.shape}")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        if arr.shape[-1] > 4:
            raise ValueError(
                f"to_pil_image: expected at most 4 channels, got {arr.shape[-1]} (shape {arr.shape})"
            )
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)
    else:
        raise TypeError(f"to_pil_image: expected a tensor or a NumPy array, got {type(pic).__name__}")
    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        expected = _ONE_CHANNEL_MODES.get(arr.dtype)
        if mode is not None and expected is not None and mode != expected and not (mode == "L" and expected):
            raise ValueError(f"to_pil_image: {arr.dtype} data makes a {expected!r} image, not {mode!r}")
        if mode is None:
            mode = expected
        if mode == "L" and arr.dtype != np.uint8:
            arr = arr.astype(np.uint8)
    else:
        allowed = _MODES_BY_CHANNELS[channels]
        if mode is not None and mode not in allowed:
            raise ValueError(
                f"to_pil_image: {channels}-channel data can make a {' / '.join(allowed)} image, not {mode!r}"
            )
        if arr.dtype != np.uint8:
            raise TypeError(f"to_pil_image: {channels}-channel images must be uint8, got {arr.dtype}")
        mode = mode or allowed[0]
    if mode is None:
        raise TypeError(f"to_pil_image: pixel type {arr.dtype} is not supported")
    raw = {"I;16": "<u2", "I": "=i4", "F": "=f4"}.get(mode)
    data = np.ascontiguousarray(arr.astype(raw) if raw else arr)
    return image.frombytes(mode, (arr.shape[1], arr.shape[0]), data.tobytes())


_MAX_VALUE = {
    np.dtype(np.uint8): 255,
    np.dtype(np.int8): 127,
    np.dtype(np.int16): 32767,
    np.dtype(np.int32): 2**31 - 1,
    np.dtype(np.int64): 2**63 - 1,
    np.dtype(np.bool_): 1,
}


def _max_value(dtype: Any) -> float:
    return float(_MAX_VALUE.get(np.dtype(dtype), 1.0))


def convert_image_dtype(image: Tensor, dtype: Any = dtypes.float32) -> Tensor:
    """Convert a tensor image to ``dtype``, rescaling between [0, max-of-int] and [0, 1]."""
    if not isinstance(image, Tensor):
        raise TypeError(f"convert_image_dtype: expected a tensor, got {type(image).__name__}")
    target = np.dtype(dtypes.as_dtype(dtype).np)
    arr = image._data
    source = arr.dtype
    if source == target:
        return image
    src_float, dst_float = np.issubdtype(source, np.floating), np.issubdtype(target, np.floating)
    if src_float and dst_float:
        return _new(image, arr.astype(target))
    if src_float:
        if (source == np.float32 and target in (np.int32, np.int64)) or (
            source == np.float64 and target == np.int64
        ):
            raise RuntimeError(f"convert_image_dtype: {source} -> {target} cannot be done safely")
        return _new(image, (arr * source.type(_max_value(target) + 1.0 - 1e-3)).astype(target))
    if dst_float:
        return _new(image, arr.astype(target) / target.type(_max_value(source)))
    in_max, out_max = int(_max_value(source)), int(_max_value(target))
    if in_max > out_max:
        factor = (in_max + 1) // (out_max + 1)
        return _new(image, (arr // factor).astype(target))
    factor = (out_max + 1) // (in_max + 1)
    return _new(image, arr.astype(target) * target.type(factor))


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: expected a tensor, got {type(tensor).__name__}")
    arr = tensor._data
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"normalize: expected a float tensor, got {tensor.dtype}; use ToTensor() or "
            "ConvertImageDtype first"
        )
    if arr.ndim < 3:
        raise ValueError(f"normalize: expected a (..., C, H, W) tensor, got shape {tuple(tensor.shape)}")
    xp = _xp(tensor)
    mean_arr = xp.asarray(np.asarray(mean, dtype=arr.dtype).reshape(-1, 1, 1))
    std_arr = xp.asarray(np.asarray(std, dtype=arr.dtype).reshape(-1, 1, 1))
    if bool((std_arr == 0).any()):
        raise ValueError(f"normalize: std {list(std)} has a zero, which would divide by zero")
    out = (arr - mean_arr) / std_arr
    if inplace:
        tensor._data[...] = out
        tensor._version[0] += 1
        return tensor
    return _new(tensor, out)


# -- geometry --------------------------------------------------------------------------------------------
def _output_size(height: int, width: int, size: Sequence[int], max_size: int | None) -> tuple[int, int]:
    if len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = int(size[0]), int(size[0] * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(
                f"resize: max_size = {max_size} must be strictly greater than the requested size "
                f"for the smaller edge size = {list(size)}"
            )
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if width <= height else (new_short, new_long)


def resize(
    img: Any,
    size: int | Sequence[int],
    interpolation: Any = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Any:
    """Resize to ``(h, w)``, or with an int (or 1-sequence) so that the shorter edge becomes ``size``."""
    mode = _interpolation(interpolation, "resize")
    if isinstance(size, int):
        size = [size]
    elif isinstance(size, Sequence):
        size = list(size)
        if len(size) not in (1, 2):
            raise ValueError(f"resize: size must be an int or a 1 or 2 element sequence, got {size}")
        if max_size is not None and len(size) != 1:
            raise ValueError(
                f"resize: max_size is only allowed when size is an int (the smaller edge), got size={size}"
            )
    else:
        raise TypeError(f"resize: size must be an int or a sequence, got {type(size).__name__}")
    _, height, width = get_dimensions(img)
    out_h, out_w = _output_size(height, width, size, max_size)
    if (out_h, out_w) == (height, width):
        return img
    if _kind(img, "resize") == "pil":
        return img.resize((out_w, out_h), _TO_PIL[mode])
    if mode not in (
        InterpolationMode.NEAREST,
        InterpolationMode.NEAREST_EXACT,
        InterpolationMode.BILINEAR,
        InterpolationMode.BICUBIC,
    ):
        raise ValueError(f"resize: {mode} is not supported on tensors (only on PIL images)")
    arr = img._data
    out = resize_array(
        _xp(img), arr if arr.ndim > 2 else arr[None], (out_h, out_w), mode.value, bool(antialias)
    )
    return _new(img, out if arr.ndim > 2 else out[0])


def _padding_ltrb(padding: Any, where: str) -> list[int]:
    if isinstance(padding, numbers.Integral):
        return [int(padding)] * 4
    if isinstance(padding, Sequence) and len(padding) in (1, 2, 4):
        values = [int(p) for p in padding]
        if len(values) == 1:
            return values * 4
        if len(values) == 2:
            return [values[0], values[1], values[0], values[1]]
        return values
    raise ValueError(f"{where}: padding must be an int or a 1, 2 or 4 element sequence, got {padding!r}")


def _fill_values(fill: Any, channels: int, where: str) -> list[float]:
    if fill is None:
        fill = 0
    if isinstance(fill, numbers.Number):
        return [float(fill)] * channels
    values = [float(v) for v in fill]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(f"{where}: fill has {len(values)} values for an image of {channels} channels")
    return values


def _pad_array(xp: Any, arr: Any, ltrb: list[int], mode: str, fill: Any, hwc: bool) -> Any:
    """Pad (or, where negative, crop) the image axes: ``(H, W[, C])`` if ``hwc``, else ``(..., H, W)``."""
    h_axis = 0 if hwc else arr.ndim - 2
    height, width = arr.shape[h_axis], arr.shape[h_axis + 1]
    left, top, right, bottom = ltrb
    index = [slice(None)] * arr.ndim
    index[h_axis] = slice(max(-top, 0), height - max(-bottom, 0))
    index[h_axis + 1] = slice(max(-left, 0), width - max(-right, 0))
    arr = arr[tuple(index)]
    left, top, right, bottom = (max(v, 0) for v in ltrb)
    widths = [(0, 0)] * arr.ndim
    widths[h_axis], widths[h_axis + 1] = (top, bottom), (left, right)
    if mode != "constant":
        return xp.pad(arr, widths, mode=mode)
    out = xp.pad(arr, widths, mode="constant")
    fill_arr = np.asarray(fill, dtype=np.float64)
    if fill_arr.any():
        border = xp.ones(out.shape[h_axis : h_axis + 2], dtype=bool)
        border[top : top + arr.shape[h_axis], left : left + arr.shape[h_axis + 1]] = False
        value = xp.asarray(fill_arr.astype(arr.dtype))
        if hwc:
            out[border] = value
        else:
            out[..., border] = value
    return out


def _pil_like(image: Any, arr: np.ndarray, mode: str) -> Any:
    """A PIL image of ``mode`` from the ``(H, W[, C])`` array that ``numpy.asarray`` made of one."""
    if mode == "1":
        return image.fromarray(np.ascontiguousarray(arr))
    return image.frombytes(mode, (arr.shape[1], arr.shape[0]), np.ascontiguousarray(arr).tobytes())


def pad(img: Any, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders (left, top, right, bottom); negative padding crops. Modes as ``numpy.pad``."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(
            f"pad: padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}"
        )
    ltrb = _padding_ltrb(padding, "pad")
    if _kind(img, "pad") == "pil":
        image = _pil.image_module("pad")
        arr = np.asarray(img)
        fill_value: Any = 0.0
        if padding_mode == "constant" and fill is not None:
            fill_value = (
                fill if isinstance(fill, numbers.Number) else _fill_values(fill, len(img.getbands()), "pad")
            )
            if arr.ndim == 3 and isinstance(fill_value, numbers.Number):
                fill_value = [float(fill_value)] * arr.shape[2]
        result = _pil_like(image, _pad_array(np, arr, ltrb, padding_mode, fill_value, hwc=True), img.mode)
        if img.mode == "P":
            result.putpalette(img.getpalette())
        return result
    if fill is not None and not isinstance(fill, numbers.Number):
        raise TypeError(f"pad: on tensors fill must be a number, got {type(fill).__name__}")
    arr = img._data
    if padding_mode != "constant" and not np.issubdtype(arr.dtype, np.floating):
        # torchvision pads integer images in float32 in these modes; the values are the same
        out = _pad_array(_xp(img), arr.astype(np.float32), ltrb, padding_mode, 0.0, hwc=False).astype(
            arr.dtype
        )
    else:
        out = _pad_array(_xp(img), arr, ltrb, padding_mode, float(fill or 0), hwc=False)
    return _new(img, out)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height x width`` window at ``(top, left)``; parts outside the image are zeros."""
    if _kind(img, "crop") == "pil":
        return img.crop((left, top, left + width, top + height))
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        ltrb = [
            max(-left + min(0, right), 0),
            max(-top + min(0, bottom), 0),
            max(right - max(w, left), 0),
            max(bottom - max(h, top), 0),
        ]
        inside = _new(img, img._data[..., max(top, 0) : bottom, max(left, 0) : right])
        return pad(inside, ltrb, fill=0)
    return _new(img, img._data[..., top:bottom, left:right])


def _pair(size: Any, where: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{where}: size must be an int or a 1 or 2 element sequence (h, w), got {size!r}")


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """The centred ``(h, w)`` crop; an image smaller than that is zero-padded around first."""
    crop_h, crop_w = _pair(output_size, "center_crop")
    _, height, width = get_dimensions(img)
    if crop_w > width or crop_h > height:
        ltrb = [
            (crop_w - width) // 2 if crop_w > width else 0,
            (crop_h - height) // 2 if crop_h > height else 0,
            (crop_w - width + 1) // 2 if crop_w > width else 0,
            (crop_h - height + 1) // 2 if crop_h > height else 0,
        ]
        img = pad(img, ltrb, fill=0)
        _, height, width = get_dimensions(img)
        if (crop_h, crop_w) == (height, width):
            return img
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def resized_crop(
    img: Any,
    top: int,
    left: int,
    height: int,
    width: int,
    size: int | Sequence[int],
    interpolation: Any = InterpolationMode.BILINEAR,
    antialias: bool | None = True,
) -> Any:
    """``crop`` then ``resize``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img: Any) -> Any:
    """Mirror left to right."""
    if _kind(img, "hflip") == "pil":
        return img.transpose(_pil.image_module("hflip").Transpose.FLIP_LEFT_RIGHT)
    return _new(img, img._data[..., ::-1].copy())


def vflip(img: Any) -> Any:
    """Mirror top to bottom."""
    if _kind(img, "vflip") == "pil":
        return img.transpose(_pil.image_module("vflip").Transpose.FLIP_TOP_BOTTOM)
    return _new(img, img._data[..., ::-1, :].copy())


# -- colour ----------------------------------------------------------------------------------------------
def _channels(img: Tensor, allowed: tuple[int, ...], where: str) -> int:
    channels = get_dimensions(img)[0]
    if img.ndim < 3 or channels not in allowed:
        raise TypeError(
            f"{where}: expected a (..., C, H, W) tensor with C in {allowed}, got shape {tuple(img.shape)}"
        )
    return channels


def _gray_array(xp: Any, arr: Any) -> Any:
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    work = np.float32 if not np.issubdtype(arr.dtype, np.floating) else arr.dtype.type
    gray = work(0.2989) * r + work(0.587) * g + work(0.114) * b
    return gray.astype(arr.dtype)[..., None, :, :]


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Luma ``0.2989 R + 0.587 G + 0.114 B``, as 1 or 3 identical channels."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
    if _kind(img, "rgb_to_grayscale") == "pil":
        image = _pil.image_module("rgb_to_grayscale")
        gray = img.convert("L")
        return image.merge("RGB", [gray, gray, gray]) if num_output_channels == 3 else gray
    channels = _channels(img, (1, 3), "rgb_to_grayscale")
    xp = _xp(img)
    arr = img._data
    gray = _gray_array(xp, arr) if channels == 3 else arr.copy()
    if num_output_channels == 3:
        gray = xp.concatenate([gray] * 3, axis=-3)
    return _new(img, gray)


to_grayscale = rgb_to_grayscale


def _blend(xp: Any, arr: Any, other: Any, ratio: float) -> Any:
    work = arr.dtype.type if np.issubdtype(arr.dtype, np.floating) else np.float32
    out = work(ratio) * arr + work(1.0 - ratio) * other
    return xp.clip(out, 0, _max_value(arr.dtype)).astype(arr.dtype)


def _enhance(img: Any, factor: float, kind: str) -> Any:
    from PIL import ImageEnhance

    return getattr(ImageEnhance, kind)(img).enhance(factor)


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """Multiply by ``brightness_factor`` (0 gives black), clamped to the valid range."""
    if brightness_factor < 0:
        raise ValueError(f"adjust_brightness: brightness_factor ({brightness_factor}) is negative")
    if _kind(img, "adjust_brightness") == "pil":
        return _enhance(img, brightness_factor, "Brightness")
    _channels(img, (1, 3), "adjust_brightness")
    xp = _xp(img)
    return _new(img, _blend(xp, img._data, xp.zeros_like(img._data), brightness_factor))


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """Blend with the mean grey level (0 gives a flat grey image)."""
    if contrast_factor < 0:
        raise ValueError(f"adjust_contrast: contrast_factor ({contrast_factor}) is negative")
    if _kind(img, "adjust_contrast") == "pil":
        return _enhance(img, contrast_factor, "Contrast")
    channels = _channels(img, (1, 3), "adjust_contrast")
    xp, arr = _xp(img), img._data
    work = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float32)
    gray = _gray_array(xp, arr) if channels == 3 else arr
    mean = gray.astype(work).mean(axis=(-3, -2, -1), keepdims=True)
    return _new(img, _blend(xp, arr, mean, contrast_factor))


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """Blend with the greyscale image (0 gives grey, 2 doubles the saturation)."""
    if saturation_factor < 0:
        raise ValueError(f"adjust_saturation: saturation_factor ({saturation_factor}) is negative")
    if _kind(img, "adjust_saturation") == "pil":
        return _enhance(img, saturation_factor, "Color")
    channels = _channels(img, (1, 3), "adjust_saturation")
    if channels == 1:
        return img
    xp, arr = _xp(img), img._data
    return _new(img, _blend(xp, arr, _gray_array(xp, arr), saturation_factor))


def _rgb_to_hsv(xp: Any, arr: Any) -> Any:
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    maxc, minc = arr.max(axis=-3), arr.min(axis=-3)
    equal = maxc == minc
    chroma = maxc - minc
    one = xp.ones_like(maxc)
    s = chroma / xp.where(equal, one, maxc)
    divisor = xp.where(equal, one, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    dt = arr.dtype.type
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (dt(2.0) + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (dt(4.0) + gc - rc)
    h = xp.fmod((hr + hg + hb) / dt(6.0) + dt(1.0), dt(1.0))
    return h, s, maxc


def _hsv_to_rgb(xp: Any, h: Any, s: Any, v: Any) -> Any:
    dt = h.dtype.type
    sector = xp.floor(h * dt(6.0))
    f = h * dt(6.0) - sector
    sector = sector.astype(np.int32) % 6
    p = xp.clip(v * (dt(1.0) - s), 0.0, 1.0)
    q = xp.clip(v * (dt(1.0) - s * f), 0.0, 1.0)
    t = xp.clip(v * (dt(1.0) - s * (dt(1.0) - f)), 0.0, 1.0)
    table = ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))
    channels = []
    for row in table:
        channel = xp.zeros_like(v)
        for k, value in enumerate(row):
            channel = xp.where(sector == k, value, channel)
        channels.append(channel)
    return xp.stack(channels, axis=-3)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Rotate the hue by ``hue_factor`` turns (in [-0.5, 0.5]) in HSV space."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    if _kind(img, "adjust_hue") == "pil":
        image = _pil.image_module("adjust_hue")
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        hue = np.array(h, dtype=np.uint8)
        hue += np.int32(hue_factor * 255).astype(np.uint8)  # wraps around, as the hue circle does
        return image.merge("HSV", (image.fromarray(hue), s, v)).convert(img.mode)
    channels = _channels(img, (1, 3), "adjust_hue")
    if channels == 1:
        return img
    xp = _xp(img)
    as_float = convert_image_dtype(img, dtypes.float32)._data
    h, s, v = _rgb_to_hsv(xp, as_float)
    h = (h + np.float32(hue_factor)) % np.float32(1.0)
    rgb = _new(img, _hsv_to_rgb(xp, h, s, v).astype(np.float32))
    return convert_image_dtype(rgb, dtypes.from_numpy_dtype(img._data.dtype))
