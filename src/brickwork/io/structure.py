"""Containers <-> (named tensors, JSON structure).

Saving walks the object once (:func:`flatten`): every tensor becomes a named
host array, and the containers and scalars around them become a JSON tree
(the grammar is documented in docs/guides/files.md, section "The file format").
Everything is checked during this walk, so an unsupported object raises
before a byte is written. Loading (:func:`rebuild`) checks the tree from the
file node by node and builds the containers back; it only ever creates
lists, tuples, dicts, scalars and tensors.

Tensor names are the path to the tensor, joined with dots (``"model.fc.weight"``,
``"hist.0"``; a bare tensor is ``"tensor"``), so a flat state dict is stored
under exactly its own keys. Names that collide get a ``#N`` suffix.

Aliasing: a tensor met a second time is not written again; its node names the
first copy. "Met again" means the same object, or a tensor with the very same
view of the same memory (device, data address, shape, strides, dtype, class and
``requires_grad``), which is what two detached copies of one tied parameter
are. Other tensors that merely share memory (a slice of another, a transpose)
are written as independent copies: safetensors has no way to express partial
overlap, and loading gives them separate storage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork.io.format import CODES, FileFormatError
from brickwork.tensor import Tensor

__all__ = ["flatten", "rebuild", "MAX_DEPTH", "path_str"]

MAX_DEPTH = 256
"""Deepest nesting of containers accepted when saving and loading."""

_SCALARS = (type(None), bool, int, str)
_TAGS = ("tensor", "list", "tuple", "dict", "float")
_TENSOR_ATTRS = {"tensor": str, "requires_grad": bool, "parameter": bool, "device": str}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def path_str(path: list[Any]) -> str:
    """``obj['model'][0]``-style description of a position in a saved object."""
    text = "obj" + "".join(f"[{p!r}]" for p in path)
    return text if len(text) <= 300 else text[:140] + " ... " + text[-140:]


def _float_node(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _data_address(arr: Any) -> int:
    if isinstance(arr, np.ndarray):
        return int(arr.__array_interface__["data"][0])
    return int(arr.data.ptr)  # a CuPy array (its MemoryPointer)


def host_array(arr: Any) -> np.ndarray:
    """A C-contiguous NumPy copy or view of a backend array (explicit device-to-host copy)."""
    if not isinstance(arr, np.ndarray):
        arr = _backend.transfer(arr, _backend.CPU)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


class _Flattener:
    def __init__(self, what: str) -> None:
        self.what = what
        self.arrays: dict[str, np.ndarray] = {}
        self.key_of_id: dict[int, str] = {}
        self.key_of_view: dict[tuple, str] = {}
        self.open_containers: set[int] = set()
        self.parameter_class = _parameter_class()

    def node(self, value: Any, path: list[Any]) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value, path)
        if kind in _SCALARS:
            return value
        if kind is float:
            return _float_node(value)
        if isinstance(value, Tensor):
            return self.tensor_node(value, path)
        if kind is list or kind is tuple or isinstance(value, dict):
            return self.container_node(value, path)
        raise TypeError(self._unsupported(value, path))

    def container_node(self, value: Any, path: list[Any]) -> Any:
        if len(path) >= MAX_DEPTH:
            raise ValueError(f"{self.what}: containers nested deeper than {MAX_DEPTH} levels at "
                             f"{path_str(path)}")
        if id(value) in self.open_containers:
            raise ValueError(f"{self.what}: {path_str(path)} contains itself (a circular reference); "
                             "nothing was written")
        self.open_containers.add(id(value))
        try:
            if isinstance(value, dict):
                items = []
                for key, item in value.items():
                    if type(key) is not str and type(key) is not int:
                        raise TypeError(
                            f"{self.what}: dict key {key!r} of type {type(key).__name__} at "
                            f"{path_str(path)}: keys must be str or int; nothing was written"
                        )
                    if type(key) is str:
                        self.text(key, path)
                    items.append([key, self.node(item, [*path, key])])
                return {"dict": items}
            tag = "list" if type(value) is list else "tuple"
            return {tag: [self.node(item, [*path, i]) for i, item in enumerate(value)]}
        finally:
            self.open_containers.discard(id(value))

    def text(self, value: str, path: list[Any]) -> str:
        """A string to store: it must be Unicode text (no lone surrogate, e.g. from os.fsdecode)."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise TypeError(
                f"{self.what}: the string {value!r:.100} at {path_str(path)} holds a lone surrogate "
                f"({value[exc.start]!r}), which is not Unicode text and cannot be stored; nothing was "
                "written"
            ) from None
        return value

    def tensor_node(self, t: Tensor, path: list[Any]) -> dict[str, Any]:
        key = self.key_of_id.get(id(t))
        arr = t._data
        if key is None:
            if not _backend.is_array(arr):
                raise ValueError(
                    f"{self.what}: the tensor at {path_str(path)} is a pending (lazy) parameter whose "
                    "shape is not known yet, so it has no values to save; run a forward pass with "
                    "a sample batch first (e.g. net(X)); nothing was written"
                )
            if arr.dtype not in CODES:
                raise TypeError(f"{self.what}: the tensor at {path_str(path)} has unsupported dtype "
                                f"{arr.dtype}; nothing was written")
            view = None
            if arr.size:
                view = (t._device, _data_address(arr), arr.shape, arr.strides, arr.dtype.str,
                        type(t), bool(t.requires_grad))
                key = self.key_of_view.get(view)
        if key is None:
            key = self._new_key(path)
            self.arrays[key] = host_array(arr)
            if view is not None:
                self.key_of_view[view] = key
        self.key_of_id[id(t)] = key
        node: dict[str, Any] = {"tensor": key}
        if t.requires_grad:
            node["requires_grad"] = True
        if self.parameter_class is not None and isinstance(t, self.parameter_class):
            node["parameter"] = True
        if t._device.type != "cpu":
            node["device"] = str(t._device)
        return node

    def _new_key(self, path: list[Any]) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        key, n = base, 0
        while key in self.arrays or key == "__metadata__":
            n += 1
            key = f"{base}#{n}"
        return key

    def _unsupported(self, value: Any, path: list[Any]) -> str:
        kind = type(value)
        name = kind.__qualname__
        if kind.__module__ != "builtins":
            name = f"{kind.__module__}.{name}"
        hint = ""
        if isinstance(value, np.ndarray):
            hint = "; wrap NumPy arrays with bw.from_numpy(...)"
        elif isinstance(value, np.generic):
            hint = "; convert NumPy scalars with int(...), float(...) or bool(...)"
        elif hasattr(value, "state_dict") and hasattr(value, "parameters"):
            hint = "; save a model's parameters with bw.save(model.state_dict(), path), or the whole model " \
                   "(architecture too) with bw.save_model(model, path)"
        elif hasattr(value, "state_dict"):
            hint = "; save its state_dict() instead"
        elif isinstance(value, tuple):
            hint = "; only plain tuples are supported (convert named tuples with tuple(...) or ._asdict())"
        return (
            f"{self.what}: cannot save an object of type {name} at {path_str(path)}; files hold "
            "tensors, lists, tuples, dicts with str or int keys, and int, float, bool, str or None"
            f"{hint}. Nothing was written"
        )


