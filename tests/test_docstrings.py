"""Every public name of brickwork has a docstring of its own.

"Public" is what a user can reach by its documented name: every module of the package whose name has
no underscore part, the names in its ``__all__`` (or, without ``__all__``, the names it defines), and
every public method and property of each public class (``Tensor`` included, whose methods mostly come
from the op table in ``brickwork/ops/__init__.py``). A method without a docstring of its own passes
only when it overrides a documented method of a brickwork base class (``forward`` of a layer inherits
``Module.forward``'s); docstrings inherited from ``object`` or other Python classes do not count, nor
does a class docstring inherited from a base class.

Run ``PYTHONPATH=src python tests/test_docstrings.py`` to print the names that lack one.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

import brickwork

# Implementation modules: op classes (one Function subclass per primitive) and the transports of the
# process groups. Their user-facing functions are re-exported (brickwork.exp is
# brickwork.ops.elementwise.exp) and checked there; the rest is not API.
IMPLEMENTATION_PREFIXES = (
    "brickwork.ops",
    "brickwork.distributed.mpi_backend",
    "brickwork.distributed.nccl_backend",
    "brickwork.nn.parallel.reducer",
)


def own_doc(obj: Any) -> str:
    """The object's own docstring (a class's is not inherited from its bases), stripped."""
    if isinstance(obj, type):
        doc = obj.__dict__.get("__doc__")
    elif isinstance(obj, (property, functools.cached_property)):
        doc = obj.__doc__
    else:
        doc = getattr(obj, "__doc__", None)
    return doc.strip() if isinstance(doc, str) else ""


def in_brickwork(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "brickwork" or module.startswith("brickwork.")


def public_modules() -> list[types.ModuleType]:
    modules = [brickwork]
    for info in pkgutil.walk_packages(brickwork.__path__, "brickwork."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def exported(module: types.ModuleType) -> Iterator[tuple[str, Any]]:
    """The module's public names: its ``__all__``, else the public names it defines itself."""
    names = getattr(module, "__all__", None)
    if names is None:
        if module.__name__.startswith(IMPLEMENTATION_PREFIXES):
            return
        names = [name for name, value in vars(module).items()
                 if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]
    for name in names:
        yield name, getattr(module, name)


def _unwrap(value: Any) -> Any:
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _is_member(value: Any) -> bool:
    return isinstance(value, (property, functools.cached_property)) or (
        callable(value) and not isinstance(value, type))


def _documented_in_bases(cls: type, owner: type, name: str) -> bool:
    """Whether a brickwork class after ``owner`` in ``cls``'s MRO documents ``name`` (as ``inspect.getdoc``
    looks a method's docstring up)."""
    mro = cls.__mro__
    for base in mro[mro.index(owner) + 1:]:
        if in_brickwork(base) and name in base.__dict__ and own_doc(_unwrap(base.__dict__[name])):
            return True
    return False


def undocumented_members(cls: type) -> Iterator[str]:
    """Public methods and properties of ``cls`` defined in brickwork without a usable docstring."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((base for base in cls.__mro__ if name in base.__dict__), None)
        if owner is None or not in_brickwork(owner):
            continue  # inherited from object, tuple, Exception, ...
        value = _unwrap(owner.__dict__[name])
        if not _is_member(value) or own_doc(value):
            continue
        if not _documented_in_bases(cls, owner, name):
            yield f"{owner.__module__}.{owner.__qualname__}.{name}"


def undocumented(modules: Iterable[types.ModuleType]) -> list[str]:
    """Dotted names of the public modules, functions, classes, methods and properties lacking a docstring."""
    missing: set[str] = set()
    seen: set[int] = set()
    classes: list[type] = []
    for module in modules:
        if not own_doc(module):
            missing.add(f"{module.__name__} (module)")
        for name, value in exported(module):
            if isinstance(value, types.ModuleType) or not callable(value) or not in_brickwork(value):
                continue  # submodules are checked as modules; dtypes and constants are values
            if id(value) in seen:
                continue
            seen.add(id(value))
            if not own_doc(value):
                missing.add(f"{value.__module__}.{getattr(value, '__qualname__', name)}")
            if isinstance(value, type):
                classes.append(value)
    for cls in classes:
        missing.update(undocumented_members(cls))
    return sorted(missing)


def test_every_public_name_has_a_docstring():
    modules = public_modules()
    assert brickwork.Tensor in [value for _, value in exported(brickwork)]
    missing = undocumented(modules)
    assert not missing, (f"{len(missing)} public names have no docstring (one line of what, the "
                         "arguments where not obvious, an example where useful):\n  " + "\n  ".join(missing))


def test_the_check_finds_a_missing_docstring():
    """The finder is not vacuous: a fake module with undocumented parts is reported in full."""
    fake = types.ModuleType("brickwork.fake_for_test", "A module with a docstring.")

    def documented() -> None:
        """Has one."""

    def bare() -> None:
        pass

    class Base:
        """A documented base."""

        def step(self) -> None:
            """Documented in the base."""

        def undocumented_in_base(self) -> None:
            pass

    class Layer(Base):
        def step(self) -> None:  # inherits Base.step's docstring: fine
            pass

        def fresh(self) -> None:
            pass

        def undocumented_in_base(self) -> None:
            pass

        @property
        def size(self) -> int:
            return 0

        def keys(self) -> list:  # a brickwork method; object has no docstring to lend
            return []

    for obj in (documented, bare, Base, Layer):
        obj.__module__ = fake.__name__
        obj.__qualname__ = obj.__name__
    fake.__all__ = ["documented", "bare", "Base", "Layer"]
    for name in fake.__all__:
        setattr(fake, name, locals()[name])
    found = undocumented([fake])
    assert found == sorted([
        "brickwork.fake_for_test.Base.undocumented_in_base",
        "brickwork.fake_for_test.Layer",  # a class docstring is not inherited from Base
        "brickwork.fake_for_test.Layer.fresh",
        "brickwork.fake_for_test.Layer.keys",
        "brickwork.fake_for_test.Layer.size",
        "brickwork.fake_for_test.Layer.undocumented_in_base",
        "brickwork.fake_for_test.bare",
    ]), found


def test_tensor_methods_are_checked():
    """Tensor's methods come from the op table: a method without a docstring there is reported."""

    class Probe(brickwork.Tensor):
        """A tensor subclass for the test."""

    def shiny(self: Any) -> Any:
        return self

    Probe.shiny = shiny
    Probe.__module__, Probe.__qualname__ = "brickwork.fake_for_test", "Probe"
    assert "brickwork.fake_for_test.Probe.shiny" in list(undocumented_members(Probe))
    assert not [name for name in undocumented_members(Probe) if name.startswith("brickwork.tensor.")]


if __name__ == "__main__":
    names = undocumented(public_modules())
    print("\n".join(names) or "every public name has a docstring")
    sys.exit(1 if names else 0)
