"""Pillow, optional: imported on first use, with an error that names the ``brickwork[vision]`` extra."""

from __future__ import annotations

from typing import Any

_MISSING = (
    "{what} needs Pillow, which is not installed; install it with "
    "`pip install 'brickwork[vision]'` (or `pip install pillow`)"
)


def available() -> bool:
    """Whether Pillow can be imported."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def image_module(what: str) -> Any:
    """``PIL.Image``, or an ImportError saying that ``what`` needs the ``brickwork[vision]`` extra."""
    try:
        import PIL.Image
    except ImportError:
        raise ImportError(_MISSING.format(what=what)) from None
    return PIL.Image


def is_image(obj: Any) -> bool:
    """Whether ``obj`` is a PIL image (False when Pillow is not installed)."""
    try:
        import PIL.Image
    except ImportError:
        return False
    return isinstance(obj, PIL.Image.Image)
