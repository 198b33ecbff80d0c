"""Drop-in mode: ``import torch`` and ``import torchvision`` served by brickwork.

>>> import brickwork.torch
>>> brickwork.torch.install()          # doctest: +SKIP
>>> import torch                       # doctest: +SKIP
>>> torch.ones(2).dtype                # doctest: +SKIP
torch.float32

Three ways to turn it on: ``brickwork.torch.install()``, ``python -m brickwork.torch
script.py [args]``, and ``%load_ext brickwork.torch`` in IPython/Jupyter.

How it works: a meta-path finder answers imports of ``torch``, ``torch.*``,
``torchvision`` and ``torchvision.*`` with proxy modules. Each proxy names one
brickwork module in :data:`MODULE_MAP` and looks attributes up in it when they
are asked for, so names that brickwork gains later appear without touching this
table. A name brickwork lacks raises :class:`NotProvidedError` ("torch.fft.rfft
is not provided by brickwork"), an ``AttributeError`` so ``hasattr`` still works;
importing an unknown submodule raises :class:`ModuleNotProvidedError`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

import brickwork
from brickwork import dtypes as _dtypes
from brickwork.nn.parameter import Parameter as _Parameter
from brickwork.tensor import Size as _Size
from brickwork.tensor import Tensor as _Tensor

__all__ = [
    "install", "uninstall", "is_installed", "MODULE_MAP", "NotProvidedError",
    "ModuleNotProvidedError", "load_ipython_extension", "unload_ipython_extension",
]

#: torch / torchvision module name -> the brickwork module that serves it. Resolved at import
#: time, so a target that does not exist (yet) gives a "not provided by brickwork" error.
MODULE_MAP: dict[str, str] = {
    "torch": "brickwork",
    "torch.nn": "brickwork.nn",
    "torch.nn.functional": "brickwork.nn.functional",
    "torch.nn.init": "brickwork.nn.init",
    "torch.nn.utils": "brickwork.nn.utils",
    "torch.nn.utils.rnn": "brickwork.nn.utils.rnn",
    "torch.nn.parameter": "brickwork.nn.parameter",
    "torch.nn.modules": "brickwork.nn",
    "torch.nn.parallel": "brickwork.nn.parallel",
    "torch.optim": "brickwork.optim",
    "torch.optim.lr_scheduler": "brickwork.optim.lr_scheduler",
    "torch.optim.optimizer": "brickwork.optim.optimizer",
    "torch.utils": "brickwork.utils",
    "torch.utils.data": "brickwork.data",
    "torch.utils.data.distributed": "brickwork.data.distributed",
    "torch.autograd": "brickwork.autograd",
    "torch.autograd.functional": "brickwork.autograd.functional",
    "torch.distributions": "brickwork.distributions",
    # torch's one-module-per-distribution paths (from torch.distributions.normal import Normal)
    **{f"torch.distributions.{name}": "brickwork.distributions"
       for name in ("normal", "uniform", "bernoulli", "categorical", "multinomial", "distribution")},
    "torch.linalg": "brickwork.linalg",
    "torch.fft": "brickwork.fft",
    "torch.special": "brickwork.special",
    "torch.cuda": "brickwork.cuda",
    "torch.backends": "brickwork.torch.backends",
    "torch.backends.cudnn": "brickwork.torch.backends.cudnn",
    "torch.backends.mps": "brickwork.torch.backends.mps",
    "torch.testing": "brickwork.testing",
    "torch.distributed": "brickwork.distributed",
    "torch.jit": "brickwork.torch.jit",
    "torch.hub": "brickwork.torch.hub",
    "torch.random": "brickwork.random",
    "torchvision": "brickwork.vision",
    "torchvision.datasets": "brickwork.vision.datasets",
    "torchvision.transforms": "brickwork.vision.transforms",
    "torchvision.utils": "brickwork.vision.utils",
}

#: Names of the root ``torch`` module that only drop-in mode has (brickwork keeps no such name).
_ROOT_EXTRAS = "brickwork.torch._extras"

_ROOTS = ("torch", "torchvision")


class NotProvidedError(AttributeError):
    """A torch name that brickwork does not provide (an AttributeError, so ``hasattr`` works)."""


class ModuleNotProvidedError(ModuleNotFoundError):
    """A torch submodule that brickwork does not provide."""


def _not_provided(name: str, why: str = "") -> str:
    return f"{name} is not provided by brickwork{why} (drop-in mode, brickwork.torch)"


def _import_target(torch_name: str) -> types.ModuleType:
    """The brickwork module behind ``torch_name``, or ModuleNotProvidedError naming it."""
    target = MODULE_MAP.get(torch_name)
    if target is None:
        raise ModuleNotProvidedError(_not_provided(torch_name), name=torch_name)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        if err.name is not None and (target == err.name or target.startswith(err.name + ".")):
            raise ModuleNotProvidedError(
                _not_provided(torch_name, f" (its module {target} does not exist)"), name=torch_name
            ) from None
        raise


class TorchProxy(types.ModuleType):
    """A ``torch.*`` module whose attributes are looked up in a brickwork module on demand."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, getattr(target, "__doc__", None))
        self.__dict__["_brickwork_target"] = target
        self.__dict__["__path__"] = []  # a package, so `import torch.nn.functional` can recurse

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__") and attr != "__all__":
            raise AttributeError(attr)
        full = f"{self.__name__}.{attr}"
        if self.__name__ == "torch":
            extras = importlib.import_module(_ROOT_EXTRAS)
            if attr in extras.__all__:
                return getattr(extras, attr)
        if full in MODULE_MAP:  # a submodule: torch.nn, torch.backends.cudnn, ...
            try:
                return importlib.import_module(full)
            except ModuleNotProvidedError as err:
                raise NotProvidedError(str(err), name=attr, obj=self) from None
        target = self.__dict__["_brickwork_target"]
        try:
            return getattr(target, attr)
        except AttributeError:
            if attr == "__all__":
                return [n for n in dir(target) if not n.startswith("_")]
            raise NotProvidedError(_not_provided(full), name=attr, obj=self) from None

    def __dir__(self) -> list[str]:
        names = set(dir(self.__dict__["_brickwork_target"])) | set(super().__dir__())
        prefix = self.__name__ + "."
        names |= {k[len(prefix):] for k in MODULE_MAP if k.startswith(prefix) and "." not in k[len(prefix):]}
        return sorted(names)

    def __repr__(self) -> str:
        return f"<module {self.__name__!r} (brickwork drop-in for {self._brickwork_target.__name__})>"


