"""Whole models: weights plus a JSON description of the architecture.

``save_model`` writes the model's ``state_dict`` (a normal brickwork file,
readable by ``bw.load`` and by safetensors) and, in the metadata key
``brickwork.model``, a tree of *specs*, one per module::

    {"class": "nn.Linear", "config": {...}, "children": {name: spec},
     "parameters": {name: requires_grad}, "buffers": [name, ...]}

``load_model`` rebuilds the tree from a registry of classes, never by
executing anything from the file: ``cls(*args, **config)``, then every child
the constructor did not create is built and ``add_module``-ed (this is how
``Sequential``, ``ModuleList`` and ``ModuleDict`` are restored), every own
parameter or buffer it did not create is registered from the file
(``ParameterList``, ``ParameterDict``), parameters tied after construction
are tied again, and finally ``load_state_dict`` copies the weights in (lazy
layers are materialised from the checkpoint's shapes). The file is untrusted:
the tree is bounded (:data:`MAX_MODULES`, :data:`MAX_MODULE_DEPTH`), shared
modules are walked once and cycles refused, and constructors run under an
allocation budget (the file's own elements plus :data:`EXTRA_ELEMENTS`), with
every built parameter's shape checked against the stored tensor before any
weight is loaded.

The registry: every ``Module`` subclass exported by ``brickwork.nn`` is
registered as ``"nn.<Name>"`` the first time the registry is used; user
classes register with ``@bw.serializable`` (under their ``__qualname__``
unless a ``name`` is given). A class's constructor arguments come from its
``get_config()`` if the class itself defines one; otherwise
``@bw.serializable`` records the arguments of each construction (they must be
JSON-able: None, bool, int, float, str, and lists, tuples, dicts of them).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from typing import Any, TypeVar

from brickwork import _backend, _budget
from brickwork.io.files import PathOrFile, read_arrays, to_device, write_object
from brickwork.io.files import _objects as arrays_to_objects
from brickwork.io.format import FileFormatError, loads_json
from brickwork.tensor import Tensor

__all__ = ["save_model", "load_model", "serializable", "UnknownClassError", "registered_classes"]

MODEL_KEY = "brickwork.model"
_CONFIG_ATTR = "_bw_constructor_args"

MAX_MODULES = 100_000
"""Most modules a model file may describe, and most module paths its rebuilt tree may have (a
module shared under several names counts once per name, as ``state_dict`` lists it)."""
MAX_MODULE_DEPTH = 200
"""Deepest nesting of modules in a model file (and in its rebuilt tree)."""
EXTRA_ELEMENTS = 1 << 26
"""Elements that constructors may allocate while a model is rebuilt, beyond the elements of the
file's own tensors (room for non-persistent buffers, e.g. a causal mask of 8192 x 8192)."""

# brickwork.nn classes whose whole content is their children, parameters and buffers:
# built with no arguments and filled from the spec.
_CONTENT_ONLY = ("Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")

_registry: dict[str, type] = {}
_names: dict[type, str] = {}
_builtins_scanned = False

C = TypeVar("C", bound=type)


class UnknownClassError(LookupError):
    """``load_model`` met a class name that is not registered (the message says how to register it)."""


# -- the registry ------------------------------------------------------------------


def _module_class() -> type:
    from brickwork.nn.module import Module  # noqa: PLC0415 - nn sits above io

    return Module


def _scan_builtins() -> None:
    """Register brickwork's own Module classes: ``nn.<Name>`` for those ``brickwork.nn`` exports,
    ``<module>.<qualname>`` for internal ones (e.g. a helper class a layer creates as a child).

    Runs on first use, and again when a name or class is missed (a submodule imported later).
    """
    global _builtins_scanned
    import brickwork.nn as nn  # noqa: PLC0415

    module_class = _module_class()
    for name in getattr(nn, "__all__", ()):
        obj = getattr(nn, name, None)
        if isinstance(obj, type) and issubclass(obj, module_class):
            _register_builtin(f"nn.{name}", obj)
    pending = [module_class]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("brickwork.") and "<locals>" not in cls.__qualname__:
            _register_builtin(f"{cls.__module__}.{cls.__qualname__}", cls)
    _builtins_scanned = True


