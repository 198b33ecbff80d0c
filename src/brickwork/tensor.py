"""The Tensor: an array, the device it lives on, and its link into the graph.

This file holds what a tensor *is* (storage, device, dtype, gradient state,
conversions, printing, in-place machinery). What a tensor *does* -- the ops
and their operator spellings -- lives in ``brickwork.ops`` and is installed as
methods from one table in ``brickwork/ops/__init__.py``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from brickwork import _backend, dtypes
from brickwork._sync import sync_point
from brickwork._traced import Traced, is_traced
from brickwork.autograd._engine import Function, _mode, _wrap

__all__ = ["Tensor", "Size"]


class Size(tuple):
    """A tensor's shape: a tuple of ints (``brickwork.Size([2, 3])``)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``()``).

        >>> import brickwork as bw
        >>> bw.zeros(2, 3).shape.numel()
        6
        """
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"{dtypes.repr_prefix}.Size({list(self)})"

    def __getitem__(self, item: Any) -> Any:
        res = tuple.__getitem__(self, item)
        return Size(res) if isinstance(item, slice) else res


class Tensor:
    """A multi-dimensional array with reverse-mode autograd.

    Create tensors with :func:`brickwork.tensor`, :func:`brickwork.zeros`...
    The legacy constructor also works: ``Tensor(2, 3)`` (uninitialised
    float32 of that size) and ``Tensor([1, 2])`` (float32 data).

    >>> import brickwork as bw
    >>> x = bw.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = (
        "_data",
        "_device",
        "requires_grad",
        "_grad",
        "_grad_fn",
        "_version",
        "_base",
        "_hooks",
        "__weakref__",
    )

    _default_dtype = dtypes.float32
    # NumPy defers to the tensor's reflected operators: np.float64(2) * t and array + t give tensors
    # (with PyTorch's promotion) instead of NumPy arrays
    __array_priority__ = 1000

    def __init__(self, *args: Any, device: Any = None, dtype: Any = None) -> None:
        dtype = dtypes.as_dtype(dtype) if dtype is not None else self._default_dtype
        if len(args) == 1 and isinstance(args[0], Tensor):
            src = args[0]
            arr, dev = src._data, src._device
        elif (args and all(_is_int(a) for a in args)) or (len(args) == 1 and isinstance(args[0], Size)):
            shape = tuple(int(a) for a in (args[0] if isinstance(args[0], Size) else args))
            dev = _backend.Device(device or "cpu").resolved()
            arr = dev.xp.zeros(shape, dtype=dtype.np)  # deterministic "uninitialised" memory
        elif len(args) == 1:
            dev = _backend.Device(device or "cpu").resolved()
            arr = to_array(args[0], dtype, dev)
        elif not args:
            dev = _backend.Device(device or "cpu").resolved()
            arr = dev.xp.empty((0,), dtype=dtype.np)
        else:
            raise TypeError(f"Tensor(): cannot build a tensor from {args!r}")
        self._data = arr
        self._device = dev
        self.requires_grad = False
        self._grad = None
        self._grad_fn = None
        self._version = [0]
        self._base = None
        self._hooks = None

    # -- basic attributes ---------------------------------------------------
    @property
    def shape(self) -> Size:
        """The tensor's shape as a :class:`brickwork.Size` (a tuple); the same as ``size()``.

        >>> import brickwork as bw
        >>> bw.zeros(2, 3).shape
        brickwork.Size([2, 3])
        """
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        shape = self._data.shape
        if dim is None:
            return Size(shape)
        return shape[_norm_dim(dim, len(shape), "size")]

    @property
    def dtype(self) -> dtypes.DType:
        """The element type, a :class:`brickwork.dtypes.DType` such as ``brickwork.float32``."""
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> _backend.Device:
        """The :class:`brickwork.device` that holds the data (``cpu`` or ``cuda:N``)."""
        return self._device

    @property
    def is_cuda(self) -> bool:
        """True when the tensor lives on a CUDA GPU."""
        return self._device.type == "cuda"

    @property
    def ndim(self) -> int:
        """The number of dimensions (0 for a scalar tensor); ``dim()`` as a property."""
        return self._data.ndim

    def dim(self) -> int:
        """The number of dimensions (``ndimension`` is an alias).

        >>> import brickwork as bw
        >>> bw.zeros(2, 3).dim(), bw.tensor(1.0).dim()
        (2, 0)
        """
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        """The number of elements (``nelement`` is an alias).

        >>> import brickwork as bw
        >>> bw.zeros(2, 3).numel()
        6
        """
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element (4 for float32)."""
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        """True for float16, float32 and float64 tensors."""
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        """True when the data is laid out in C order without gaps (transposes are not).

        >>> import brickwork as bw
        >>> x = bw.zeros(2, 3)
        >>> x.is_contiguous(), x.t().is_contiguous()
        (True, False)
        """
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None) -> Any:
        """Steps in elements between neighbours along each dimension (or one)."""
        strides = tuple(st // self._data.itemsize for st in self._data.strides)
        return strides if dim is None else strides[_norm_dim(dim, len(strides), "stride")]

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (as PyTorch)."""
        return -1 if self._device.type == "cpu" else (self._device.index or 0)

    def data_ptr(self) -> int:
        """The address of the first element in host or device memory (for identity checks)."""
        return _backend.address(self._data)

    @property
    def grad_fn(self) -> Function | None:
        """The graph node that produced this tensor, or None for a leaf.

        >>> import brickwork as bw
        >>> w = bw.ones(2, requires_grad=True)
        >>> w.grad_fn is None, (w * 2).grad_fn
        (True, <MulBackward>)
        """
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        """True when the tensor was not produced by a recorded op (``grad_fn is None``).

        Tensors that do not require grad are leaves too, as in PyTorch; backward fills ``.grad`` only on
        leaves that require grad (see :meth:`retain_grad` for the others).
        """
        return self._grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by :meth:`backward`, or None.

        It may be assigned (a tensor of the same shape and device) or set to None.

        >>> import brickwork as bw
        >>> w = bw.ones(2, requires_grad=True)
        >>> (w * 3).sum().backward()
        >>> w.grad
        tensor([3., 3.])
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(value).__name__}")
            if value._device is not self._device:
                raise RuntimeError(
                    f"assigned grad is on {value._device} but the tensor is on {self._device}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has shape {tuple(value._data.shape)} but the tensor has shape "
                    f"{tuple(self._data.shape)}"
                )
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The same storage without history (writing through it changes this tensor)."""
        return _wrap(self._data, self._device)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._device = value._device

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The dimensions reversed (for a matrix, its transpose); a view.

        >>> import brickwork as bw
        >>> bw.zeros(2, 3).T.shape
        brickwork.Size([3, 2])
        """
        return self.permute(*range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dimensions swapped (a batch of transposed matrices); a view.

        >>> import brickwork as bw
        >>> bw.zeros(4, 2, 3).mT.shape
        brickwork.Size([4, 3, 2])
        """
        if self._data.ndim < 2:
            raise RuntimeError(f"mT: tensor must have at least 2 dimensions, got {self._data.ndim}")
        return self.transpose(-2, -1)

    # -- gradient state -----------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor.

        Only floating tensors can require grad; ``requires_grad_(False)`` on a non-leaf raises (use
        :meth:`detach`).

        >>> import brickwork as bw
        >>> bw.zeros(2).requires_grad_().requires_grad
        True
        """
        if self._grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor; use .detach() to cut it from the graph"
            )
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._grad_fn is None:
            return
        hooks = self._grad_fn.hooks
        if hooks is None:
            hooks = self._grad_fn.hooks = []
        if not any(isinstance(h, weakref.ref) and h() is self for h in hooks):
            hooks.append(weakref.ref(self))

    @property
    def retains_grad(self) -> bool:
        """True when :meth:`retain_grad` was called on this non-leaf tensor."""
        fn = self._grad_fn
        return bool(fn and fn.hooks and any(isinstance(h, weakref.ref) and h() is self for h in fn.hooks))

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._grad_fn is not None:
            if self._grad_fn.hooks is None:
                self._grad_fn.hooks = []
            hooks = self._grad_fn.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _RemovableHandle:
        """Call ``hook(tensor)`` once backward has written this leaf's ``.grad`` (during backward).

        >>> import brickwork as bw
        >>> w = bw.ones(2, requires_grad=True)
        >>> seen = []
        >>> _ = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
        >>> (w * 3).sum().backward()
        >>> seen
        [[3.0, 3.0]]
        """
        from brickwork.autograd import PostAccumulateGradHook

        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        entry = PostAccumulateGradHook(hook)
        self._hooks.append(entry)
        return _RemovableHandle(self._hooks, entry)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        from brickwork import autograd

        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """Same storage and version counter, cut from the graph."""
        t = _wrap(self._data, self._device)
        t._version = self._version
        t._base = self._base if self._base is not None else self
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place (no ``grad_fn``, no ``requires_grad``); returns it."""
        self._grad_fn = None
        self.requires_grad = False
        return self

    # -- reading values (host syncs) ------------------------------------------
    def item(self) -> Any:
        """The value of a one-element tensor as a Python number (a host sync on a GPU).

        >>> import brickwork as bw
        >>> bw.tensor([3.5]).item()
        3.5
        """
        sync_point("Tensor.item()")
        if self._data.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self._data.size} elements cannot be converted to a "
                "Python scalar"
            )
        return self._data.item()  # (any shape of one element; no reshape: nothing runs on the device)

    def tolist(self) -> Any:
        """The data as nested Python lists of numbers (a scalar for a 0-d tensor; a host sync).

        >>> import brickwork as bw
        >>> bw.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
        sync_point("Tensor.tolist()")
        return _host(self._data).tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The NumPy array (shared storage on the CPU)."""
        if self._device.type != "cpu" and not force:
            raise TypeError(
                f"numpy(): the tensor is on {self._device}; call .cpu() first to copy it to host "
                "memory (or numpy(force=True))"
            )
        if self.requires_grad and not force:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy()"
            )
        sync_point("Tensor.numpy()")
        return _host(self._data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._device.type != "cpu":
            raise TypeError(
                f"cannot convert a tensor on {self._device} to a NumPy array; call .cpu() first"
            )
        sync_point("np.asarray(tensor)")
        arr = self._data
        return arr.astype(dtype) if dtype is not None else arr

    def _scalar(self, what: str) -> Any:
        sync_point(what)
        if self._data.size != 1:
            raise RuntimeError(
                f"{what}: only a tensor with one element can be converted to a Python scalar "
                f"(this one has shape {tuple(self._data.shape)})"
            )
        return self._data.item()

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self._scalar("bool(tensor)"))

    def __float__(self) -> float:
        return float(self._scalar("float(tensor)"))

    def __int__(self) -> int:
        return int(self._scalar("int(tensor)"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._scalar("operator.index(tensor)"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex(tensor)"))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._data.shape[0]):
            yield self[i]

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        sync_point("printing a tensor")
        from brickwork._format import format_tensor

        return format_tensor(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    # -- devices and dtypes -----------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert: ``to(device)``, ``to(dtype)``, ``to(other)``, ``to(device, dtype)``.

        Returns the same object when nothing changes.
        """
        device, dtype, non_blocking, copy = _parse_to(args, kwargs)
        out = self
        if dtype is not None and dtype.np != out._data.dtype:
            out = _cast(out, dtype)
        if device is not None:
            device = device.resolved()
            if device is not out._device:
                out = _ToDevice.apply(out, device=device, non_blocking=non_blocking)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        """``to('cpu')``: a copy in host memory, or the tensor itself when it is there already."""
        return self.to(_backend.CPU)

    def pin_memory(self) -> Tensor:
        """A copy in page-locked host memory, from which ``.to('cuda', non_blocking=True)`` copies
        asynchronously (needs CUDA; the tensor itself if it is pinned already)."""
        if self._device.type != "cpu":
            raise RuntimeError(f"pin_memory: only CPU tensors can be pinned; this one is on {self._device}")
        if _backend.cuda_device_count() == 0:
            raise RuntimeError("pin_memory: pinned host memory needs CUDA, which is not available here")
        if _backend.is_pinned(self._data):
            return self
        out = _wrap(_backend.pin(self._data), self._device)
        out.requires_grad = self.requires_grad
        return out

    def is_pinned(self) -> bool:
        """True when this CPU tensor's memory is pinned (see :meth:`pin_memory`)."""
        return _backend.is_pinned(self._data)

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """``to('cuda:N')``: ``device`` is an index, a name or a device (default ``cuda:0``).

        The tensor itself comes back when it is on that GPU already.
        """
        if device is None:
            dev = _backend.Device("cuda", 0)
        elif isinstance(device, int):
            dev = _backend.Device("cuda", device)
        else:
            dev = _backend.Device(device)
        return self.to(dev, non_blocking=non_blocking)

    def type(self, dtype: Any = None) -> Any:
        """``type()``: the legacy type name ('torch.FloatTensor'); ``type(spec)``: a converted tensor."""
        from brickwork import _legacy_types

        if dtype is None:
            return _legacy_types.type_name(self)
        return _legacy_types.convert_type(self, dtype)

    def float(self) -> Tensor:
        """A float32 copy, or the tensor itself when it is float32 already (see :meth:`to`).

        >>> import brickwork as bw
        >>> bw.tensor([1, 2]).float()
        tensor([1., 2.])
        """
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        """A float64 copy, or the tensor itself when it is float64 already (see :meth:`to`)."""
        return self.to(dtypes.float64)

    def half(self) -> Tensor:
        """A float16 copy, or the tensor itself when it is float16 already (see :meth:`to`)."""
        return self.to(dtypes.float16)

    def long(self) -> Tensor:
        """An int64 copy (floats truncated toward zero), or the tensor itself when it is int64.

        >>> import brickwork as bw
        >>> bw.tensor([1.7, -1.7]).long()
        tensor([ 1, -1])
        """
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        """An int32 copy (floats truncated toward zero), or the tensor itself when it is int32."""
        return self.to(dtypes.int32)

    def short(self) -> Tensor:
        """An int16 copy (floats truncated toward zero), or the tensor itself when it is int16."""
        return self.to(dtypes.int16)

    def bool(self) -> Tensor:
        """A bool copy (nonzero is True), or the tensor itself when it is bool already.

        >>> import brickwork as bw
        >>> bw.tensor([0, 2]).bool()
        tensor([False,  True])
        """
        return self.to(dtypes.bool_)

    def byte(self) -> Tensor:
        """A uint8 copy, or the tensor itself when it is uint8 already."""
        return self.to(dtypes.uint8)

    def type_as(self, other: Tensor) -> Tensor:
        """``to(other.dtype)``: this tensor in ``other``'s dtype (the device is kept)."""
        return self.to(other.dtype)

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:
        """A new leaf tensor from ``data``, by default with this tensor's dtype and device.

        >>> import brickwork as bw
        >>> bw.zeros(2).new_tensor([1, 2])
        tensor([1., 2.])
        """
        from brickwork.creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=device or self._device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        """Zeros of ``size``, by default with this tensor's dtype and device.

        >>> import brickwork as bw
        >>> bw.tensor([1, 2]).new_zeros(3)
        tensor([0, 0, 0])
        """
        from brickwork.creation import zeros

        return zeros(*size, dtype=dtype or self.dtype, device=device or self._device,
                     requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        """Ones of ``size``, by default with this tensor's dtype and device."""
        from brickwork.creation import ones

        return ones(*size, dtype=dtype or self.dtype, device=device or self._device,
                    requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, by default with this tensor's dtype and device."""
        from brickwork.creation import full

        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self._device,
                    requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        """A tensor of ``size`` with this tensor's dtype and device; filled with zeros (deterministic)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    # -- copying ------------------------------------------------------------
    def __deepcopy__(self, memo: dict) -> Tensor:
        if self._grad_fn is not None:
            raise RuntimeError(
                "only tensors created by the user (graph leaves) support deepcopy; "
                "call .detach() first"
            )
        new = object.__new__(type(self))
        memo[id(self)] = new
        _copy_tensor_state(self, new, memo)
        return new

    def __copy__(self) -> Tensor:
        """``copy.copy``: a new leaf sharing this tensor's storage and version counter (as PyTorch)."""
        new = object.__new__(type(self))
        new._data = self._data
        new._device = self._device
        new.requires_grad = self.requires_grad
        new._grad = None
        new._grad_fn = None
        new._version = self._version
        new._base = self if self._base is None else self._base
        new._hooks = None
        if hasattr(self, "__dict__"):
            new.__dict__.update(self.__dict__)
        return new

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(
            "brickwork tensors cannot be pickled (brickwork never uses pickle); "
            "use bw.save / bw.load, which write safetensors files"
        )

    # -- in-place machinery (used by the ops table) ---------------------------
    def _check_inplace(self, graph: bool, op: str) -> None:
        if graph and self._grad_fn is None and self.requires_grad:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap it in bw.no_grad() (e.g. for initialisation) or use an out-of-place op"
            )
        base = self._base
        if graph and base is not None and base._grad_fn is None and base.requires_grad:
            raise RuntimeError(
                f"{op}: a view of a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap it in bw.no_grad() (e.g. for initialisation) or use an out-of-place op"
            )

    def _inplace_from(self, cls: type[Function], *args: Any, **kwargs: Any) -> Tensor:
        """Run op ``cls(self, *args)`` and write its result into this tensor.

        Outside the graph this is a plain write into the storage. Inside the
        graph the tensor's history is rewritten, as PyTorch does: its new
        grad_fn is the op's node, whose input is the tensor's previous history.
        When the tensor is a view, its base's history is rewritten too (see
        :class:`_CopySlices`).
        """
        graph = _mode.enabled and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        name = cls.op_name
        self._check_inplace(graph, name + "_")
        if not graph:
            out = cls.apply(self, *args, **kwargs)
            _write_into(self, out._data, name + "_")
            return self
        before = _wrap(self._data.copy() if 0 in cls.saved_inputs else self._data, self._device)
        before.requires_grad = self.requires_grad
        before._grad_fn = self._grad_fn
        out = cls.apply(before, *args, **kwargs)
        base = self._base
        index = None if base is None else _view_indices(self._data, base._data, self._device)
        _write_into(self, out._data, name + "_")
        if index is None:  # not a view (or no longer one): only this tensor's history changes
            self._grad_fn = out._grad_fn
            self.requires_grad = True
            return self
        old_base = _wrap(base._data, base._device)
        old_base.requires_grad = base.requires_grad
        old_base._grad_fn = base._grad_fn
        new_base = _CopySlices.apply(old_base, out, index=index)
        base._grad_fn = new_base._grad_fn
        base.requires_grad = True
        self._grad_fn = _ViewAt.apply(base, index=index, view=self._data)._grad_fn
        self.requires_grad = True
        return self


class _CopySlices(Function):
    """The base of a view after an in-place op on the view (PyTorch's CopySlices).

    The write already happened in memory (the view shares it), so forward
    returns the base's array. ``index`` holds, for each element of the view,
    its flat (C-order) position in the base: backward sends those elements of
    the gradient to ``values`` (the op's result) and the rest to the base's
    previous history.
    """

    op_name = "inplace_on_view"

    def forward(self, base: Any, values: Any, index: Any) -> Any:
        self.index, self.values_shape = index, values.shape
        return base

    def backward(self, g: Any) -> tuple[Any, ...]:
        need_base, need_values = self.needs_input_grad
        flat = g.reshape(-1)
        g_values = flat[self.index] if need_values else None
        if g_values is not None and g_values.shape != self.values_shape:
            from brickwork.ops._util import sum_to

            g_values = sum_to(g_values, self.values_shape)
        g_base = None
        if need_base:
            flat_base = g.copy().reshape(-1)  # (a C-order copy: the flat array is a view of it)
            flat_base[self.index] = 0
            g_base = flat_base.reshape(g.shape)
        return (g_base, g_values)


class _ViewAt(Function):
    """A view's history after an in-place op on it or its base: its elements of the (new) base."""

    op_name = "view"
    is_view = True

    def forward(self, base: Any, index: Any, view: Any) -> Any:
        self.index, self.base_shape = index, base.shape
        return view

    def backward(self, g: Any) -> tuple[Any, ...]:
        flat = self.xp.zeros(int(np.prod(self.base_shape)), dtype=g.dtype)
        # accumulate, not assign: an expand() view holds one base element many times (stride 0),
        # and each of its copies contributes to that element's gradient
        _backend.scatter_add(flat, self.index.reshape(-1), g.reshape(-1))
        return (flat.reshape(self.base_shape),)


def _view_indices(view: Any, base: Any, device: _backend.Device) -> Any:
    """For each element of ``view``, its flat C-order index in ``base``; None if ``view`` is not a
    window on ``base``'s memory (a reshape that had to copy, or a base whose storage was replaced).

    Byte positions come from the two arrays' addresses and strides, and are decomposed along the
    base's strides, largest first; the decomposition is checked (in range, nothing left over).
    """
    if view.dtype != base.dtype:
        return None
    xp = device.xp
    pos = xp.full(view.shape, _backend.address(view) - _backend.address(base), dtype=np.int64)
    for axis, (n, stride) in enumerate(zip(view.shape, view.strides)):
        shape = [1] * view.ndim
        shape[axis] = n
        pos = pos + (xp.arange(n, dtype=np.int64) * stride).reshape(shape)
    axes = [a for a in sorted(range(base.ndim), key=lambda a: -base.strides[a]) if base.shape[a] > 1]
    if any(base.strides[a] <= 0 for a in axes):
        return None
    c_strides = [1] * base.ndim  # element strides of a C-order array of the base's shape
    for a in range(base.ndim - 2, -1, -1):
        c_strides[a] = c_strides[a + 1] * base.shape[a + 1]
    flat = xp.zeros(view.shape, dtype=np.int64)
    bad = pos < 0
    for a in axes:
        i = pos // base.strides[a]
        pos = pos - i * base.strides[a]
        bad |= i >= base.shape[a]
        flat = flat + i * c_strides[a]
    bad |= pos != 0
    if view.size:
        # whether the view is a window on the base decides what to record: a read of device data
        # (rare: only in-place ops on views inside the graph), counted by sync_guard
        sync_point("an in-place op on a view inside the graph (locating the view in its base)")
        if bool(bad.any()):
            return None
    return flat


def _write_into(t: Tensor, arr: Any, op: str) -> None:
    data = t._data
    if not _backend.writeable(data):
        raise RuntimeError(
            f"{op}: the tensor cannot be written in place: several of its elements share one memory "
            "location (it was made by expand()/broadcast_to()); clone() it first"
        )
    if arr.dtype != data.dtype and not np.can_cast(arr.dtype, data.dtype, "same_kind"):
        raise RuntimeError(
            f"{op}: result type {dtypes.from_numpy_dtype(arr.dtype).name} can't be cast to the "
            f"tensor's type {dtypes.from_numpy_dtype(data.dtype).name}"
        )
    if arr.shape != data.shape:
        try:
            shape = np.broadcast_shapes(arr.shape, data.shape)
        except ValueError:
            shape = None
        if shape != data.shape:
            raise RuntimeError(
                f"{op}: the result has shape {tuple(arr.shape)}, which does not fit the tensor's "
                f"shape {tuple(data.shape)} (in-place ops cannot change a tensor's shape)"
            )
    if arr is not data:
        data[...] = arr
    t._version[0] += 1


def _copy_tensor_state(src: Tensor, dst: Tensor, memo: dict) -> None:
    import copy as _copy

    dst._data = src._data.copy()
    dst._device = src._device
    dst.requires_grad = src.requires_grad
    dst._grad = _copy.deepcopy(src._grad, memo) if src._grad is not None else None
    dst._grad_fn = None
    dst._version = [0]
    dst._base = None
    dst._hooks = None
    if hasattr(src, "__dict__"):
        for k, v in src.__dict__.items():
            dst.__dict__[k] = _copy.deepcopy(v, memo)


class _RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Any) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _host(arr: Any) -> np.ndarray:
    return arr if isinstance(arr, np.ndarray) else arr.get()


