"""Derivatives of whole functions: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``, ``vhp``.

The same signatures and results as ``torch.autograd.functional``. ``func`` takes one tensor or
a tuple of tensors and returns one tensor or a tuple of tensors; results follow the structure
of ``inputs`` (and of the outputs, for ``jacobian``). Everything is built on reverse mode:
Jacobian-vector products use the double-vjp trick (differentiate a vjp with respect to its
cotangent), so they need the ops involved to be twice differentiable, as in PyTorch.

``vectorize=True`` is accepted and gives the same values; brickwork computes the rows of a
Jacobian one after another (there is no batched ``vmap``).

>>> import brickwork as bw
>>> from brickwork.autograd.functional import hessian
>>> hessian(lambda x: (x ** 3).sum(), bw.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from brickwork import autograd
from brickwork.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x: Any, what: str, fn: str) -> tuple[bool, tuple[Any, ...]]:
    if isinstance(x, Tensor):
        return False, (x,)
    if isinstance(x, (tuple, list)):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(f"{fn}: {what} must be a tensor or a tuple of tensors; element {i} is "
                                f"{type(t).__name__}")
        return True, tuple(x)
    raise TypeError(f"{fn}: {what} must be a tensor or a tuple of tensors, got {type(x).__name__}")


def _prepare(inputs: tuple[Any, ...], create_graph: bool, need_graph: bool) -> tuple[Any, ...]:
    """Fresh tensors that require grad: detached copies of the inputs, or (``create_graph``, for
    inputs that require grad) views, so that results stay differentiable with respect to them."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(values: tuple[Any, ...], create_graph: bool) -> tuple[Any, ...]:
    return tuple(v if v is None or create_graph else v.detach() for v in values)


def _check_outputs(outs: tuple[Any, ...], fn: str) -> None:
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"{fn}: the function must return a tensor or a tuple of tensors; output "
                            f"{i} is {type(o).__name__}")