def _register_builtin(name: str, cls: type) -> None:
    if cls not in _names and name not in _registry:
        _registry[name] = cls
        _names[cls] = name


def _class_named(name: str) -> type | None:
    if not _builtins_scanned or name not in _registry:
        _scan_builtins()
    return _registry.get(name)


def _name_of(cls: type) -> str | None:
    if not _builtins_scanned or cls not in _names:
        _scan_builtins()
    return _names.get(cls)


def registered_classes() -> dict[str, type]:
    """Every registered name and its class (brickwork's own layers and ``@serializable`` ones)."""
    _scan_builtins()
    return dict(_registry)


def serializable(cls: C | None = None, *, name: str | None = None) -> Any:
    """Register a Module class so :func:`load_model` can rebuild it: ``@bw.serializable``.

    If the class defines ``get_config()`` (returning its constructor's keyword
    arguments), that is used. Otherwise the arguments of every construction
    are recorded automatically; they must be JSON-able (None, bool, int,
    float, str, and lists, tuples and dicts of them). The registry name is the
    class's ``__qualname__`` unless ``name`` is given; it is all a file stores,
    so loading needs the class registered under the same name (import the
    module that defines it first).

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> @bw.serializable
    ... class Scale(nn.Module):
    ...     def __init__(self, n, factor=2.0):
    ...         super().__init__()
    ...         self.weight = nn.Parameter(bw.ones(n) * factor)
    ...     def forward(self, x):
    ...         return x * self.weight
    >>> Scale(3, factor=0.5)._bw_constructor_args[1:]  # (positional-only/*args, keywords)
    ([], {'n': 3, 'factor': 0.5})
    """
    if cls is None:
        return functools.partial(serializable, name=name)
    module_class = _module_class()
    if not (isinstance(cls, type) and issubclass(cls, module_class)):
        raise TypeError(f"@serializable: expected a brickwork.nn.Module subclass, got {cls!r}")
    key = name if name is not None else cls.__qualname__
    if not isinstance(key, str) or not key:
        raise TypeError(f"@serializable: name must be a non-empty string, got {key!r}")
    if not _builtins_scanned:
        _scan_builtins()
    old = _registry.get(key)
    if old is not None and old is not cls and not _same_definition(old, cls):
        raise ValueError(
            f"@serializable: the name {key!r} is already registered for {old.__module__}.{old.__qualname__}; "
            f"register {cls.__module__}.{cls.__qualname__} with another name: @serializable(name='...')"
        )
    if old is not None:
        _names.pop(old, None)
    _registry[key] = cls
    _names[cls] = key
    if "get_config" not in cls.__dict__:
        _record_constructor_args(cls)
    return cls


def _same_definition(a: type, b: type) -> bool:
    """A class defined again (a re-run notebook cell, a reloaded module) may take its name."""
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def _record_constructor_args(cls: type) -> None:
    init = cls.__init__
    if getattr(init, "_bw_records_for", None) is cls:
        return
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        init(self, *args, **kwargs)
        if type(self) is not cls:  # a subclass's own wrapper (if any) records its arguments
            return
        try:
            bound = signature.bind(self, *args, **kwargs)
            positional, keywords = [], {}
            for pname, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[pname].kind
                if kind is inspect.Parameter.VAR_POSITIONAL:
                    positional.extend(value)
                elif kind is inspect.Parameter.VAR_KEYWORD:
                    keywords.update(value)
                elif kind is inspect.Parameter.POSITIONAL_ONLY:
                    positional.append(value)
                else:
                    keywords[pname] = value
            record = (cls, encode_config(positional, "args"), encode_config(keywords, "config"))
        except (TypeError, ValueError) as exc:
            record = (cls, None, str(exc))
        self.__dict__[_CONFIG_ATTR] = record

    __init__._bw_records_for = cls  # type: ignore[attr-defined]
    cls.__init__ = __init__


# -- configs: JSON with tuples, int-keyed dicts and non-finite floats kept ---------


