"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from brickwork.nn.module import Module, _addindent
from brickwork.nn.parameter import Parameter, is_pending
from brickwork.tensor import Tensor

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx: Any, n: int, what: str) -> int:
    i = operator.index(idx)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {what} of length {n}")
    return i + n if i < 0 else i


class Sequential(Module):
    """Modules applied one after another (``nn.Sequential``).

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> class Double(nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> net = nn.Sequential(Double(), Double())
    >>> net(bw.ones(2))
    tensor([4., 4.])
    >>> net[0], len(net)
    (Double(), 2)
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input: Any) -> Any:
        """Apply the modules in order, each to the previous one's output; returns the last output."""
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        self.add_module(keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx: Any) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            for key in keys[idx]:
                del self._modules[key]
        else:
            del self._modules[keys[_index(idx, len(keys), "Sequential")]]
        # keep integer keys contiguous, as PyTorch does
        items = list(self._modules.items())
        self._modules.clear()
        for i, (key, m) in enumerate(items):
            self._modules[str(i) if key.isdigit() else key] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise TypeError("only a Sequential can be added to a Sequential")
        return Sequential(*self, *other)

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (under the next integer key); returns self.

        >>> from brickwork import nn
        >>> len(nn.Sequential(nn.Linear(2, 2)).append(nn.ReLU()))
        2
        """
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Append each module of ``modules`` in turn; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index`` (negative counts from the end); returns self.

        The integer keys are renumbered ``"0"``, ``"1"``..., as in PyTorch.

        >>> from brickwork import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).insert(1, nn.ReLU())
        >>> [type(m).__name__ for m in net]
        ['Linear', 'ReLU', 'Linear']
        """
        if not isinstance(module, Module):
            raise TypeError(f"insert: expected a Module, got {type(module).__name__}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"insert: index {index} out of range for Sequential of length {n}")
        if index < 0:
            index += n
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` (the last by default) and return it; the keys are renumbered."""
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """A list of modules, registered so their parameters are found (``nn.ModuleList``)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: Any) -> None:
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[_index(idx, len(items), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end (registered under the next index); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each module of ``modules``; returns self. A single module (not a list) raises ``TypeError``.

        >>> from brickwork import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 2)]).extend([nn.ReLU(), nn.Linear(2, 1)])
        >>> len(layers), sum(p.numel() for p in layers.parameters())
        (3, 9)
        """
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend expects an iterable of modules, got a single Module")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` and renumber the keys (returns None, as a list)."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` (the last by default) and return it; the keys are renumbered."""
        module = self[index]
        del self[index]
        return module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ModuleList has no forward (raises ``NotImplementedError``): iterate over it in your own."""
        raise NotImplementedError(
            "ModuleList has no forward(); iterate over it in your own forward"
        )

    def __repr__(self) -> str:
        # consecutive identical children print once, as "(0-2): 3 x Linear(...)" (PyTorch's layout)
        reprs = [repr(m) for m in self._modules.values()]
        if not reprs:
            return self._get_name() + "()"
        lines = []
        start = 0
        for i in range(1, len(reprs) + 1):
            if i < len(reprs) and reprs[i] == reprs[start]:
                continue
            count = i - start
            body = _addindent(reprs[start], 2)
            if count == 1:
                lines.append(f"({start}): {body}")
            else:
                lines.append(f"({start}-{i - 1}): {count} x {body}")
            start = i
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules, registered under their keys (``nn.ModuleDict``)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """``(key, module)`` pairs, in insertion order.

        >>> from brickwork import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
        >>> [(k, m.out_features) for k, m in heads.items()]
        [('cls', 3), ('box', 2)]
        """
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def update(self, modules: Any) -> None:
        """Add or replace modules from a mapping, a ModuleDict or an iterable of ``(key, module)`` pairs."""
        items = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for key, module in items:
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ModuleDict has no forward (raises ``NotImplementedError``): index it in your own."""
        raise NotImplementedError("ModuleDict has no forward(); index it in your own forward")


def _param_summary(p: Any, type_name: str) -> str:
    """PyTorch's one-line description of a parameter in ParameterList/Dict reprs."""
    if is_pending(p):
        return repr(p)
    size = "x".join(str(s) for s in p._data.shape)
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    device = "" if p._device.type == "cpu" else f" ({p._device})"
    return f"{kind} containing: [{type_name} of size {size}{device}]"


def _as_parameter(value: Any) -> Any:
    if isinstance(value, Parameter) or value is None:
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"expected a Parameter or Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of parameters, registered as ``"0"``, ``"1"``... (``nn.ParameterList``)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.register_parameter(str(_index(idx, len(self), "ParameterList")), _as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._parameters.values())

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add a parameter (a plain tensor is wrapped in a Parameter) under the next index; returns self.

        >>> import brickwork as bw
        >>> from brickwork import nn
        >>> params = nn.ParameterList().append(bw.zeros(2))
        >>> type(params[0]).__name__, params[0].requires_grad
        ('Parameter', True)
        """
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each value of ``values`` (tensors become Parameters); returns self."""
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"  ({k}): {_param_summary(p, repr(p.dtype))}" for k, p in self._parameters.items())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ParameterList has no forward (raises ``NotImplementedError``)."""
        raise NotImplementedError("ParameterList has no forward()")


class ParameterDict(Module):
    """A dict of parameters, registered under their keys (``nn.ParameterDict``)."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order."""
        return self._parameters.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        """``(key, parameter)`` pairs, in insertion order."""
        return self._parameters.items()

    def values(self) -> Iterable[Any]:
        """The parameters, in insertion order."""
        return self._parameters.values()

    def update(self, parameters: Any) -> None:
        """Add or replace entries from a mapping or ``(key, value)`` pairs (tensors become Parameters)."""
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in items:
            self[key] = value

    def pop(self, key: str) -> Any:
        """Remove the parameter under ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def extra_repr(self) -> str:
        from brickwork._legacy_types import type_name

        return "\n".join(f"  ({k}): {_param_summary(p, type_name(p, 'brickwork'))}"
                         for k, p in self._parameters.items())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A ParameterDict has no forward (raises ``NotImplementedError``)."""
        raise NotImplementedError("ParameterDict has no forward()")
