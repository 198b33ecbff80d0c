"""The file format: safetensors headers checked before any data is read.

A safetensors file is ``[8-byte little-endian header length N][N bytes of
JSON header][data section]``. The header maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to
the data section) and may hold ``"__metadata__"``, a string-to-string map.

:func:`parse_header` checks everything a hostile file could get wrong before
a single data byte is touched: the header length against the file size and a
hard limit, UTF-8, JSON, every entry's fields, dtypes, shapes (no negative or
overflowing sizes), byte counts (``prod(shape) * itemsize``) and offsets
(they must tile the data section exactly: no overlap, no gap, no trailing
bytes). Only then do the readers allocate memory, and never more than the
file holds. Every problem raises :class:`FileFormatError` naming what is
wrong and where.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FileFormatError", "TensorEntry", "Header", "parse_header", "HEADER_LIMIT", "DTYPES"]

HEADER_LIMIT = 100_000_000
"""Largest header accepted, in bytes (the same limit as the safetensors package)."""

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
"""safetensors dtype codes that brickwork reads, and their (little-endian) NumPy dtypes."""

CODES: dict[np.dtype, str] = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}

# Valid safetensors dtypes that have no brickwork dtype: named in the error message.
_FOREIGN_DTYPES = {
    "BF16", "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ",
    "F8_E5M2FNUZ", "F6_E2M3", "F6_E3M2", "F4", "E8M0",
}
_ENTRY_FIELDS = {"dtype", "shape", "data_offsets"}


class FileFormatError(ValueError):
    """A file is not a valid brickwork/safetensors file; the message says what is wrong.

    ``bw.load`` raises only this for malformed files (never a crash, never
    code execution). It is a :class:`ValueError`.
    """


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a checked header: name, NumPy dtype, shape, and data-section offsets."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A checked header: entries in header order, metadata, and where the data starts."""

    entries: dict[str, TensorEntry]
    metadata: dict[str, str]
    data_start: int  # 8 + header length
    data_length: int  # bytes in the data section


def describe_foreign(prefix: bytes) -> str | None:
    """A hint when the bytes look like another format (pickle, zip, NumPy), else None."""
    if len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5:
        return (
            "it looks like a Python pickle file (e.g. from torch.save with the legacy format or "
            "pickle.dump); brickwork never unpickles files because unpickling can run arbitrary "
            "code. Convert it with the program that wrote it, e.g. in PyTorch: "
            "safetensors.torch.save_file(state_dict, 'model.safetensors')"
        )
    if prefix.startswith(b"PK\x03\x04") or prefix.startswith(b"PK\x05\x06"):
        return (
            "it looks like a zip archive (torch.save writes a zip of pickles); brickwork never "
            "unpickles files because unpickling can run arbitrary code. Convert it in PyTorch "
            "with safetensors.torch.save_file(state_dict, 'model.safetensors')"
        )
    if prefix.startswith(b"\x93NUMPY"):
        return "it looks like a NumPy .npy file; load it with numpy.load and wrap it with bw.from_numpy"
    return None


def header_length(prefix: bytes, file_size: int | None, where: str) -> int:
    """The declared header length from the first 8 bytes, checked against limits and size."""
    if len(prefix) < 8:
        hint = describe_foreign(prefix)
        raise FileFormatError(
            f"{where}: truncated file: {len(prefix)} byte(s), but a safetensors file starts with "
            "an 8-byte header length" + (f"; {hint}" if hint else "")
        )
    n = int.from_bytes(prefix[:8], "little")
    problem = None
    if n > HEADER_LIMIT:
        problem = f"declared header length {n} bytes exceeds the limit of {HEADER_LIMIT} bytes"
    elif file_size is not None and 8 + n > file_size:
        problem = (
            f"declared header length {n} bytes, but only {file_size - 8} bytes follow the length "
            "field (truncated file?)"
        )
    elif n < 2:
        problem = f"declared header length {n} bytes is too short for a JSON object"
    if problem is not None:
        hint = describe_foreign(prefix)
        raise FileFormatError(f"{where}: {problem}" + (f"; {hint}" if hint else ""))
    return n


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FileFormatError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


# a \uD800-\uDFFF escape: the only way JSON text can hold a surrogate code point
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads_json(text: str | bytes, what: str) -> Any:
    """``json.loads`` that rejects duplicate keys, NaN/Infinity, runaway nesting and lone surrogates.

    A lone surrogate (``"\\ud800"``) decodes to a Python string that is not
    Unicode text: it could not be saved again, so no route accepts it.
    """

    def no_constants(name: str) -> Any:
        raise FileFormatError(f"{name} is not valid JSON")

    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=no_constants)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if _SURROGATE_ESCAPE.search(text):  # rare: only then re-encode the whole value to find out
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except FileFormatError as exc:
        raise FileFormatError(f"{what}: {exc}") from None
    except RecursionError:
        raise FileFormatError(f"{what}: JSON nested too deeply") from None
    except UnicodeEncodeError:
        raise FileFormatError(f"{what}: a string holds a lone surrogate (an unpaired \\ud800-\\udfff "
                              "escape), which is not Unicode text") from None
    except ValueError as exc:  # json.JSONDecodeError, int too long, ...
        raise FileFormatError(f"{what} is not valid JSON: {exc}") from None
    return value


