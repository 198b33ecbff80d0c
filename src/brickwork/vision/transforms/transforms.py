"""The transform classes: callables over PIL images and tensors, with torchvision's names and defaults.

Random transforms draw from brickwork's default CPU generator (``bw.manual_seed`` makes them
repeatable; the streams differ from torch's). Each has a static ``get_params`` that draws the
parameters; applying the functional form with those parameters gives the same image.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from brickwork import _backend, dtypes
from brickwork.random import rng_for
from brickwork.tensor import Tensor
from brickwork.vision.transforms import functional as F
from brickwork.vision.transforms.functional import InterpolationMode

__all__ = [
    "Compose",
    "ToTensor",
    "PILToTensor",
    "ToPILImage",
    "ConvertImageDtype",
    "Normalize",
    "Lambda",
    "Resize",
    "CenterCrop",
    "Pad",
    "RandomCrop",
    "RandomResizedCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "Grayscale",
    "ColorJitter",
]


def _rng() -> np.random.Generator:
    return rng_for(_backend.CPU, None)


def _randint(low: int, high: int) -> int:
    """An integer in ``[low, high)`` from brickwork's default generator."""
    return int(_rng().integers(low, high))


def _uniform(low: float, high: float) -> float:
    return float(_rng().uniform(low, high))


def _rand() -> float:
    return float(_rng().random())


class Transform:
    """Base of the transform classes: ``t(img)`` calls ``t.forward(img)``."""

    def forward(self, img: Any) -> Any:
        """Apply the transform."""
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def __call__(self, img: Any) -> Any:
        return self.forward(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor(Transform):
    """PIL image or ``(H, W, C)`` array -> ``(C, H, W)`` tensor, uint8 scaled to float32 in [0, 1]."""

    def forward(self, pic: Any) -> Tensor:
        """Convert ``pic``."""
        return F.to_tensor(pic)


class PILToTensor(Transform):
    """PIL image -> ``(C, H, W)`` tensor of the same pixel type, unscaled."""

    def forward(self, pic: Any) -> Tensor:
        """Convert ``pic``."""
        return F.pil_to_tensor(pic)


class ToPILImage(Transform):
    """Tensor ``(C, H, W)`` or array ``(H, W, C)`` -> PIL image (``mode`` inferred when None)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def forward(self, pic: Any) -> Any:
        """Convert ``pic``."""
        return F.to_pil_image(pic, self.mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode})"


class ConvertImageDtype(Transform):
    """Convert a tensor image to ``dtype``, rescaling the values."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtypes.as_dtype(dtype)

    def forward(self, image: Tensor) -> Tensor:
        """Convert ``image``."""
        return F.convert_image_dtype(image, self.dtype)


class Normalize(Transform):
    """``(x - mean) / std`` per channel, on a float tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def forward(self, tensor: Tensor) -> Tensor:
        """Normalise ``tensor``."""
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda(Transform):
    """Wrap a function as a transform."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def forward(self, img: Any) -> Any:
        """Call the function."""
        return self.lambd(img)


def _check_size(size: Any, where: str) -> Any:
    if isinstance(size, int):
        return size
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return list(size)
    raise TypeError(f"{where}: size should be an int or a sequence of 1 or 2 ints, got {size!r}")


def _interpolation(value: Any, where: str) -> InterpolationMode:
    return F._interpolation(value, where)


class Resize(Transform):
    """Resize to ``size`` (an int sets the shorter edge, keeping the aspect ratio)."""

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: Any = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        self.size = _check_size(size, "Resize")
        self.max_size = max_size
        self.interpolation = _interpolation(interpolation, "Resize")
        self.antialias = antialias

    def forward(self, img: Any) -> Any:
        """Resize ``img``."""
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation.value}, "
            f"max_size={self.max_size}, antialias={self.antialias})"
        )


