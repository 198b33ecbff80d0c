"""Runtime settings (brickwork/runtime.py, set_printoptions, testing.assert_close) against torch."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

import brickwork as bw
from brickwork import _format
from brickwork.testing import assert_close

DTYPES = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64", "bool"]


@pytest.fixture
def restore_default_dtype():
    yield
    bw.set_default_dtype(bw.float32)


@pytest.mark.parametrize("name", DTYPES)
def test_finfo_matches_torch(name):
    ours, theirs = bw.finfo(getattr(bw, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.dtype == getattr(bw, name)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    if name == "bool":
        with pytest.raises(TypeError):
            torch.iinfo(torch.bool)
        return
    ours, theirs = bw.iinfo(getattr(bw, name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)


def test_finfo_iinfo_reject_the_wrong_kind():
    with pytest.raises(TypeError, match="iinfo"):
        bw.finfo(bw.int32)
    with pytest.raises(TypeError, match="finfo"):
        bw.iinfo(bw.float32)
    assert bw.finfo().dtype == bw.get_default_dtype()


def test_set_default_dtype_changes_new_floating_tensors_and_parameters(restore_default_dtype):
    cases = {
        "tensor": lambda m: m.tensor([1.5]), "zeros": lambda m: m.zeros(2), "rand": lambda m: m.rand(2),
        "full": lambda m: m.full((2,), 1.5), "int + float": lambda m: m.arange(3) + 0.5,
        "arange int": lambda m: m.arange(3), "linear": lambda m: m.nn.Linear(2, 3).weight,
        "tensor(int)": lambda m: m.tensor([1]),
    }
    before = torch.get_default_dtype()
    try:
        for name in ("float64", "float32"):
            bw.set_default_dtype(getattr(bw, name))
            torch.set_default_dtype(getattr(torch, name))
            assert bw.get_default_dtype().name == str(torch.get_default_dtype()).split(".")[1]
            for case, make in cases.items():
                assert make(bw).dtype.name == str(make(torch).dtype).split(".")[1], (name, case)
        assert bw.nn.LazyLinear(3).weight.dtype == bw.float32
    finally:
        torch.set_default_dtype(before)
    with pytest.raises(TypeError, match="floating-point"):
        bw.set_default_dtype(bw.int64)
    assert bw.get_default_dtype() == bw.float32


def test_num_threads_round_trip():
    before = bw.get_num_threads()
    assert before >= 1
    try:
        bw.set_num_threads(1)
        assert bw.get_num_threads() == 1
        threadpoolctl = pytest.importorskip("threadpoolctl")
        blas = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert all(n == 1 for n in blas)
    finally:
        bw.set_num_threads(before)
    with pytest.raises(ValueError, match="positive"):
        bw.set_num_threads(0)


def test_deterministic_flag_round_trip():
    assert bw.are_deterministic_algorithms_enabled() is torch.are_deterministic_algorithms_enabled()
    bw.use_deterministic_algorithms(True)
    try:
        assert bw.are_deterministic_algorithms_enabled()
    finally:
        bw.use_deterministic_algorithms(False)
    assert not bw.are_deterministic_algorithms_enabled()


PRINT_VALUES = [[1.5, 2.25, 3.0], [1e-5, 1.0, 2.0], [1.0, 2.0, 3.0], [0.0, 0.0], [123456.789, 1.0],
                [float(v) for v in range(20)]]
PRINT_OPTIONS = [{}, {"sci_mode": True}, {"sci_mode": False}, {"profile": "short"}, {"profile": "full"},
                 {"precision": 2, "sci_mode": True}, {"edgeitems": 1, "threshold": 5}, {"linewidth": 30}]


@pytest.mark.parametrize("options", PRINT_OPTIONS, ids=str)
def test_set_printoptions_matches_torch(options):
    try:
        for module in (bw, torch):
            module.set_printoptions(profile="default", sci_mode=None)
            module.set_printoptions(**options)
        for values in PRINT_VALUES:
            assert repr(bw.tensor(values)) == repr(torch.tensor(values)), values
    finally:
        for module in (bw, torch):
            module.set_printoptions(profile="default", sci_mode=None)


@pytest.mark.parametrize("bad", [{"precision": 2, "linewidth": "wide"}, {"precision": 2, "profile": "tiny"},
                                 {"edgeitems": -1}, {"sci_mode": "yes"}])
def test_rejected_set_printoptions_changes_nothing(bad):
    before = (_format.PRECISION, _format.THRESHOLD, _format.EDGEITEMS, _format.LINEWIDTH, _format.SCI_MODE)
    with pytest.raises((TypeError, ValueError)):
        bw.set_printoptions(**bad)
    assert (_format.PRECISION, _format.THRESHOLD, _format.EDGEITEMS, _format.LINEWIDTH,
            _format.SCI_MODE) == before


def _torch_message(actual, expected, **kwargs):
    try:
        torch.testing.assert_close(actual, expected, **kwargs)
    except AssertionError as err:
        return str(err)
    return None


ASSERT_CASES = [
    ([1.0, 2.0], [1.0, 2.0 + 1e-6], "float32", {}),
    ([1.0, 2.0], [1.0, 2.0 + 1e-4], "float32", {}),
    ([1.0, 2.0], [1.0, 2.0 + 1e-4], "float32", {"rtol": 1e-3, "atol": 0.0}),
    ([1.0, 2.0], [1.0, 2.0 + 1e-8], "float64", {}),
    ([1.0, 2.0], [1.0, 2.0 + 1e-6], "float64", {}),
    ([1.0, 1000.0], [1.0, 1000.5], "float16", {}),
    ([1, 2, 3], [1, 2, 4], "int64", {}),
    ([float("nan"), 1.0], [float("nan"), 1.0], "float32", {}),
    ([float("nan"), 1.0], [float("nan"), 1.0], "float32", {"equal_nan": True}),
    ([float("inf")], [float("inf")], "float32", {}),
]


@pytest.mark.parametrize(("a", "e", "dtype", "kwargs"), ASSERT_CASES)
def test_assert_close_decides_as_torch(a, e, dtype, kwargs):
    expected_message = _torch_message(torch.tensor(a, dtype=getattr(torch, dtype)),
                                      torch.tensor(e, dtype=getattr(torch, dtype)), **kwargs)
    try:
        assert_close(bw.tensor(a, dtype=getattr(bw, dtype)), bw.tensor(e, dtype=getattr(bw, dtype)), **kwargs)
    except AssertionError as err:
        assert expected_message is not None, f"torch passes, brickwork fails: {err}"
        ours = str(err)
        first_lines = expected_message.splitlines()[:3]
        assert ours.splitlines()[:3] == first_lines
    else:
        assert expected_message is None, f"brickwork passes, torch fails: {expected_message}"


def test_assert_close_checks_dtype_shape_and_lists_mismatches():
    with pytest.raises(AssertionError, match="'dtype' do not match"):
        assert_close(bw.tensor([1.0]), bw.tensor([1.0], dtype=bw.float64))
    assert_close(bw.tensor([1.0]), bw.tensor([1.0], dtype=bw.float64), check_dtype=False)
    with pytest.raises(AssertionError, match="'shape' do not match"):
        assert_close(bw.zeros(2), bw.zeros(3))
    with pytest.raises(ValueError, match="rtol"):
        assert_close(bw.zeros(2), bw.zeros(2), atol=1.0)
    with pytest.raises(AssertionError, match=re.escape("Mismatched elements: 2 / 4 (50.0%)")) as info:
        assert_close(bw.tensor([[0.0, 1.0], [2.0, 3.0]]), bw.tensor([[0.0, 1.5], [2.0, 4.0]]))
    assert "(0, 1): 1.0 vs 1.5" in str(info.value) and "(1, 1): 3.0 vs 4.0" in str(info.value)
    with pytest.raises(AssertionError, match=r"item \['b'\]"):
        assert_close({"a": bw.zeros(1), "b": bw.ones(1)}, {"a": bw.zeros(1), "b": bw.zeros(1)})
    assert_close([bw.zeros(1), 2.0], [bw.zeros(1), 2.0])
    with pytest.raises(AssertionError, match="custom"):
        assert_close(bw.zeros(1), bw.ones(1), msg="custom")


def test_num_threads_is_recorded_without_threadpoolctl():
    code = ("import sys; sys.modules['threadpoolctl'] = None\n"
            "import brickwork as bw\nbw.set_num_threads(3)\nprint(bw.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": bw.__path__[0].rsplit("/", 1)[0]}, timeout=120)
    assert out.stdout.strip() == "3", out.stderr
