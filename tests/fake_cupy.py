"""A stand-in for CuPy built on NumPy, to run brickwork's GPU code paths on a machine without a GPU.

This is NOT a GPU test. It proves the plumbing that a real run would otherwise be the first to
exercise, the way CuPy itself would reject it:

- arrays are not ``numpy.ndarray``; ``np.asarray(array)`` and NumPy functions on them raise
  ``TypeError`` as CuPy's do, so code that reaches for ``np.`` on device data fails here;
- only the names that CuPy 14.2 has exist (``tests/cupy_api.json``, read off a real CuPy wheel):
  ``cupy.frompyfunc``, ``Generator.permutation``... raise ``AttributeError`` as they would there;
- every array lives on a device: arrays are allocated on the *current* device, and a function that
  gets an array of another device raises, so missing device switches show up with 2 fake GPUs;
- device-to-host reads (``get``, ``item``, ``bool()``, ``float()``, ``tolist``, printing) and
  host-to-device copies are counted in :data:`stats`, so "no hidden syncs, no silent transfers"
  can be asserted.

What it cannot show: speed, CUDA kernels (``ElementwiseKernel``, ``fuse``), numerics of cuBLAS /
cuDNN, asynchronous execution. Those need the real GPU run (``scripts/gpu_check.sh``).

Install it with :func:`install` before brickwork first imports CuPy (``tests/conftest.py`` does so
for ``BRICKWORK_TEST_FAKE_CUPY=1``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import operator
import os
import sys
import threading
import types
import weakref
from typing import Any

import numpy as np

_API = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cupy_api.json")))


class _Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.d2h = 0  # device-to-host reads (each one a host sync on a real GPU)
        self.h2d = 0  # host-to-device copies
        self.d2h_calls: list[str] = []
        self.h2d_calls: list[str] = []

    def read(self, what: str) -> None:
        if not _sync_allowed[0]:
            raise DeviceSynchronized(f"fake CuPy: synchronising read ({what}) while synchronisation "
                                     "is disallowed")
        self.d2h += 1
        self.d2h_calls.append(what)

    def write(self, what: str) -> None:
        self.h2d += 1
        self.h2d_calls.append(what)


stats = _Stats()
_sync_allowed = [True]
_local = threading.local()
DEVICE_COUNT = int(os.environ.get("BRICKWORK_FAKE_CUPY_DEVICES", "2"))


class CUDARuntimeError(RuntimeError):
    pass


class DeviceSynchronized(RuntimeError):
    pass


def _current() -> int:
    return getattr(_local, "device", 0)


# ---------------------------------------------------------------------------
# arrays


def _unwrap(x: Any, where: str, check: bool = True) -> Any:
    """Fake arrays -> their NumPy arrays (checking they are on the current device)."""
    if isinstance(x, ndarray):
        if check and x._dev != _current():
            raise ValueError(
                f"fake CuPy: {where}: the array is on device {x._dev} but the current device is "
                f"{_current()} (CuPy allocates and launches on the current device; make the "
                "array's device current first)"
            )
        return x._a
    if isinstance(x, np.ndarray) and x.ndim > 0:
        raise TypeError(f"fake CuPy: {where}: Unsupported type {type(x)} (a NumPy array given to a "
                        "CuPy function; CuPy never converts host arrays implicitly here)")
    if isinstance(x, tuple):
        return tuple(_unwrap(v, where, check) for v in x)
    if isinstance(x, list):
        return [_unwrap(v, where, check) for v in x]
    return x


def _unwrap_index(x: Any, shape: tuple[int, ...] | None = None) -> Any:
    """Indices may hold NumPy arrays and lists (CuPy copies them to the device). Integer arrays that
    point outside an axis wrap around instead of raising: CuPy's kernels do not check bounds."""
    if isinstance(x, tuple):
        items = tuple(_unwrap_index(v) for v in x)
        return _wrap_out_of_bounds(items, shape) if shape is not None else items
    if isinstance(x, ndarray):
        x = _unwrap(x, "indexing")
    elif isinstance(x, np.ndarray):
        stats.write("a NumPy array used as an index")
    elif isinstance(x, list):
        stats.write("a list used as an index")
        x = np.asarray(x)
    return _wrap_out_of_bounds((x,), shape)[0] if shape is not None else x


def _wrap_out_of_bounds(items: tuple, shape: tuple[int, ...]) -> tuple:
    used = sum(1 if not isinstance(v, np.ndarray) or v.dtype.kind != "b" else v.ndim
               for v in items if v is not None and v is not Ellipsis)
    out, axis = [], 0
    for v in items:
        if v is Ellipsis:
            axis += len(shape) - used
        elif v is None:
            pass
        elif isinstance(v, np.ndarray) and v.dtype.kind == "b":
            axis += v.ndim
        else:
            if isinstance(v, np.ndarray) and v.dtype.kind in "iu" and axis < len(shape) and shape[axis]:
                v = v % shape[axis]
            axis += 1
        out.append(v)
    return tuple(out)


def _wrap(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ndarray._of(x, _current())
    if isinstance(x, np.generic):
        return ndarray._of(np.asarray(x), _current())
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _call(fn: Any, where: str, args: tuple, kwargs: dict) -> Any:
    args = _unwrap(args, where)
    kwargs = {k: _unwrap(v, where) for k, v in kwargs.items()}
    with np.errstate(all="ignore"):  # CuPy computes inf/nan silently
        return _wrap(fn(*args, **kwargs))


class _Flags:
    def __init__(self, a: np.ndarray) -> None:
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)


class _DeviceRef:
    def __init__(self, i: int) -> None:
        self.id = i

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


class _Data:
    def __init__(self, a: np.ndarray, dev: int) -> None:
        self.ptr = int(a.__array_interface__["data"][0])
        self.device_id = dev


_NDARRAY_API = set(_API["ndarray"])
_METADATA_ONLY = {"view", "transpose", "swapaxes", "squeeze"}
_live_bytes = [0]


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array plus the device it lives on."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_ufunc__ = None  # NumPy's functions and operators refuse it, as they refuse CuPy arrays

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:
        self._a = np.zeros(shape, dtype=dtype, order=order)
        self._dev = _current()
        _track(self)

    @classmethod
    def _of(cls, a: np.ndarray, dev: int) -> ndarray:
        out = object.__new__(cls)
        out._a = a
        out._dev = dev
        if a.base is None:
            _track(out)
        return out

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __array_function__(self, *args: Any, **kwargs: Any) -> Any:
        return NotImplemented

    __array_priority__ = 100  # CuPy's: an operand of higher priority gets the reflected operator

    # -- attributes -----------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    device = property(lambda self: _DeviceRef(self._dev))
    data = property(lambda self: _Data(self._a, self._dev))
    T = property(lambda self: ndarray._of(self._a.T, self._dev))
    mT = property(lambda self: ndarray._of(np.swapaxes(self._a, -1, -2), self._dev))
    real = property(lambda self: ndarray._of(self._a.real, self._dev))
    imag = property(lambda self: ndarray._of(self._a.imag, self._dev))

    @property
    def base(self) -> Any:
        return None if self._a.base is None else ndarray._of(self._a.base, self._dev) \
            if isinstance(self._a.base, np.ndarray) else self

    def __getattr__(self, name: str) -> Any:
        if name not in _NDARRAY_API:
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        method = getattr(self._a, name)
        if not callable(method):  # ndarray.flat
            return _Grid(method)

        def bound(*args: Any, **kwargs: Any) -> Any:
            if name in _METADATA_ONLY:  # no kernel, no allocation: any current device will do
                return ndarray._of(method(*_unwrap(args, name), **kwargs), self._dev)
            _unwrap(self, f"ndarray.{name}")
            return _call(method, f"ndarray.{name}", args, kwargs)

        return bound

    # -- host transfers (counted) -----------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True) -> Any:
        stats.read("ndarray.get()" if blocking else "ndarray.get(blocking=False)")
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, copy=True, order=order)

    def set(self, arr: Any, stream: Any = None) -> None:
        if not isinstance(arr, np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        stats.write("ndarray.set()")
        self._a[...] = arr

    def item(self) -> Any:
        stats.read("ndarray.item()")
        return self._a.item()

    def tolist(self) -> Any:
        stats.read("ndarray.tolist()")
        return self._a.tolist()

    def __bool__(self) -> bool:
        stats.read("bool(ndarray)")
        return bool(self._a)

    def __float__(self) -> float:
        stats.read("float(ndarray)")
        return float(self._a)

    def __int__(self) -> int:
        stats.read("int(ndarray)")
        return int(self._a)

    def __index__(self) -> int:
        stats.read("operator.index(ndarray)")
        return operator.index(self._a)

    def __complex__(self) -> complex:
        stats.read("complex(ndarray)")
        return complex(self._a)

    def __repr__(self) -> str:
        stats.read("repr(ndarray)")
        return repr(self._a).replace("array(", "fake_cupy.array(")

    __str__ = __repr__

    # -- containers -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        for i in range(len(self._a)):
            yield self[i]

    def __getitem__(self, index: Any) -> Any:
        _unwrap(self, "getitem")
        return _wrap(self._a[_unwrap_index(index, self._a.shape)])

    def __setitem__(self, index: Any, value: Any) -> None:
        _unwrap(self, "setitem")
        if isinstance(value, np.ndarray):
            stats.write("a NumPy array assigned into a device array")
        else:
            value = _unwrap(value, "setitem")
        self._a[_unwrap_index(index, self._a.shape)] = value

    def __copy__(self) -> ndarray:
        return self.copy()

    def __deepcopy__(self, memo: dict) -> ndarray:
        return self.copy()

    def __reduce__(self) -> Any:
        raise TypeError("fake CuPy arrays are not picklable in brickwork's tests")

    __hash__ = None  # type: ignore[assignment]


def _binary(op: Any, name: str, reflected: bool = False, inplace: bool = False) -> Any:
    def method(self: ndarray, other: Any) -> Any:
        if (not inplace and not isinstance(other, ndarray)
                and getattr(other, "__array_priority__", 0) > ndarray.__array_priority__):
            return NotImplemented  # (CuPy's _should_use_rop)
        a = _unwrap(self, name)
        if isinstance(other, np.ndarray):
            raise TypeError(f"fake CuPy: {name}: Unsupported type {type(other)}")
        b = _unwrap(other, name)
        with np.errstate(all="ignore"):
            return _apply(self, a, b)

    def _apply(self: ndarray, a: Any, b: Any) -> Any:
        if inplace:
            self._a = op(a, b)  # NumPy's in-place operator writes into a and returns it
            return self
        return _wrap(op(b, a) if reflected else op(a, b))

    method.__name__ = name
    return method


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                   ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                   ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
                   ("lshift", operator.lshift), ("rshift", operator.rshift)]:
    setattr(ndarray, f"__{_name}__", _binary(_op, f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _binary(_op, f"__r{_name}__", reflected=True))
for _name, _op in [("iadd", operator.iadd), ("isub", operator.isub), ("imul", operator.imul),
                   ("itruediv", operator.itruediv), ("ifloordiv", operator.ifloordiv),
                   ("imod", operator.imod), ("ipow", operator.ipow), ("iand", operator.iand),
                   ("ior", operator.ior), ("ixor", operator.ixor)]:
    setattr(ndarray, f"__{_name}__", _binary(_op, f"__{_name}__", inplace=True))
for _name, _op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                   ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge)]:
    setattr(ndarray, f"__{_name}__", _binary(_op, f"__{_name}__"))
for _name, _op in [("neg", operator.neg), ("pos", operator.pos), ("abs", operator.abs),
                   ("invert", operator.invert)]:
    setattr(ndarray, f"__{_name}__",
            (lambda op, n: lambda self: _wrap(op(_unwrap(self, n))))(_op, f"__{_name}__"))


def _track(arr: ndarray) -> None:
    n = arr._a.nbytes
    _live_bytes[0] += n
    _pool.peak_seen(_live_bytes[0])
    weakref.finalize(arr, _release, n)


def _release(n: int) -> None:
    _live_bytes[0] -= n


# ---------------------------------------------------------------------------
# module-level functions


class _Ufunc:
    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs, self.types = uf.nin, uf.nout, uf.nargs, uf.types

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf, self.__name__, args, kwargs)

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.reduce, self.__name__ + ".reduce", args, kwargs)

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.accumulate, self.__name__ + ".accumulate", args, kwargs)

    def outer(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._uf.outer, self.__name__ + ".outer", args, kwargs)

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        # CuPy's ufunc.at is a scatter with atomics: add for int32/float16/float32/float64/uint32/
        # uint64, maximum/minimum for int32/float32/float64/uint32/uint64 (never int64 or bool)
        ok = {"add": "iHfdIQe", "maximum": "ifdIQ", "minimum": "ifdIQ", "subtract": "iI"}
        allowed = ok.get(self.__name__)
        if allowed is None:
            raise NotImplementedError(f"`{self.__name__}.at` is not supported yet")
        if a.dtype.char not in allowed and not (a.dtype == np.int32 or a.dtype == np.uint64):
            raise TypeError(f"cupy.{self.__name__}.at does not support {a.dtype}")
        self._uf.at(_unwrap(a, "ufunc.at"), _unwrap_index(indices, a.shape), _unwrap(b, "ufunc.at"))