def _size_pair(size: Any, where: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{where}: please provide only two dimensions (h, w) for size, got {size!r}")


class CenterCrop(Transform):
    """The centred ``(h, w)`` crop (zero-padded when the image is smaller)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size, "CenterCrop")

    def forward(self, img: Any) -> Any:
        """Crop ``img``."""
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class Pad(Transform):
    """Pad the borders: ``padding`` as int, (lr, tb) or (l, t, r, b)."""

    def __init__(self, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant") -> None:
        F._padding_ltrb(padding, "Pad")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(
                f"Pad: padding_mode must be constant, edge, reflect or symmetric, got {padding_mode!r}"
            )
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, img: Any) -> Any:
        """Pad ``img``."""
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop(Transform):
    """A random ``(h, w)`` crop, after optional padding (``pad_if_needed`` pads a too-small image)."""

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: Any = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = _size_pair(size, "RandomCrop")
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = (
            padding,
            pad_if_needed,
            fill,
            padding_mode,
        )

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of a random crop of ``output_size``."""
        _, height, width = F.get_dimensions(img)
        crop_h, crop_w = output_size
        if height < crop_h or width < crop_w:
            raise ValueError(
                f"RandomCrop: crop size {(crop_h, crop_w)} is larger than the input image size "
                f"{(height, width)}"
            )
        if (height, width) == (crop_h, crop_w):
            return 0, 0, height, width
        return _randint(0, height - crop_h + 1), _randint(0, width - crop_w + 1), crop_h, crop_w

    def forward(self, img: Any) -> Any:
        """Crop ``img`` at a random place."""
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        top, left, h, w = self.get_params(img, self.size)
        return F.crop(img, top, left, h, w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomResizedCrop(Transform):
    """A crop of random area (fraction ``scale``) and aspect ``ratio``, resized to ``size``."""

    def __init__(
        self,
        size: int | Sequence[int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: Any = InterpolationMode.BILINEAR,
        antialias: bool | None = True,
    ) -> None:
        self.size = _size_pair(size, "RandomResizedCrop")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale {scale} and ratio {ratio} must be (min, max)")
        self.interpolation = _interpolation(interpolation, "RandomResizedCrop")
        self.antialias, self.scale, self.ratio = antialias, scale, ratio

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]) -> tuple[int, int, int, int]:
        """``(top, left, height, width)``: up to 10 random tries, else a central crop of the nearest ratio."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
        for _ in range(10):
            target_area = area * _uniform(scale[0], scale[1])
            aspect = math.exp(_uniform(log_low, log_high))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img: Any) -> Any:
        """Crop ``img`` at random and resize."""
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation, antialias=self.antialias)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
            f"interpolation={self.interpolation.value}, antialias={self.antialias})"
        )


class RandomHorizontalFlip(Transform):
    """Mirror left to right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img: Any) -> Any:
        """Maybe flip ``img``."""
        return F.hflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(Transform):
    """Mirror top to bottom with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img: Any) -> Any:
        """Maybe flip ``img``."""
        return F.vflip(img) if _rand() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class Grayscale(Transform):
    """Convert to greyscale with 1 or 3 output channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def forward(self, img: Any) -> Any:
        """Convert ``img``."""
        return F.rgb_to_grayscale(img, self.num_output_channels)


def _jitter_range(
    value: Any,
    name: str,
    center: float = 1.0,
    bound: tuple[float, float] = (0, float("inf")),
    clip_first_on_zero: bool = True,
) -> tuple[float, float] | None:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(
                f"ColorJitter: if {name} is a single number, it must be non negative, got {value}"
            )
        low, high = center - float(value), center + float(value)
        if clip_first_on_zero:
            low = max(low, 0.0)
    elif isinstance(value, Sequence) and len(value) == 2:
        low, high = float(value[0]), float(value[1])
    else:
        raise TypeError(f"ColorJitter: {name} should be a single number or a (min, max) pair, got {value!r}")
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, got {(low, high)}")
    if low == high == center:
        return None
    return low, high


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order."""

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0, hue: Any = 0) -> None:
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def get_params(
        brightness: tuple[float, float] | None,
        contrast: tuple[float, float] | None,
        saturation: tuple[float, float] | None,
        hue: tuple[float, float] | None,
    ) -> tuple[list[int], float | None, float | None, float | None, float | None]:
        """A random order of the four adjustments and a factor for each one that is enabled."""
        order = [int(i) for i in _rng().permutation(4)]
        factors = [
            None if r is None else _uniform(r[0], r[1]) for r in (brightness, contrast, saturation, hue)
        ]
        return order, factors[0], factors[1], factors[2], factors[3]

    def forward(self, img: Any) -> Any:
        """Jitter ``img``."""
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for index in order:
            if factors[index] is not None:
                img = adjust[index](img, factors[index])
        return img

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )
