"""Parameter and Buffer, and the pending (lazy) state they can be in.

A pending tensor knows its dtype, device and which sizes are still unknown
(``None`` in its template). Its storage is a :class:`_PendingArray` that
raises :class:`UninitializedParameterError` on any use, so a forgotten
forward pass fails loudly instead of computing with garbage. Materialising
it (``materialize(shape)``) fills the storage in place: the Parameter object
stays the same, so tying, optimisers and module references stay valid.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from brickwork import _backend, dtypes
from brickwork._format import format_tensor
from brickwork.tensor import Tensor, to_array

__all__ = ["Parameter", "Buffer", "UninitializedParameterError", "is_pending"]


class UninitializedParameterError(RuntimeError):
    """A pending (lazy) parameter or buffer was used before its shape was known."""

    def __init__(self, tensor: Any, action: str = "used") -> None:
        self.tensor = tensor
        self.action = action
        self.path: str | None = None
        super().__init__(self._message())

    def _message(self) -> str:
        pending = self.tensor._data if isinstance(self.tensor, Tensor) else self.tensor
        kind = getattr(pending, "kind", "parameter")
        name = self.path or getattr(pending, "name", None) or "<unnamed>"
        owner = getattr(pending, "owner", None)
        where = f"{kind} '{name}'" + (f" of {owner}" if owner and not self.path else "")
        template = getattr(pending, "template", None)
        shape = "(" + ", ".join("?" if s is None else str(s) for s in template) + ")" \
            if template is not None else "unknown"
        return (
            f"{where} is not initialised yet (shape {shape}: some sizes are inferred from the "
            f"first input) and cannot be {self.action}. Run a forward pass with a sample batch "
            "first (e.g. net(X)), or load a state dict (net.load_state_dict(...)), which creates "
            "the parameters from the checkpoint's shapes."
        )

    def set_path(self, path: str) -> None:
        """Name the parameter's dotted path (``'0.weight'``) in the message."""
        self.path = path
        self.args = (self._message(),)


class _PendingArray:
    """Storage of a pending tensor: knows dtype/device/template; any other use raises."""

    __slots__ = ("template", "dtype", "device", "name", "owner", "kind", "_tensor")

    def __init__(self, template: tuple[int | None, ...], dtype: Any, device: Any, kind: str) -> None:
        self.template = template
        self.dtype = dtype  # a NumPy dtype, so code asking for .dtype still works
        self.device = device
        self.name: str | None = None
        self.owner: str | None = None
        self.kind = kind
        self._tensor: Any = None

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UninitializedParameterError(self._tensor if self._tensor is not None else self)

    def __getattr__(self, name: str) -> Any:
        raise UninitializedParameterError(self._tensor if self._tensor is not None else self)

    __array_ufunc__ = _fail
    __array_function__ = _fail
    __array__ = _fail
    __getitem__ = _fail
    __setitem__ = _fail
    __iter__ = _fail
    __len__ = _fail
    __float__ = _fail
    __int__ = _fail
    __bool__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __neg__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail

    def __copy__(self) -> _PendingArray:
        new = _PendingArray(self.template, self.dtype, self.device, self.kind)
        new.name, new.owner = self.name, self.owner
        return new

    def __deepcopy__(self, memo: dict) -> _PendingArray:
        return self.__copy__()

    def __repr__(self) -> str:
        return f"<pending {self.kind} of shape {self.template}>"


