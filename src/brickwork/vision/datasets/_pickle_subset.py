"""A reader for the data pickles of CIFAR-10 that never unpickles: a data-only subset of the protocol.

The files of ``cifar-10-python.tar.gz`` (``data_batch_1`` ... ``test_batch``, ``batches.meta``) are
Python pickles of one dict: text keys, a uint8 NumPy array ``data``, lists of ints and of
strings. ``pickle.load`` would run whatever a file names (``GLOBAL`` + ``REDUCE`` call any
importable function), so brickwork does not use it. This module walks the opcodes itself and
builds only plain values: None, bools, ints, floats, str, bytes, tuples, lists and dicts, plus
NumPy arrays of plain (non-object) dtypes. Globals are never imported: a ``GLOBAL`` opcode
becomes an inert marker, and only the markers of NumPy's own array pickling are accepted
(``numpy[._]core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``,
``numpy[._]core.numeric._frombuffer`` and ``_codecs.encode`` for bytes written by Python 3 at
protocol 2). Anything else (another global, object construction, persistent ids, extension
codes) raises :class:`UnsafePickleError` naming the opcode and its offset, before anything runs.

Python 2 ``str`` values (how the original files were written) decode as latin-1, as
torchvision's ``pickle.load(f, encoding="latin1")`` does.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np

__all__ = ["UnsafePickleError", "load_data_pickle"]


class UnsafePickleError(ValueError):
    """The pickle needs something outside the data-only subset (it may be hostile, or just unsupported)."""


_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
}


class _Global:
    """An allowed global, by name only (never imported)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


class _ArrayInProgress:
    """``_reconstruct(ndarray, (0,), b'b')``: an empty array waiting for its ``BUILD`` state."""


class _Mark:
    pass


_MARK = _Mark()


def _dtype_from_descr(descr: Any) -> np.dtype:
    if not isinstance(descr, str):
        raise UnsafePickleError(
            f"numpy.dtype: expected a type string such as 'u1', got {type(descr).__name__}"
        )
    dtype = np.dtype(descr)  # a type string, never an object
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufc":
        raise UnsafePickleError(f"numpy.dtype {descr!r}: only plain numeric arrays are read")
    return dtype


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):  # a Python 2 str read as latin-1
        return data.encode("latin-1")
    raise UnsafePickleError(f"array data: expected bytes, got {type(data).__name__}")


def _build_array(state: Any) -> np.ndarray:
    if not (isinstance(state, tuple) and len(state) == 5):
        raise UnsafePickleError("ndarray state: expected (version, shape, dtype, fortran, data)")
    _, shape, dtype, fortran, data = state
    if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
        raise UnsafePickleError("ndarray state: malformed shape or dtype")
    raw = _as_bytes(data)
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != len(raw):
        raise UnsafePickleError(
            f"ndarray state: shape {shape} of {dtype} needs {count * dtype.itemsize} bytes, found {len(raw)}"
        )
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _reduce(func: Any, args: Any) -> Any:
    kind = func.kind if isinstance(func, _Global) else None
    if not isinstance(args, tuple):
        raise UnsafePickleError("REDUCE: arguments are not a tuple")
    if (
        kind == "reconstruct"
        and len(args) == 3
        and isinstance(args[0], _Global)
        and args[0].kind == "ndarray"
    ):
        return _ArrayInProgress()
    if kind == "dtype" and len(args) >= 1:
        return _dtype_from_descr(args[0])
    if kind == "encode" and len(args) == 2 and isinstance(args[0], str) and args[1] == "latin1":
        return args[0].encode("latin-1")
    if kind == "frombuffer" and len(args) == 4 and isinstance(args[1], np.dtype):
        buf, dtype, shape, order = args
        return _build_array((1, tuple(shape), dtype, order == "F", buf))
    raise UnsafePickleError(f"REDUCE: calling {kind or type(func).__name__} is outside the data-only subset")


