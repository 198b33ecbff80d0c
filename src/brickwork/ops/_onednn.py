"""Optional convolution and GEMM kernels on Intel's oneDNN, called through its C API with ctypes.

oneDNN (the library PyTorch's CPU convolutions run on) is installed by the
``brickwork[onednn]`` extra: the ``onednn-cpu-gomp`` wheel puts ``libdnnl.so.3``
in the environment's ``lib/`` folder and needs the system's ``libgomp.so.1``.
Without it, or with ``BRICKWORK_ONEDNN=0``, convolutions run on brickwork's own
im2col + GEMM path (``ops/conv.py``); which path runs is said once, on stderr,
at the first convolution.

How it is used:

* Arrays stay NumPy arrays. An input is described to oneDNN with its own strides
  (NCHW, or the batch-innermost views brickwork's own path makes), oneDNN picks
  its preferred blocked layouts (``format_tag_any``), reorders copy in and out of
  them, and results come back as C-contiguous NCHW arrays.
* Primitives (and their reorders) are created once per geometry and kept in a
  bounded cache: ``(direction, shapes, strides, stride, padding, dilation, groups)``.
* Only float32 on the CPU goes here; everything else stays on the NumPy path.
* oneDNN's OpenMP threads follow OpenBLAS's thread count (checked at each call),
  so the two pools never ask for more cores than the user gave BLAS.
* Float32 matrix products (``Linear``, ``matmul`` of matrices) go to oneDNN's
  ``dnnl_sgemm`` where its kernels are AVX-512 and NumPy's BLAS is OpenBLAS
  (:func:`gemm_rule`). Measured, one thread: against OpenBLAS's AVX2 (Haswell)
  kernel on an AMD EPYC, 1.6-2.2x its speed from 8x784x256 up; against its
  AVX-512 (SkylakeX) kernel on an Intel Xeon, 1.0-1.4x for most products and
  3.1x for weight gradients over a batch of 16, one product 0.83x.
* Batch norm's per-channel arithmetic on large NCHW float32 arrays runs on the binary
  primitive with post-ops (:func:`channel_op`), in NumPy's order of operations.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["available", "describe", "conv_forward", "conv_backward_data", "conv_backward_weights",
           "gemm_rule", "mm", "bmm", "channel_op", "channel_op_takes"]

# oneDNN 3.x C API constants (dnnl_types.h / dnnl_common_types.h)
_F32 = 3
_TAG_ANY, _TAG_A, _TAG_ABCD, _TAG_ABCDE = 1, 2, 5, 6
_PLAIN_TAGS = {2: 3, 3: 4, 4: _TAG_ABCD, 5: _TAG_ABCDE}  # ab, abc, abcd, abcde: C order by rank
_BINARY = {"add": 0x1fff0, "mul": 0x1fff1, "sub": 0x1fff5}
_ARG_SRC_1 = 2
_FORWARD_TRAINING = 64
_CONV_DIRECT = 1
_CPU_ENGINE, _STREAM_DEFAULT = 1, 1
_Q_IMPL_INFO = 8
_Q_SRC, _Q_DIFF_SRC, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_DST, _Q_DIFF_DST = 129, 130, 131, 132, 133, 134
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_SCRATCHPAD, _Q_SCRATCHPAD, _SCRATCHPAD_USER = 80, 136, 1
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS, _ARG_DIFF_BIAS = 129, 145, 161, 169
_MAX_DIMS = 12
_CACHE_SIZE = 256
_ISA_AVX512_CORE = 0x20  # the bit every dnnl_cpu_isa_avx512_* value (and nothing below) has
# below this many multiply-adds (or for a matrix-vector product) a C call's overhead outweighs
# the faster kernel. oneDNN's speed / OpenBLAS's, one thread: AMD EPYC (Haswell kernel) 64x64x64
# 0.79x, 256x256x10 1.08x, 8x784x256 1.9x; Intel Xeon (SkylakeX kernel) 64x128x64 0.43x,
# 256x256x10 0.71x, 10x256x256 0.70x, 8x784x256 1.9x, 128x128x128 1.1x
GEMM_MIN_WORK = 1 << 20
# on more than one thread, OpenBLAS runs every product above 2^18 multiply-adds on its own worker
# threads, which then spin beside oneDNN's OpenMP workers and take their cores (Intel Xeon, two
# threads: MLP inference at batch 256 1.23 ms per step with its 256x256x10 product on OpenBLAS,
# 0.56 ms with it on oneDNN): from there on, products go to oneDNN so that one pool is awake
GEMM_MIN_WORK_THREADED = (1 << 18) + 1
gemm_min_work = GEMM_MIN_WORK  # the bound for the current thread count (set by _ThreadMatch)

_Dims = ctypes.c_int64 * _MAX_DIMS
_P = ctypes.POINTER(ctypes.c_void_p)
_vp, _int = ctypes.c_void_p, ctypes.c_int


class _ExecArg(ctypes.Structure):
    _fields_ = [("arg", _int), ("memory", _vp)]


class _Version(ctypes.Structure):
    _fields_ = [("major", _int), ("minor", _int), ("patch", _int), ("hash", ctypes.c_char_p),
                ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


class OneDNNError(RuntimeError):
    """A oneDNN call failed (the status code and the call are in the message)."""


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "dnnl_engine_create": (_int, [_P, _int, ctypes.c_size_t]),
    "dnnl_stream_create": (_int, [_P, _vp, ctypes.c_uint]),
    "dnnl_stream_wait": (_int, [_vp]),
    "dnnl_memory_desc_create_with_tag": (_int, [_P, _int, _Dims, _int, _int]),
    "dnnl_memory_desc_create_with_strides": (_int, [_P, _int, _Dims, _int, _Dims]),
    "dnnl_memory_desc_equal": (_int, [_vp, _vp]),
    "dnnl_memory_desc_get_size": (ctypes.c_size_t, [_vp]),
    "dnnl_memory_create": (_int, [_P, _vp, _vp, _vp]),
    "dnnl_memory_destroy": (_int, [_vp]),
    "dnnl_reorder_primitive_desc_create": (_int, [_P, _vp, _vp, _vp, _vp, _vp]),
    "dnnl_convolution_forward_primitive_desc_create":
        (_int, [_P, _vp, _int, _int, _vp, _vp, _vp, _vp, _Dims, _Dims, _Dims, _Dims, _vp]),
    "dnnl_convolution_backward_data_primitive_desc_create":
        (_int, [_P, _vp, _int, _vp, _vp, _vp, _Dims, _Dims, _Dims, _Dims, _vp, _vp]),
    "dnnl_convolution_backward_weights_primitive_desc_create":
        (_int, [_P, _vp, _int, _vp, _vp, _vp, _vp, _Dims, _Dims, _Dims, _Dims, _vp, _vp]),
    "dnnl_primitive_desc_query_md": (_vp, [_vp, _int, _int]),
    "dnnl_primitive_desc_query": (_int, [_vp, _int, _int, _vp]),
    "dnnl_primitive_create": (_int, [_P, _vp]),
    "dnnl_primitive_execute": (_int, [_vp, _vp, _int, _vp]),
    "dnnl_version": (ctypes.POINTER(_Version), []),
    "dnnl_primitive_attr_create": (_int, [_P]),
    "dnnl_primitive_attr_set_scratchpad_mode": (_int, [_vp, _int]),
    "dnnl_get_effective_cpu_isa": (_int, []),
    "dnnl_binary_primitive_desc_create": (_int, [_P, _vp, _int, _vp, _vp, _vp, _vp]),
    "dnnl_post_ops_create": (_int, [_P]),
    "dnnl_post_ops_append_binary": (_int, [_vp, _int, _vp]),
    "dnnl_primitive_attr_set_post_ops": (_int, [_vp, _vp]),
    "dnnl_sgemm": (_int, [ctypes.c_char, ctypes.c_char, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                          ctypes.c_float, _vp, ctypes.c_int64, _vp, ctypes.c_int64, ctypes.c_float, _vp,
                          ctypes.c_int64]),
}


class _Library:
    """libdnnl loaded once: the engine, the stream, and the primitive cache."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lib = ctypes.CDLL(path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(self.lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        self.engine = self._create("dnnl_engine_create", _CPU_ENGINE, 0)
        self.stream = self._create("dnnl_stream_create", self.engine, _STREAM_DEFAULT)
        v = self.lib.dnnl_version().contents
        self.version = f"{v.major}.{v.minor}.{v.patch}"
        self.cache: OrderedDict[tuple, Any] = OrderedDict()
        # scratchpads come from the caller at each call (freed after it), not one per cached primitive
        self.attr = self._create("dnnl_primitive_attr_create")
        self.check(self.lib.dnnl_primitive_attr_set_scratchpad_mode(self.attr, _SCRATCHPAD_USER),
                   "dnnl_primitive_attr_set_scratchpad_mode")
        self.match_threads = _ThreadMatch()

    def check(self, status: int, call: str) -> None:
        if status != 0:
            raise OneDNNError(f"oneDNN {call} failed with status {status} ({self.path})")

    def _create(self, call: str, *args: Any) -> ctypes.c_void_p:
        handle = ctypes.c_void_p()
        self.check(getattr(self.lib, call)(ctypes.byref(handle), *args), call)
        return handle

    def md_tag(self, shape: tuple[int, ...], tag: int) -> ctypes.c_void_p:
        return self._create("dnnl_memory_desc_create_with_tag", len(shape), _Dims(*shape), _F32, tag)

    def md_strided(self, shape: tuple[int, ...], strides: tuple[int, ...]) -> ctypes.c_void_p:
        return self._create("dnnl_memory_desc_create_with_strides", len(shape), _Dims(*shape), _F32,
                            _Dims(*strides))

    def query(self, pd: ctypes.c_void_p, what: int) -> int:
        return self.lib.dnnl_primitive_desc_query_md(pd, what, 0)

    def impl_name(self, pd: ctypes.c_void_p) -> str:
        name = ctypes.c_char_p()
        self.check(self.lib.dnnl_primitive_desc_query(pd, _Q_IMPL_INFO, 0, ctypes.byref(name)),
                   "dnnl_primitive_desc_query")
        return (name.value or b"?").decode()

    def primitive(self, pd: ctypes.c_void_p) -> _Primitive:
        return _Primitive(self, pd)

    def reorder(self, src_md: Any, dst_md: Any) -> ctypes.c_void_p | None:
        """A reorder primitive from ``src_md`` to ``dst_md``, or None when they are the same layout."""
        if self.lib.dnnl_memory_desc_equal(src_md, dst_md):
            return None
        pd = self._create("dnnl_reorder_primitive_desc_create", src_md, self.engine, dst_md,
                          self.engine, self.attr)
        return _Primitive(self, pd)

    def execute(self, primitive: _Primitive, args: list[tuple[int, Any, np.ndarray]]) -> None:
        """Run ``primitive`` on ``(argument kind, memory descriptor, array)`` triples."""
        memories = []
        if primitive.scratchpad_size:
            args = args + [(_ARG_SCRATCHPAD, primitive.scratchpad_md,
                            np.empty(primitive.scratchpad_size, np.uint8))]
        try:
            for _, md, array in args:
                memories.append(self._create("dnnl_memory_create", md, self.engine,
                                             ctypes.c_void_p(array.ctypes.data)))
            packed = (_ExecArg * len(args))(*[_ExecArg(kind, m) for (kind, _, _), m in zip(args, memories)])
            self.check(self.lib.dnnl_primitive_execute(primitive.handle, self.stream, len(args), packed),
                       "dnnl_primitive_execute")
            self.check(self.lib.dnnl_stream_wait(self.stream), "dnnl_stream_wait")
        finally:
            for m in memories:
                self.lib.dnnl_memory_destroy(m)

    def cached(self, key: tuple, build: Any) -> Any:
        plan = self.cache.get(key)
        if plan is None:
            plan = build()
            self.cache[key] = plan
            if len(self.cache) > _CACHE_SIZE:
                self.cache.popitem(last=False)  # primitives are small; the oldest geometry goes
        else:
            self.cache.move_to_end(key)
        return plan