def _norm_dim(dim: int, ndim: int, op: str) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim + n if dim < 0 else dim


def to_array(data: Any, dtype: dtypes.DType | None, device: _backend.Device) -> Any:
    """Turn user data (nested lists, scalars, arrays, tensors) into an array on ``device``.

    Python floats become float32 and ints int64 unless ``dtype`` says otherwise;
    NumPy arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        arr = data._data
        if data._device is not device:
            arr = _backend.transfer(arr, device)
        return arr.astype(dtype.np) if dtype is not None and arr.dtype != dtype.np else arr.copy()
    if _backend.is_array(data):
        src_dev = _backend.device_of_array(data)
        arr = data
        if src_dev is not device:
            arr = _backend.transfer(arr, device)
        if dtype is None:
            dtypes.from_numpy_dtype(arr.dtype)  # unsupported kinds raise here
            return arr.copy()
        return arr.astype(dtype.np)
    if isinstance(data, (np.generic,)):
        arr = np.asarray(data)
        native = True
    else:
        arr = _from_python(data, dtype)
        native = False
    if dtype is None:
        kind = arr.dtype.kind
        if kind == "f" and not native:
            arr = arr.astype(dtypes.DEFAULT_FLOAT.np)
        elif kind in "iu" and not native and arr.dtype != np.int64:
            arr = arr.astype(np.int64)
        elif kind == "O":
            raise TypeError(f"could not build a tensor from {type(data).__name__} data")
        else:
            dtypes.from_numpy_dtype(arr.dtype)
    else:
        arr = arr.astype(dtype.np)
    if device.type != "cpu":
        arr = _backend.transfer(arr, device)
    return arr


def _from_python(data: Any, dtype: dtypes.DType | None = None) -> np.ndarray:
    if isinstance(data, (list, tuple)) and data and any(isinstance(x, Tensor) for x in _flat_first(data)):
        data = _tensors_to_lists(data)
    try:
        arr = np.asarray(data)
    except ValueError as exc:
        raise ValueError(f"could not build a tensor: nested sequences have uneven lengths ({exc})") from None
    if arr.dtype == np.uint64 or arr.dtype.kind == "O" or (
            arr.dtype == np.float64 and arr.size and float(np.abs(arr).max()) >= _INT64_LIMIT):
        arr = _wide_python_ints(data, arr, dtype)
    if arr.dtype.kind == "O":
        raise TypeError(
            f"could not build a tensor from {type(data).__name__} data (element types not understood)"
        )
    if arr.dtype.kind in "US":
        raise TypeError("could not build a tensor from strings")
    return arr


_INT64_LIMIT = 2.0 ** 63


def _wide_python_ints(data: Any, arr: np.ndarray, dtype: dtypes.DType | None) -> np.ndarray:
    """Python ints outside int64, which NumPy turns into uint64, float64 or objects.

    As in PyTorch: with floats among them (or a floating ``dtype``) they are floats; as integers
    they do not fit int64, so ``tensor(2**63)`` is an overflow error, never a wrapped -2**63.
    """
    items = _flat_scalars(data)
    numbers = (bool, int, float, np.bool_, np.integer, np.floating)
    if not all(isinstance(x, numbers) for x in items):
        return arr  # strings, objects: reported by the caller
    huge = [x for x in items if isinstance(x, int) and not isinstance(x, bool) and not
            -2 ** 63 <= x < 2 ** 63]
    if not huge:
        return arr  # large floats, or NumPy's own uint64 scalars: nothing to check
    if dtype is not None and dtype.is_floating_point:
        return np.array(data, dtype=np.float64)
    if dtype is None and any(isinstance(x, (float, np.floating)) for x in items):
        return np.array(data, dtype=np.float64)
    if dtype is None:
        raise ValueError(f"Overflow when unpacking long long: tensor(): the integer {huge[0]} does not fit "
                         "int64 (give floats, or dtype=float64, for values this large)")
    if dtype.np.kind == "b":
        return np.array(data, dtype=object).astype(bool)
    try:
        return np.array(data, dtype=dtype.np)  # uint64 holds 2**63 .. 2**64 - 1
    except OverflowError:
        raise RuntimeError(f"tensor(): value {huge[0]} cannot be converted to type {dtype.name} "
                           "without overflow") from None


def _flat_scalars(data: Any) -> list[Any]:
    """The leaves of nested lists, tuples and arrays, in order."""
    if isinstance(data, np.ndarray):
        return data.ravel().tolist()
    if isinstance(data, (list, tuple)):
        return [leaf for x in data for leaf in _flat_scalars(x)]
    return [data]


def _flat_first(data: Any) -> list[Any]:
    while isinstance(data, (list, tuple)) and data:
        if any(isinstance(x, Tensor) for x in data):
            return list(data)
        data = data[0]
    return []


def _tensors_to_lists(data: Any) -> Any:
    if isinstance(data, Tensor):
        return _host(data._data)
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def _parse_to(args: tuple, kwargs: dict) -> tuple[Any, Any, bool, bool]:
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = bool(kwargs.pop("non_blocking", False))
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a._device, a.dtype
        elif isinstance(a, (dtypes.DType, np.dtype)) or a in (float, int, bool) or (
            isinstance(a, type) and issubclass(a, np.generic)
        ):
            dtype = a
        elif isinstance(a, (str, _backend.Device, int)) and not isinstance(a, bool):
            if isinstance(a, str) and a in dtypes._BY_NAME and a not in ("cpu", "cuda"):
                dtype = a
            else:
                device = a
        elif isinstance(a, bool):
            non_blocking = a
        else:
            raise TypeError(f"to(): cannot interpret argument {a!r} as a device or dtype")
    return (
        _backend.Device(device) if device is not None else None,
        dtypes.as_dtype(dtype) if dtype is not None else None,
        non_blocking,
        copy,
    )


class _Cast(Function):
    op_name = "to"

    def forward(self, x: Any, dtype: Any) -> Any:
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        if self.src.kind not in "fc":
            return (None,)
        return (grad.astype(self.src),)


def _cast(t: Tensor, dtype: dtypes.DType) -> Tensor:
    if dtype.np.kind not in "fc" and t.requires_grad and _mode.enabled:
        with _no_record():
            return _Cast.apply(t, dtype=dtype.np)
    return _Cast.apply(t, dtype=dtype.np)


class _no_record:  # noqa: N801
    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = False

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev


class _ToDevice(Function):
    op_name = "to"

    def forward(self, x: Any, device: Any, non_blocking: bool = False) -> Any:
        self.src = _backend.device_of_array(x)
        return _backend.transfer(x, device, non_blocking)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        if is_traced(grad):  # a recorded backward (create_graph=True): the move back is recorded too
            return (Traced(_ToDevice.apply(grad.t, device=self.src)),)
        return (_backend.transfer(grad, self.src),)

    @classmethod
    def apply(cls, x: Tensor, device: Any, non_blocking: bool = False) -> Tensor:  # type: ignore[override]
        if device.type == "cpu":
            _backend.raise_deferred()  # a host sync: report failed device-side checks first
        out = super().apply(x, device=device, non_blocking=non_blocking)
        out._device = device
        if out._grad_fn is not None:  # backward runs on the source device, where the grad goes
            out._grad_fn.device = None if x._device.type == "cpu" else x._device
        return out