class _TorchFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of torch / torchvision names with :class:`TorchProxy` modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """A spec for a torch/torchvision name; raises for one brickwork does not provide."""
        if fullname.split(".", 1)[0] not in _ROOTS:
            return None
        _import_target(fullname)  # raises the clear error before Python's own "No module named"
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        """The proxy module for ``spec.name``."""
        return TorchProxy(spec.name, _import_target(spec.name))

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the proxy looks names up on demand."""


_finder: _TorchFinder | None = None
_saved: dict[str, Any] = {}


def is_installed() -> bool:
    """Whether drop-in mode is on."""
    return _finder is not None


def _is_ours(module: Any) -> bool:
    return isinstance(module, TorchProxy)


def install() -> None:
    """Serve ``import torch`` / ``import torchvision`` by brickwork; refuses if real torch is loaded."""
    global _finder
    if _finder is not None:
        return
    for root in _ROOTS:
        present = [k for k, v in sys.modules.items() if k.split(".", 1)[0] == root and not _is_ours(v)]
        if present:
            raise RuntimeError(
                f"brickwork.torch.install(): the real {root} is already imported ({present[0]!r} is "
                f"in sys.modules); turn drop-in mode on before anything imports {root} (start a new "
                "process or kernel, or run `python -m brickwork.torch script.py`)"
            )
    _finder = _TorchFinder()
    sys.meta_path.insert(0, _finder)
    _saved.update(
        repr_prefix=_dtypes.repr_prefix,
        tensor_module=_Tensor.__module__,
        parameter_module=_Parameter.__module__,
        size_module=_Size.__module__,
    )
    _dtypes.repr_prefix = "torch"
    _Tensor.__module__ = "torch"
    _Parameter.__module__ = "torch.nn.parameter"
    _Size.__module__ = "torch"


def uninstall() -> None:
    """Undo :func:`install`: the finder, the ``torch*`` entries of sys.modules and the reprs."""
    global _finder
    if _finder is None:
        return
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
    for name in [k for k, v in sys.modules.items() if _is_ours(v)]:
        del sys.modules[name]
    _dtypes.repr_prefix = _saved.pop("repr_prefix")
    _Tensor.__module__ = _saved.pop("tensor_module")
    _Parameter.__module__ = _saved.pop("parameter_module")
    _Size.__module__ = _saved.pop("size_module")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext brickwork.torch``: turn drop-in mode on in this IPython/Jupyter kernel."""
    install()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext brickwork.torch``: turn drop-in mode off; names already bound stay bound."""
    uninstall()


del brickwork  # only imported so that the whole tensor API is loaded before install()