class _Primitive:
    """A created primitive and the scratchpad it needs per call."""

    def __init__(self, lib: _Library, pd: ctypes.c_void_p) -> None:
        self.handle = lib._create("dnnl_primitive_create", pd)
        self.scratchpad_md = lib.query(pd, _Q_SCRATCHPAD)
        md = self.scratchpad_md
        self.scratchpad_size = lib.lib.dnnl_memory_desc_get_size(md) if md else 0


class _ThreadMatch:
    """Keeps oneDNN's OpenMP pool at OpenBLAS's thread count, checked before each oneDNN call (two
    C calls), so a change of BLAS threads (threadpoolctl, ``bw.set_num_threads``, the demo's own
    setting) carries over. A user's ``OMP_NUM_THREADS`` is left to OpenMP itself. The count also
    sets :data:`gemm_min_work`, the size from which matrix products go to oneDNN."""

    def __init__(self) -> None:
        from brickwork._blas import _loaded_openblas

        libraries = _loaded_openblas()
        self.get_blas = libraries[0][1] if libraries else None
        self.set_omp = None
        self.current = -1
        if not os.environ.get("OMP_NUM_THREADS", "").strip():
            try:
                gomp = ctypes.CDLL("libgomp.so.1")
            except OSError:
                gomp = None
            if gomp is not None and hasattr(gomp, "omp_set_num_threads"):
                self.set_omp = gomp.omp_set_num_threads
        self()

    def __call__(self) -> None:
        global gemm_min_work
        if self.get_blas is None:
            return
        threads = int(self.get_blas())
        if threads != self.current and threads > 0:
            if self.set_omp is not None:
                self.set_omp(ctypes.c_int(threads))
            gemm_min_work = GEMM_MIN_WORK if threads == 1 else GEMM_MIN_WORK_THREADED
            self.current = threads


