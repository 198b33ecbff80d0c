"""The autograd engine: reverse-mode automatic differentiation.

A :class:`Function` is one primitive op: ``forward`` computes on raw arrays
(NumPy or CuPy) and ``backward`` returns one gradient array per positional
input (``None`` where no gradient is needed). ``Function.apply`` runs the
forward pass, and when gradients are being recorded it turns the instance into
a node of the graph: ``next`` holds, per input, the node that produced it, the
leaf tensor itself, or ``None``.

The backward engine (:func:`run_backward`) is iterative (Kahn's algorithm over
the nodes reachable from the roots), so graphs of any depth work without
recursion. Nodes release their saved arrays as soon as their backward has run,
unless ``retain_graph=True``.

Higher-order gradients (``create_graph=True``): the same ``backward`` of every op runs on
:class:`brickwork._traced.Traced` values instead of raw arrays, so what it computes is
recorded (:func:`_recorded_backward`; the design and why it was chosen over a second backward
per op are in ``docs/design.md``, "Higher-order gradients"). The gradients that flow are then
tensors, and ``.grad`` keeps its history.

Saved-tensor safety: an op lists in ``saved_inputs`` which inputs' values its
backward reads (and sets ``saves_output`` if it reads its result). ``apply``
records those tensors' version counters, and the engine refuses to run a
backward whose saved tensors were modified in place since.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from brickwork import _backend

_np, _ndarray, _np_generic, _np_asarray = np, np.ndarray, np.generic, np.asarray
_new = object.__new__

__all__ = [
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "grad",
    "backward",
    "DeviceMismatchError",
]


class _GradMode(threading.local):
    """Gradient recording on/off, per thread as in PyTorch (a no_grad block in a data-loading
    thread must not switch recording off for the training thread)."""

    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops record the graph now (not inside :class:`no_grad` or :class:`inference_mode`).

    >>> import brickwork as bw
    >>> with bw.no_grad():
    ...     bw.is_grad_enabled()
    False
    >>> bw.is_grad_enabled()
    True
    """
    return _mode.enabled


class _GradModeContext:
    """Base for context managers that also work as decorators (with or without parentheses)."""

    _target: bool = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]) and cls is not set_grad_enabled:
            return cls()(args[0])  # @bw.no_grad without parentheses, as PyTorch allows
        return super().__new__(cls)

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev

    def __call__(self, func: Callable) -> Callable:
        target = self._target
        if inspect.isgeneratorfunction(func):
            return _generator_in_mode(func, target)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _mode.enabled
            _mode.enabled = target
            try:
                return func(*args, **kwargs)
            finally:
                _mode.enabled = prev

        return wrapper