class _Grid:
    def __init__(self, grid: Any) -> None:
        self._grid = grid

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._grid[key])


def _asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> Any:
    if isinstance(a, ndarray):
        if a._dev != _current():  # a copy between GPUs
            return ndarray._of(np.array(a._a, dtype=dtype, copy=True), _current())
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    if isinstance(a, np.ndarray) or (isinstance(a, (list, tuple)) and _has_host_arrays(a)):
        stats.write("cupy.asarray(host data)")
    return ndarray._of(np.array(a, dtype=dtype, order=order or "K", copy=True), _current())


def _array(a: Any, dtype: Any = None, copy: bool = True, order: str = "K", **_: Any) -> Any:
    out = _asarray(a, dtype, order)
    if copy and out is a:
        out = a.copy()
    return out


def _along_axis(arr: Any, indices: Any, axis: int) -> tuple:
    index = _unwrap(indices, "along_axis")
    grids = list(np.ogrid[tuple(slice(0, s) for s in index.shape)])
    grids[axis % arr.ndim] = index % arr.shape[axis] if arr.shape[axis] else index  # no bounds check
    return tuple(grids)


def _take_along_axis(arr: ndarray, indices: ndarray, axis: int) -> ndarray:
    return _wrap(_unwrap(arr, "take_along_axis")[_along_axis(arr, indices, axis)])


def _put_along_axis(arr: ndarray, indices: ndarray, values: Any, axis: int) -> None:
    _unwrap(arr, "put_along_axis")[_along_axis(arr, indices, axis)] = _unwrap(values, "put_along_axis")


def _has_host_arrays(seq: Any) -> bool:
    return any(isinstance(x, np.ndarray) or (isinstance(x, (list, tuple)) and _has_host_arrays(x))
               for x in seq)


def _asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True) -> Any:
    if isinstance(a, ndarray):
        return a.get(out=out, blocking=blocking)
    return np.asarray(a)


def _get_array_module(*args: Any) -> Any:
    return module if any(isinstance(a, ndarray) for a in args) else np


def _not_on_fake(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"fake CuPy cannot run {name} (it compiles CUDA code); "
                                  "this path needs the real GPU run")

    return fn


def _signature(qualname: str) -> inspect.Signature | None:
    """CuPy's own signature of a function (from cupy_api.json), to refuse arguments it lacks."""
    spec = _API["signatures"].get(qualname)
    if spec is None:
        return None
    params = [inspect.Parameter(name, inspect._ParameterKind(kind),
                                default=None if has_default else inspect.Parameter.empty)
              for name, kind, has_default in spec]
    return inspect.Signature(params)


def _check_call(sig: inspect.Signature | None, where: str, args: tuple, kwargs: dict) -> None:
    if sig is None:
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"fake CuPy: {where}{sig}: {exc} (CuPy {_API['version']} has no such "
                        "argument, though NumPy may)") from None


class _Module(types.ModuleType):
    """A CuPy namespace: only CuPy's names, NumPy's functions behind them, arrays wrapped."""

    def __init__(self, name: str, np_mod: Any, names: list[str], extra: dict[str, Any]) -> None:
        super().__init__(name)
        self._np = np_mod
        self._names = set(names)
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name not in self._names:
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' (fake CuPy "
                                 f"offers CuPy {_API['version']}'s names only)")
        obj = getattr(self._np, name)
        if isinstance(obj, np.ufunc):
            return _Ufunc(obj)
        if isinstance(obj, type) or not callable(obj):
            return obj
        where = f"{self.__name__}.{name}"
        sig = _signature(where.partition(".")[2])

        def fn(*args: Any, **kwargs: Any) -> Any:
            _check_call(sig, where, args, kwargs)
            return _call(obj, where, args, kwargs)

        fn.__name__ = name
        return fn


# -- random -------------------------------------------------------------------


