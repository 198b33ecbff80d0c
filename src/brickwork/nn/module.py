"""Module: the base of every layer and model.

Registration by type at assignment into three ordered dicts (``_parameters``,
``_buffers``, ``_modules``), traversal, ``state_dict`` / ``load_state_dict``
(one recursive walk with dotted prefixes, transactional loading), ``apply``,
in-place device/dtype moves, hooks, the lazy-materialisation step and
PyTorch's printed layout. See ``nn/README.md`` for the lazy protocol.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from brickwork import _backend, dtypes
from brickwork.autograd import DeviceMismatchError, no_grad
from brickwork.nn.parameter import Buffer, Parameter, UninitializedParameterError, is_pending
from brickwork.tensor import Tensor, _parse_to

__all__ = ["Module", "RemovableHandle"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing); leaving a ``with`` block also calls it."""
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first = lines.pop(0)
    return first + "\n" + "\n".join(" " * spaces + line for line in lines)


class Module:
    """Base class of all layers and models (``nn.Module``).

    Subclasses define their parts in ``__init__`` (assigning Parameters and
    Modules registers them) and the computation in ``forward``, with any
    Python control flow.

    >>> import brickwork as bw
    >>> from brickwork import nn
    >>> class Affine(nn.Module):
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.scale = nn.Parameter(bw.ones(n))
    ...         self.shift = nn.Parameter(bw.zeros(n))
    ...     def forward(self, X):
    ...         return X * self.scale + self.shift
    >>> [name for name, _ in Affine(3).named_parameters()]
    ['scale', 'shift']
    """

    training: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments; "
                "Module.__init__ takes none"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_maybe_pending"] = True

    # -- registration ---------------------------------------------------------
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )

    def _check_name(self, name: Any, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name:
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if hasattr(type(self), name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(brickwork.nn.Parameter or None required)"
            )
        self._parameters[name] = param
        if param is not None and is_pending(param):
            param._set_pending_name(name, type(self).__name__)
            self.__dict__["_maybe_pending"] = True

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state saved with the module (unless ``persistent=False``) but not trained."""
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(brickwork.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        if tensor is not None and is_pending(tensor):
            tensor._set_pending_name(name, type(self).__name__)
            self.__dict__["_maybe_pending"] = True

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name``."""
        self._check_init("child modules")
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, keep="_parameters")  # re-assignment keeps the key's position
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' of "
                    f"{type(self).__name__} (brickwork.nn.Parameter or None expected); to change "
                    f"its values use self.{name}.data = ... or wrap it in nn.Parameter(...)"
                )
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            self._check_init("child modules")
            self._forget(name, keep="_modules")
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' of "
                    f"{type(self).__name__} (brickwork.nn.Module or None expected)"
                )
            modules[name] = None
            return
        if isinstance(value, Buffer):
            self._check_init("buffers")
            self._forget(name, keep="_buffers")
            self.register_buffer(name, value, getattr(value, "persistent", True))
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' of "
                    f"{type(self).__name__} (brickwork.Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from every registry except ``keep`` (where it is about to be set)."""
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and key != keep:
                store.pop(name, None)
        d.get("_non_persistent_buffers_set", set()).discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            store = self.__dict__.get(key)
            if store is not None and name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = set(super().__dir__())
        keys.update(self._parameters, self._buffers, self._modules)
        return sorted(k for k in keys if not k[0].isdigit())

    # -- calling ------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; every layer and model overrides it.

        Call the module (``net(x)``) rather than ``forward`` itself: the call runs the forward hooks and,
        on the first call of a lazy module, infers the pending parameters' shapes from the inputs.
        """
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d["_maybe_pending"] or d["_forward_pre_hooks"] or d["_forward_hooks"]:
            return self._call_with_extras(args, kwargs)
        try:
            return self.forward(*args, **kwargs)
        except Exception as exc:
            _annotate(exc, self)
            raise

    def _call_with_extras(self, args: tuple, kwargs: dict) -> Any:
        try:
            for hook in list(self._forward_pre_hooks.values()):
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
            if self.__dict__["_maybe_pending"]:
                self._materialize_pending(args, kwargs)
            out = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks.values()):
                res = hook(self, args, out)
                if res is not None:
                    out = res
            return out
        except Exception as exc:
            _annotate(exc, self)
            raise

    def _materialize_pending(self, args: tuple, kwargs: dict) -> None:
        """The lazy step: infer shapes from the first input, initialise, replay recorded inits."""
        pending = [t for t in itertools.chain(self._parameters.values(), self._buffers.values())
                   if t is not None and is_pending(t)]
        if not pending:
            self.__dict__["_maybe_pending"] = False
            return
        infer = getattr(self, "infer_shape", None)
        if infer is None:
            names = ", ".join(_local_name(self, t) for t in pending)
            raise RuntimeError(
                f"{type(self).__name__} has pending parameters/buffers ({names}) but no "
                "infer_shape(self, *inputs) method to create them from the first input"
            )
        with no_grad():
            infer(*args, **kwargs)
        left = [_local_name(self, t) for t in pending if is_pending(t)]
        if left:
            raise RuntimeError(
                f"{type(self).__name__}.infer_shape() did not materialize {', '.join(left)}"
            )
        with no_grad():
            if callable(getattr(self, "reset_parameters", None)):
                self.reset_parameters()
            for t in pending:
                t._replay_deferred_init()
        self.__dict__["_maybe_pending"] = False

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before forward; it may return replacement args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after forward; it may return a replacement output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    # -- traversal ----------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and all below it, with dotted names; shared modules listed once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, shared ones once (see :meth:`named_modules`).

        >>> from brickwork import nn
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
        >>> [type(m).__name__ for m in net.modules()]
        ['Sequential', 'Linear', 'ReLU']
        """
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct children, in registration order, shared ones once.

        >>> from brickwork import nn
        >>> [name for name, _ in nn.Sequential(nn.Linear(2, 3), nn.ReLU()).named_children()]
        ['0', '1']
        """
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct child modules, in registration order (see :meth:`named_children`)."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; tied parameters once unless ``remove_duplicate=False``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (of the submodules too unless ``recurse=False``), tied ones once.

        This is what optimisers take: ``bw.optim.SGD(net.parameters(), lr=0.1)``.

        >>> from brickwork import nn
        >>> [tuple(p.shape) for p in nn.Linear(2, 3).parameters()]
        [(3, 2), (3,)]
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs, shared buffers once unless ``remove_duplicate=False``.

        >>> from brickwork import nn
        >>> [name for name, _ in nn.BatchNorm1d(3).named_buffers()]
        ['running_mean', 'running_var', 'num_batches_tracked']
        """
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (of the submodules too unless ``recurse=False``); see :meth:`named_buffers`."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path (``"0.1"``); ``""`` is this module."""
        if target == "":
            return self
        module: Module = self
        walked = []
        for part in target.split("."):
            child = module._modules.get(part) if isinstance(module, Module) else None
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(
                    f"get_submodule('{target}'): {where} has no submodule '{part}' "
                    f"(children: {list(module._modules)})"
                )
            walked.append(part)
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``"0.weight"``)."""
        mod_path, _, name = target.rpartition(".")
        module = self.get_submodule(mod_path)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(
                f"get_parameter('{target}'): {type(module).__name__} has no parameter '{name}' "
                f"(parameters: {list(module._parameters)})"
            )
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path (``'1.running_mean'``); raises ``AttributeError`` naming the module."""
        mod_path, _, name = target.rpartition(".")
        module = self.get_submodule(mod_path)
        if name not in module._buffers or module._buffers[name] is None:
            raise AttributeError(f"get_buffer('{target}'): {type(module).__name__} has no buffer '{name}'")
        return module._buffers[name]

    # -- state dict -----------------------------------------------------------
    def _state_entries(self) -> Iterator[tuple[str, Tensor]]:
        """This module's own entries of the state dict (parameters, persistent buffers)."""
        for name, p in self._parameters.items():
            if p is not None:
                yield name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                yield name, b

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool,
                            memo: dict | None = None) -> None:
        for name, t in self._state_entries():
            if is_pending(t):
                err = UninitializedParameterError(t, "saved in a state dict")
                err.set_path(prefix + name)
                raise err
            if keep_vars:
                destination[prefix + name] = t
            else:
                # one detached tensor per tied object, so files can keep the tie
                memo = {} if memo is None else memo
                if id(t) not in memo:
                    memo[id(t)] = t.detach()
                destination[prefix + name] = memo[id(t)]

    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name (tied ones under every name).

        Values are detached tensors sharing storage with the model.
        """
        if args:
            raise TypeError("state_dict() takes keyword arguments only (destination=, prefix=, keep_vars=)")
        out: OrderedDict = OrderedDict() if destination is None else destination
        memo: dict = {}
        for mod_prefix, module in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            p = mod_prefix + "." if mod_prefix else ""
            module._save_to_state_dict(out, p, keep_vars, memo)
        return out

    def _state_targets(self) -> OrderedDict:
        """Dotted name -> the tensor object a state-dict entry would load into."""
        targets: OrderedDict = OrderedDict()
        for mod_prefix, module in self.named_modules(remove_duplicate=False):
            p = mod_prefix + "." if mod_prefix else ""
            for name, t in module._state_entries():
                targets[p + name] = t
        return targets

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy a state dict into this model's existing parameters and buffers.

        All problems (missing and unexpected keys, size mismatches, dtype
        problems) are reported together, and nothing changes unless the whole
        load succeeds. Pending (lazy) parameters are created from the
        checkpoint's shapes. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict: expected a dict-like state dict, got {type(state_dict).__name__}"
            )
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in targets]
        problems: list[str] = []
        plan: list[tuple[Tensor, Any]] = []
        first_value: dict[int, tuple[str, Any]] = {}
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = _as_array(value)
            if arr is None:
                problems.append(
                    f'type mismatch for {key}: expected a tensor, got "{type(value).__name__}"'
                )
                continue
            problem = _check_entry(key, target, arr)
            if problem:
                problems.append(problem)
                continue
            seen = first_value.get(id(target))
            if seen is not None:
                other_key, other = seen
                if other.shape != arr.shape or not _same_values(other, arr):
                    problems.append(
                        f"tied entries {other_key} and {key} (the same parameter in the model) have "
                        "different values in the state dict"
                    )
                continue
            first_value[id(target)] = (key, arr)
            plan.append((target, arr))
        if strict:
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                problems.insert(0, f"Missing key(s) in state_dict: {keys}.")
            if unexpected:
                problems.insert(
                    1 if missing else 0,
                    "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".",
                )
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was changed):\n\t"
                + "\n\t".join(problems)
            )
        with no_grad():
            for target, arr in plan:
                _copy_into(target, arr)
        return IncompatibleKeys(missing if not strict else [], unexpected if not strict else [])

    # -- modes and bulk operations --------------------------------------------
    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and all below; returns self.

        Layers such as dropout and batch normalisation behave differently in the two modes.

        >>> from brickwork import nn
        >>> net = nn.Sequential(nn.Dropout(0.5))
        >>> net.train(False)[0].training
        False
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)`` on this module and all below; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (e.g. ``False`` to freeze a part); returns self.

        >>> from brickwork import nn
        >>> lin = nn.Linear(2, 2).requires_grad_(False)
        >>> lin.weight.requires_grad
        False
        """
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default)."""
        for p in self.parameters():
            if p._grad is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                p._grad._data[...] = 0
                p._grad._version[0] += 1

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move/cast parameters and buffers IN PLACE (identity kept); dtype applies to floats only."""
        device, dtype, non_blocking, _ = _parse_to(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")
        if device is not None:
            device = device.resolved()
        seen: set[int] = set()
        for t in itertools.chain(self.parameters(), self.buffers()):
            if id(t) in seen:
                continue
            seen.add(id(t))
            _move_in_place(t, device, dtype, non_blocking)
        return self

    def cpu(self) -> Module:
        """Move every parameter and buffer to the CPU in place (see :meth:`to`); returns self."""
        return self.to(_backend.CPU)

    def cuda(self, device: Any = None) -> Module:
        """Move every parameter and buffer to a GPU in place (default ``cuda:0``); returns self."""
        if device is None:
            return self.to(_backend.Device("cuda", 0))
        if isinstance(device, int):
            return self.to(_backend.Device("cuda", device))
        return self.to(device)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32 in place; returns self."""
        return self.to(dtypes.float32)

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64 in place; returns self."""
        return self.to(dtypes.float64)

    def half(self) -> Module:
        """Cast floating parameters and buffers to float16 in place; returns self."""
        return self.to(dtypes.float16)

    def type(self, dst_type: Any) -> Module:
        """Cast floating parameters and buffers to ``dst_type`` (a floating dtype) in place; returns self."""
        return self.to(dtypes.as_dtype(dst_type))

    # -- printing -----------------------------------------------------------
    def extra_repr(self) -> str:
        """Extra text inside this module's parentheses in ``repr`` (override in layers)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = []
        for key, module in self._modules.items():
            child_lines.append(f"({key}): " + _addindent(repr(module), 2))
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


# ---------------------------------------------------------------------------
# helpers


def _local_name(module: Module, t: Tensor) -> str:
    for store in (module._parameters, module._buffers):
        for name, value in store.items():
            if value is t:
                return name
    return "<unnamed>"


def _path_of(module: Module, t: Tensor) -> str | None:
    """Dotted path of a parameter or buffer anywhere inside ``module``."""
    for mod_prefix, m in module.named_modules():
        for store in (m._parameters, m._buffers):
            for name, value in store.items():
                if value is t:
                    return f"{mod_prefix}.{name}" if mod_prefix else name
    return None


def _child_name(parent: Module, child: Module) -> str | None:
    for name, m in parent._modules.items():
        if m is child:
            return name
    return None


def _annotate(exc: BaseException, module: Module) -> None:
    """Prefix brickwork's errors with the path of the module where they happened.

    Each enclosing ``__call__`` extends the chain and rewrites the message, so
    the outermost call (the user's ``net(X)``) leaves the full path.
    """
    if not isinstance(exc, (RuntimeError, ValueError, TypeError, IndexError)):
        return
    d = exc.__dict__
    if "_bw_chain" not in d:
        if not (len(exc.args) == 1 and isinstance(exc.args[0], str)):
            return
        d["_bw_chain"] = [module]
        d["_bw_message"] = exc.args[0]
    else:
        d["_bw_chain"].append(module)
    chain = d["_bw_chain"]
    inner = chain[0]
    names = []
    for child, parent in zip(chain, chain[1:]):
        name = _child_name(parent, child)
        if name is None:
            names = []
            break
        names.append(name)
    path = ".".join(reversed(names))
    label = f"{path} ({type(inner).__name__})" if path else type(inner).__name__
    message = d["_bw_message"]
    if isinstance(exc, UninitializedParameterError):
        local = _path_of(inner, exc.tensor)
        if local is not None:
            exc.set_path(f"{path}.{local}" if path else local)
            message = exc.args[0]
            exc.args = (f"in {label}: {message}",)
            return
    if isinstance(exc, DeviceMismatchError):
        message = _device_detail(inner, exc, path) or message
    exc.args = (f"in {label}: {message}",)


def _device_detail(module: Module, exc: DeviceMismatchError, path: str) -> str | None:
    """'input is on cuda:0 but 2.weight is on cpu' when a parameter is involved."""
    owned = {id(t): name for name, t in itertools.chain(module._parameters.items(), module._buffers.items())
             if t is not None}
    named = [(owned[id(t)], t) for t in exc.tensors if isinstance(t, Tensor) and id(t) in owned]
    if not named:
        return None
    others = [t for t in exc.tensors if isinstance(t, Tensor) and id(t) not in owned]
    pname, p = named[0]
    full = f"{path}.{pname}" if path else pname
    if others:
        return (f"input is on {others[0]._device} but {full} is on {p._device} "
                f"(op {exc.op}; move the model and its inputs to one device with .to(device))")
    a, b = named[0], named[-1]
    return f"{a[0]} is on {a[1]._device} but {b[0]} is on {b[1]._device} (op {exc.op})"


def _as_array(value: Any) -> Any:
    if isinstance(value, Tensor):
        if is_pending(value):
            return None
        return value._data
    if _backend.is_array(value):
        return value
    return None


def _shape_text(shape: Any) -> str:
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _check_entry(key: str, target: Tensor, arr: Any) -> str | None:
    shape = tuple(arr.shape)
    if is_pending(target):
        template = target.template
        if template is not None and (
            len(template) != len(shape) or any(t is not None and t != s for t, s in zip(template, shape))
        ):
            return (f"size mismatch for {key}: checkpoint has {_shape_text(shape)}, model has "
                    f"{_shape_text(template)}")
        want = np.dtype(target._data.dtype)
    else:
        if tuple(target._data.shape) != shape:
            return (f"size mismatch for {key}: checkpoint has {_shape_text(shape)}, model has "
                    f"{_shape_text(tuple(target._data.shape))}")
        want = target._data.dtype
    have = arr.dtype
    if want.kind != have.kind and not (want.kind in "iu" and have.kind in "iu"):
        return (f"dtype mismatch for {key}: checkpoint has {dtypes.from_numpy_dtype(have).name}, "
                f"model has {dtypes.from_numpy_dtype(want).name}")
    return None


def _same_values(a: Any, b: Any) -> bool:
    if a is b:
        return True
    a_host = a if isinstance(a, np.ndarray) else a.get()
    b_host = b if isinstance(b, np.ndarray) else b.get()
    return bool(np.array_equal(a_host, b_host, equal_nan=True))


def _copy_into(target: Tensor, arr: Any) -> None:
    if is_pending(target):
        target.materialize(arr.shape)
        target._discard_deferred_init()
    src_dev = _backend.device_of_array(arr)
    if src_dev is not target._device:
        arr = _backend.transfer(arr, target._device)
    with target._device.activate():
        target._data[...] = arr
    target._version[0] += 1


def _move_in_place(t: Tensor, device: Any, dtype: Any, non_blocking: bool) -> None:
    data = t._data
    if is_pending(t):
        if device is not None:
            data.device = device
            t._device = device
        if dtype is not None and np.dtype(data.dtype).kind == "f":
            data.dtype = dtype.np
        return
    new = data
    if dtype is not None and data.dtype.kind == "f" and data.dtype != dtype.np:
        new = new.astype(dtype.np)
    if device is not None and device is not t._device:
        new = _backend.transfer(new, device, non_blocking)
    if new is not data:
        t._data = new
        t._version[0] += 1
    if device is not None:
        t._device = device
    g = t._grad
    if g is not None:
        _move_in_place(g, device, dtype, non_blocking)
