"""The optional oneDNN convolution path: loading, the switch, the primitive cache, and agreement with
brickwork's own im2col + GEMM path (test_conv.py runs every conv case on both paths against torch)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

import brickwork as bw
import brickwork.nn.functional as F
from brickwork.ops import _onednn

needs_onednn = pytest.mark.skipif(not _onednn.available(), reason=_onednn.describe())
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": SRC, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=full_env)


FIRST_CONV = ("import brickwork as bw, brickwork.nn.functional as F\n"
              "F.conv2d(bw.ones(1, 1, 4, 4), bw.ones(1, 1, 3, 3)); F.conv2d(bw.ones(1, 1, 4, 4), "
              "bw.ones(1, 1, 3, 3)); print('ok')")


def test_the_switch_turns_onednn_off_and_the_first_conv_says_which_path_runs():
    res = _run(FIRST_CONV, BRICKWORK_ONEDNN="0")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
    lines = [line for line in res.stderr.splitlines() if line.startswith("brickwork:")]
    assert lines == ["brickwork: convolutions run on brickwork's NumPy im2col + GEMM path: turned off by "
                     "BRICKWORK_ONEDNN=0"]


def test_a_missing_library_falls_back_with_the_reason():
    res = _run(FIRST_CONV, BRICKWORK_ONEDNN_LIBRARY="/nonexistent/libdnnl.so.3", BRICKWORK_ONEDNN="1")
    assert res.returncode == 0, res.stderr
    (line,) = [line for line in res.stderr.splitlines() if line.startswith("brickwork:")]
    assert "NumPy im2col + GEMM path" in line and "/nonexistent/libdnnl.so.3" in line


@needs_onednn
def test_the_first_conv_names_onednn_once():
    res = _run(FIRST_CONV)
    assert res.returncode == 0, res.stderr
    (line,) = [line for line in res.stderr.splitlines() if line.startswith("brickwork:")]
    assert line.startswith("brickwork: convolutions run on oneDNN 3.")


@needs_onednn
def test_primitives_are_made_once_per_geometry():
    x = bw.randn(2, 3, 9, 9, requires_grad=True)
    w = bw.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    size = len(_onednn._load().cache)
    for _ in range(3):
        F.conv2d(x, w, padding=1).sum().backward()
    assert len(_onednn._load().cache) == size
    F.conv2d(x, w, padding=2).sum().backward()  # a new geometry: new primitives
    assert len(_onednn._load().cache) > size


@needs_onednn
def test_both_gradients_share_one_reorder_of_the_incoming_gradient(monkeypatch):
    lib = _onednn._load()
    x = bw.randn(4, 16, 12, 12, requires_grad=True)
    w = bw.randn(16, 16, 3, 3, requires_grad=True)
    g = bw.randn(4, 16, 12, 12)
    F.conv2d(x, w, padding=1).backward(g)  # plans made
    want_x, want_w = x.grad.numpy().copy(), w.grad.numpy().copy()
    plans = [p for key, p in lib.cache.items() if key[0] in ("bwd_data", "bwd_weights")]
    reorders = {id(p.to_diff_dst) for p in plans if p.to_diff_dst is not None}
    if len(reorders) < 2 or not lib.lib.dnnl_memory_desc_equal(plans[0].diff_dst, plans[1].diff_dst):
        pytest.skip("oneDNN wants the gradient in two layouts here: nothing to share")
    runs = []
    execute = _onednn._Library.execute
    monkeypatch.setattr(_onednn._Library, "execute",
                        lambda self, prim, args: (runs.append(id(prim)), execute(self, prim, args)))
    x.grad = w.grad = None
    F.conv2d(x, w, padding=1).backward(g)
    assert sum(r in reorders for r in runs) == 1
    assert np.array_equal(x.grad.numpy(), want_x) and np.array_equal(w.grad.numpy(), want_w)


@needs_onednn
@pytest.mark.parametrize("layout", ["nchw", "batch_innermost", "channels_last"])
def test_both_paths_agree_on_a_small_cnn_step_whatever_the_input_layout(layout):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3, 12, 12)).astype(np.float32)
    if layout == "batch_innermost":
        data = np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    elif layout == "channels_last":
        data = np.ascontiguousarray(data.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.3
               for s in [(6, 3, 3, 3), (6,), (8, 3, 5, 5), (8,), (8, 2, 3, 3)]]

    def step():
        x = bw.from_numpy(data)
        w1, b1, w2, b2, w3 = (bw.tensor(w, requires_grad=True) for w in weights)
        y = F.relu(F.conv2d(x, w1, b1, padding=1))
        y = F.conv2d(y[:, :3], w2, b2, stride=2, padding=2, dilation=1)
        y = F.conv2d(F.max_pool2d(y, 2), w3, groups=4, padding=1)
        (y * y).mean().backward()
        return [y.detach().numpy()] + [t.grad.numpy() for t in (w1, b1, w2, b2, w3)]

    with _onednn.forced("onednn"):
        with_onednn = step()
    with _onednn.forced("numpy"):
        own = step()
    for a, b in zip(with_onednn, own):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@needs_onednn
def test_float64_and_stride_zero_gradients_stay_correct():
    x64 = bw.randn(2, 2, 5, 5, dtype=bw.float64)
    assert F.conv2d(x64, bw.randn(3, 2, 3, 3, dtype=bw.float64)).dtype == bw.float64  # own path
    x = bw.randn(2, 2, 5, 5, requires_grad=True)
    w = bw.randn(3, 2, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()  # the gradient arrives as a stride-0 broadcast
    with _onednn.forced("numpy"):
        x2, w2 = x.detach().requires_grad_(), w.detach().requires_grad_()
        F.conv2d(x2, w2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_onednn
@needs_onednn
def test_by_default_the_choice_is_fixed_per_geometry_and_results_are_bit_equal():
    x = bw.randn(4, 1, 12, 12, requires_grad=True)  # one input channel: input gradient on the own path
    w = bw.randn(3, 1, 5, 5, requires_grad=True)
    grads = []
    for _ in range(6):
        x.grad = w.grad = None
        F.conv2d(x, w, padding=2).square().sum().backward()
        grads.append((x.grad.numpy().copy(), w.grad.numpy().copy()))
    for gx, gw in grads[1:]:
        assert np.array_equal(gx, grads[0][0]) and np.array_equal(gw, grads[0][1])
    key = ((4, 1, 12, 12), None, (3, 1, 5, 5))
    assert _onednn.rule("input gradient", key) == "numpy" and _onednn.rule("forward", key) == "onednn"
    assert _onednn.rule("input gradient", ((4, 8, 12, 12), None, (3, 8, 5, 5))) == "onednn"


@needs_onednn
def test_tuning_tries_each_direction_on_both_paths_then_the_faster_one_stays(monkeypatch):
    from brickwork.ops import conv

    runs = []
    own_forward = conv.Conv2d._forward_own
    monkeypatch.setattr(conv.Conv2d, "_forward_own",
                        lambda self, *a: runs.append("numpy") or own_forward(self, *a))
    real = _onednn.conv_forward
    monkeypatch.setattr(_onednn, "conv_forward", lambda *a: runs.append("onednn") or real(*a))
    x, w = bw.randn(3, 2, 11, 7), bw.randn(5, 2, 3, 2)  # a geometry no other test uses
    with _onednn.forced("tune"):
        outs = [F.conv2d(x, w, padding=(1, 2)).numpy() for _ in range(6)]
    assert runs[:4] == ["onednn", "onednn", "numpy", "numpy"]
    assert len(set(runs[4:])) == 1  # chosen
    (choice,) = [v for k, v in _onednn.choices().items() if k[0] == "forward" and k[1] == (3, 2, 11, 7)]
    assert runs[4:] == [choice, choice]
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], rtol=1e-5, atol=1e-5)


@needs_onednn
def test_onednn_threads_follow_the_blas_thread_count():
    code = ("import ctypes, brickwork as bw, brickwork.nn.functional as F\n"
            "from brickwork._blas import blas_threads\n"
            "omp = ctypes.CDLL('libgomp.so.1')\n"
            "x, w = bw.ones(1, 1, 5, 5), bw.ones(1, 1, 3, 3)\n"
            "with blas_threads(1):\n"
            "    F.conv2d(x, w); inside = omp.omp_get_max_threads()\n"
            "with blas_threads(2):\n"
            "    F.conv2d(x, w); print(inside, omp.omp_get_max_threads())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**env, "PYTHONPATH": SRC})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "2"]


@needs_onednn
def test_loading_onednn_leaves_the_environment_as_it_was():
    code = ("import os, brickwork as bw, brickwork.nn.functional as F\n"
            "F.conv2d(bw.ones(1, 1, 4, 4), bw.ones(1, 1, 3, 3))\n"
            "print(os.environ.get('GOMP_SPINCOUNT', 'unset'), os.environ.get('OMP_WAIT_POLICY', 'unset'))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**env, "PYTHONPATH": SRC})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["unset", "unset"]  # the spin count was set only while libgomp loaded


@needs_onednn
@pytest.mark.parametrize("user, spin", [({}, str(_onednn.GOMP_SPIN)), ({"OMP_WAIT_POLICY": "PASSIVE"}, "0"),
                                        ({"GOMP_SPINCOUNT": "777"}, "777")])
def test_openmp_workers_spin_briefly_unless_the_user_chose(user, spin):
    code = "import brickwork.ops._onednn as D\nassert D.available()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**env, **user, "PYTHONPATH": SRC, "OMP_DISPLAY_ENV": "VERBOSE"})
    assert res.returncode == 0, res.stderr
    assert f"GOMP_SPINCOUNT = '{spin}'" in res.stderr  # libgomp's own report of what it read at load


# ---- matrix products on oneDNN's GEMM (where its kernels are wider than OpenBLAS's)

def _layouts(rng: np.random.Generator, rows: int, cols: int) -> dict[str, np.ndarray]:
    base = rng.standard_normal((rows, cols)).astype(np.float32)
    wide = np.zeros((rows, cols + 5), np.float32)
    wide[:, :cols] = base
    return {"C": base, "F": np.asfortranarray(base), "row slice": wide[:, :cols],
            "every other column": np.repeat(base, 2, axis=1)[:, ::2],
            "broadcast row": np.broadcast_to(base[:1], (rows, cols))}


def _spy_sgemm(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """The (m, k, n) of every product that goes to dnnl_sgemm from now on."""
    calls: list[tuple[int, int, int]] = []
    real = _onednn._sgemm
    monkeypatch.setattr(_onednn, "_sgemm",
                        lambda a, b, m, k, n, *out: calls.append((m, k, n)) or real(a, b, m, k, n, *out))
    return calls


@needs_onednn
@pytest.mark.parametrize("a_layout", ["C", "F", "row slice", "every other column", "broadcast row"])
@pytest.mark.parametrize("b_layout", ["C", "F", "row slice"])
def test_gemm_agrees_with_numpy_on_every_operand_layout(a_layout, b_layout, monkeypatch):
    rng = np.random.default_rng(0)
    a = _layouts(rng, 128, 130)[a_layout]
    b = _layouts(rng, 130, 70)[b_layout]
    calls = _spy_sgemm(monkeypatch)
    with _onednn.forced("onednn"):
        got = _onednn.mm(a, b)
    assert calls == [(128, 130, 70)]  # it ran on oneDNN (its rounding may equal OpenBLAS's: AVX-512 both)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == (128, 70) and got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_small_products_float64_and_vectors_stay_on_numpy_bit_for_bit(monkeypatch):
    calls = _spy_sgemm(monkeypatch)
    rng = np.random.default_rng(1)
    f32 = np.float32
    cases = [(rng.standard_normal((1, 784), dtype=f32), rng.standard_normal((784, 256), dtype=f32)),
             (rng.standard_normal((64, 64), dtype=f32), rng.standard_normal((64, 64), dtype=f32)),
             (rng.standard_normal((256, 784)), rng.standard_normal((784, 256)))]
    with _onednn.forced("onednn"):
        for a, b in cases:
            assert np.array_equal(_onednn.mm(a, b), a @ b)
    a, b = cases[0][1].T.copy(), cases[0][1]
    with _onednn.forced("numpy"):
        assert np.array_equal(_onednn.mm(a, b), a @ b)
    assert calls == []


@needs_onednn
def test_linear_and_matmul_agree_on_both_gemm_paths_forward_and_backward():
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((4, 64, 96)).astype(np.float32)
    w_np = (rng.standard_normal((80, 96)) / 10).astype(np.float32)
    results = {}
    for path in ("numpy", "onednn"):
        with _onednn.forced(path):
            x = bw.tensor(x_np, requires_grad=True)
            lin = bw.nn.Linear(96, 80)
            with bw.no_grad():
                lin.weight.copy_(bw.tensor(w_np))
                lin.bias.fill_(0.5)
            m = bw.tensor(np.linspace(-1, 1, 80 * 70, dtype=np.float32).reshape(80, 70), requires_grad=True)
            y = lin(x)                                 # 3-D input: one GEMM over the flattened batch
            z = y[0] @ m                               # 2-D matmul
            (y.square().mean() + z.sin().sum()).backward()
            results[path] = [t.detach().numpy().copy() for t in (y, z, x.grad, lin.weight.grad,
                                                                  lin.bias.grad, m.grad)]
    for got, want in zip(results["onednn"], results["numpy"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@contextlib.contextmanager
def _blas_thread_count(monkeypatch: pytest.MonkeyPatch, threads: int):
    """oneDNN's view of OpenBLAS's thread count is ``threads`` inside the block (and the real one after)."""
    match = _onednn._load().match_threads
    real = match.get_blas
    monkeypatch.setattr(match, "get_blas", lambda: threads)
    match()                                          # as before every oneDNN call
    try:
        yield
    finally:
        monkeypatch.setattr(match, "get_blas", real)
        match()


@needs_onednn
def test_on_several_threads_every_product_openblas_would_thread_goes_to_onednn(monkeypatch):
    calls = _spy_sgemm(monkeypatch)
    a = np.ones((256, 256), np.float32)
    b = np.ones((256, 10), np.float32)               # 2^19.3 multiply-adds: OpenBLAS threads it
    for threads, bound, want in ((1, _onednn.GEMM_MIN_WORK, []),
                                 (2, _onednn.GEMM_MIN_WORK_THREADED, [(256, 256, 10)])):
        calls.clear()
        with _blas_thread_count(monkeypatch, threads):
            assert _onednn.gemm_min_work == bound
            with _onednn.forced("onednn"):
                _onednn.mm(a, b)
                bw.nn.functional.linear(bw.tensor(a), bw.tensor(b.T.copy()))
        assert calls == want * 2, threads
    assert _onednn.GEMM_MIN_WORK_THREADED < 256 * 256 * 10 < _onednn.GEMM_MIN_WORK


@needs_onednn
def test_on_several_threads_batched_products_run_on_onednn_forward_and_backward(monkeypatch):
    calls = _spy_sgemm(monkeypatch)
    rng = np.random.default_rng(3)
    a_np = rng.standard_normal((2, 3, 256, 256), dtype=np.float32)
    b_np = rng.standard_normal((2, 3, 10, 256), dtype=np.float32)  # used transposed: a strided view
    results = {}
    for threads in (1, 2):
        calls.clear()
        with _blas_thread_count(monkeypatch, threads):
            a, b = bw.tensor(a_np, requires_grad=True), bw.tensor(b_np, requires_grad=True)
            with _onednn.forced("onednn"):
                out = bw.matmul(a, b.transpose(-1, -2))
                out.square().sum().backward()
        results[threads] = [t.detach().numpy() for t in (out, a.grad, b.grad)]
        # one product per matrix: forward and b's gradient (a^T @ g), a's gradient (g @ b^T)
        want = [] if threads == 1 else [(256, 256, 10)] * 12 + [(256, 10, 256)] * 6
        assert sorted(calls) == sorted(want), threads
    for got, ref in zip(results[2], results[1], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    with _onednn.forced("onednn"):                   # broadcast batches stay on the operator
        assert _onednn.bmm(a_np[:1], b_np.swapaxes(-1, -2)).shape == (2, 3, 256, 10)


@needs_onednn
def test_a_3d_linear_is_one_gemm_per_product_forward_and_backward(monkeypatch):
    shapes = _spy_sgemm(monkeypatch)
    x = bw.randn(4, 64, 96, requires_grad=True)
    lin = bw.nn.Linear(96, 80)
    with _onednn.forced("onednn"):
        lin(x).sum().backward()                  # sum's gradient: a broadcast (0-stride) array
        lin(x.transpose(0, 1)).square().sum().backward()  # a strided input
    # forward, input gradient, weight gradient: each one GEMM over the flattened batch of 256 rows
    assert sorted(shapes) == sorted([(256, 96, 80), (256, 80, 96), (80, 256, 96)] * 2)


@needs_onednn
def test_the_gemm_rule_wants_avx512_in_onednn_and_openblas_under_numpy(monkeypatch):
    import brickwork._blas as blas

    lib = _onednn._load()
    wide = lib.lib.dnnl_get_effective_cpu_isa() & _onednn._ISA_AVX512_CORE
    for kernel, expected in (("Haswell", bool(wide)), ("Zen", bool(wide)), ("SkylakeX", bool(wide)),
                             ("SapphireRapids", bool(wide)), (None, False)):
        monkeypatch.setattr(blas, "openblas_kernel", lambda kernel=kernel: kernel)
        monkeypatch.delitem(_onednn._state, "gemm", raising=False)
        use, why = _onednn.gemm_rule()
        assert use is expected, (kernel, why)
        assert why.startswith("float32 matrix products on oneDNN" if use else "matrix products on NumPy")
    monkeypatch.delitem(_onednn._state, "gemm", raising=False)


def test_the_gemm_choice_is_said_with_the_convolution_path():
    res = _run("import brickwork.ops._onednn as D; print(D.describe())", OPENBLAS_CORETYPE="Haswell")
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip()
    if _onednn.available():
        assert "matrix products on" in line
    else:
        assert "NumPy im2col + GEMM path" in line


def test_matrix_products_never_load_onednn_when_it_is_switched_off():
    code = ("import brickwork as bw\nfrom brickwork.ops import _onednn as D\n"
            "print(D.gemm_live)\nbw.nn.Linear(784, 256)(bw.ones(256, 784)).sum().backward()\n"
            "print(D.gemm_live, 'lib' in D._state)")
    res = _run(code, BRICKWORK_ONEDNN="0")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False", "False"]


def test_once_the_rule_says_no_products_stop_asking(monkeypatch):
    import brickwork._blas as blas

    monkeypatch.setattr(blas, "openblas_kernel", lambda: None)  # NumPy on another BLAS: it stays
    monkeypatch.delitem(_onednn._state, "gemm", raising=False)
    monkeypatch.setattr(_onednn, "gemm_live", True)
    a = np.ones((256, 784), np.float32)
    assert np.array_equal(_onednn.mm(a, a.T), a @ a.T)
    assert _onednn.gemm_live is False
    monkeypatch.delitem(_onednn._state, "gemm", raising=False)


# ---- per-channel arithmetic (batch norm's passes)

@needs_onednn
@pytest.mark.parametrize("shape", [(64, 1100), (8, 16, 600), (4, 8, 48, 48), (2, 4, 8, 32, 32)])
def test_channel_ops_give_numpys_bits_for_every_rank(shape):
    rng = np.random.default_rng(4)
    x, full = (rng.standard_normal(shape, dtype=np.float32) for _ in range(2))
    s, b = (rng.standard_normal(shape[1], dtype=np.float32) for _ in range(2))
    per = (1, shape[1]) + (1,) * (len(shape) - 2)
    assert _onednn.channel_op_takes(x, full)
    assert np.array_equal(_onednn.channel_op(x, "sub", s), x - s.reshape(per))
    want = x * s.reshape(per)
    want -= b.reshape(per)
    want += full
    got = _onednn.channel_op(x, "mul", s, (("sub", b), ("add", full)))
    assert got.shape == x.shape and got.flags.c_contiguous and np.array_equal(got, want)


def test_channel_ops_take_only_large_c_contiguous_float32_arrays():
    big = np.ones((4, 8, 48, 48), np.float32)
    small = np.ones((2, 8, 8, 8), np.float32)                     # under CHANNEL_MIN_SIZE
    assert small.size < _onednn.CHANNEL_MIN_SIZE <= big.size
    assert _onednn.channel_op_takes(big) is _onednn.available()
    for no in (small, big.astype(np.float64), big.transpose(1, 0, 2, 3), big[:, :, ::2], big[0, 0, 0]):
        assert not _onednn.channel_op_takes(no)
    assert not _onednn.channel_op_takes(big, np.ones((4, 8, 48, 47), np.float32))  # operand shapes differ
    with _onednn.forced("numpy"):
        assert not _onednn.channel_op_takes(big)


@needs_onednn
@pytest.mark.parametrize("mode", ["batch stats", "running stats with grad", "inference"])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_on_onednn_gives_the_numpy_paths_bits(mode, affine, monkeypatch):
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((16, 8, 24, 24), dtype=np.float32) * 3 + 1
    g_np = rng.standard_normal(x_np.shape, dtype=np.float32)
    calls = []
    real = _onednn.channel_op
    monkeypatch.setattr(_onednn, "channel_op", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    results = {}
    for path in ("onednn", "numpy"):
        if path == "numpy":
            monkeypatch.setattr(_onednn, "channel_op_takes", lambda *a: False)
        bn = bw.nn.BatchNorm2d(8, affine=affine)
        if affine:
            with bw.no_grad():
                bn.weight.copy_(bw.linspace(0.5, 2.0, 8))
                bn.bias.copy_(bw.linspace(-1.0, 1.0, 8))
        if mode != "batch stats":
            bn(bw.tensor(x_np))                                    # running statistics to use
            bn.eval()
        x = bw.tensor(x_np, requires_grad=mode != "inference")
        if mode == "inference":
            with bw.no_grad():
                y = bn(x)
            got = [y.numpy()]
        else:
            y = bn(x)
            y.backward(bw.tensor(g_np))
            got = [y.detach().numpy(), x.grad.numpy()]
            if affine:
                got += [bn.weight.grad.numpy(), bn.bias.grad.numpy()]
        results[path] = got + [bn.running_mean.numpy(), bn.running_var.numpy()]
    assert calls  # the first pass did run on oneDNN
    for got, want in zip(results["onednn"], results["numpy"], strict=True):
        assert np.array_equal(got, want)