def _grad(outputs: tuple[Any, ...], inputs: tuple[Any, ...], grad_outputs: Any, create_graph: bool,
          retain_graph: bool | None = None) -> tuple[Any, ...]:
    """``autograd.grad`` that tolerates outputs without a graph and inputs that were not used
    (``None`` for those)."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return autograd.grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                         retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


def _fill(grads: tuple[Any, ...], refs: tuple[Any, ...], strict: bool, fn: str, what: str) -> tuple[Any, ...]:
    from brickwork.creation import zeros_like

    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the output is independent of input {i} (strict=True: {what})")
            g = zeros_like(r)
        out.append(g)
    return tuple(out)


def _check_v(v: Any, refs: tuple[Any, ...], fn: str, what: str) -> tuple[Any, ...]:
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(f"{fn}: v can be left out only when {what} is a single element; pass v")
        from brickwork.creation import ones_like

        return (ones_like(refs[0]),)
    _, vs = _as_tuple(v, "v", fn)
    if len(vs) != len(refs):
        raise RuntimeError(f"{fn}: v has {len(vs)} tensors but {what} has {len(refs)}")
    for i, (a, b) in enumerate(zip(vs, refs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{fn}: entry {i} of v has shape {tuple(a.shape)}, expected {tuple(b.shape)} "
                               f"(the shape of {what})")
    return vs


def _strict_check(outs: tuple[Any, ...], fn: str) -> None:
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(f"{fn}: output {i} does not depend on the inputs (strict=True)")


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product of ``func`` at ``inputs``.

    >>> import brickwork as bw
    >>> out, g = vjp(lambda x: x ** 2, bw.tensor([1.0, 3.0]), bw.tensor([1.0, 1.0]))
    >>> g
    tensor([2., 6.])
    """
    tuple_in, inputs = _as_tuple(inputs, "inputs", "vjp")
    with autograd.enable_grad():
        xs = _prepare(inputs, create_graph, True)
        tuple_out, outs = _as_tuple(func(*xs), "outputs of func", "vjp")
        _check_outputs(outs, "vjp")
        if strict:
            _strict_check(outs, "vjp")
        vs = _check_v(v, outs, "vjp", "the output")
        grads = _grad(outs, xs, vs, create_graph)
        grads = _fill(grads, xs, strict, "vjp", "its vjp is not defined")
    outs = _finish(outs, create_graph)
    grads = _finish(grads, create_graph)
    return (outs if tuple_out else outs[0]), (grads if tuple_in else grads[0])


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product (by the double-vjp trick).

    >>> import brickwork as bw
    >>> out, jv = jvp(lambda x: x ** 2, bw.tensor([1.0, 3.0]), bw.tensor([1.0, 0.0]))
    >>> jv
    tensor([2., 0.])
    """
    from brickwork.creation import zeros_like

    tuple_in, inputs = _as_tuple(inputs, "inputs", "jvp")
    vs = _check_v(v, inputs, "jvp", "the input")
    with autograd.enable_grad():
        xs = _prepare(inputs, create_graph, True)
        tuple_out, outs = _as_tuple(func(*xs), "outputs of func", "jvp")
        _check_outputs(outs, "jvp")
        if strict:
            _strict_check(outs, "jvp")
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        grads = _grad(outs, xs, dummies, True)
        used = [(g, vi) for g, vi in zip(grads, vs) if g is not None and g.requires_grad]
        if used:
            back = autograd.grad([g for g, _ in used], list(dummies), [vi for _, vi in used],
                                 create_graph=create_graph, allow_unused=True)
        else:
            back = (None,) * len(dummies)
        back = _fill(back, outs, strict, "jvp", "its jvp is not defined")
    outs = _finish(outs, create_graph)
    back = _finish(back, create_graph)
    return (outs if tuple_out else outs[0]), (back if tuple_out else back[0])


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``: entry ``[i][j]`` has shape
    ``outputs[i].shape + inputs[j].shape`` (a tensor when both are single tensors).

    ``strategy`` is ``"reverse-mode"`` (a vjp per output element) or ``"forward-mode"`` (a jvp
    per input element); both give the same values.

    >>> import brickwork as bw
    >>> jacobian(lambda x: x ** 2, bw.tensor([1.0, 3.0]))
    tensor([[2., 0.],
            [0., 6.]])
    """
    from brickwork.creation import zeros
    from brickwork.ops.shape import stack

    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    tuple_in, inputs = _as_tuple(inputs, "inputs", "jacobian")
    with autograd.enable_grad():
        xs = _prepare(inputs, create_graph, True)
        tuple_out, outs = _as_tuple(func(*xs), "outputs of func", "jacobian")
        _check_outputs(outs, "jacobian")
        if strict:
            _strict_check(outs, "jacobian")
        if strategy == "forward-mode":
            blocks = _jacobian_forward(func, xs, outs, create_graph, strict)
        else:
            blocks = []
            for i, o in enumerate(outs):
                rows: list[list[Any]] = [[] for _ in xs]
                flat = o.reshape(-1)
                for k in range(flat.numel()):
                    if o.requires_grad:
                        row = autograd.grad([flat[k]], list(xs), retain_graph=True,
                                            create_graph=create_graph, allow_unused=True)
                    else:
                        row = (None,) * len(xs)
                    for j, (g, x) in enumerate(zip(row, xs)):
                        if g is None:
                            if strict:
                                raise RuntimeError(f"jacobian: output {i} is independent of input {j} "
                                                   "(strict=True)")
                            g = zeros(tuple(x.shape), dtype=x.dtype, device=x.device)
                        rows[j].append(g)
                blocks.append(tuple(
                    (stack(r) if r else zeros((0,) + tuple(x.shape), dtype=x.dtype, device=x.device))
                    .reshape(tuple(o.shape) + tuple(x.shape))
                    for r, x in zip(rows, xs)))
    blocks = [_finish(b, create_graph) for b in blocks]
    if not tuple_out:
        return blocks[0] if tuple_in else blocks[0][0]
    return tuple(b if tuple_in else b[0] for b in blocks)


