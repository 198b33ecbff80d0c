"""Data types and PyTorch's type-promotion rules.

Promotion (what ``a + b`` returns) follows PyTorch, not NumPy:

* categories are ordered bool < integer < floating;
* two tensors of the same category give the wider of the two dtypes;
* a tensor of a higher category wins: ``float32 * bool -> float32``,
  ``int64 + float16 -> float16``;
* Python scalars and 0-dim tensors take part only through their category:
  ``float32_tensor * 2.5 -> float32``, ``int64_tensor + 2.5 -> float32``
  (the default float type), ``int32_tensor + 1 -> int32``;
* true division of integers gives the default float type (float32).

Floating data created by brickwork defaults to float32 and integer data to
int64, whatever NumPy's own defaults are. NumPy float64 arrays passed to
``tensor()`` stay float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

builtins_float, builtins_int, builtins_bool = float, int, bool


repr_prefix = "brickwork"  # drop-in mode (brickwork.torch) sets "torch", so reprs read torch.float32


class DType:
    """A tensor element type (``bw.float32``...), a thin name over a NumPy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_rank")

    def __init__(self, name: str, np_dtype: Any, rank: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._rank = rank

    @property
    def category(self) -> int:
        """0 bool, 1 integer, 2 floating."""
        return 0 if self.np.kind == "b" else (2 if self.is_floating_point else 1)

    def __repr__(self) -> str:
        return f"{repr_prefix}.{self.name}"

    def __reduce__(self):
        return (get_dtype, (self.name,))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)


bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 2)
int16 = DType("int16", np.int16, 3)
int32 = DType("int32", np.int32, 4)
int64 = DType("int64", np.int64, 5)
float16 = DType("float16", np.float16, 6)
float32 = DType("float32", np.float32, 7)
float64 = DType("float64", np.float64, 8)

half = float16
float_ = float32  # exported as brickwork.float
double = float64
short = int16
int_ = int32  # exported as brickwork.int
long = int64

_ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP: dict[np.dtype, DType] = {d.np: d for d in _ALL}
_BY_NAME: dict[str, DType] = {d.name: d for d in _ALL}
_BY_NAME.update(
    {"half": float16, "float": float32, "double": float64, "short": int16, "int": int32, "long": int64}
)

DEFAULT_FLOAT = float32  # set_default_dtype (runtime.py) rebinds it; read it at call time
DEFAULT_INT = int64


def get_dtype(name: str) -> DType:
    """The dtype named ``name`` (``'float32'``, ``'int64'``...) or by an alias (``'float'``, ``'long'``).

    >>> from brickwork import dtypes
    >>> dtypes.get_dtype("long")
    brickwork.int64
    """
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype: Any) -> DType:
    """The brickwork dtype of a NumPy dtype; unsupported ones raise TypeError."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"unsupported element type {np_dtype!r}; brickwork supports "
            + ", ".join(d.name for d in _ALL)
        ) from None


def as_dtype(spec: Any) -> DType:
    """Accept a DType, a NumPy dtype or type, a Python type or a dtype name."""
    if isinstance(spec, DType):
        return spec
    if spec is builtins_float:
        return DEFAULT_FLOAT
    if spec is builtins_int:
        return int64
    if spec is builtins_bool:
        return bool_
    if isinstance(spec, str) and spec in _BY_NAME:
        return _BY_NAME[spec]
    return from_numpy_dtype(spec)


def promote_types(a: DType, b: DType) -> DType:
    """Promotion of two tensors of equal standing (PyTorch's ``promote_types``).

    >>> import brickwork as bw
    >>> bw.promote_types(bw.int32, bw.float16)
    brickwork.float16
    >>> bw.promote_types(bw.uint8, bw.int8)
    brickwork.int16
    """
    return _promote_types(as_dtype(a), as_dtype(b))


def _promote_types(a: DType, b: DType) -> DType:
    if a is b:
        return a
    key = (a, b)
    hit = _PROMOTE_CACHE.get(key)
    if hit is None:
        if a.category != b.category:
            hit = a if a.category > b.category else b
        elif a is uint8 or b is uint8:
            # uint8 with a signed int: the smallest signed type holding both
            other = b if a is uint8 else a
            hit = int16 if other is int8 else other
        else:
            hit = a if a._rank > b._rank else b
        _PROMOTE_CACHE[key] = hit
    return hit


_PROMOTE_CACHE: dict[tuple[DType, DType], DType] = {}


def scalar_category(value: Any) -> int:
    """0 bool, 1 int, 2 float for a Python/NumPy scalar."""
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (builtins_int, np.integer)):
        return 1
    if isinstance(value, (builtins_float, np.floating)):
        return 2
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type_with_scalar(t: DType, value: Any) -> DType:
    """dtype of ``tensor op scalar``: the scalar only lifts the category."""
    cat = scalar_category(value)
    if cat <= t.category:
        return t
    return DEFAULT_FLOAT if cat == 2 else int64


def result_type(a: DType, a_dim0: bool, b: DType, b_dim0: bool) -> DType:
    """dtype of ``a op b`` where 0-dim tensors behave like scalars of their dtype."""
    if a is b:
        return a
    if a_dim0 == b_dim0:
        return _promote_types(a, b)
    # exactly one operand is 0-dim: it only matters if its category is higher
    dim0, full = (a, b) if a_dim0 else (b, a)
    if dim0.category > full.category:
        return dim0
    return full