class _PendingData:
    """``.data`` of a pending tensor: its in-place initialisers (``normal_``, ``uniform_``, ``fill_``,
    ``zero_``) are recorded and replayed once the shape is known, as ``nn.init`` on a pending tensor
    is (``self.net = nn.LazyLinear(1); self.net.weight.data.normal_(0, 0.01)`` initialises the
    weight when it is created; PyTorch drops such a call silently). Any other use raises
    :class:`UninitializedParameterError`."""

    __slots__ = ("_tensor",)

    def __init__(self, tensor: Any) -> None:
        self._tensor = tensor

    def _defer(self, name: str, *args: Any, **kwargs: Any) -> _PendingData:
        from brickwork.nn import init  # noqa: PLC0415 - init imports this module

        getattr(init, name)(self._tensor, *args, **kwargs)  # pending: recorded, not run
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> _PendingData:
        return self._defer("normal_", mean, std, generator=generator)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> _PendingData:
        return self._defer("uniform_", a, b, generator=generator)

    def fill_(self, value: float) -> _PendingData:
        return self._defer("constant_", float(value))

    def zero_(self) -> _PendingData:
        return self._defer("zeros_")

    def __getattr__(self, name: str) -> Any:
        raise UninitializedParameterError(self._tensor, f"read through .data (.data.{name})")

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UninitializedParameterError(self._tensor, "read through .data")

    __getitem__ = __setitem__ = __iter__ = __len__ = __float__ = __int__ = __bool__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __matmul__ = __rmatmul__ = __pow__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = _fail
    __iadd__ = __isub__ = __imul__ = __itruediv__ = _fail
    __array__ = _fail

    def __repr__(self) -> str:
        return f"<data of a pending {getattr(self._tensor._data, 'kind', 'tensor')}>"


def is_pending(t: Any) -> bool:
    """True for a Parameter or Buffer whose shape is not known yet."""
    return isinstance(t, Tensor) and type(t._data) is _PendingArray


class _Deferrable:
    """Shared by Parameter and Buffer: the pending state and its materialisation."""

    _kind = "tensor"

    @classmethod
    def pending(cls, shape: Sequence[int | None] | None = None, dtype: Any = None,
                device: Any = None, requires_grad: bool = True) -> Any:
        """A pending tensor; ``shape`` uses ``None`` for sizes inferred at the first forward.

        >>> from brickwork import nn
        >>> w = nn.Parameter.pending((256, None))
        >>> w.is_pending
        True
        >>> w.materialize((256, 20)).shape
        brickwork.Size([256, 20])
        """
        self = cls.__new__(cls)
        dev = _backend.Device(device or "cpu").resolved()
        dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.DEFAULT_FLOAT
        template = tuple(shape) if shape is not None else None
        storage = _PendingArray(template, dt.np, dev, cls._kind)
        _init_tensor(self, storage, dev, requires_grad if cls is Parameter else False)
        storage._tensor = self
        return self

    @property
    def is_pending(self) -> bool:
        """True while the shape is unknown (a lazy parameter before the first forward).

        >>> from brickwork import nn
        >>> lin = nn.LazyLinear(3)
        >>> lin.weight.is_pending
        True
        """
        return type(self._data) is _PendingArray

    @property
    def template(self) -> tuple[int | None, ...] | None:
        """The known sizes (``None`` where unknown) of a pending tensor, or its shape."""
        data = self._data
        if type(data) is _PendingArray:
            return data.template
        return tuple(data.shape)

    def materialize(self, shape: Sequence[int], dtype: Any = None, device: Any = None) -> Any:
        """Give a pending tensor its shape (filled with zeros), in place; returns it."""
        data = self._data
        if type(data) is not _PendingArray:
            if tuple(data.shape) == tuple(shape):
                return self
            raise RuntimeError(
                f"materialize: {self._kind} is already initialised with shape {tuple(data.shape)}, "
                f"cannot give it shape {tuple(shape)}"
            )
        shape = tuple(int(s) for s in shape)
        template = data.template
        if template is not None:
            if len(template) != len(shape) or any(
                t is not None and t != s for t, s in zip(template, shape)
            ):
                name = data.name or self._kind
                known = "(" + ", ".join("?" if t is None else str(t) for t in template) + ")"
                raise RuntimeError(
                    f"materialize: shape {shape} does not fit {name}'s known sizes {known}"
                )
        dev = _backend.Device(device).resolved() if device is not None else data.device
        np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else data.dtype
        with dev.activate():  # CuPy allocates on the current GPU
            self._data = dev.xp.zeros(shape, dtype=np_dtype)
        self._device = dev
        self._version[0] += 1
        return self

    def _record_init(self, fn: Callable, args: tuple, kwargs: dict) -> None:
        self.__dict__.setdefault("_deferred_init", []).append((fn, args, kwargs))

    def _replay_deferred_init(self) -> None:
        calls = self.__dict__.pop("_deferred_init", [])
        for fn, args, kwargs in calls:
            fn(self, *args, **kwargs)

    def _discard_deferred_init(self) -> None:
        self.__dict__.pop("_deferred_init", None)

    def _set_pending_name(self, name: str, owner: str) -> None:
        data = self._data
        if type(data) is _PendingArray and data.name is None:
            data.name, data.owner = name, owner

    @property
    def data(self) -> Any:
        """The same storage without history (:attr:`Tensor.data`); on a pending parameter, a stand-in
        whose in-place fills (``normal_``, ``uniform_``, ``fill_``, ``zero_``) are recorded and
        applied when the shape is known."""
        if type(self._data) is _PendingArray:
            return _PendingData(self)
        return Tensor.data.fget(self)  # type: ignore[attr-defined]

    @data.setter
    def data(self, value: Tensor) -> None:
        Tensor.data.fset(self, value)  # type: ignore[attr-defined]
        self._discard_deferred_init()

    def __deepcopy__(self, memo: dict) -> Any:
        if id(self) in memo:
            return memo[id(self)]
        new = object.__new__(type(self))
        memo[id(self)] = new
        if type(self._data) is _PendingArray:
            storage = self._data.__copy__()
            _init_tensor(new, storage, self._device, self.requires_grad)
            storage._tensor = new
        else:
            _init_tensor(new, self._data.copy(), self._device, self.requires_grad)
            if self._grad is not None:
                new._grad = copy.deepcopy(self._grad, memo)
        for k, v in self.__dict__.items():
            new.__dict__[k] = copy.deepcopy(v, memo)
        return new