def _build(obj: Any, state: Any) -> Any:
    if isinstance(obj, _ArrayInProgress):
        return _build_array(state)
    if isinstance(obj, np.dtype):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            return obj.newbyteorder(state[1]) if state[1] in "<>" else obj
        raise UnsafePickleError("numpy.dtype state: malformed")
    raise UnsafePickleError(
        f"BUILD: setting the state of a {type(obj).__name__} is outside the data-only subset"
    )


class _Reader:
    def __init__(self, data: bytes, where: str) -> None:
        self.file = io.BytesIO(data)
        self.where = where
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}

    def read(self, n: int) -> bytes:
        chunk = self.file.read(n)
        if len(chunk) != n:
            raise UnsafePickleError(f"{self.where}: truncated pickle at byte {self.file.tell()}")
        return chunk

    def line(self) -> bytes:
        text = self.file.readline()
        if not text.endswith(b"\n"):
            raise UnsafePickleError(f"{self.where}: truncated pickle at byte {self.file.tell()}")
        return text[:-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise UnsafePickleError(f"{self.where}: malformed pickle (no MARK)")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def run(self) -> Any:
        while True:
            offset = self.file.tell()
            code = self.file.read(1)
            if not code:
                raise UnsafePickleError(f"{self.where}: pickle ends without STOP")
            if code not in _OPCODES:
                raise UnsafePickleError(
                    f"{self.where}: opcode {code!r} at byte {offset} is outside the data-only "
                    "subset brickwork reads (it never runs code from a pickle)"
                )
            if code == b".":
                if len(self.stack) != 1:
                    raise UnsafePickleError(
                        f"{self.where}: malformed pickle (stack of {len(self.stack)} at STOP)"
                    )
                return self.stack.pop()
            try:
                _OPCODES[code](self)
            except UnsafePickleError as exc:
                raise UnsafePickleError(f"{self.where}: byte {offset}: {exc}") from None
            except (IndexError, KeyError, TypeError, ValueError, struct.error) as exc:
                raise UnsafePickleError(f"{self.where}: malformed pickle at byte {offset} ({exc})") from None


def _push(value_of: Any) -> Any:
    return lambda r: r.stack.append(value_of(r))


def _global(r: _Reader, module: str, name: str) -> None:
    kind = _NUMPY_GLOBALS.get((module, name))
    if kind is None:
        raise UnsafePickleError(
            f"global {module}.{name} is not allowed (only NumPy's array pickling is read)"
        )
    r.stack.append(_Global(kind))


def _setitems(r: _Reader) -> None:
    items = r.pop_mark()
    target = r.stack[-1]
    if not isinstance(target, dict) or len(items) % 2:
        raise UnsafePickleError("SETITEMS on something that is not a dict")
    for key, value in zip(items[::2], items[1::2]):
        target[key] = value


def _setitem(r: _Reader) -> None:
    value, key = r.stack.pop(), r.stack.pop()
    if not isinstance(r.stack[-1], dict):
        raise UnsafePickleError("SETITEM on something that is not a dict")
    r.stack[-1][key] = value


def _appends(r: _Reader) -> None:
    items = r.pop_mark()
    if not isinstance(r.stack[-1], list):
        raise UnsafePickleError("APPENDS on something that is not a list")
    r.stack[-1].extend(items)


def _append(r: _Reader) -> None:
    value = r.stack.pop()
    if not isinstance(r.stack[-1], list):
        raise UnsafePickleError("APPEND on something that is not a list")
    r.stack[-1].append(value)


def _dict_from_mark(r: _Reader) -> None:
    items = r.pop_mark()
    r.stack.append(dict(zip(items[::2], items[1::2])))


def _int_line(r: _Reader) -> None:
    text = r.line()
    r.stack.append({b"00": False, b"01": True}.get(text) if text in (b"00", b"01") else int(text))


def _reduce_op(r: _Reader) -> None:
    args = r.stack.pop()
    r.stack[-1] = _reduce(r.stack[-1], args)


def _build_op(r: _Reader) -> None:
    state = r.stack.pop()
    r.stack[-1] = _build(r.stack[-1], state)


def _tuple_n(n: int) -> Any:
    def op(r: _Reader) -> None:
        items = tuple(r.stack[len(r.stack) - n :]) if n else ()
        if n:
            del r.stack[-n:]
        r.stack.append(items)

    return op


def _put(r: _Reader, index: int) -> None:
    r.memo[index] = r.stack[-1]


_OPCODES: dict[bytes, Any] = {
    b"\x80": lambda r: r.read(1),  # PROTO
    b"\x95": lambda r: r.read(8),  # FRAME
    b".": None,  # STOP (handled in run)
    b"(": lambda r: r.marks.append(len(r.stack)),
    b"0": lambda r: r.stack.pop(),
    b"1": lambda r: r.pop_mark(),
    b"2": lambda r: r.stack.append(r.stack[-1]),
    b"N": _push(lambda r: None),
    b"\x88": _push(lambda r: True),
    b"\x89": _push(lambda r: False),
    b"I": _int_line,
    b"J": _push(lambda r: r.unpack("<i")),
    b"K": _push(lambda r: r.read(1)[0]),
    b"M": _push(lambda r: r.unpack("<H")),
    b"L": _push(lambda r: int(r.line().rstrip(b"L"))),
    b"\x8a": _push(lambda r: int.from_bytes(r.read(r.read(1)[0]), "little", signed=True)),
    b"\x8b": _push(lambda r: int.from_bytes(r.read(r.unpack("<i")), "little", signed=True)),
    b"F": _push(lambda r: float(r.line())),
    b"G": _push(lambda r: r.unpack(">d")),
    b"U": _push(lambda r: r.read(r.read(1)[0]).decode("latin-1")),  # SHORT_BINSTRING (Python 2 str)
    b"T": _push(lambda r: r.read(r.unpack("<i")).decode("latin-1")),  # BINSTRING
    b"C": _push(lambda r: r.read(r.read(1)[0])),  # SHORT_BINBYTES
    b"B": _push(lambda r: r.read(r.unpack("<I"))),  # BINBYTES
    b"\x8e": _push(lambda r: r.read(r.unpack("<Q"))),  # BINBYTES8
    b"\x96": _push(lambda r: bytearray(r.read(r.unpack("<Q")))),  # BYTEARRAY8
    b"\x8c": _push(lambda r: r.read(r.read(1)[0]).decode("utf-8")),  # SHORT_BINUNICODE
    b"X": _push(lambda r: r.read(r.unpack("<I")).decode("utf-8")),  # BINUNICODE
    b"\x8d": _push(lambda r: r.read(r.unpack("<Q")).decode("utf-8")),  # BINUNICODE8
    b"V": _push(lambda r: r.line().decode("raw_unicode_escape")),  # UNICODE
    b")": _tuple_n(0),
    b"\x85": _tuple_n(1),
    b"\x86": _tuple_n(2),
    b"\x87": _tuple_n(3),
    b"t": lambda r: r.stack.append(tuple(r.pop_mark())),
    b"]": _push(lambda r: []),
    b"l": lambda r: r.stack.append(r.pop_mark()),
    b"a": _append,
    b"e": _appends,
    b"}": _push(lambda r: {}),
    b"d": _dict_from_mark,
    b"s": _setitem,
    b"u": _setitems,
    b"p": lambda r: _put(r, int(r.line())),
    b"q": lambda r: _put(r, r.read(1)[0]),
    b"r": lambda r: _put(r, r.unpack("<I")),
    b"\x94": lambda r: _put(r, len(r.memo)),  # MEMOIZE
    b"g": lambda r: r.stack.append(r.memo[int(r.line())]),
    b"h": lambda r: r.stack.append(r.memo[r.read(1)[0]]),
    b"j": lambda r: r.stack.append(r.memo[r.unpack("<I")]),
    b"c": lambda r: _global(r, r.line().decode("ascii"), r.line().decode("ascii")),
    b"\x93": lambda r: _global(r, *reversed([r.stack.pop(), r.stack.pop()])),  # STACK_GLOBAL
    b"R": _reduce_op,
    b"b": _build_op,
}


def load_data_pickle(data: bytes, where: str = "<pickle>") -> Any:
    """The plain value a data pickle holds, read without running anything; see the module docstring."""
    return _Reader(data, where).run()