def _is_int(x: Any) -> bool:
    return type(x) is int  # JSON true/false are bools, not sizes


def _check_entry(name: str, info: Any, where: str) -> TensorEntry:
    at = f"{where}: tensor {name!r}"
    if not isinstance(info, dict):
        raise FileFormatError(f"{at}: expected an object with dtype, shape, data_offsets, "
                              f"found {type(info).__name__}")
    missing = _ENTRY_FIELDS - info.keys()
    if missing:
        raise FileFormatError(f"{at}: missing field(s) {', '.join(sorted(missing))}")
    extra = info.keys() - _ENTRY_FIELDS
    if extra:
        raise FileFormatError(f"{at}: unexpected field(s) {', '.join(sorted(extra))}")
    code = info["dtype"]
    if not isinstance(code, str):
        raise FileFormatError(f"{at}: dtype must be a string, found {code!r}")
    dtype = DTYPES.get(code)
    if dtype is None:
        supported = ", ".join(DTYPES)
        if code in _FOREIGN_DTYPES:
            raise FileFormatError(
                f"{at}: dtype {code} has no brickwork equivalent (supported: {supported}); "
                "convert the tensor before saving, e.g. .float() in PyTorch"
            )
        raise FileFormatError(f"{at}: unknown dtype {code!r} (supported: {supported})")
    shape = info["shape"]
    if not isinstance(shape, list) or not all(_is_int(s) for s in shape):
        raise FileFormatError(f"{at}: shape must be a list of integers, found {shape!r}")
    if any(s < 0 for s in shape):
        raise FileFormatError(f"{at}: negative dimension in shape {shape}")
    offsets = info["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise FileFormatError(f"{at}: data_offsets must be [begin, end] integers, found {offsets!r}")
    begin, end = offsets
    if begin < 0 or end < begin:
        raise FileFormatError(f"{at}: invalid data_offsets [{begin}, {end}] (need 0 <= begin <= end)")
    if len(shape) > 64:
        raise FileFormatError(f"{at}: {len(shape)} dimensions (at most 64 are supported)")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if nbytes != end - begin:
        raise FileFormatError(
            f"{at}: shape {shape} of dtype {code} needs {nbytes} bytes, but data_offsets "
            f"[{begin}, {end}] hold {end - begin}"
        )
    if math.prod(s for s in shape if s) * dtype.itemsize > sys.maxsize:  # e.g. [0, 10**30]: no array
        raise FileFormatError(f"{at}: shape {shape!r:.200} is too large for an array on this machine "
                              f"(its non-zero sizes times {dtype.itemsize} bytes exceed {sys.maxsize})")
    return TensorEntry(name, dtype, tuple(shape), begin, end)


def _check_layout(entries: dict[str, TensorEntry], data_length: int | None, where: str) -> int:
    """Offsets must tile the data section: sorted, no overlap, no gap, no trailing bytes."""
    position, previous = 0, None
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if entry.begin < position:
            raise FileFormatError(
                f"{where}: tensor {entry.name!r} bytes [{entry.begin}, {entry.end}) overlap tensor "
                f"{previous!r} (which ends at {position})"
            )
        if entry.begin > position:
            after = f"after tensor {previous!r}" if previous is not None else "at the start"
            raise FileFormatError(
                f"{where}: gap in the data section: bytes [{position}, {entry.begin}) {after} "
                f"belong to no tensor"
            )
        position, previous = entry.end, entry.name
    if data_length is not None:
        if position > data_length:
            raise FileFormatError(
                f"{where}: truncated file: tensors need {position} data bytes, the file holds "
                f"{data_length}"
            )
        if position < data_length:
            raise FileFormatError(
                f"{where}: {data_length - position} trailing byte(s) after the last tensor's data"
            )
    return position


def parse_header(prefix: bytes, header_bytes: bytes, file_size: int | None, where: str) -> Header:
    """Check a whole header (``prefix``: the first 8 bytes; ``header_bytes``: the N that follow).

    ``file_size`` is the total size when known (then the data section must end
    exactly at the end of the file); ``where`` names the file in messages.
    """
    n = header_length(prefix, file_size, where)
    if len(header_bytes) != n:
        raise FileFormatError(
            f"{where}: truncated file: header declares {n} bytes, only {len(header_bytes)} present"
        )
    if not header_bytes.startswith(b"{"):
        hint = describe_foreign(prefix)
        raise FileFormatError(
            f"{where}: the header does not start with '{{' (not a safetensors file)"
            + (f"; {hint}" if hint else "")
        )
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{where}: the header is not valid UTF-8 ({exc.reason} at byte "
                              f"{exc.start})") from None
    raw = loads_json(text.rstrip(" "), f"{where}: header")
    if not isinstance(raw, dict):
        raise FileFormatError(f"{where}: the header must be a JSON object, found {type(raw).__name__}")
    metadata = raw.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FileFormatError(f"{where}: __metadata__ must map strings to strings, found {metadata!r:.200}")
    entries = {name: _check_entry(name, info, where) for name, info in raw.items()}
    data_length = None if file_size is None else file_size - 8 - n
    data_length = _check_layout(entries, data_length, where)
    return Header(entries, metadata, 8 + n, data_length)
