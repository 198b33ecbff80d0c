"""L-BFGS (``torch.optim.LBFGS``), step for step, with the optional strong-Wolfe line search.

Unlike the other optimisers, L-BFGS is not a per-parameter rule: it works on all parameters as one
flat vector, and ``step(closure)`` evaluates the model several times. So it overrides ``step``
instead of ``_update``. The flat vectors (direction, previous gradient, the curvature pairs) live on
the parameters' device; the scalars that steer the iteration (dot products, step lengths) stay
there too until a Python decision needs one -- each such decision is a host read, as in PyTorch.

The state is PyTorch's, kept for the first parameter: ``func_evals``, ``n_iter``, ``d``, ``t``,
``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from brickwork import _backend
from brickwork._sync import sync_point
from brickwork.autograd import _wrap, enable_grad
from brickwork.optim.optimizer import Optimizer, _check
from brickwork.tensor import Tensor

__all__ = ["LBFGS"]

_LINE_SEARCHES = (None, "strong_wolfe")


class LBFGS(Optimizer):
    """Limited-memory BFGS (``torch.optim.LBFGS``): quasi-Newton steps from the last gradients.

    ``step(closure)`` runs up to ``max_iter`` iterations (and ``max_eval`` evaluations of
    ``closure``, which must clear the gradients, compute the loss, call ``backward()`` and return
    the loss). Each iteration builds a direction from the ``history_size`` latest pairs of
    parameter and gradient changes (the two-loop recursion), then moves by ``lr`` along it -- or,
    with ``line_search_fn="strong_wolfe"``, by a step length that satisfies the strong Wolfe
    conditions. It stops early when the largest gradient entry is at most ``tolerance_grad``, or
    when the loss or the parameters change by less than ``tolerance_change``. ``step`` returns the
    loss of the first evaluation.

    All parameters form one group, on one device, with one floating dtype.

    >>> import brickwork as bw
    >>> w = bw.tensor([1.5, -0.5], dtype=bw.float64, requires_grad=True)
    >>> opt = bw.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2  # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(3):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in w.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params: Any, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        name = type(self).__name__
        if isinstance(lr, Tensor):
            if lr.numel() != 1:
                raise ValueError(f"{name}: a tensor lr must have one element, got shape {tuple(lr.shape)}")
            lr = float(lr)
        _check(name, lr, lr >= 0, "learning rate")
        _check(name, max_iter, isinstance(max_iter, int) and max_iter >= 1, "max_iter (a positive integer)")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        _check(name, max_eval, isinstance(max_eval, int) and max_eval >= 1, "max_eval (a positive integer)")
        _check(name, history_size, isinstance(history_size, int) and history_size >= 1,
               "history_size (a positive integer)")
        if line_search_fn not in _LINE_SEARCHES:
            raise ValueError(f"{name}: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError(f"{name} doesn't support per-parameter options (parameter groups): "
                             f"got {len(self.param_groups)} groups; pass one list of parameters")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options (parameter "
                             "groups); it optimises one list of parameters")
        super().add_param_group(param_group)

    # -- the parameters as one flat vector ---------------------------------------------------------
    def _device_and_dtype(self) -> tuple[Any, Any]:
        first = self._params[0]
        for p in self._params[1:]:
            if p._device is not first._device or p._data.dtype != first._data.dtype:
                raise RuntimeError(
                    f"{type(self).__name__}: all parameters must be on one device with one dtype, but "
                    f"parameter 0 is {first.dtype} on {first._device} and another is {p.dtype} on "
                    f"{p._device}"
                )
        if first._data.dtype.kind != "f":
            raise TypeError(f"{type(self).__name__} optimises floating-point parameters, got {first.dtype}")
        return first._device, first._data.dtype

    def _flat_grad(self, xp: Any) -> Any:
        """The gradients concatenated (a fresh array; missing gradients are zeros)."""
        pieces = []
        for p in self._params:
            g = p._grad
            pieces.append(xp.zeros(p._data.size, dtype=p._data.dtype) if g is None else g._data.reshape(-1))
        return xp.concatenate(pieces)

    def _add_to_params(self, step_size: Any, direction: Any) -> None:
        """``params += step_size * direction``, in place, slice by slice of the flat vector."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * direction[offset:offset + n].reshape(p._data.shape)
            p._version[0] += 1
            offset += n

    def _copy_params(self) -> list[Any]:
        return [p._data.copy() for p in self._params]

    def _restore_params(self, saved: list[Any]) -> None:
        for p, data in zip(self._params, saved):
            p._data[...] = data
            p._version[0] += 1

    # -- the step ------------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first ``closure()``."""
        name = type(self).__name__
        if closure is None:
            raise TypeError(f"{name}.step needs a closure: a function that clears the gradients, "
                            "computes the loss, calls backward() and returns the loss")
        device, _ = self._device_and_dtype()
        self._step_calls += 1
        if device.type == "cpu":
            return self._step(closure, device.xp)
        with device.activate():
            return self._step(closure, device.xp)

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float]:
        with enable_grad():
            loss = closure()
        return loss, float(loss)

    def _step(self, closure: Callable[[], Any], xp: Any) -> Any:
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = int(group["max_iter"]), int(group["max_eval"])
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = int(group["history_size"])
        line_search = group["line_search_fn"]
        if line_search not in _LINE_SEARCHES:
            raise ValueError(f"{type(self).__name__}: line_search_fn must be None or 'strong_wolfe', "
                             f"got {line_search!r}")
        sync_point(f"{type(self).__name__}.step (its stopping tests and line search read scalars)")

        state = self.state[self._params[0]]  # one global state, kept under the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss, loss = self._evaluate(closure)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad(xp)
        if abs(flat_grad).max() <= tolerance_grad:
            return first_loss

        memory = _unpack(state)
        direction, t = memory["d"], memory["t"]
        old_dirs, old_stps, ro = memory["old_dirs"], memory["old_stps"], memory["ro"]
        h_diag, prev_flat_grad = memory["H_diag"], memory["prev_flat_grad"]
        prev_loss = memory["prev_loss"]

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1

            # the direction: steepest descent at the very first iteration, else the two-loop recursion
            if state["n_iter"] == 1:
                direction = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = direction * t
                ys = xp.dot(y, s)
                if ys > 1e-10:  # keep only pairs with positive curvature
                    if len(old_dirs) == history_size:
                        del old_dirs[0], old_stps[0], ro[0]
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / xp.dot(y, y)
                if memory.get("al") is None:
                    memory["al"] = [None] * history_size
                alpha = memory["al"]
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    alpha[i] = xp.dot(old_stps[i], q) * ro[i]
                    q -= alpha[i] * old_dirs[i]
                direction = q * h_diag
                for i in range(len(old_dirs)):
                    beta = xp.dot(old_dirs[i], direction) * ro[i]
                    direction += (alpha[i] - beta) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # the step length: scaled by the gradient's size at the very first iteration
            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = xp.dot(flat_grad, direction)  # the directional derivative
            if gtd > -tolerance_change:
                break

            used = 0
            if line_search is not None:
                start = self._copy_params()

                def along(step_size: Any, direction: Any = direction, start: list[Any] = start) -> Any:
                    self._add_to_params(step_size, direction)
                    _, value = self._evaluate(closure)
                    gradient = self._flat_grad(xp)
                    self._restore_params(start)
                    return value, gradient

                loss, flat_grad, t, used = _strong_wolfe(along, xp, t, direction, loss, flat_grad, gtd,
                                                         max_ls=max_eval - evals)
                self._add_to_params(t, direction)
                converged = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, direction)
                converged = False
                if iteration != max_iter:  # the last move is not evaluated (as in PyTorch)
                    _, loss = self._evaluate(closure)
                    flat_grad = self._flat_grad(xp)
                    converged = abs(flat_grad).max() <= tolerance_grad
                    used = 1
            evals += used
            state["func_evals"] += used

            if iteration == max_iter or evals >= max_eval or converged:
                break
            if abs(direction * t).max() <= tolerance_change:  # the parameters stopped moving
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss stopped moving
                break

        memory.update(d=direction, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                      prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        if memory.get("al") is None:
            memory.pop("al", None)
        state.update(_pack(memory, self._params[0]._device, xp))
        return first_loss

    # -- checkpoints ---------------------------------------------------------------------------------
    def _load_state_value(self, p: Tensor, index: int, key: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):  # old_dirs, old_stps, ro, al: element by element
            return [None if v is None else self._load_state_value(p, index, key, v) for v in value]
        loaded = super()._load_state_value(p, index, key, value)
        if key in ("d", "prev_flat_grad", "old_dirs", "old_stps") and isinstance(loaded, Tensor):
            total = sum(q._data.size for q in self._params if not getattr(q, "is_pending", False))
            pending = any(getattr(q, "is_pending", False) for q in self._params)
            if not pending and loaded._data.size != total:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: state {key!r} has {loaded._data.size} "
                    f"elements but the parameters have {total} in all"
                )
        return loaded