def encode_config(value: Any, where: str) -> Any:
    """JSON for a constructor argument: lists stay arrays; tuples, dicts with non-str keys and
    non-finite floats are tagged objects; a top-level dict of str keys stays a plain object."""
    if where in ("config",) and isinstance(value, dict):
        return {_config_key(k, where): encode_config(v, f"{where}[{k!r}]") for k, v in value.items()}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if kind is list:
        return [encode_config(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {"tuple": [encode_config(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        pairs = []
        for k, v in value.items():
            if type(k) not in (str, int):
                raise TypeError(f"{where}: dict key {k!r} is not a str or int")
            pairs.append([k, encode_config(v, f"{where}[{k!r}]")])
        return {"dict": pairs}
    raise TypeError(f"{where} is a {type(value).__name__}, which is not JSON-able")


def _config_key(key: Any, where: str) -> str:
    if type(key) is not str:
        raise TypeError(f"{where}: argument name {key!r} is not a string")
    return key


def decode_config(node: Any, where: str, depth: int = 0) -> Any:
    """Inverse of :func:`encode_config` for one argument value; malformed -> FileFormatError."""
    if depth > 100:
        raise FileFormatError(f"{where}: nested too deeply")
    kind = type(node)
    if node is None or kind in (bool, int, float, str):
        return node
    if kind is list:
        return [decode_config(v, where, depth + 1) for v in node]
    if kind is dict and len(node) == 1:
        (tag, body), = node.items()
        if tag == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "tuple" and type(body) is list:
            return tuple(decode_config(v, where, depth + 1) for v in body)
        if tag == "dict" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                    raise FileFormatError(f"{where}: malformed dict entry {pair!r:.100}")
                out[pair[0]] = decode_config(pair[1], where, depth + 1)
            return out
    raise FileFormatError(f"{where}: malformed constructor argument {node!r:.100}")


# -- saving -------------------------------------------------------------------------


def _config_of(module: Any, path: str) -> tuple[list[Any], dict[str, Any]]:
    cls = type(module)
    label = f"{path or '<root>'} ({cls.__name__})"
    record = module.__dict__.get(_CONFIG_ATTR)
    if record is not None and record[0] is cls:
        if record[1] is None:
            raise TypeError(
                f"bw.save_model: cannot record the constructor arguments of {label}: {record[2]}. "
                "Give the class a get_config() returning JSON-able keyword arguments for its "
                "constructor; nothing was written"
            )
        return record[1], record[2]
    get_config = getattr(module, "get_config", None)
    if get_config is not None:
        try:
            config = get_config()
        except (TypeError, ValueError) as exc:  # e.g. a layer holding a callable, which is code
            raise type(exc)(f"bw.save_model: {label}: {exc}; nothing was written") from exc
        if not isinstance(config, dict):
            raise TypeError(f"bw.save_model: {label}.get_config() returned a {type(config).__name__}, "
                            "expected a dict of constructor keyword arguments; nothing was written")
        try:
            return [], encode_config(config, "config")
        except TypeError as exc:
            raise TypeError(f"bw.save_model: {label}.get_config(): {exc}; nothing was written") from None
    if _name_of(cls) in {f"nn.{n}" for n in _CONTENT_ONLY}:
        return [], {}
    raise TypeError(
        f"bw.save_model: {label} has no get_config() and its constructor arguments were not recorded; "
        "nothing was written"
    )


def _spec(module: Any, path: str, seen: dict[int, str]) -> dict[str, Any]:
    cls = type(module)
    label = f"{path or '<root>'} ({cls.__name__})"
    name = _name_of(cls)
    if name is None:
        raise TypeError(
            f"bw.save_model: the class {cls.__module__}.{cls.__qualname__} of {label} is not registered; "
            "decorate it with @bw.serializable (and give it a get_config() if its constructor "
            "arguments are not JSON-able), or save the weights only with "
            "bw.save(model.state_dict(), path); nothing was written"
        )
    seen[id(module)] = path
    args, config = _config_of(module, path)
    spec: dict[str, Any] = {"class": name, "config": config}
    if args:
        spec["args"] = args
    children: dict[str, Any] = {}
    for child_name, child in module._modules.items():
        if child is None:
            continue
        child_path = f"{path}.{child_name}" if path else child_name
        if id(child) in seen:  # the same module object twice: rebuilt once, then shared
            children[child_name] = {"same_as": seen[id(child)]}
        else:
            children[child_name] = _spec(child, child_path, seen)
    if children:
        spec["children"] = children
    parameters = {n: bool(p.requires_grad) for n, p in module._parameters.items() if p is not None}
    if parameters:
        spec["parameters"] = parameters
    buffers = [n for n, b in module._buffers.items()
               if b is not None and n not in module._non_persistent_buffers_set]
    if buffers:
        spec["buffers"] = buffers
    return spec


def _ties(model: Any) -> dict[str, str]:
    """Parameter/buffer names that are the same object as an earlier name: {alias: first}."""
    first: dict[int, str] = {}
    ties: dict[str, str] = {}
    for name, t in [*model.named_parameters(remove_duplicate=False),
                    *model.named_buffers(remove_duplicate=False)]:
        if id(t) in first:
            ties[name] = first[id(t)]
        else:
            first[id(t)] = name
    return ties


def _model_device(model: Any) -> str | None:
    devices = {str(t.device) for t in [*model.parameters(), *model.buffers()]}
    if not devices:
        return "cpu"
    return devices.pop() if len(devices) == 1 else None


def save_model(module: Any, f: PathOrFile) -> None:
    """Save a model's weights and architecture, so :func:`load_model` rebuilds it without its code.

    Works for models built from brickwork's layers and containers and from
    classes registered with :func:`serializable`. The file is a normal
    brickwork file of the ``state_dict`` (tied weights stored once) plus
    the architecture as JSON in the metadata; the write is atomic.

    >>> import os, tempfile
    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> @bw.serializable
    ... class Affine(nn.Module):
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.scale = nn.Parameter(bw.ones(n))
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> net = nn.Sequential(Affine(2), Affine(2))
    >>> with bw.no_grad():
    ...     _ = net[1].scale.fill_(3.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
    >>> bw.save_model(net, path)
    >>> again = bw.load_model(path)
    >>> again
    Sequential(
      (0): Affine()
      (1): Affine()
    )
    >>> again(bw.ones(2)).tolist()
    [3.0, 3.0]
    """
    if not isinstance(module, _module_class()):
        raise TypeError(f"bw.save_model: expected a brickwork.nn.Module, got {type(module).__name__}; "
                        "use bw.save for tensors and containers")
    description = {
        "spec": _spec(module, "", {}),
        "ties": _ties(module),
        "device": _model_device(module),
        "training": bool(module.training),
    }
    weights = module.state_dict()
    text = json.dumps(description, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    write_object(weights, f, {MODEL_KEY: text}, "bw.save_model")


# -- loading ------------------------------------------------------------------------


class _Builder:
    def __init__(self, weights: dict[str, Tensor], where: str) -> None:
        self.weights = weights
        self.where = where
        self.built: dict[str, Any] = {}
        self.modules = 0
        # (parent, child name, child path, path of the shared module)
        self.links: list[tuple[Any, str, str, str]] = []

    def fail(self, path: str, problem: str) -> FileFormatError:
        return FileFormatError(f"{self.where}: architecture at {path or '<root>'}: {problem}")

    def _fields(self, spec: Any, path: str) -> dict[str, Any]:
        if type(spec) is not dict:
            raise self.fail(path, f"expected a module spec object, found {type(spec).__name__}")
        allowed = {"class", "config", "args", "children", "parameters", "buffers"}
        extra = set(spec) - allowed
        if extra:
            raise self.fail(path, f"unexpected field(s) {sorted(extra)!r:.200}")
        if type(spec.get("class")) is not str:
            raise self.fail(path, "missing or invalid 'class'")
        for field, kind in (("config", dict), ("args", list), ("children", dict),
                            ("parameters", dict), ("buffers", list)):
            if field in spec and type(spec[field]) is not kind:
                raise self.fail(path, f"'{field}' must be a JSON {kind.__name__}")
        return spec

    def _count(self, path: str, depth: int) -> None:
        self.modules += 1
        if self.modules > MAX_MODULES:
            raise self.fail(path, f"the file describes more than {MAX_MODULES} modules")
        if depth > MAX_MODULE_DEPTH:
            raise self.fail(path, f"modules nested deeper than {MAX_MODULE_DEPTH} levels")

    def build(self, spec: Any, path: str, depth: int = 0) -> Any:
        spec = self._fields(spec, path)
        self._count(path, depth)
        name = spec["class"]
        cls = _class_named(name)
        if cls is None:
            raise UnknownClassError(
                f"bw.load_model: {self.where} needs the module class {name!r} (at {path or '<root>'}), "
                "which is not registered. Import the code that defines it and decorate the class with "
                f"@bw.serializable (or @bw.serializable(name={name!r})) before loading; or rebuild the "
                "model in code and load the weights with model.load_state_dict(bw.load(path))"
            )
        config = {k: decode_config(v, f"{self.where}: {path or '<root>'} config[{k!r}]")
                  for k, v in spec.get("config", {}).items()}
        args = [decode_config(v, f"{self.where}: {path or '<root>'} args") for v in spec.get("args", [])]
        call = f"{name}(*{args!r:.200}, **{config!r:.300})"
        try:
            module = cls(*args, **config)
        except _budget.AllocationBudgetError as exc:
            raise self.fail(path, f"rebuilding it as {call} would allocate more than the file's tensors "
                            f"hold ({exc}): its arguments do not fit the file") from None
        except (TypeError, ValueError, OverflowError) as exc:  # arguments a malformed file got wrong
            raise self.fail(path, f"rebuilding it as {call} failed: {type(exc).__name__}: {exc}") from None
        except Exception as exc:
            raise RuntimeError(
                f"bw.load_model: rebuilding {path or '<root>'} as {call} failed: {type(exc).__name__}: {exc}"
            ) from exc
        self.built[path] = module
        self.complete(module, spec, path, depth)
        return module

    def complete(self, module: Any, spec: dict[str, Any], path: str, depth: int) -> None:
        """Add what the constructor did not create: children, parameters, buffers."""
        for child_name, child_spec in spec.get("children", {}).items():
            self._check_name(child_name, path)
            child_path = f"{path}.{child_name}" if path else child_name
            if type(child_spec) is dict and set(child_spec) == {"same_as"}:
                if type(child_spec["same_as"]) is not str:
                    raise self.fail(child_path, "'same_as' must be a module path")
                self.links.append((module, child_name, child_path, child_spec["same_as"]))
                continue
            existing = module._modules.get(child_name)
            if existing is None:
                self._attach(module, child_name, self.build(child_spec, child_path, depth + 1), child_path)
                continue
            child_spec = self._fields(child_spec, child_path)
            self._count(child_path, depth + 1)
            expected = _class_named(child_spec["class"])
            if type(existing) is not expected:
                raise self.fail(child_path, f"the constructor of {type(module).__name__} created a "
                                f"{type(existing).__name__}, the file describes a {child_spec['class']}")
            self.built[child_path] = existing
            self.complete(existing, child_spec, child_path, depth + 1)
        prefix = f"{path}." if path else ""
        for pname, requires_grad in spec.get("parameters", {}).items():
            self._check_name(pname, path)
            if module._parameters.get(pname) is None and f"{prefix}{pname}" in self.weights:
                from brickwork.nn.parameter import Parameter  # noqa: PLC0415

                value = self.weights[f"{prefix}{pname}"]
                if type(requires_grad) is not bool:
                    raise self.fail(path, f"parameter {pname!r}: requires_grad must be a bool")
                try:
                    module.register_parameter(pname, Parameter(value.detach(), requires_grad=requires_grad))
                except (KeyError, TypeError, RuntimeError) as exc:
                    raise self.fail(path, f"cannot register parameter {pname!r}: {exc}") from None
        for bname in spec.get("buffers", []):
            self._check_name(bname, path)
            if module._buffers.get(bname) is None and f"{prefix}{bname}" in self.weights:
                try:
                    module.register_buffer(bname, self.weights[f"{prefix}{bname}"].detach())
                except (KeyError, TypeError) as exc:
                    raise self.fail(path, f"cannot register buffer {bname!r}: {exc}") from None

    def _check_name(self, name: Any, path: str) -> None:
        if type(name) is not str or not name or "." in name:
            raise self.fail(path, f"invalid member name {name!r:.100} (a non-empty string without '.')")

    def _attach(self, parent: Any, name: str, child: Any, path: str) -> None:
        """Register ``child``; a constructor may have left the name as a plain ``None`` attribute
        (``self.norm = norm`` with ``norm=None``), which assigning a Module replaces."""
        try:
            if parent.__dict__.get(name, False) is None:
                setattr(parent, name, child)
            else:
                parent.add_module(name, child)
        except (KeyError, TypeError, AttributeError) as exc:
            raise self.fail(path, f"cannot add this child: {exc}") from None

    def link_shared(self) -> None:
        for parent, child_name, child_path, target in self.links:
            shared = self.built.get(target)
            if shared is None:
                raise self.fail(child_path, f"'same_as' names {target!r:.200}, which is not a module")
            self._attach(parent, child_name, shared, child_path)


def _check_module_tree(root: Any, where: str) -> None:
    """No module contains itself, and the tree (shared modules once per name) stays within the
    bounds; one visit per module and edge, however many names sharing gives each module."""

    def children(module: Any) -> list[tuple[str, Any]]:
        return [(name, child) for name, child in module._modules.items() if child is not None]

    paths: dict[int, int] = {}  # id(module) -> module paths in its subtree, itself included
    stack: list[tuple[Any, str, list[tuple[str, Any]]]] = [(root, "", children(root))]
    position = [0]  # the next child to visit, per stack entry
    on_stack = {id(root): 0}
    while stack:
        module, path, kids = stack[-1]
        if position[-1] < len(kids):
            name, child = kids[position[-1]]
            position[-1] += 1
            child_path = f"{path}.{name}" if path else name
            if id(child) in on_stack:
                start = on_stack[id(child)]
                ring = [p or "<root>" for _, p, _ in stack[start:]] + [child_path]
                raise FileFormatError(
                    f"{where}: architecture at {child_path}: a cycle: {' -> '.join(ring)} ('same_as' makes "
                    f"{child_path} the module {stack[start][1] or '<root>'}, which contains it)"
                )
            if id(child) not in paths:
                if len(stack) >= MAX_MODULE_DEPTH:
                    raise FileFormatError(f"{where}: architecture at {child_path}: modules nested deeper "
                                          f"than {MAX_MODULE_DEPTH} levels")
                on_stack[id(child)] = len(stack)
                stack.append((child, child_path, children(child)))
                position.append(0)
            continue
        stack.pop()
        position.pop()
        del on_stack[id(module)]
        paths[id(module)] = 1 + sum(paths[id(child)] for _, child in kids)
        if paths[id(module)] > MAX_MODULES:
            raise FileFormatError(
                f"{where}: architecture at {path or '<root>'}: shared modules ('same_as') give more than "
                f"{MAX_MODULES} module paths"
            )


def _tie(model: Any, ties: Any, where: str) -> None:
    """Re-create ties made after construction (alias -> first name, both already built)."""
    if type(ties) is not dict:
        raise FileFormatError(f"{where}: architecture 'ties' must be an object")
    for alias, first in ties.items():
        what = f"{where}: tie {alias!r:.100} -> {first!r:.100}"
        if type(first) is not str:
            raise FileFormatError(f"{what}: it must name a parameter or buffer")
        if not all(alias.split(".")):
            raise FileFormatError(f"{what}: invalid name (dot-separated non-empty member names)")
        owner_path, _, local = alias.rpartition(".")
        try:
            target = _entry(model, first)
            owner = model.get_submodule(owner_path)
        except (AttributeError, KeyError, TypeError) as exc:
            raise FileFormatError(f"{what}: {exc}") from None
        if local not in owner._parameters and local not in owner._buffers and hasattr(owner, local):
            raise FileFormatError(f"{what}: {local!r} is an attribute of {type(owner).__name__}, not a "
                                  "parameter or buffer")
        if getattr(owner, local, None) is not target:
            try:
                setattr(owner, local, target)
            except (KeyError, TypeError, AttributeError, RuntimeError) as exc:
                raise FileFormatError(f"{what}: {exc}") from None


def _check_shapes(model: Any, weights: dict[str, Tensor], where: str) -> None:
    """Every parameter and buffer the constructors made has the shape of the file's tensor."""
    from brickwork.nn.parameter import Parameter, is_pending  # noqa: PLC0415

    for name, t in [*model.named_parameters(remove_duplicate=False),
                    *model.named_buffers(remove_duplicate=False)]:
        stored = weights.get(name)
        if stored is None:
            continue  # load_state_dict names missing and unexpected keys
        shape = tuple(stored.shape)
        built = t.template if is_pending(t) else tuple(t.shape)
        if built is None or (len(built) == len(shape) and all(b in (None, s) for b, s in zip(built, shape))):
            continue
        owner, _, local = name.rpartition(".")
        kind = "parameter" if isinstance(t, Parameter) else "buffer"
        sizes = "(" + ", ".join("?" if b is None else str(b) for b in built) + ")"
        raise FileFormatError(
            f"{where}: architecture at {owner or '<root>'}: {kind} {local!r} has shape {sizes} from the "
            f"constructor arguments, but the file stores {name!r} with shape {shape}"
        )


def _entry(model: Any, name: str) -> Any:
    try:
        return model.get_parameter(name)
    except AttributeError:
        return model.get_buffer(name)


def load_model(f: PathOrFile, map_location: Any = None, *, device: Any = None) -> Any:
    """Rebuild a model saved by :func:`save_model`: architecture from the registry, then weights.

    Classes are looked up by name among brickwork's layers and the classes
    registered with :func:`serializable`; an unknown name raises
    :class:`UnknownClassError` saying how to register it. The model goes on
    ``map_location`` (alias ``device``) if given, else on the device it was
    saved from. Parameters keep the saved dtypes; lazy layers saved after their
    first forward come back initialised.
    """
    if map_location is not None and device is not None:
        raise ValueError("bw.load_model: give map_location or device, not both")
    header, arrays, where = read_arrays(f)
    text = header.metadata.get(MODEL_KEY)
    if text is None:
        raise FileFormatError(
            f"{where}: no architecture in this file (metadata key {MODEL_KEY!r}); it was not written by "
            "bw.save_model. Build the model in code and load the weights with "
            "model.load_state_dict(bw.load(path))"
        )
    description = loads_json(text, f"{where}: metadata {MODEL_KEY}")
    if type(description) is not dict or "spec" not in description:
        raise FileFormatError(f"{where}: metadata {MODEL_KEY} must be an object with a 'spec'")
    weights = arrays_to_objects(header, arrays, _backend.CPU, where)
    if type(weights) is not dict:
        raise FileFormatError(f"{where}: the weights of a model file must be a dict of tensors")
    builder = _Builder(weights, where)
    budget = EXTRA_ELEMENTS + sum(math.prod(entry.shape) for entry in header.entries.values())
    with _budget.allocation_budget(budget):  # constructors may allocate what the file holds, and a margin
        model = builder.build(description["spec"], "")
    builder.link_shared()
    _check_module_tree(model, where)
    _tie(model, description.get("ties", {}), where)
    _check_shapes(model, weights, where)
    model.load_state_dict(weights)
    _keep_saved_dtypes(model, weights)
    training = description.get("training", True)
    model.train(training if type(training) is bool else True)
    target = map_location if map_location is not None else device
    if target is None:
        target = description.get("device")
        if target is not None and type(target) is not str:
            raise FileFormatError(f"{where}: architecture 'device' must be a string")
    if target is not None and str(target) != "cpu":
        try:
            model.to(target)
        except RuntimeError as exc:
            raise RuntimeError(f"bw.load_model: cannot move the model to {target}: {exc}. Pass "
                               "map_location='cpu' to load it on the CPU") from None
    return model


def _keep_saved_dtypes(model: Any, weights: dict[str, Tensor]) -> None:
    """load_state_dict casts into the rebuilt parameters' dtypes; keep the file's instead."""
    for name, value in weights.items():
        try:
            target = _entry(model, name)
        except AttributeError:
            continue
        if target.dtype is not value.dtype:
            target.data = to_device(value._data, target.device, name, target.device)
            target._version[0] += 1