def _init_tensor(t: Tensor, data: Any, device: Any, requires_grad: bool) -> None:
    t._data = data
    t._device = device
    t.requires_grad = requires_grad
    t._grad = None
    t._grad_fn = None
    t._version = [0]
    t._base = None
    t._hooks = None


class Parameter(_Deferrable, Tensor):
    """A tensor that is a trainable part of a module (``nn.Parameter``).

    Assigning a Parameter to a module attribute registers it. Its storage is
    shared with the tensor it was made from.

    >>> import brickwork as bw
    >>> p = bw.nn.Parameter(bw.ones(2))
    >>> p
    Parameter containing:
    tensor([1., 1.], requires_grad=True)
    """

    _kind = "parameter"

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor(0)
        if isinstance(data, Tensor):
            if type(data._data) is _PendingArray:
                raise TypeError("Parameter(): cannot wrap a pending tensor; use Parameter.pending(...)")
            _init_tensor(self, data._data, data._device, False)
            self._version = data._version
        else:
            arr = to_array(data, None, _backend.CPU)
            _init_tensor(self, arr, _backend.CPU, False)
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients (Parameter of "
                f"{self.dtype}); pass requires_grad=False"
            )
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        if type(self._data) is _PendingArray:
            d = self._data
            shape = "(" + ", ".join("?" if s is None else str(s) for s in (d.template or ())) + ")"
            return f"<UninitializedParameter shape={shape}, dtype={self.dtype}, device={self._device}>"
        return "Parameter containing:\n" + format_tensor(self)


class Buffer(_Deferrable, Tensor):
    """A tensor that is state of a module but not trained (``nn.Buffer``).

    ``self.running_mean = nn.Buffer(bw.zeros(3))`` registers a buffer, like
    ``register_buffer``; ``persistent=False`` keeps it out of the state dict.
    """

    _kind = "buffer"

    def __init__(self, data: Any = None, *, persistent: bool = True) -> None:
        if data is None:
            data = Tensor(0)
        if isinstance(data, Tensor):
            _init_tensor(self, data._data, data._device, False)
            self._version = data._version
        else:
            arr = to_array(data, None, _backend.CPU)
            _init_tensor(self, arr, _backend.CPU, False)
        self.persistent = persistent

    @classmethod
    def pending(cls, shape: Sequence[int | None] | None = None, dtype: Any = None,
                device: Any = None, requires_grad: bool = False, *, persistent: bool = True) -> Any:
        buf = super().pending(shape, dtype, device, False)
        buf.persistent = persistent
        return buf

    def __repr__(self) -> str:
        if type(self._data) is _PendingArray:
            return f"<UninitializedBuffer shape={self._data.template}, dtype={self.dtype}>"
        return format_tensor(self)