class _BitGenerator:
    def __init__(self, seed: Any = None, *, size: int = -1) -> None:
        self.seed = seed


class Generator:
    """CuPy's Generator: only its 18 methods (no permutation, choice, shuffle, normal)."""

    def __init__(self, bit_generator: _BitGenerator) -> None:
        self._rng = np.random.Generator(np.random.PCG64(bit_generator.seed))

    def __getattr__(self, name: str) -> Any:
        if name not in _API["random.Generator"]:
            raise AttributeError(f"'cupy.random.Generator' object has no attribute '{name}'")
        method = getattr(self._rng, name)
        sig = _signature(f"random.Generator.{name}")
        if sig is not None:  # (drop ``self``)
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])

        def draw(*args: Any, **kwargs: Any) -> Any:
            _check_call(sig, f"Generator.{name}", args, kwargs)
            dtype = kwargs.pop("dtype", None) if name in ("uniform",) else None
            out = _call(method, f"Generator.{name}", args, kwargs)
            return out.astype(dtype) if dtype is not None else out

        return draw


_random = _Module("cupy.random", np.random, _API["random"], {
    "Generator": Generator, "XORWOW": _BitGenerator, "Philox4x3210": _BitGenerator,
    "MRG32k3a": _BitGenerator, "BitGenerator": _BitGenerator,
    "default_rng": lambda seed=None: Generator(_BitGenerator(seed)),
})


# -- cuda -------------------------------------------------------------------------


class Device:
    def __init__(self, device: Any = None) -> None:
        self.id = _current() if device is None else int(device)
        self._stack: list[int] = []

    def __enter__(self) -> Device:
        if not 0 <= self.id < DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
        self._stack.append(_current())
        _local.device = self.id
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.device = self._stack.pop()

    def use(self) -> None:
        _local.device = self.id

    def synchronize(self) -> None:
        pass

    @property
    def compute_capability(self) -> str:
        return "90"


class Stream:
    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False) -> None:
        self.ptr = 0

    def synchronize(self) -> None:
        pass

    def use(self) -> Stream:
        return self

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def record(self, event: Any = None) -> Any:
        return event or Event()

    def wait_event(self, event: Any) -> None:
        pass


Stream.null = Stream(null=True)


class Event:
    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self._t: float | None = None
        self.disable_timing = disable_timing

    def record(self, stream: Any = None) -> None:
        import time

        self._t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return True


def _elapsed(start: Event, end: Event) -> float:
    if start._t is None or end._t is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    if start.disable_timing or end.disable_timing:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: timing disabled")
    return (end._t - start._t) * 1000.0


class _MemoryPool:
    def __init__(self) -> None:
        self.peak = 0
        self.hooks: list[Any] = []

    def peak_seen(self, used: int) -> None:
        self.peak = max(self.peak, used)
        for hook in list(self.hooks):
            hook.malloc_postprocess(device_id=_current(), size=used, mem_size=used, mem_ptr=0, pmem_id=0)

    def used_bytes(self) -> int:
        return _live_bytes[0]

    def total_bytes(self) -> int:
        return _live_bytes[0]

    def free_bytes(self) -> int:
        return 0

    def free_all_blocks(self, stream: Any = None) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0

    def get_limit(self) -> int:
        return 0

    def set_limit(self, size: Any = None, fraction: Any = None) -> None:
        pass


_pool = _MemoryPool()
_pinned_pool = _MemoryPool()


class MemoryHook:
    name = "MemoryHook"

    def __enter__(self) -> MemoryHook:
        _pool.hooks.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _pool.hooks.remove(self)

    def malloc_postprocess(self, **kwargs: Any) -> None:
        pass


class PinnedMemoryPointer(bytearray):
    """Page-locked host memory (here: a plain buffer)."""


def _alloc_pinned_memory(size: int) -> Any:
    return PinnedMemoryPointer(size)


def _device_properties(i: int) -> dict:
    return {"name": b"Fake CuPy GPU (NumPy)", "totalGlobalMem": 1 << 34, "major": 9, "minor": 0,
            "multiProcessorCount": 1}