def _parameter_class() -> type | None:
    try:
        from brickwork.nn.parameter import Parameter  # noqa: PLC0415 - nn imports io, not vice versa
    except ImportError:
        return None
    return Parameter


def flatten(obj: Any, what: str = "bw.save") -> tuple[dict[str, np.ndarray], Any]:
    """Check ``obj`` and split it into ``{name: host array}`` and a JSON structure tree."""
    flattener = _Flattener(what)
    root = flattener.node(obj, [])
    return flattener.arrays, root


# -- loading -------------------------------------------------------------------


class _Rebuilder:
    def __init__(self, make_tensor: Callable[[str, dict[str, Any]], Tensor], keys: set[str],
                 where: str) -> None:
        self.make_tensor = make_tensor
        self.keys = keys
        self.where = where
        self.tensors: dict[str, Tensor] = {}
        self.attributes: dict[str, tuple[Any, ...]] = {}  # of each tensor's first node

    def fail(self, problem: str, path: list[Any]) -> FileFormatError:
        return FileFormatError(f"{self.where}: brickwork structure at {path_str(path)}: {problem}")

    def build(self, node: Any, path: list[Any]) -> Any:
        kind = type(node)
        if kind in _SCALARS or kind is float:
            return node
        if kind is not dict:
            raise self.fail(f"unexpected JSON value of type {kind.__name__}", path)
        tags = [tag for tag in _TAGS if tag in node]
        if len(tags) != 1:
            raise self.fail(f"expected an object with exactly one of the keys {', '.join(_TAGS)}, "
                            f"found keys {sorted(node)!r:.200}", path)
        tag = tags[0]
        if tag == "tensor":
            return self.tensor(node, path)
        if len(node) != 1:
            raise self.fail(f"unexpected keys besides {tag!r}: {sorted(set(node) - {tag})!r:.200}", path)
        body = node[tag]
        if tag == "float":
            if type(body) is not str or body not in _NONFINITE:
                raise self.fail(f"'float' must be 'nan', 'inf' or '-inf', found {body!r:.100}", path)
            return _NONFINITE[body]
        if type(body) is not list:
            raise self.fail(f"{tag!r} must hold a JSON array, found {type(body).__name__}", path)
        if len(path) >= MAX_DEPTH:
            raise self.fail(f"containers nested deeper than {MAX_DEPTH} levels", path)
        if tag == "dict":
            return self.dict(body, path)
        items = [self.build(item, [*path, i]) for i, item in enumerate(body)]
        return items if tag == "list" else tuple(items)

    def dict(self, pairs: list[Any], path: list[Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                raise self.fail(f"dict entries must be [key, value] with a str or int key, found "
                                f"{pair!r:.100}", path)
            key = pair[0]
            if key in out:
                raise self.fail(f"duplicate dict key {key!r:.100}", path)
            out[key] = self.build(pair[1], [*path, key])
        return out

    def tensor(self, node: dict[str, Any], path: list[Any]) -> Tensor:
        for field, value in node.items():
            expected = _TENSOR_ATTRS.get(field)
            if expected is None:
                raise self.fail(f"unexpected tensor field {field!r:.100}", path)
            if type(value) is not expected:
                raise self.fail(f"tensor field {field!r} must be {expected.__name__}, found {value!r:.100}",
                                path)
        key = node["tensor"]
        attributes = (node.get("requires_grad", False), node.get("parameter", False),
                      node.get("device", "cpu"))
        t = self.tensors.get(key)
        if t is None:
            if key not in self.keys:
                raise self.fail(f"refers to tensor {key!r:.200}, which is not in the file", path)
            t = self.tensors[key] = self.make_tensor(key, node)
            self.attributes[key] = attributes
        elif self.attributes[key] != attributes:  # one object cannot be two different things
            first = dict(zip(("requires_grad", "parameter", "device"), self.attributes[key]))
            again = dict(zip(("requires_grad", "parameter", "device"), attributes))
            raise self.fail(f"tensor {key!r:.200} is used again with other attributes ({again} here, "
                            f"{first} where it was first used); one tensor has one set", path)
        return t


def rebuild(root: Any, keys: set[str], make_tensor: Callable[[str, dict[str, Any]], Tensor],
            where: str) -> Any:
    """Build the object described by ``root``; ``make_tensor(key, node)`` loads each tensor once.

    Every tensor in the file must be used by the structure.
    """
    rebuilder = _Rebuilder(make_tensor, keys, where)
    try:
        obj = rebuilder.build(root, [])
    except RecursionError:
        raise FileFormatError(f"{where}: brickwork structure nested too deeply") from None
    unused = keys - rebuilder.tensors.keys()
    if unused:
        names = ", ".join(repr(k) for k in sorted(unused)[:5]) + (" ..." if len(unused) > 5 else "")
        raise FileFormatError(f"{where}: {len(unused)} tensor(s) in the file are not used by the brickwork "
                              f"structure in the metadata: {names}")
    return obj