class _short_spin_openmp:
    """While libdnnl (and with it libgomp) loads: ``GOMP_SPINCOUNT=10000`` unless the user set
    ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``. libgomp reads it once, at load. An idle OpenMP worker
    then spins for about a quarter of a millisecond before it sleeps: long enough to catch the next
    primitive of a step, short enough not to take a core from OpenBLAS's threads between them.
    Measured two threads on two cores, wall ms per step (median of 3 alternating processes), spin
    count 0 (passive) / 10000 / 30000: Transformer layer 302 / 258 / 271, MLP training 1.53 / 1.32 /
    1.59, modern LeNet 11.8 / 9.3 / 8.6; libgomp's default (300000) had made modern LeNet 41 ms
    against 12 passive. The variable is removed again after loading, so child processes see the
    user's environment."""

    def __enter__(self) -> None:
        self.set_here = not ({"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & os.environ.keys())
        if self.set_here:
            os.environ["GOMP_SPINCOUNT"] = str(GOMP_SPIN)

    def __exit__(self, *exc: object) -> None:
        if self.set_here:
            os.environ.pop("GOMP_SPINCOUNT", None)


GOMP_SPIN = 10000


def _find_library() -> str | None:
    explicit = os.environ.get("BRICKWORK_ONEDNN_LIBRARY")
    if explicit:
        return explicit
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        path = os.path.join(prefix, "lib", "libdnnl.so.3")
        if os.path.exists(path):
            return path
    return ctypes.util.find_library("dnnl")


_state: dict[str, Any] = {}


def _load() -> _Library | None:
    if "lib" in _state:
        return _state["lib"]
    lib, reason = None, ""
    setting = os.environ.get("BRICKWORK_ONEDNN", "1").strip().lower()
    _state["always"], _state["tune"] = setting == "always", setting == "tune"
    if setting in ("0", "false", "no", "off"):
        reason = "turned off by BRICKWORK_ONEDNN=0"
    else:
        path = _find_library()
        if path is None:
            reason = "oneDNN is not installed (pip install 'brickwork[onednn]')"
        else:
            try:
                with _short_spin_openmp():
                    lib = _Library(path)
            except (OSError, AttributeError, OneDNNError) as exc:
                reason = f"oneDNN at {path} could not be loaded ({exc})"
    _state["lib"], _state["reason"] = lib, reason
    return lib


class forced:
    """Context manager: convolutions inside it run on one path, ``"numpy"`` (brickwork's own, even
    where oneDNN is loaded) or ``"onednn"`` (wherever it can run), or choose by measuring
    (``"tune"``, as ``BRICKWORK_ONEDNN=tune``). Tests compare the paths with it."""

    def __init__(self, path: str) -> None:
        if path not in ("numpy", "onednn", "tune"):
            raise ValueError(f"forced: path must be 'numpy', 'onednn' or 'tune', got {path!r}")
        self.path = path

    def __enter__(self) -> None:
        global gemm_live
        _load()
        self.saved = (_state.get("off", False), _state.get("always", False), _state.get("tune", False),
                      gemm_live)
        _state["off"], _state["always"] = self.path == "numpy", self.path == "onednn"
        _state["tune"] = self.path == "tune"
        gemm_live = gemm_live or (self.path == "onednn" and _state["lib"] is not None)

    def __exit__(self, *exc: object) -> None:
        global gemm_live
        _state["off"], _state["always"], _state["tune"], gemm_live = self.saved


_TRIAL_ORDER = ("onednn", "onednn", "numpy", "numpy")  # the first call of each path is its warm-up
_trials: dict[tuple, list[tuple[str, float]]] = {}
_choices: dict[tuple, str] = {}


def rule(direction: str, key: tuple) -> str:
    """The default choice, fixed per geometry (so equal inputs give bit-equal results on every call).

    Measured one thread, AVX-512 EPYC (benchmarks/RESULTS.md): oneDNN's kernels are 1.1-2.4x
    faster than the own path in every direction, except the input gradient of layers with at most
    three input channels per group (d2l LeNet's first layer: 12.5 ms against 1.8 ms; a 3-channel
    5x5 layer: 7.9 against 3.1 ms), which stays on the own path.
    """
    weight_shape = key[2]
    if direction == "input gradient" and weight_shape[1] <= 3:
        return "numpy"
    return "onednn"


def choose(direction: str, key: tuple) -> str:
    """Which path runs this call of ``direction`` for this geometry: "onednn" or "numpy".

    By default :func:`rule` decides. ``BRICKWORK_ONEDNN=tune`` measures instead (as
    ``torch.backends.cudnn.benchmark`` does): the first four calls of a geometry try both paths (a
    warm-up call, then a timed call each) and from then on the faster one runs; results may then
    differ in the last bits between the first calls and the later ones, and from run to run.
    ``BRICKWORK_ONEDNN=always`` runs oneDNN wherever it can.
    """
    if _state.get("always"):
        return "onednn"
    if not _state.get("tune"):
        return rule(direction, key)
    full = (direction,) + key
    choice = _choices.get(full)
    if choice is not None:
        return choice
    done = len(_trials.get(full, ()))
    return _TRIAL_ORDER[min(done, len(_TRIAL_ORDER) - 1)]


class timed:
    """Context manager timing one call of ``path`` while ``direction``'s choice for ``key`` is on trial."""

    def __init__(self, direction: str, key: tuple, path: str, trial: bool = True) -> None:
        self.full, self.path = (direction,) + key, path
        self.trial = trial and _state.get("tune") and self.full not in _choices

    def __enter__(self) -> None:
        if self.trial:
            self.start = time.perf_counter()

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if not self.trial or exc_type is not None:
            return
        runs = _trials.setdefault(self.full, [])
        runs.append((self.path, time.perf_counter() - self.start))
        if len(runs) >= len(_TRIAL_ORDER):
            timed_runs = {path: seconds for (path, seconds), warm in zip(runs, (0, 1, 0, 1)) if warm}
            _choices[self.full] = min(timed_runs, key=timed_runs.__getitem__)
            del _trials[self.full]


def choices() -> dict[tuple, str]:
    """The choices made so far: ``(direction, geometry...) -> "onednn" | "numpy"``."""
    return dict(_choices)


def available() -> bool:
    """Whether convolutions can run on oneDNN in this process."""
    return _load() is not None


def describe() -> str:
    """One line saying which convolution (and matrix product) path runs and why."""
    lib = _load()
    if lib is None:
        return f"convolutions run on brickwork's NumPy im2col + GEMM path: {_state['reason']}"
    gemm = gemm_rule()[1]
    return (f"convolutions run on oneDNN {lib.version} ({lib.path}); {gemm}; "
            "BRICKWORK_ONEDNN=0 turns it off")


def gemm_rule() -> tuple[bool, str]:
    """Whether float32 matrix products run on oneDNN's GEMM in this process, and why (decided once).

    Yes where oneDNN's kernels are AVX-512 and NumPy's BLAS is OpenBLAS. One thread, oneDNN's
    time / OpenBLAS's: 0.45-0.6 on an AMD EPYC with OpenBLAS forced to its Haswell kernel; on an
    Intel Xeon (AVX-512, AMX) against OpenBLAS's SkylakeX kernel 0.72-1.0 for the benchmark's
    Linear products, 0.32 for the weight gradients of AlexNet's dense layers at batch 16 (inner
    size 16), 1.2 for one (1024x4096x256, transposed first operand). Without AVX-512 in oneDNN,
    or with another BLAS under NumPy (MKL, Accelerate), NumPy's stays and results keep its bits.
    """
    if "gemm" not in _state:
        from brickwork._blas import openblas_kernel

        lib = _load()
        kernel = None if lib is None else openblas_kernel()
        if lib is None:
            _state["gemm"] = (False, "")
        elif not lib.lib.dnnl_get_effective_cpu_isa() & _ISA_AVX512_CORE:
            _state["gemm"] = (False, "matrix products on NumPy's BLAS (oneDNN has no AVX-512 here)")
        elif kernel is None:
            _state["gemm"] = (False, "matrix products on NumPy's BLAS (not OpenBLAS)")
        else:
            _state["gemm"] = (True, f"float32 matrix products on oneDNN's AVX-512 GEMM (NumPy's "
                                    f"OpenBLAS runs its {kernel} kernel)")
    return _state["gemm"]


def _operand(a: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, bytes, int]:
    """``a`` as dnnl_sgemm reads it: (array, b"N" or b"T", leading dimension), copying only when
    neither it nor its transpose has unit stride along a row."""
    row, col = a.strides
    if col == 4 and row % 4 == 0 and row // 4 >= cols:
        return a, b"N", row // 4
    if row == 4 and col % 4 == 0 and col // 4 >= rows:
        return a, b"T", col // 4
    return np.ascontiguousarray(a), b"N", cols


# False once it is known that no product goes to oneDNN in this process (switched off, not
# installed, or gemm_rule said no): hot paths read it before calling mm
gemm_live = os.environ.get("BRICKWORK_ONEDNN", "1").strip().lower() not in ("0", "false", "no", "off")


def mm(a: Any, b: Any) -> Any:
    """``a @ b`` for two matrices: on oneDNN's GEMM for float32 NumPy matrices large enough where
    :func:`gemm_rule` says it is faster (or inside ``forced("onednn")``), otherwise the operator
    itself (NumPy's BLAS, CuPy's, or a recorded product when gradients are being traced).
    """
    if gemm_live:
        m, k = a.shape
        n = b.shape[1]
        if m * k * n >= gemm_min_work and m > 1 and n > 1 and _gemm_takes(a, b):
            return _sgemm(a, b, m, k, n)
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return a.dot(b)  # less overhead than the operator for tiny matrices
    return a @ b


def _gemm_takes(a: Any, b: Any) -> bool:
    global gemm_live
    if not (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == np.float32
            and b.dtype == np.float32) or _state.get("off"):
        return False
    if _load() is None or not (_state.get("always") or gemm_rule()[0]):
        gemm_live = False  # never again in this process, unless forced("onednn") re-arms it
        return False
    return True


def bmm(a: Any, b: Any) -> Any:
    """``a @ b`` for two stacks of matrices. On more than one BLAS thread, where both stacks have
    the same batch shape and each product is one :func:`mm` would hand to oneDNN, every product
    runs on oneDNN's GEMM, so that OpenBLAS's workers do not wake beside oneDNN's (attention's
    batched products: Transformer layer, two threads, 349-356 -> 315-322 ms per step); otherwise the
    operator, whose C loop costs less per product on one thread."""
    if gemm_live and gemm_min_work < GEMM_MIN_WORK and a.ndim == b.ndim > 2 \
            and a.shape[:-2] == b.shape[:-2]:
        m, k = a.shape[-2:]
        n = b.shape[-1]
        if m * k * n >= gemm_min_work and m > 1 and n > 1 and _gemm_takes(a, b):
            out = np.empty(a.shape[:-1] + (n,), np.float32)
            a3, b3, out3 = a.reshape(-1, m, k), b.reshape(-1, k, n), out.reshape(-1, m, n)
            for i in range(out3.shape[0]):
                _sgemm(a3[i], b3[i], m, k, n, out3[i])
            return out
    return a @ b


def _sgemm(a: np.ndarray, b: np.ndarray, m: int, k: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
    lib = _state["lib"]
    announce_once()
    lib.match_threads()
    a, trans_a, lda = _operand(a, m, k)
    b, trans_b, ldb = _operand(b, k, n)
    if out is None:
        out = np.empty((m, n), np.float32)
    lib.check(lib.lib.dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb,
                                 0.0, out.ctypes.data, n), "dnnl_sgemm")
    return out


def announce_once() -> None:
    """Say on stderr, once per process, which convolution path is used."""
    if not _state.get("announced"):
        _state["announced"] = True
        print(f"brickwork: {describe()}", file=sys.stderr)


# ---- per-channel arithmetic on NCHW arrays (batch norm's passes)

# below this many elements a oneDNN call's fixed cost (~15 us) outweighs its faster loop
CHANNEL_MIN_SIZE = 1 << 16


def channel_op_takes(*arrays: Any) -> bool:
    """Whether :func:`channel_op` runs these arrays on oneDNN: float32 C-contiguous NumPy arrays of
    2 to 5 dimensions, one shape, at least :data:`CHANNEL_MIN_SIZE` elements, oneDNN loaded and
    not switched off (``forced("numpy")`` included)."""
    x = arrays[0]
    if not (type(x) is np.ndarray and x.dtype == np.float32 and 2 <= x.ndim <= 5
            and x.size >= CHANNEL_MIN_SIZE and x.flags.c_contiguous):
        return False
    if any(not (type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
                and a.shape == x.shape) for a in arrays[1:]):
        return False
    return not _state.get("off") and _load() is not None


def channel_op(x: np.ndarray, op: str, values: Any, then: tuple[tuple[str, Any], ...] = ()) -> np.ndarray:
    """``x op values[c]`` over the channel axis 1 of a C-contiguous array, followed by each
    ``(op, operand)`` of ``then`` in order, where an operand is per-channel (``C`` values) or an
    array of ``x``'s shape: one pass of oneDNN's binary kernel with post-ops, in the order NumPy
    would compute it (the same float32 roundings, no fused multiply-add). Call it only where
    :func:`channel_op_takes` says yes.

    NumPy's broadcast loops take two to three times as long for the same passes (128x32x32x32 on
    an Intel Xeon, one thread: ``x * s + b`` 3.05 ms in NumPy, 1.28 ms here; an add of two full
    arrays is memory-bound and no faster, so full-size operands only ride along as post-ops).
    """
    lib = _state["lib"]
    lib.match_threads()
    c = x.shape[1]
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    operands = [_channel_values(values, per_channel)]
    kinds = []
    for name, operand in then:
        full = isinstance(operand, np.ndarray) and operand.shape == x.shape
        operands.append(np.ascontiguousarray(operand) if full else _channel_values(operand, per_channel))
        kinds.append((name, full))
    plan = lib.cached(("channel", x.shape, op, tuple(kinds)),
                      lambda: _ChannelPlan(lib, x.shape, per_channel, op, kinds))
    out = np.empty_like(x)
    args = [(_ARG_SRC, plan.x_md, x), (_ARG_SRC_1, plan.c_md, operands[0]), (_ARG_DST, plan.x_md, out)]
    for i, (_, full) in enumerate(kinds):
        args.append((32768 * (i + 1) | _ARG_SRC_1, plan.x_md if full else plan.c_md, operands[i + 1]))
    lib.execute(plan.primitive, args)
    return out


def _channel_values(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, np.float32).reshape(shape))


class _ChannelPlan:
    """A binary primitive with its post-ops for one shape and sequence of operations."""

    def __init__(self, lib: _Library, shape: tuple[int, ...], per_channel: tuple[int, ...], op: str,
                 kinds: list[tuple[str, bool]]) -> None:
        tag = _PLAIN_TAGS[len(shape)]
        self.x_md, self.c_md = lib.md_tag(shape, tag), lib.md_tag(per_channel, tag)
        attr = lib._create("dnnl_primitive_attr_create")
        lib.check(lib.lib.dnnl_primitive_attr_set_scratchpad_mode(attr, _SCRATCHPAD_USER),
                  "dnnl_primitive_attr_set_scratchpad_mode")
        if kinds:
            post_ops = lib._create("dnnl_post_ops_create")
            for name, full in kinds:
                lib.check(lib.lib.dnnl_post_ops_append_binary(post_ops, _BINARY[name],
                                                              self.x_md if full else self.c_md),
                          "dnnl_post_ops_append_binary")
            lib.check(lib.lib.dnnl_primitive_attr_set_post_ops(attr, post_ops),
                      "dnnl_primitive_attr_set_post_ops")
        pd = lib._create("dnnl_binary_primitive_desc_create", lib.engine, _BINARY[op], self.x_md,
                         self.c_md, self.x_md, attr)
        self.primitive = lib.primitive(pd)


def usable(*arrays: np.ndarray) -> bool:
    """oneDNN takes float32 NumPy arrays with positive element strides and no empty dimension."""
    if _state.get("off") or _load() is None:
        return False
    for a in arrays:
        if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.size == 0:
            return False
        if any(s <= 0 or s % 4 for s in a.strides):
            return False
    return True


def _strides(a: np.ndarray) -> tuple[int, ...]:
    return tuple(s // a.itemsize for s in a.strides)


def _weights_shape(w_shape: tuple[int, ...], groups: int) -> tuple[int, ...]:
    o, cg, kh, kw = w_shape
    return (o, cg, kh, kw) if groups == 1 else (groups, o // groups, cg, kh, kw)


def _geometry_args(stride: tuple[int, int], pads: tuple[tuple[int, int], tuple[int, int]],
                   dilation: tuple[int, int]) -> tuple[Any, Any, Any, Any]:
    return (_Dims(*stride), _Dims(*(d - 1 for d in dilation)),
            _Dims(pads[0][0], pads[1][0]), _Dims(pads[0][1], pads[1][1]))


class _ForwardPlan:
    def __init__(self, lib: _Library, x_shape: tuple[int, ...], x_strides: tuple[int, ...],
                 w_shape: tuple[int, ...], has_bias: bool, out_shape: tuple[int, ...], stride: Any, pads: Any,
                 dilation: Any, groups: int) -> None:
        self.w_shape = _weights_shape(w_shape, groups)
        self.x_md = lib.md_strided(x_shape, x_strides)
        self.w_md = lib.md_tag(self.w_shape, _TAG_ABCD if groups == 1 else _TAG_ABCDE)
        self.out_md = lib.md_tag(out_shape, _TAG_ABCD)
        self.bias_md = lib.md_tag((w_shape[0],), _TAG_A) if has_bias else None
        self.pd = lib._create(
            "dnnl_convolution_forward_primitive_desc_create", lib.engine, _FORWARD_TRAINING, _CONV_DIRECT,
            lib.md_tag(x_shape, _TAG_ANY), lib.md_tag(self.w_shape, _TAG_ANY), self.bias_md,
            lib.md_tag(out_shape, _TAG_ANY), *_geometry_args(stride, pads, dilation), lib.attr)
        self.prim = lib.primitive(self.pd)
        self.impl = lib.impl_name(self.pd)
        self.src, self.wts, self.dst = lib.query(self.pd, _Q_SRC), lib.query(self.pd, _Q_WEIGHTS), \
            lib.query(self.pd, _Q_DST)
        self.sizes = {md: lib.lib.dnnl_memory_desc_get_size(md) // 4
                      for md in (self.src, self.wts, self.dst)}
        self.to_src = lib.reorder(self.x_md, self.src)
        self.to_wts = lib.reorder(self.w_md, self.wts)
        self.from_dst = lib.reorder(self.dst, self.out_md)


def _forward_plan(lib: _Library, x_shape: tuple[int, ...], x_strides: tuple[int, ...],
                  w_shape: tuple[int, ...], has_bias: bool, out_shape: tuple[int, ...], stride: Any,
                  pads: Any, dilation: Any, groups: int) -> _ForwardPlan:
    key = ("fwd", x_shape, x_strides, w_shape, has_bias, stride, pads, dilation, groups)
    return lib.cached(key, lambda: _ForwardPlan(lib, x_shape, x_strides, w_shape, has_bias, out_shape,
                                                stride, pads, dilation, groups))


def _into(lib: _Library, reorder: Any, src_md: Any, array: np.ndarray, dst_md: Any,
          size: int, memo: dict | None = None) -> np.ndarray:
    """``array`` in the layout ``dst_md`` (a reordered copy, or the array itself when it already is).

    ``memo`` (a dict the caller keeps for one backward call) remembers the copies made, so that the
    weight and the input gradient reorder the incoming gradient once when they want the same layout.
    """
    if reorder is None:
        return array
    key = (array.ctypes.data, array.shape, array.strides) if memo is not None else None
    if memo is not None:
        for md, done in memo.get(key, ()):
            if lib.lib.dnnl_memory_desc_equal(md, dst_md):
                return done
    out = np.empty(size, np.float32)
    lib.execute(reorder, [(_ARG_SRC, src_md, array), (_ARG_DST, dst_md, out)])
    if memo is not None:
        memo.setdefault(key, []).append((dst_md, out))
    return out


def conv_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, out_shape: tuple[int, ...],
                 stride: tuple[int, int], pads: Any, dilation: tuple[int, int], groups: int) -> np.ndarray:
    """``conv2d(x, w, bias)`` as a C-contiguous NCHW array (``x`` in any strided layout)."""
    lib = _load()
    assert lib is not None
    lib.match_threads()
    w = np.ascontiguousarray(w)
    plan = _forward_plan(lib, x.shape, _strides(x), w.shape, bias is not None, out_shape, stride, pads,
                         dilation, groups)
    src = _into(lib, plan.to_src, plan.x_md, x, plan.src, plan.sizes[plan.src])
    wts = _into(lib, plan.to_wts, plan.w_md, w, plan.wts, plan.sizes[plan.wts])
    out = np.empty(out_shape, np.float32)
    dst = out if plan.from_dst is None else np.empty(plan.sizes[plan.dst], np.float32)
    args = [(_ARG_SRC, plan.src, src), (_ARG_WEIGHTS, plan.wts, wts), (_ARG_DST, plan.dst, dst)]
    if bias is not None:
        args.append((_ARG_BIAS, plan.bias_md, np.ascontiguousarray(bias)))
    lib.execute(plan.prim, args)
    if plan.from_dst is not None:
        lib.execute(plan.from_dst, [(_ARG_SRC, plan.dst, dst), (_ARG_DST, plan.out_md, out)])
    return out


class _BackwardDataPlan:
    def __init__(self, lib: _Library, g: np.ndarray, w_shape: tuple[int, ...], x_shape: tuple[int, ...],
                 hint: _ForwardPlan, stride: Any, pads: Any, dilation: Any, groups: int) -> None:
        self.g_md = lib.md_strided(g.shape, _strides(g))
        self.w_md = hint.w_md
        self.gx_md = lib.md_tag(x_shape, _TAG_ABCD)
        self.pd = lib._create(
            "dnnl_convolution_backward_data_primitive_desc_create", lib.engine, _CONV_DIRECT,
            lib.md_tag(x_shape, _TAG_ANY), lib.md_tag(hint.w_shape, _TAG_ANY), lib.md_tag(g.shape, _TAG_ANY),
            *_geometry_args(stride, pads, dilation), hint.pd, lib.attr)
        self.prim = lib.primitive(self.pd)
        self.impl = lib.impl_name(self.pd)
        self.diff_src, self.wts, self.diff_dst = (lib.query(self.pd, q) for q in (_Q_DIFF_SRC, _Q_WEIGHTS,
                                                                                  _Q_DIFF_DST))
        self.sizes = {md: lib.lib.dnnl_memory_desc_get_size(md) // 4
                      for md in (self.diff_src, self.wts, self.diff_dst)}
        self.to_diff_dst = lib.reorder(self.g_md, self.diff_dst)
        self.to_wts = lib.reorder(self.w_md, self.wts)
        self.from_diff_src = lib.reorder(self.diff_src, self.gx_md)


def conv_backward_data(g: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], stride: tuple[int, int],
                       pads: Any, dilation: tuple[int, int], groups: int,
                       memo: dict | None = None) -> np.ndarray:
    """The input gradient of ``conv2d`` (input shape ``x_shape``) as a C-contiguous NCHW array
    (``memo``: see :func:`_into`)."""
    lib = _load()
    assert lib is not None
    lib.match_threads()
    w = np.ascontiguousarray(w)
    contiguous = tuple(int(np.prod(x_shape[i + 1:])) for i in range(len(x_shape)))
    hint = _forward_plan(lib, x_shape, contiguous, w.shape, False, g.shape, stride, pads, dilation, groups)
    key = ("bwd_data", g.shape, _strides(g), w.shape, x_shape, stride, pads, dilation, groups)
    plan = lib.cached(key, lambda: _BackwardDataPlan(lib, g, w.shape, x_shape, hint, stride, pads,
                                                     dilation, groups))
    diff_dst = _into(lib, plan.to_diff_dst, plan.g_md, g, plan.diff_dst, plan.sizes[plan.diff_dst], memo)
    wts = _into(lib, plan.to_wts, plan.w_md, w, plan.wts, plan.sizes[plan.wts])
    gx = np.empty(x_shape, np.float32)
    diff_src = gx if plan.from_diff_src is None else np.empty(plan.sizes[plan.diff_src], np.float32)
    lib.execute(plan.prim, [(_ARG_DIFF_DST, plan.diff_dst, diff_dst), (_ARG_WEIGHTS, plan.wts, wts),
                            (_ARG_DIFF_SRC, plan.diff_src, diff_src)])
    if plan.from_diff_src is not None:
        lib.execute(plan.from_diff_src, [(_ARG_SRC, plan.diff_src, diff_src), (_ARG_DST, plan.gx_md, gx)])
    return gx


class _BackwardWeightsPlan:
    def __init__(self, lib: _Library, x: np.ndarray, g: np.ndarray, w_shape: tuple[int, ...],
                 need_bias: bool, hint: _ForwardPlan, stride: Any, pads: Any, dilation: Any,
                 groups: int) -> None:
        self.x_md = hint.x_md
        self.g_md = lib.md_strided(g.shape, _strides(g))
        self.gw_md = hint.w_md
        self.gb_md = lib.md_tag((w_shape[0],), _TAG_A) if need_bias else None
        self.pd = lib._create(
            "dnnl_convolution_backward_weights_primitive_desc_create", lib.engine, _CONV_DIRECT,
            lib.md_tag(x.shape, _TAG_ANY), lib.md_tag(hint.w_shape, _TAG_ANY), self.gb_md,
            lib.md_tag(g.shape, _TAG_ANY), *_geometry_args(stride, pads, dilation), hint.pd, lib.attr)
        self.prim = lib.primitive(self.pd)
        self.impl = lib.impl_name(self.pd)
        self.src, self.diff_wts, self.diff_dst = (lib.query(self.pd, q) for q in (_Q_SRC, _Q_DIFF_WEIGHTS,
                                                                                  _Q_DIFF_DST))
        self.sizes = {md: lib.lib.dnnl_memory_desc_get_size(md) // 4
                      for md in (self.src, self.diff_wts, self.diff_dst)}
        self.to_src = lib.reorder(self.x_md, self.src)
        self.to_diff_dst = lib.reorder(self.g_md, self.diff_dst)
        self.from_diff_wts = lib.reorder(self.diff_wts, self.gw_md)


def conv_backward_weights(x: np.ndarray, g: np.ndarray, w_shape: tuple[int, ...], need_bias: bool,
                          stride: tuple[int, int], pads: Any, dilation: tuple[int, int],
                          groups: int, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight gradient (and the bias gradient when asked) of ``conv2d`` (``memo``: see
    :func:`_into`)."""
    lib = _load()
    assert lib is not None
    lib.match_threads()
    hint = _forward_plan(lib, x.shape, _strides(x), w_shape, False, g.shape, stride, pads, dilation, groups)
    key = ("bwd_weights", x.shape, _strides(x), g.shape, _strides(g), w_shape, need_bias, stride, pads,
           dilation, groups)
    plan = lib.cached(key, lambda: _BackwardWeightsPlan(lib, x, g, w_shape, need_bias, hint, stride, pads,
                                                        dilation, groups))
    src = _into(lib, plan.to_src, plan.x_md, x, plan.src, plan.sizes[plan.src])
    diff_dst = _into(lib, plan.to_diff_dst, plan.g_md, g, plan.diff_dst, plan.sizes[plan.diff_dst], memo)
    gw = np.empty(w_shape, np.float32)
    diff_wts = gw if plan.from_diff_wts is None else np.empty(plan.sizes[plan.diff_wts], np.float32)
    gb = np.empty(w_shape[0], np.float32) if need_bias else None
    args = [(_ARG_SRC, plan.src, src), (_ARG_DIFF_DST, plan.diff_dst, diff_dst),
            (_ARG_DIFF_WEIGHTS, plan.diff_wts, diff_wts)]
    if gb is not None:
        args.append((_ARG_DIFF_BIAS, plan.gb_md, gb))
    lib.execute(plan.prim, args)
    if plan.from_diff_wts is not None:
        lib.execute(plan.from_diff_wts, [(_ARG_SRC, plan.diff_wts, diff_wts), (_ARG_DST, plan.gw_md, gw)])
    return gw, gb