def _jacobian_forward(func: Callable[..., Any], xs: tuple[Any, ...], outs: tuple[Any, ...],
                      create_graph: bool, strict: bool) -> list[tuple[Any, ...]]:
    from brickwork.creation import zeros, zeros_like
    from brickwork.ops.shape import stack

    cols: list[list[list[Any]]] = [[[] for _ in xs] for _ in outs]  # [out][in] -> columns
    for j, x in enumerate(xs):
        for k in range(x.numel()):
            direction = [zeros_like(t) for t in xs]
            flat = direction[j].reshape(-1)
            flat[k] = 1.0
            _, col = jvp(func, xs, tuple(direction), create_graph=create_graph, strict=strict)
            col = col if isinstance(col, tuple) else (col,)
            for i, c in enumerate(col):
                cols[i][j].append(c)
    blocks = []
    for i, o in enumerate(outs):
        per_in = []
        for j, x in enumerate(xs):
            c = cols[i][j]
            if c:
                m = stack([t.reshape(-1) for t in c], dim=1)  # (out numel, in numel)
            else:
                m = zeros((o.numel(), 0), dtype=o.dtype, device=o.device)
            per_in.append(m.reshape(tuple(o.shape) + tuple(x.shape)))
        blocks.append(tuple(per_in))
    return blocks


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar function: entry ``[i][j]`` has shape
    ``inputs[i].shape + inputs[j].shape`` (a tensor for a single input).

    >>> import brickwork as bw
    >>> hessian(lambda x, y: (x * y).sum(), (bw.tensor([1.0]), bw.tensor([2.0])))[0][1]
    tensor([[1.]])
    """
    tuple_in, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs: Any) -> Any:
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hessian: the function must return a single tensor with one element")
        if strict and not out.requires_grad:
            raise RuntimeError("hessian: the output does not depend on the inputs (strict=True)")
        grads = _grad((out.reshape(()),), xs, (None,), True) if out.requires_grad else (None,) * len(xs)
        return _fill(grads, xs, strict, "hessian", "its Hessian is not defined")

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    if not tuple_in:
        return res[0][0] if isinstance(res, tuple) else res
    return res


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T H)`` for a scalar function.

    >>> import brickwork as bw
    >>> _, r = vhp(lambda x: (x ** 3).sum(), bw.tensor([1.0, 2.0]), bw.tensor([1.0, 1.0]))
    >>> r
    tensor([ 6., 12.])
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), H v)`` for a scalar function (by the double-vjp trick, as PyTorch).

    >>> import brickwork as bw
    >>> _, r = hvp(lambda x: (x ** 3).sum(), bw.tensor([1.0, 2.0]), bw.tensor([1.0, 0.0]))
    >>> r
    tensor([6., 0.])
    """
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool, strict: bool,
                  fn: str) -> tuple[Any, Any]:
    from brickwork.creation import zeros_like

    tuple_in, inputs = _as_tuple(inputs, "inputs", fn)
    vs = _check_v(v, inputs, fn, "the input")
    with autograd.enable_grad():
        xs = _prepare(inputs, create_graph, True)
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(f"{fn}: the function must return a single tensor with one element")
        if strict and not out.requires_grad:
            raise RuntimeError(f"{fn}: the output does not depend on the inputs (strict=True)")
        jac = _grad((out,), xs, (None,), True) if out.requires_grad else (None,) * len(xs)
        jac = _fill(jac, xs, strict, fn, "its first derivative is not defined")
        live = [i for i, g in enumerate(jac) if g.requires_grad]
        if fn == "vhp":
            if live:
                res = autograd.grad([jac[i] for i in live], list(xs), [vs[i] for i in live],
                                    create_graph=create_graph, allow_unused=True)
            else:
                res = (None,) * len(xs)
        else:
            dummies = tuple(zeros_like(x).requires_grad_(True) for x in xs)
            if live:
                back = autograd.grad([jac[i] for i in live], list(xs), [dummies[i] for i in live],
                                     create_graph=True, allow_unused=True)
            else:
                back = (None,) * len(xs)
            used = [(b, vi) for b, vi in zip(back, vs) if b is not None and b.requires_grad]
            if used:
                res = autograd.grad([b for b, _ in used], list(dummies), [vi for _, vi in used],
                                    create_graph=create_graph, allow_unused=True)
            else:
                res = (None,) * len(xs)
        res = _fill(res, xs, strict, fn, "its second derivative is not defined")
    out = out if create_graph else out.detach()
    res = _finish(res, create_graph)
    return out, (res if tuple_in else res[0])
