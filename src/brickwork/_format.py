"""Printing tensors the way PyTorch does (4 decimals, shared width, summaries)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


SCI_MODE: bool | None = None  # None: decide from the values, as torch does

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Change how tensors print (``torch.set_printoptions``); a rejected call changes nothing.

    ``profile`` ("default", "short", "full") sets all four numbers first; the others override it.
    ``sci_mode`` True/False forces scientific/fixed notation; None lets the values decide.
    """
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH, SCI_MODE
    if profile is not None and profile not in _PROFILES:
        raise ValueError(f"set_printoptions: unknown profile {profile!r}; "
                         f"expected one of {sorted(_PROFILES)}")
    new = dict(_PROFILES[profile]) if profile is not None else {
        "precision": PRECISION, "threshold": THRESHOLD, "edgeitems": EDGEITEMS, "linewidth": LINEWIDTH}
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                name != "threshold" and not float(value).is_integer()):
            raise TypeError(f"set_printoptions: {name} must be a non-negative integer, got {value!r}")
        new[name] = value if name == "threshold" else int(value)
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise TypeError(f"set_printoptions: sci_mode must be True, False or None, got {sci_mode!r}")
    PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = (
        new["precision"], new["threshold"], new["edgeitems"], new["linewidth"])
    SCI_MODE = sci_mode


class _Formatter:
    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:  # torch prints zeros as "0." even with sci_mode=True
            return
        mags = np.abs(finite)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                widths = [len(f"{v:.{PRECISION}e}") for v in finite.tolist()]
            else:
                widths = [len(f"{v:.0f}") + 1 for v in finite.tolist()]
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            widths = [len(f"{v:.{PRECISION}e}") for v in finite.tolist()]
        else:
            widths = [len(f"{v:.{PRECISION}f}") for v in finite.tolist()]
        self.max_width = max(self.max_width, max(widths))
        if SCI_MODE is not None and SCI_MODE != self.sci_mode:
            self.sci_mode = SCI_MODE
            form = f".{PRECISION}e" if SCI_MODE else (".0f" if self.int_mode else f".{PRECISION}f")
            extra = 1 if (self.int_mode and not SCI_MODE) else 0
            self.max_width = max(1, max(len(f"{v:{form}}") + extra for v in finite.tolist()))

    def format(self, value: Any) -> str:
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{PRECISION}f}"
        else:
            text = str(value)
        return (self.max_width - len(text)) * " " + text


def _summarized(arr: np.ndarray) -> np.ndarray:
    """The edge items of every dimension (what a summary shows)."""
    if arr.ndim == 0:
        return arr
    n = arr.shape[0]
    if n > 2 * EDGEITEMS:
        parts = [arr[:EDGEITEMS], arr[n - EDGEITEMS:]]
    else:
        parts = [arr]
    parts = [np.stack([_summarized(row) for row in p]) if p.ndim > 1 and len(p) else p for p in parts]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _vector(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.max_width + 2
    per_line = max(1, (LINEWIDTH - indent) // element_length)
    if summarize and arr.shape[0] > 2 * EDGEITEMS:
        data = [fmt.format(v) for v in arr[:EDGEITEMS].tolist()] + [" ..."]
        data += [fmt.format(v) for v in arr[-EDGEITEMS:].tolist()]
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    n = arr.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = [_nested(arr[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)]
        rows += ["..."]
        rows += [_nested(arr[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)]
    else:
        rows = [_nested(arr[i], indent + 1, summarize, fmt) for i in range(n)]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def format_array(arr: np.ndarray, indent: int) -> str:
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    summarize = arr.size > THRESHOLD
    fmt = _Formatter(_summarized(arr) if summarize else arr)
    return _nested(arr, indent, summarize, fmt)


def _add_suffixes(body: str, suffixes: list[str], indent: int) -> str:
    parts = [body]
    last_line_len = len(body) - body.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


_IMPLIED_DTYPES = ("float32", "int64", "bool")


def format_tensor(t: Any, prefix: str = "tensor(") -> str:
    from brickwork import _backend

    arr = t._data
    if not isinstance(arr, np.ndarray):
        arr = _backend.transfer(arr, _backend.CPU)
    indent = len(prefix)
    suffixes = []
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    dtype_name = t.dtype.name
    if arr.size == 0:
        body = "[]"
        if arr.shape != (0,):
            suffixes.append(f"size={tuple(arr.shape)}")
        if dtype_name != "float32":
            suffixes.append(f"dtype={t.dtype!r}")
    else:
        body = format_array(arr, indent)
        if dtype_name not in _IMPLIED_DTYPES:
            suffixes.append(f"dtype={t.dtype!r}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name}Backward0>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + _add_suffixes(body, suffixes, indent)
