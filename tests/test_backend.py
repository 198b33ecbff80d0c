"""Devices: parsing, interning, missing CUDA, lazy CuPy import, try_gpu, no silent transfers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import brickwork as bw
from brickwork import _backend
from brickwork.autograd import DeviceMismatchError, _wrap


@pytest.mark.parametrize("spec, want", [
    ("cpu", "cpu"), (" cpu ", "cpu"), ("cuda", "cuda"), ("cuda:0", "cuda:0"), ("cuda:1", "cuda:1"),
    (1, "cuda:1"), (0, "cuda:0"),
])
def test_device_parsing(spec, want):
    dev = bw.device(spec)
    assert str(dev) == want
    assert dev is bw.device(want)  # interned: compare with `is`
    assert bw.device(dev) is dev


def test_device_attributes_and_repr():
    d = bw.device("cuda", 1)
    assert d.type == "cuda" and d.index == 1 and d is bw.device("cuda:1")
    assert repr(d) == "device(type='cuda', index=1)" and repr(bw.device("cpu")) == "device(type='cpu')"
    assert bw.device("cpu").index is None
    assert bw.device("cuda") == "cuda" and bw.device("cpu") == "cpu" and bw.device("cpu") != "cuda"
    assert bw.device("cuda:0") != bw.device("cuda") and bw.device("cpu") != "nonsense"
    assert bw.device("cuda").resolved() is bw.device("cuda:0")
    assert len({bw.device("cpu"), bw.device("cpu"), bw.device("cuda:0")}) == 2


@pytest.mark.parametrize("spec, match", [
    ("gpu", "unknown device type"), ("cuda:x", "invalid device string"), ("cpu:1", "no index"),
    (-1, "negative"), (2.5, "expected a string"),
])
def test_bad_device_specs(spec, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bw.device(spec)
    with pytest.raises(ValueError, match="twice"):
        bw.device("cuda:1", 1)


def test_creating_cuda_device_objects_never_fails():
    for i in range(4):
        assert bw.device("cuda", i).index == i


def test_no_cuda_here():
    if bw.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert bw.cuda.device_count() == 0
    bw.cuda.synchronize()  # a no-op without CUDA
    assert bw.try_gpu() is bw.device("cpu") and bw.try_gpu(3) is bw.device("cpu")
    assert bw.try_all_gpus() == [bw.device("cpu")]
    for fn in (lambda: bw.zeros(2, device="cuda"), lambda: bw.tensor([1.0], device="cuda:1"),
               lambda: bw.randn(2, device=bw.device("cuda", 0)), lambda: bw.cuda.current_device()):
        with pytest.raises(RuntimeError, match=r"CUDA.*0 CUDA devices"):
            fn()


def test_try_gpu_uses_device_count(monkeypatch):
    monkeypatch.setattr(bw.cuda, "device_count", lambda: 2)
    assert bw.try_gpu() is bw.device("cuda:0") and bw.try_gpu(1) is bw.device("cuda:1")
    assert bw.try_gpu(2) is bw.device("cpu")
    assert bw.try_all_gpus() == [bw.device("cuda:0"), bw.device("cuda:1")]


def test_cupy_is_imported_lazily(tmp_path):
    # a stand-in "cupy" records whether it was imported, then fails like a missing install
    fake = tmp_path / "cupy"
    fake.mkdir()
    marker = tmp_path / "imported"
    (fake / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('stand-in cupy for the test')\n")
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import brickwork as bw
        x = (bw.randn(3, requires_grad=True) * 2).sum()
        x.backward()
        repr(x); bw.device("cuda:1"); bw.try_gpu
        assert not os.path.exists({str(marker)!r}), "cupy imported by CPU work"
        assert bw.cuda.is_available() is False
        assert os.path.exists({str(marker)!r}), "is_available() did not try CuPy"
        try:
            bw.zeros(1, device="cuda")
        except RuntimeError as exc:
            assert "CuPy is not installed" in str(exc) and "brickwork[cuda12]" in str(exc), exc
        else:
            raise AssertionError("no error")
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_brickwork_never_imports_torch():
    script = "import sys, brickwork, brickwork.nn, brickwork.testing; assert 'torch' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_device_check_runs_before_any_kernel():
    # the mismatch is found from the Device objects alone: no GPU (or CuPy) is needed to test it
    fake = _wrap(np.zeros(2, dtype=np.float32), bw.device("cuda:1"))
    with pytest.raises(DeviceMismatchError, match=r"sub: .*cuda:1 and cpu"):
        fake - bw.ones(2)
    err = DeviceMismatchError("add", [bw.device("cpu"), bw.device("cuda:0")])
    err.add_context("model.fc1")
    assert str(err).startswith("model.fc1: add:")


def test_nothing_moves_silently():
    fake = _wrap(np.zeros(2, dtype=np.float32), bw.device("cuda:0"))
    with pytest.raises(DeviceMismatchError):
        bw.ones(2) + fake
    with pytest.raises(RuntimeError, match="cuda:0"):
        bw.ones(2).add_(fake)
    with pytest.raises(RuntimeError, match="cuda:0"):
        bw.ones(2)[_wrap(np.zeros(1, dtype=np.int64), bw.device("cuda:0"))]


def test_backend_helpers():
    a = np.ones(3)
    assert _backend.is_array(a) and not _backend.is_array([1])
    assert _backend.device_of_array(a) is _backend.CPU
    assert _backend.transfer(a, _backend.CPU) is a
    with pytest.raises(TypeError, match="backend"):
        _backend.device_of_array([1, 2])
    assert _backend.erf(np.array(0.5, dtype=np.float32)).dtype == np.float32


def test_only_the_backend_imports_cupy():
    import pathlib
    import re

    root = pathlib.Path(bw.__file__).parent
    pattern = re.compile(r"^\s*(import cupy|from cupy|import cupyx|from cupyx)", re.M)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "_backend.py" and pattern.search(p.read_text())]
    assert not offenders, f"only brickwork/_backend.py may import CuPy; found in {offenders}"


def test_cuda_helpers_without_a_gpu():
    if bw.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for fn in (bw.cuda.memory_allocated, bw.cuda.max_memory_allocated, bw.cuda.reset_peak_memory_stats,
               bw.cuda.Event):
        with pytest.raises(RuntimeError, match="CUDA is not available.*0 CUDA devices"):
            fn()
    bw.cuda.empty_cache()  # nothing to free: a no-op
