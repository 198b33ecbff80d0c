"""dtypes and PyTorch's type promotion, checked pair by pair against torch itself."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import brickwork as bw

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _pair(name, ndim):
    shape = () if ndim == 0 else (2,)
    np_dtype = np.bool_ if name == "bool" else getattr(np, name)
    arr = np.ones(shape, dtype=np_dtype)
    return bw.tensor(arr), torch.tensor(arr)


def _name(dtype):
    return str(dtype).split(".")[-1]


OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: (bw.maximum if isinstance(a, bw.Tensor) else torch.maximum)(a, b),
    "eq": lambda a, b: a == b,
}


@pytest.mark.parametrize("ndims", [(1, 1), (1, 0), (0, 1), (0, 0)], ids=str)
@pytest.mark.parametrize("op", list(OPS))
def test_tensor_tensor_promotion_matches_torch(op, ndims):
    fn = OPS[op]
    mismatches = []
    for da, db in itertools.product(DTYPES, DTYPES):
        ba, ta = _pair(da, ndims[0])
        bb, tb = _pair(db, ndims[1])
        want = fn(ta, tb)
        got = fn(ba, bb)
        if _name(got.dtype) != _name(want.dtype):
            mismatches.append(f"{da}[{ndims[0]}d] {op} {db}[{ndims[1]}d]: {got.dtype} vs torch {want.dtype}")
        elif got.tolist() != want.tolist():
            mismatches.append(f"{da} {op} {db}: values {got.tolist()} vs torch {want.tolist()}")
    assert not mismatches, "\n".join(mismatches)


# (PyTorch treats np.bool_ as a float scalar, a quirk brickwork does not copy: np.bool_ acts as bool)
SCALARS = [True, 2, 2.5, np.float64(2.5), np.float32(2.5), np.int64(3), np.int32(3)]


@pytest.mark.parametrize("op", ["add", "mul", "div", "eq"])
@pytest.mark.parametrize("ndim", [0, 1])
def test_tensor_scalar_promotion_matches_torch(op, ndim):
    fn = OPS[op]
    mismatches = []
    for name, scalar in itertools.product(DTYPES, SCALARS):
        b, t = _pair(name, ndim)
        for order in ("tensor first", "scalar first"):
            if order == "tensor first":
                args_b, args_t = (b, scalar), (t, scalar)
            else:
                args_b, args_t = (scalar, b), (scalar, t)
            want = fn(*args_t)
            got = fn(*args_b)
            if _name(got.dtype) != _name(want.dtype):
                mismatches.append(f"{name} {op} {scalar!r} ({order}): {got.dtype} vs {want.dtype}")
    assert not mismatches, "\n".join(mismatches)


def test_no_silent_float64():
    x = bw.ones(3)
    for y in (x * 2.5, x + 1e300 * 0, 0.5 - x, x / 3, x**2.0, x * np.float64(2.0), x + bw.tensor(2.0),
              bw.where(x > 0, x, 0.0), x.clamp(0.0, 1.0)):
        assert y.dtype == bw.float32


def test_documented_rules():
    i = bw.tensor([1, 2])
    assert (i + 2.5).dtype == bw.float32  # int tensor + float scalar -> default float
    assert (i / i).dtype == bw.float32  # true division of integers
    assert (i // i).dtype == bw.int64
    assert (bw.ones(2) * (i > 1)).dtype == bw.float32  # float x bool -> float
    assert (i.int() + 1).dtype == bw.int32  # int scalar keeps int32
    assert (bw.ones(2, dtype=bw.float16) + bw.tensor(1.0, dtype=bw.float64)).dtype == bw.float16
    assert (i + bw.tensor(1.5, dtype=bw.float64)).dtype == bw.float64  # 0-d of a higher category wins
    assert bw.promote_types(bw.int32, bw.float16) == bw.float16
    assert bw.result_type(i, 2.5) == bw.float32


def test_dtype_objects_and_aliases():
    assert bw.float is bw.float32 and bw.double is bw.float64 and bw.half is bw.float16
    assert bw.long is bw.int64 and bw.int is bw.int32 and bw.short is bw.int16
    assert repr(bw.float32) == "brickwork.float32" and str(bw.int64) == "brickwork.int64"
    assert bw.float32.is_floating_point and not bw.int64.is_floating_point
    assert bw.float32.itemsize == 4
    assert bw.float32 == "float32" and bw.float32 == np.float32 and bw.float32 != bw.float64
    assert bw.float32 != "not a dtype"
    for spec, want in [(float, bw.float32), (int, bw.int64), (bool, bw.bool), ("double", bw.float64),
                       (np.dtype("int32"), bw.int32), (np.float16, bw.float16)]:
        assert bw.zeros(1, dtype=spec).dtype is want
    with pytest.raises(TypeError, match="unsupported element type"):
        bw.zeros(1, dtype=np.complex64)
    assert bw.get_default_dtype() is bw.float32


@pytest.mark.parametrize("spec", ["float16", "float32", "float64", "int32", "int64", "bool", "uint8"])
def test_dtype_usable_everywhere(spec):
    dt = getattr(bw, spec)
    for t in (bw.zeros(2, dtype=dt), bw.ones(2, dtype=dt), bw.full((2,), 1, dtype=dt), bw.empty(2, dtype=dt),
              bw.tensor([1, 0], dtype=dt), bw.arange(2, dtype=dt), bw.eye(2, dtype=dt),
              bw.zeros_like(bw.ones(2), dtype=dt), bw.ones(2).to(dt), bw.ones(2).to(dtype=dt),
              bw.ones(2).type(dt)):
        assert t.dtype is dt


def test_conversion_methods():
    x = bw.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.long().dtype is bw.int64
    assert x.int().dtype is bw.int32 and x.double().dtype is bw.float64 and x.half().dtype is bw.float16
    assert x.bool().tolist() == [True, True] and x.float() is x
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"  # as torch prints them
    assert x.type_as(bw.tensor([1])).dtype is bw.int64


def test_casting_keeps_gradient_for_floats():
    x = bw.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype is bw.float64
    y.sum().backward()
    assert x.grad.dtype is bw.float32 and x.grad.tolist() == [3.0, 3.0]
    assert not x.long().requires_grad


def test_casts_against_torch(device):
    from oracle import check_op

    a = np.random.default_rng(0).standard_normal((2, 3))
    check_op(lambda x: x.double() * x, lambda x: x.double() * x, [a], device)
    check_op(lambda x: x.float() * 3, lambda x: x.float() * 3, [a], device, gradcheck=False)
    check_op(lambda x: x.half().float(), lambda x: x.half().float(), [a], device, gradcheck=False, rtol=1e-3,
             atol=1e-3)
    check_op(lambda x: x.to(x.dtype) + 1, lambda x: x.to(x.dtype) + 1, [a], device)
