"""PyTorch's legacy typed tensor classes: ``FloatTensor(2, 3)``, ``LongTensor([1, 2])``,
``isinstance(x, FloatTensor)``, ``x.type(LongTensor)`` and ``x.type() == 'torch.FloatTensor'``.

Each legacy class names a dtype on the CPU; it constructs plain :class:`Tensor` objects (there is
one tensor class, as in PyTorch), and its metaclass answers ``isinstance`` by dtype and device. A
metaclass is the one way to make ``isinstance`` look at a value's dtype rather than its class.
"""

from __future__ import annotations

from typing import Any

from brickwork import dtypes
from brickwork.tensor import Size, Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "ByteTensor", "CharTensor", "BoolTensor", "type_name", "convert_type"]


class LegacyTensorType(type):
    """The type of the legacy classes: ``isinstance(t, FloatTensor)`` is "a float32 CPU tensor"."""

    dtype: dtypes.DType

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _construct(cls: LegacyTensorType, *args: Any, device: Any = None) -> Tensor:
    """``FloatTensor(2, 3)`` (zeros), ``FloatTensor([1, 2])`` (data), ``FloatTensor()`` (empty)."""
    if len(args) == 1 and isinstance(args[0], Tensor) and args[0].dtype is not cls.dtype:
        raise TypeError(f"{cls.__name__}(): expected a {cls.dtype.name} tensor, got {args[0].dtype.name} "
                        f"(use .to({cls.dtype.name}) to convert)")
    if len(args) == 1 and isinstance(args[0], float):
        raise TypeError(f"{cls.__name__}(): data must be a sequence or sizes, got {args[0]!r}")
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    return Tensor(*args, dtype=cls.dtype, device=device)


def _legacy(name: str, dtype: dtypes.DType) -> LegacyTensorType:
    return LegacyTensorType(name, (), {
        "__new__": _construct, "dtype": dtype, "is_cuda": False,
        "__doc__": f"Legacy constructor and isinstance test for {dtype.name} CPU tensors.",
    })


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)

_BY_DTYPE = {cls.dtype: cls for cls in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                        ShortTensor, ByteTensor, CharTensor, BoolTensor)}
_BY_NAME = {cls.__name__: cls for cls in _BY_DTYPE.values()}


def type_name(t: Tensor, prefix: str = "torch") -> str:
    """``t.type()``: ``'torch.FloatTensor'``, or ``'torch.cuda.FloatTensor'`` on a GPU, as in PyTorch
    (code compares these strings); reprs of brickwork's own containers pass ``prefix='brickwork'``."""
    cls = _BY_DTYPE.get(t.dtype)
    if cls is None:
        raise TypeError(f"Tensor.type(): {t.dtype.name} has no legacy tensor type name")
    return f"{prefix}.{'cuda.' if t.device.type == 'cuda' else ''}{cls.__name__}"


def convert_type(t: Tensor, spec: Any) -> Tensor:
    """``t.type(spec)`` for a legacy class, its name (``'torch.cuda.LongTensor'``) or a dtype."""
    if isinstance(spec, LegacyTensorType):
        return t.to(device="cpu", dtype=spec.dtype)
    if isinstance(spec, str):
        parts = spec.split(".")
        if len(parts) in (2, 3) and parts[0] in ("torch", "brickwork") and parts[-1] in _BY_NAME:
            if len(parts) == 3 and parts[1] != "cuda":
                raise ValueError(f"Tensor.type(): invalid type {spec!r}")
            device = "cuda" if len(parts) == 3 else "cpu"
            return t.to(device=device, dtype=_BY_NAME[parts[-1]].dtype)
        raise ValueError(f"Tensor.type(): invalid type {spec!r} (expected e.g. 'torch.FloatTensor')")
    return t.to(dtypes.as_dtype(spec))