_runtime = types.SimpleNamespace(
    CUDARuntimeError=CUDARuntimeError,
    getDeviceCount=lambda: DEVICE_COUNT,
    getDevice=_current,
    setDevice=lambda i: setattr(_local, "device", int(i)),
    deviceSynchronize=lambda: None,
    getDeviceProperties=_device_properties,
    memGetInfo=lambda: (1 << 33, 1 << 34),
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
    deviceCanAccessPeer=lambda a, b: 1,
    is_hip=False,
)
_memory_hook = types.ModuleType("cupy.cuda.memory_hook")
_memory_hook.MemoryHook = MemoryHook  # type: ignore[attr-defined]

_cuda = types.ModuleType("cupy.cuda")
_cuda.__dict__.update(
    Device=Device, Stream=Stream, Event=Event, runtime=_runtime, memory_hook=_memory_hook,
    get_current_stream=lambda device=None: Stream.null, get_elapsed_time=_elapsed,
    alloc_pinned_memory=_alloc_pinned_memory, is_available=lambda: True,
    get_device_id=_current, MemoryHook=MemoryHook, PinnedMemoryPointer=PinnedMemoryPointer,
    PinnedMemoryPool=_MemoryPool, MemoryPool=_MemoryPool,
)


# -- cupyx ------------------------------------------------------------------------


@contextlib.contextmanager
def allow_synchronize(allow: bool) -> Any:
    old = _sync_allowed[0]
    _sync_allowed[0] = allow
    try:
        yield
    finally:
        _sync_allowed[0] = old


def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    np.add.at(_unwrap(a, "scatter_add"), _unwrap_index(slices, a.shape), _unwrap(value, "scatter_add"))


_erf = np.frompyfunc(math.erf, 1, 1)


def _special_erf(x: ndarray) -> ndarray:
    a = _unwrap(x, "cupyx.scipy.special.erf")
    return _wrap(np.asarray(_erf(a), dtype=a.dtype) if a.size else a.copy())


_special = _Module("cupyx.scipy.special", types.SimpleNamespace(), _API["cupyx.scipy.special"],
                   {"erf": _special_erf})
_scipy = types.ModuleType("cupyx.scipy")
_scipy.special = _special  # type: ignore[attr-defined]
cupyx = types.ModuleType("cupyx")
cupyx.__dict__.update(scatter_add=_scatter_add, allow_synchronize=allow_synchronize,
                      DeviceSynchronized=DeviceSynchronized, scipy=_scipy)


# -- the module ---------------------------------------------------------------------

module = _Module("cupy", np, _API["cupy"], {
    "__version__": _API["version"] + "+fake",
    "ndarray": ndarray, "asarray": _asarray, "array": _array, "asnumpy": _asnumpy,
    "ascontiguousarray": lambda a, dtype=None: _asarray(a, dtype, "C") if not isinstance(a, ndarray)
    else _wrap(np.ascontiguousarray(_unwrap(a, "ascontiguousarray"), dtype=dtype)),
    "get_array_module": _get_array_module, "take_along_axis": _take_along_axis,
    "put_along_axis": _put_along_axis, "ogrid": _Grid(np.ogrid), "mgrid": _Grid(np.mgrid),
    "random": _random, "cuda": _cuda, "linalg": _Module("cupy.linalg", np.linalg, _API["linalg"], {}),
    "fft": _Module("cupy.fft", np.fft, _API["fft"], {}),
    "get_default_memory_pool": lambda: _pool, "get_default_pinned_memory_pool": lambda: _pinned_pool,
    "fuse": _not_on_fake("cupy.fuse"), "ElementwiseKernel": _not_on_fake("cupy.ElementwiseKernel"),
    "RawKernel": _not_on_fake("cupy.RawKernel"), "ReductionKernel": _not_on_fake("cupy.ReductionKernel"),
    "is_fake": True,
})


_MODULES = {
    "cupy": module, "cupy.cuda": _cuda, "cupy.cuda.memory_hook": _memory_hook, "cupy.random": _random,
    "cupyx": cupyx, "cupyx.scipy": _scipy, "cupyx.scipy.special": _special,
}
_replaced: dict[str, Any] = {}


def install() -> None:
    """Make ``import cupy`` / ``import cupyx`` give the fake (call before brickwork imports CuPy)."""
    for name, mod in _MODULES.items():
        if name in sys.modules and sys.modules[name] is not mod:
            _replaced[name] = sys.modules[name]  # a real CuPy without a GPU: put back afterwards
        sys.modules[name] = mod


def uninstall() -> None:
    for name in _MODULES:
        sys.modules.pop(name, None)
    sys.modules.update(_replaced)
    _replaced.clear()