class _Point(NamedTuple):
    """One trial of the line search: step length, loss, flat gradient, directional derivative."""

    t: Any
    f: Any
    g: Any
    gtd: Any


def _cubic_minimum(a: _Point, b: _Point, bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser of the cubic through two trials' losses and slopes, clamped to ``bounds``
    (default: between the two trials); the bounds' midpoint when the cubic has no minimum."""
    low, high = bounds if bounds is not None else ((a.t, b.t) if a.t <= b.t else (b.t, a.t))
    d1 = a.gtd + b.gtd - 3 * (a.f - b.f) / (a.t - b.t)
    d2_square = d1 ** 2 - a.gtd * b.gtd
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square ** 0.5
    # the formula is written from the trial with the larger step
    small, large = (a, b) if a.t <= b.t else (b, a)
    minimum = large.t - (large.t - small.t) * ((large.gtd + d2 - d1) / (large.gtd - small.gtd + 2 * d2))
    return min(max(minimum, low), high)


def _strong_wolfe(along: Callable[[Any], tuple[float, Any]], xp: Any, t: Any, direction: Any, f: float,
                  g: Any, gtd: Any, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Any, Any, int]:
    """A step length along ``direction`` satisfying the strong Wolfe conditions (sufficient decrease
    ``f(t) <= f + c1 t gtd`` and curvature ``|g(t).d| <= -c2 gtd``): first bracket such a step, then
    zoom into the bracket by safeguarded cubic interpolation. At most ``max_ls`` evaluations past the
    first. Returns (loss, flat gradient, step length, evaluations)."""
    d_norm = abs(direction).max()
    start = _Point(0, f, g.copy(), gtd)

    def trial(step: Any) -> _Point:
        value, gradient = along(step)
        return _Point(step, value, gradient, xp.dot(gradient, direction))

    def decreases_enough(p: _Point) -> bool:
        return not p.f > f + c1 * p.t * gtd

    def flat_enough(p: _Point) -> bool:
        return abs(p.gtd) <= -c2 * gtd

    new = trial(t)
    evals = 1
    previous = start
    bracket: list[_Point] | None = None
    done = False
    searched = 0
    # bracketing: grow the step until the loss rises, the slope turns, or the conditions hold
    while searched < max_ls:
        if not decreases_enough(new) or (searched > 1 and new.f >= previous.f):
            bracket = [previous, new]
            break
        if flat_enough(new):
            bracket = [new]
            done = True
            break
        if new.gtd >= 0:
            bracket = [previous, new]
            break
        step = _cubic_minimum(previous, new, bounds=(new.t + 0.01 * (new.t - previous.t), new.t * 10))
        previous = new
        new = trial(step)
        evals += 1
        searched += 1
    if bracket is None:  # the evaluation budget ran out while bracketing
        bracket = [start, new]

    # zoom: shrink the bracket around a point that satisfies both conditions
    stalled = False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and searched < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        step = _cubic_minimum(bracket[0], bracket[1])
        left, right = min(bracket[0].t, bracket[1].t), max(bracket[0].t, bracket[1].t)
        margin = 0.1 * (right - left)
        if min(right - step, step - left) < margin:
            # too close to an end: move a tenth of the bracket inside, unless this is the first time
            # and the point is still strictly inside
            if stalled or step >= right or step <= left:
                step = right - margin if abs(step - right) < abs(step - left) else left + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        new = trial(step)
        evals += 1
        searched += 1
        if not decreases_enough(new) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if flat_enough(new):
                done = True
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = new
    best = bracket[low]
    return best.f, best.g, best.t, evals


# -- the state between steps -------------------------------------------------------------------------


def _unpack(state: dict[str, Any]) -> dict[str, Any]:
    """The arrays and scalars of the saved state (tensors -> their arrays; lists copied)."""

    def raw(value: Any) -> Any:
        return value._data if isinstance(value, Tensor) else value

    memory = {key: raw(state.get(key)) for key in ("d", "t", "H_diag", "prev_flat_grad", "prev_loss")}
    for key in ("old_dirs", "old_stps", "ro"):
        saved = state.get(key)
        memory[key] = None if saved is None else [raw(v) for v in saved]
    if memory["prev_flat_grad"] is not None:
        memory["prev_flat_grad"] = memory["prev_flat_grad"].copy()  # updated in place at each iteration
    if "al" in state:
        memory["al"] = [raw(v) for v in state["al"]]
    return memory


def _pack(memory: dict[str, Any], device: Any, xp: Any) -> dict[str, Any]:
    """Arrays and device scalars -> tensors (the layout of PyTorch's state); Python numbers as they are."""

    def tensor(value: Any) -> Any:
        if value is None or type(value) in (bool, int, float):  # not NumPy's scalars (float64 is a float)
            return value
        if not _backend.is_array(value):
            value = xp.asarray(value)
        return _wrap(value, device)

    packed = {}
    for key, value in memory.items():
        packed[key] = [tensor(v) for v in value] if isinstance(value, list) else tensor(value)
    return packed