def _generator_in_mode(func: Callable, target: bool) -> Callable:
    """A generator function whose body runs with grad mode ``target`` each time it resumes, and
    whose caller gets its own mode back at each ``yield`` (as PyTorch's decorators do)."""

    def step(gen: Any, how: str, value: Any) -> Any:
        prev = _mode.enabled
        _mode.enabled = target
        try:
            return getattr(gen, how)(value)
        finally:
            _mode.enabled = prev

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = func(*args, **kwargs)
        try:
            response = step(gen, "send", None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    prev = _mode.enabled
                    _mode.enabled = target
                    try:
                        gen.close()
                    finally:
                        _mode.enabled = prev
                    raise
                except BaseException as exc:  # thrown in by the caller: pass it on to the body
                    response = step(gen, "throw", exc)
                else:
                    response = step(gen, "send", request)
        except StopIteration as stop:
            return stop.value

    return wrapper


class no_grad(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Disable gradient recording (context manager or decorator).

    >>> import brickwork as bw
    >>> x = bw.ones(2, requires_grad=True)
    >>> with bw.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _target = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Re-enable gradient recording inside a ``no_grad`` block."""

    _target = True


class inference_mode(_GradModeContext):  # noqa: N801
    """Like ``no_grad`` (brickwork has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._target = not mode


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set gradient recording on or off; takes effect immediately, as in PyTorch."""

    def __init__(self, mode: bool) -> None:
        self._prev = _mode.enabled
        self._target = bool(mode)
        _mode.enabled = self._target

    def __enter__(self) -> None:
        pass

    def __call__(self, func: Callable) -> Callable:
        _mode.enabled = self._prev  # used as a decorator: only the function runs in the new mode
        return super().__call__(func)


class DeviceMismatchError(RuntimeError):
    """An op received tensors on different devices."""

    def __init__(self, op: str, devices: Sequence[Any], tensors: Sequence[Any] = ()) -> None:
        self.op = op
        self.devices = tuple(devices)
        self.tensors = tuple(tensors)
        self.context = ""
        super().__init__(self._message())

    def _message(self) -> str:
        found = " and ".join(str(d) for d in self.devices)
        msg = f"{self.op}: expected all tensors to be on the same device, but found {found}"
        if self.context:
            msg = f"{self.context}: {msg}"
        return msg

    def add_context(self, context: str) -> None:
        """Prefix the message with ``context`` (e.g. the module path where the op ran)."""
        self.context = context
        self.args = (self._message(),)


class Function:
    """Base class of every primitive op.

    Subclasses define ``forward(self, *arrays, **options) -> array`` and
    ``backward(self, grad) -> tuple`` side by side. In ``forward``,
    ``self.xp`` is the array module and ``self.needs_input_grad`` says which
    inputs need a gradient (skip work for the others).

    >>> import brickwork as bw
    >>> class Cube(Function):
    ...     saved_inputs = (0,)
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x ** 3
    ...     def backward(self, grad):
    ...         return (3 * self.x ** 2 * grad,)
    >>> x = bw.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([12.])
    """

    saved_inputs: tuple[int, ...] = ()
    saves_output: bool = False
    is_view: bool = False  # output shares memory (and version counter) with input 0
    differentiable: bool = True  # False: the output never requires grad (comparisons, isnan...)
    # float arrays saved in forward that a recorded backward (create_graph=True) may treat as
    # constants (a dropout mask); any other derived float array makes double backward refuse
    double_backward_constants: tuple[str, ...] = ()

    op_name: str = "function"  # the name errors use; each subclass gets its own (see below)
    device: Any = None  # set on nodes of CUDA ops: the device their backward makes current

    # instance attributes set by apply:
    #   xp, needs_input_grad, next, saved_versions, hooks, _freed

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # computed once per class so that ops never look it up with hasattr on the hot path
        cls.op_name = cls.__dict__.get("op_name") or cls.__name__.lower()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the op on raw arrays (NumPy or CuPy, module ``self.xp``); override in each op.

        Tensor arguments arrive as arrays, other arguments and keyword options as they were passed to
        :meth:`apply`. Keep on ``self`` what :meth:`backward` needs, and list the inputs it keeps in
        ``saved_inputs`` (``saves_output`` for the result) so that an in-place write to them is detected.
        """
        raise NotImplementedError

    def backward(self, grad: Any) -> tuple[Any, ...]:
        """Given the gradient of the output, return a tuple with one gradient per positional input.

        Return None for an input that needs no gradient (``self.needs_input_grad`` says which do) and
        for non-tensor arguments; each gradient has its input's shape. Override in each op.
        """
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The op's class name (``'Mul'``); ``repr`` of a graph node reads ``<MulBackward>``."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op on tensors (and other arguments) and record it in the graph when needed.

        All tensor arguments must be on one device (else :class:`DeviceMismatchError`); the output
        requires grad when an input does, grad mode is on and the op is differentiable.
        """
        device = None
        vals = []
        record = False
        for a in args:
            if isinstance(a, Tensor):
                d = a._device
                if d is not device:
                    if device is not None:
                        raise DeviceMismatchError(
                            _op_name(cls), [x._device for x in args if isinstance(x, Tensor)], args
                        )
                    device = d
                vals.append(a._data)
                if a.requires_grad:
                    record = True
                    if a._base is not None:
                        _refresh_view(a)
            else:
                vals.append(a)
        if device is None:
            raise TypeError(f"{cls.op_name}: expected at least one tensor argument, got {args!r}")
        fn = _new(cls)
        xp = fn.xp = device._xp or device.xp
        if record and _mode.enabled and cls.differentiable:
            # (list comprehensions: measurably faster than generator expressions here)
            fn.needs_input_grad = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        else:
            record = False
            n = len(args)
            fn.needs_input_grad = _NO_GRADS[n] if n < 8 else (False,) * n
        if xp is _np:
            try:
                out = fn.forward(*vals, **kwargs)
            except (ValueError, TypeError, IndexError) as exc:
                raise _forward_error(cls, args, exc) from exc
        else:
            # CuPy allocates and launches on the current device: make the tensors' device current
            # (a no-op query for the usual single GPU), and put the previous one back afterwards
            previous = _backend.make_current(device)
            try:
                out = fn.forward(*vals, **kwargs)
            except (ValueError, TypeError, IndexError) as exc:
                raise _forward_error(cls, args, exc) from exc
            finally:
                if previous is not None:
                    _backend.restore_current(previous)
        if type(out) is not _ndarray and isinstance(out, _np_generic):
            scalar, out = out, _np_asarray(out)  # NumPy turns 0-d results into scalars
            if record and cls.saves_output:  # the saved output must be the tensor's own array
                d = fn.__dict__
                for k, v in d.items():
                    if v is scalar:
                        d[k] = out
        t = _new(Tensor)
        t._data = out
        t._device = device
        t._grad = None
        t._hooks = None
        if cls.is_view:
            src = args[0]
            t._version = src._version
            t._base = src if src._base is None else src._base
            if record:
                fn.view_version = t._version[0]
        else:
            t._version = [0]
            t._base = None
        if record:
            t.requires_grad = True
            t._grad_fn = fn
            if xp is not _np:
                fn.device = device
            fn.next = tuple([
                (a._grad_fn or a) if isinstance(a, Tensor) and a.requires_grad else None for a in args
            ])
            saved = cls.saved_inputs
            if saved or cls.saves_output:
                # (the array too: a recorded backward, create_graph=True, finds it by identity)
                fn.saved_versions = [(args[i]._version, args[i]._version[0], i, vals[i])
                                     for i in saved if isinstance(args[i], Tensor)]
                if cls.saves_output:
                    fn.saved_versions.append((t._version, t._version[0], -1, out))
            fn.hooks = None
        else:
            t.requires_grad = False
            t._grad_fn = None
        return t

    def release(self) -> None:
        """Drop everything saved for backward (called after backward ran)."""
        self.__dict__.clear()
        self._freed = True


_NO_GRADS = [(False,) * n for n in range(8)]


def _array(x: Any) -> Any:
    """NumPy returns scalars for 0-d results (e.g. sums of 0-d gradients); make them arrays again."""
    if type(x) is not _ndarray and isinstance(x, _np_generic):
        return _np_asarray(x)
    return x


def _refresh_view(view: Any) -> None:
    """Give a view whose base was modified in place since its history was recorded a new history.

    ``a = h[0:2]; h.mul_(2)`` leaves ``a``'s recorded history (a slice of the old ``h``) stale:
    its values changed with ``h``. As PyTorch does, the next op that uses ``a`` sees it as a view
    of ``h``'s current history instead, so gradients stay right.
    """
    fn = view._grad_fn
    recorded = None if fn is None else fn.__dict__.get("view_version")
    if recorded is None or recorded == view._version[0]:
        return
    from brickwork.tensor import _view_indices, _ViewAt

    base = view._base
    index = _view_indices(view._data, base._data, view._device)
    if index is None or not base.requires_grad:
        return
    prev = _mode.enabled
    _mode.enabled = True
    try:
        view._grad_fn = _ViewAt.apply(base, index=index, view=view._data)._grad_fn
    finally:
        _mode.enabled = prev


def _op_name(cls: type) -> str:
    return getattr(cls, "op_name", None) or cls.__name__.lower()  # (getattr: also for non-Functions)


def _forward_error(cls: type, args: Sequence[Any], exc: Exception) -> Exception:
    """Give a failing forward a message that names the op and the shapes."""
    shapes = ", ".join(
        str(tuple(a._data.shape)) if isinstance(a, Tensor) and hasattr(a._data, "shape") else repr(a)
        for a in args
    )
    text = str(exc)
    if "broadcast" in text:
        text = "shapes cannot be broadcast together"
    error_type = type(exc) if isinstance(exc, (IndexError, TypeError)) else RuntimeError
    err = error_type(f"{_op_name(cls)}: {text} (inputs: {shapes})")
    return err


# ---------------------------------------------------------------------------
# the backward engine


def _check_saved(node: Function) -> None:
    for box, version, index, _ in getattr(node, "saved_versions", ()):
        if box[0] != version:
            what = "its output" if index < 0 else f"input {index}"
            source = node.next[index] if index >= 0 else None
            if isinstance(source, Function):
                what += f" (the output of {_op_name(type(source))})"
            elif isinstance(source, Tensor):
                what += (f" (a leaf tensor of shape {tuple(source._data.shape)} and dtype "
                         f"{source.dtype.name})")
            raise RuntimeError(
                "one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: {what} of {_op_name(type(node))} was at version {version} "
                f"when it was saved and is now at version {box[0]}. Use an out-of-place op "
                "(e.g. x = x + 1 instead of x += 1) or .clone() before modifying it."
            )


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    capture: Sequence[Any] | None = None,
    create_graph: bool = False,
) -> list[Any] | None:
    """Back-propagate ``root_grads`` from ``roots`` (tensors).

    Without ``capture``, gradients accumulate into the ``.grad`` of every leaf
    that requires grad. With ``capture`` (a list of tensors), nothing is
    accumulated and the gradients with respect to those tensors are returned
    (``None`` where a tensor is unreachable).

    The gradients are raw arrays; with ``create_graph`` they are tensors, and each
    node's backward runs recorded (see :mod:`brickwork._traced`), in grad mode.
    """
    if create_graph:
        prev = _mode.enabled
        _mode.enabled = True
    try:
        if _backend._cupy is None:  # no GPU in use: no current device to keep
            return _run_backward(roots, root_grads, retain_graph, capture, create_graph)
        start = _backend.current_device_index()
        try:
            return _run_backward(roots, root_grads, retain_graph, capture, create_graph)
        finally:  # each CUDA node made its device current; put the caller's back
            if _backend.current_device_index() != start:
                _backend.set_current_device(start)
    finally:
        if create_graph:
            _mode.enabled = prev


def _run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    capture: Sequence[Any] | None = None,
    graph: bool = False,
) -> list[Any] | None:
    grads: dict[Function, Any] = {}
    leaf_grads: dict[int, tuple[Any, Any]] = {}
    starts: list[Function] = []

    def add_leaf(leaf: Any, g: Any) -> None:
        key = id(leaf)
        hit = leaf_grads.get(key)
        if hit is None:
            leaf_grads[key] = (leaf, g)
        else:
            leaf_grads[key] = (leaf, _array(hit[1] + g))

    for root, g in zip(roots, root_grads):
        node = root._grad_fn
        if node is None:
            add_leaf(root, g)
            continue
        if node in grads:
            grads[node] = _array(grads[node] + g)
        else:
            grads[node] = g
            starts.append(node)

    capture_nodes: dict[Function, int] = {}
    captured: list[Any] = []
    if capture is not None:
        captured = [None] * len(capture)
        for i, t in enumerate(capture):
            if t._grad_fn is not None:
                capture_nodes[t._grad_fn] = i

    # count, for every node, how many edges from reachable nodes lead to it; and for every leaf,
    # so that its hooks run and its .grad is written as soon as its last contribution has
    # arrived (PyTorch's AccumulateGrad), while the rest of backward still runs
    deps: dict[Function, int] = {}
    leaf_edges: dict[int, int] = {}
    stack = list(starts)
    seen = set(starts)
    while stack:
        node = stack.pop()
        if "next" not in node.__dict__:
            raise RuntimeError(
                "trying to backward through the graph a second time (or to read saved tensors "
                "after they were freed): the graph is freed after .backward() or autograd.grad() "
                "unless you pass retain_graph=True to the first call"
            )
        for e in node.next:
            if e is not None and isinstance(e, Function):
                deps[e] = deps.get(e, 0) + 1
                if e not in seen:
                    seen.add(e)
                    stack.append(e)
            elif e is not None and capture is None:
                leaf_edges[id(e)] = leaf_edges.get(id(e), 0) + 1

    owned: set[int] = set()

    def finish_leaf(key: int) -> None:
        leaf, g = leaf_grads.pop(key)
        if graph:
            _accumulate_recorded(leaf, _apply_leaf_hooks_recorded(leaf, g))
        else:
            _accumulate(leaf, _apply_leaf_hooks(leaf, g), owned)
        _run_post_accumulate_hooks(leaf)

    ready = [n for n in starts if deps.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        g = grads.pop(node)
        if node.hooks:
            g = _run_hooks_recorded(node.hooks, g) if graph else _run_hooks(node.hooks, g, node)
        if node in capture_nodes:
            captured[capture_nodes[node]] = g
        _check_saved(node)
        if node.device is not None:  # its backward, and the sums of its input grads, run there
            _backend.make_current(node.device)
        in_grads = _recorded_backward(node, g) if graph else node.backward(g)
        nxt = node.next
        if not retain_graph:
            node.release()
        for e, gi in zip(nxt, in_grads):
            if e is None or gi is None:
                continue
            if type(gi) is not _ndarray and isinstance(gi, _np_generic):
                gi = _np_asarray(gi)
            if isinstance(e, Function):
                if e in grads:
                    grads[e] = _array(grads[e] + gi)
                else:
                    grads[e] = gi
                left = deps[e] - 1
                deps[e] = left
                if left == 0:
                    ready.append(e)
            else:
                add_leaf(e, gi)
                if capture is None:
                    left = leaf_edges[id(e)] - 1
                    leaf_edges[id(e)] = left
                    if left == 0:
                        finish_leaf(id(e))

    if capture is not None:
        for i, t in enumerate(capture):
            if t._grad_fn is None:
                hit = leaf_grads.get(id(t))
                if hit is not None:
                    captured[i] = (_apply_leaf_hooks_recorded if graph else _apply_leaf_hooks)(t, hit[1])
        return captured

    for key in list(leaf_grads):  # roots that are leaves, and leaves some backward gave None
        finish_leaf(key)
    return None


# ---------------------------------------------------------------------------
# recorded backward (create_graph=True): gradients are tensors, backwards run on Traced values


def _recorded_backward(node: Function, g: Any) -> tuple[Any, ...]:
    """Run ``node.backward`` on traced values so that what it computes is recorded.

    The saved inputs (and output) are found in the node's attributes by identity with the arrays
    ``apply`` saved, and replaced for the call by traced tensors that lead back into the graph:
    input ``i`` continues at ``node.next[i]``, the output at ``node`` itself.
    """
    from brickwork import _traced

    d = node.__dict__
    if "next" not in d:
        raise RuntimeError(
            "trying to backward through the graph a second time (or to read saved tensors "
            "after they were freed): pass retain_graph=True to the first call")
    device = g._device
    mapping: dict[int, Any] = {}
    constants: set[int] = set()
    for _, _, i, arr in d.get("saved_versions", ()):
        if i < 0:
            mapping[id(arr)] = _traced.Traced(_graph_tensor(arr, node, device))
            continue
        src = node.next[i]
        if src is None:
            constants.add(id(arr))
        elif isinstance(src, Tensor):
            same = src if src._data is arr else _graph_tensor(arr, None, device, src)
            mapping[id(arr)] = _traced.Traced(same)
        else:
            mapping[id(arr)] = _traced.Traced(_graph_tensor(arr, src, device))
    saved = dict(d)
    allowed = type(node).double_backward_constants
    for k, v in saved.items():
        hit = mapping.get(id(v))
        if hit is not None:
            d[k] = hit
        elif type(v) in (list, tuple) and any(id(x) in mapping for x in v):
            d[k] = type(v)(mapping.get(id(x), x) for x in v)
        elif (k not in allowed and id(v) not in constants and _backend.is_array(v)
              and v.ndim > 0 and v.dtype.kind in "fc"):
            d.clear()
            d.update(saved)
            raise RuntimeError(
                f"{_op_name(type(node))}: double backward (create_graph=True) is not supported: its "
                f"backward reads a value computed in forward ({k!r}) that it cannot differentiate")
    d["xp"] = _traced.traced_xp(saved["xp"])
    try:
        res = node.backward(_traced.Traced(g))
    finally:
        d.clear()
        d.update(saved)
    like = g
    return tuple(None if r is None else _traced.tensor_of(r, like) for r in res)


def _graph_tensor(arr: Any, fn: Any, device: Any, leaf: Any = None) -> Any:
    """A tensor of ``arr`` that continues the graph at node ``fn`` (or is ``leaf``'s stand-in)."""
    t = _wrap(arr, device)
    t.requires_grad = True
    t._grad_fn = fn
    if leaf is not None:  # a leaf whose data was replaced since: gradients still reach the leaf
        return _SavedValue.apply(leaf, value=arr)
    return t


class _SavedValue(Function):
    """The value an op saved of a leaf whose ``.data`` was replaced since; gradients pass through."""

    def forward(self, x: Any, value: Any) -> Any:
        return value

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g,)


def _run_hooks_recorded(hooks: list[Callable], g: Any) -> Any:
    for hook in hooks:
        if not isinstance(hook, weakref.ref):
            res = hook(g)
            if res is not None:
                _hook_result(hook, res, g._data)
                g = res
    for hook in hooks:
        if isinstance(hook, weakref.ref):
            t = hook()
            if t is not None:
                t._grad = g if t._grad is None else t._grad + g
    return g


def _apply_leaf_hooks_recorded(leaf: Any, g: Any) -> Any:
    if leaf._hooks:
        for hook in leaf._hooks:
            if isinstance(hook, PostAccumulateGradHook):
                continue
            res = hook(g)
            if res is not None:
                _hook_result(hook, res, g._data)
                g = res
    return g


def _fit_recorded(g: Any, like: Any) -> Any:
    """A recorded gradient in ``like``'s dtype and shape (broadcast where an op left it smaller)."""
    if g.dtype != like.dtype:
        g = g.to(like.dtype)
    if tuple(g._data.shape) != tuple(like._data.shape):
        from brickwork.ops.shape import broadcast_to

        g = broadcast_to(g, tuple(like._data.shape))
    return g


def _accumulate_recorded(leaf: Any, g: Any) -> None:
    """``leaf.grad`` (+)= ``g``, recorded: the gradient keeps its history, as PyTorch's does."""
    g = _fit_recorded(g, leaf)
    if g._grad_fn is None and (g is leaf or not g.requires_grad):
        g = _wrap(g._data.copy(), leaf._device)  # never alias a tensor the user holds
    old = leaf._grad
    leaf._grad = g if old is None else old + g


def _run_hooks(hooks: list[Callable], g: Any, node: Function) -> Any:
    for hook in hooks:
        if not isinstance(hook, weakref.ref):
            res = hook(_wrap(g, _backend.device_of_array(g)))
            if res is not None:
                g = _hook_result(hook, res, g)
    # retain_grad() runs last, so .grad shows what the hooks made of it; it accumulates (as PyTorch)
    for hook in hooks:
        if isinstance(hook, weakref.ref):
            t = hook()
            if t is not None:
                if t._grad is None:
                    t._grad = _wrap(g.copy(), t._device)
                else:
                    t._grad = _wrap(t._grad._data + g, t._device)
    return g


def _apply_leaf_hooks(leaf: Any, g: Any) -> Any:
    if leaf._hooks:
        for hook in leaf._hooks:
            if isinstance(hook, PostAccumulateGradHook):
                continue
            res = hook(_wrap(g, leaf._device))
            if res is not None:
                # the hook's tensor may be the user's; .grad must not alias it
                g = _hook_result(hook, res, g).copy()
    return g


def _hook_result(hook: Callable, res: Any, g: Any) -> Any:
    """The array of a tensor hook's result, which must be a gradient like the one it was given
    (same shape, dtype and device), as PyTorch checks: otherwise an error naming the hook."""
    from brickwork.tensor import Tensor

    name = getattr(hook, "__name__", None) or type(hook).__name__
    if not isinstance(res, Tensor):
        raise TypeError(f"hook '{name}' must return a Tensor or None, got {type(res).__name__}")
    new = res._data
    if new.shape != g.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value: it was given a gradient of shape "
                           f"{tuple(g.shape)} and returned one of shape {tuple(new.shape)}")
    if new.dtype != g.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value: it was given a {g.dtype} gradient "
                           f"and returned a {new.dtype} one")
    if _backend.device_of_array(new) is not _backend.device_of_array(g):
        raise RuntimeError(f"hook '{name}' has changed the device of value: it was given a gradient on "
                           f"{_backend.device_of_array(g)} and returned one on {res._device}")
    return new


class PostAccumulateGradHook:
    """A hook in a leaf's ``_hooks`` that runs after backward wrote the leaf's ``.grad``."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.fn = fn


def _run_post_accumulate_hooks(leaf: Any) -> None:
    if leaf._hooks:
        for hook in list(leaf._hooks):
            if isinstance(hook, PostAccumulateGradHook):
                hook.fn(leaf)


def _accumulate(leaf: Any, g: Any, owned: set[int]) -> None:
    """Add ``g`` into ``leaf.grad``, copying when the array may be shared."""
    data = leaf._data
    if type(data) is not _ndarray:
        _backend.make_current(leaf._device)  # (run_backward restores the caller's device)
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    if g.shape != data.shape:
        g = leaf._device.xp.broadcast_to(g, data.shape)
    old = leaf._grad
    if old is None:
        if g.base is not None or id(g) in owned or not _backend.writeable(g):
            g = g.copy()
        owned.add(id(g))
        leaf._grad = _wrap(g, leaf._device)
    else:
        if old._data.shape == g.shape and _backend.writeable(old._data):
            old._data += g
            old._version[0] += 1
        else:
            leaf._grad = _wrap(old._data + g, leaf._device)


def _wrap(arr: Any, device: Any) -> Any:
    t = object.__new__(Tensor)
    t._data = arr
    t._device = device
    t.requires_grad = False
    t._grad = None
    t._grad_fn = None
    t._version = [0]
    t._base = None
    t._hooks = None
    return t


def _as_tensor_list(x: Any) -> list[Any]:
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate gradients of ``tensors`` into the leaves (``torch.autograd.backward``).

    With ``create_graph=True`` the backward pass is recorded: ``.grad`` then has a history of its
    own and can be differentiated again (``retain_graph`` defaults to ``create_graph``).

    >>> import brickwork as bw
    >>> import warnings
    >>> x = bw.tensor(2.0, requires_grad=True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # (the reference-cycle warning, as PyTorch gives)
    ...     (x ** 3).backward(create_graph=True)
    >>> x.grad  # 3 x^2
    tensor(12., grad_fn=<MulBackward0>)
    >>> g = x.grad
    >>> x.grad = None
    >>> g.backward()
    >>> x.grad  # 6 x
    tensor(12.)
    """
    retain = create_graph if retain_graph is None else bool(retain_graph)
    roots = _as_tensor_list(tensors)
    seeds = _seed_grads(roots, grad_tensors, "backward", create_graph)
    if create_graph:
        warnings.warn(
            "backward(create_graph=True) makes each parameter's .grad hold a graph that leads back "
            "to the parameter (a reference cycle that keeps memory alive until .grad is reset to "
            "None); brickwork.autograd.grad(..., create_graph=True) avoids it", UserWarning,
            stacklevel=3 if _called_from_tensor() else 2)
    if inputs is not None:
        wanted = _as_tensor_list(inputs)
        got = run_backward(roots, seeds, retain, capture=wanted, create_graph=create_graph)
        owned: set[int] = set()
        for t, g in zip(wanted, got):
            if g is not None:
                with t._device.activate():
                    if create_graph:
                        _accumulate_recorded(t, g)
                    else:
                        _accumulate(t, g, owned)
                _run_post_accumulate_hooks(t)
        return
    run_backward(roots, seeds, retain, create_graph=create_graph)


def _called_from_tensor() -> bool:
    """Whether backward() was reached through Tensor.backward (the warning names the user's line)."""
    import sys

    frame = sys._getframe(2)
    return frame.f_code.co_name == "backward" and frame.f_globals.get("__name__") == "brickwork.tensor"


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    >>> import brickwork as bw
    >>> x = bw.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = bw.autograd.grad((x * x).sum(), x)
    >>> g
    tensor([2., 4.])
    """
    retain = create_graph if retain_graph is None else bool(retain_graph)
    roots = _as_tensor_list(outputs)
    wanted = _as_tensor_list(inputs)
    for i, t in enumerate(wanted):
        if not t.requires_grad:
            raise RuntimeError(f"autograd.grad: input {i} does not require grad")
    seeds = _seed_grads(roots, grad_outputs, "grad", create_graph)
    got = run_backward(roots, seeds, retain, capture=wanted, create_graph=create_graph)
    assert got is not None
    result = []
    for i, (t, g) in enumerate(zip(wanted, got)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {i} was not used in the graph of the outputs; "
                    "pass allow_unused=True if this is expected"
                )
            result.append(None)
        elif create_graph:
            result.append(_fit_recorded(g, t))
        else:
            if g.shape != t._data.shape:
                g = t._device.xp.broadcast_to(g, t._data.shape).copy()
            result.append(_wrap(g, t._device))
    return tuple(result)


def _seed_grads(roots: list[Any], grads: Any, where: str, recorded: bool = False) -> list[Any]:
    if grads is None:
        grads = [None] * len(roots)
    elif isinstance(grads, Tensor):
        grads = [grads]
    else:
        grads = list(grads)
    if len(grads) != len(roots):
        raise RuntimeError(f"{where}: got {len(grads)} gradients for {len(roots)} outputs")
    seeds = []
    for i, (t, g) in enumerate(zip(roots, grads)):
        if t._base is not None and t.requires_grad:
            _refresh_view(t)
        if not t.requires_grad:
            raise RuntimeError(
                f"{where}: element {i} of the outputs does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for scalar outputs; output {i} "
                    f"has shape {tuple(t._data.shape)}, pass a gradient of that shape"
                )
            with t._device.activate():
                seeds.append(t._device.xp.ones(t._data.shape, dtype=t._data.dtype))
            if recorded:
                seeds[-1] = _wrap(seeds[-1], t._device)
        else:
            g = g if isinstance(g, Tensor) else Tensor(g)
            if g._device is not t._device:
                raise DeviceMismatchError(f"{where} (gradient)", [t._device, g._device])
            if tuple(g._data.shape) != tuple(t._data.shape):
                raise RuntimeError(
                    f"{where}: gradient has shape {tuple(g._data.shape)} but output {i} has shape "
                    f"{tuple(t._data.shape)}"
                )
            if recorded:  # the seed itself may be differentiated through (double-vjp tricks)
                seeds.append(g if g.dtype == t.dtype else g.to(t.dtype))
                continue
            # a copy: the seed may reach a leaf's .grad unchanged, which later backwards add into
            seeds.append(g._data.astype(t._data.dtype, copy=True))
    return seeds


def iter_graph(root: Any) -> Iterable[Function]:
    """All nodes reachable from ``root`` (a tensor), for debugging and tests."""
    start = root._grad_fn
    if start is None:
        return
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        yield node
        for e in node.__dict__.get("next", ()):
            if isinstance(e, Function) and e not in seen:
                seen.add(e)
                stack.append(e)


from brickwork.tensor import Tensor  # noqa: E402  (circular: Tensor uses Function)
