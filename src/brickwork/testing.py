"""Testing helpers: gradient checks by central differences, and closeness asserts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from brickwork import autograd
from brickwork.autograd import enable_grad, no_grad
from brickwork.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "assert_close"]


def _outputs(result: Any) -> list[Tensor]:
    if isinstance(result, Tensor):
        return [result]
    return [r for r in result if isinstance(r, Tensor)]


def _host(arr: Any) -> np.ndarray:
    return arr.get() if hasattr(arr, "get") and not isinstance(arr, np.generic) else np.asarray(arr)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
    *,
    _recorded: bool = False,
) -> bool:
    """Compare autograd's gradients of ``fn`` with float64 central differences.

    The check projects the outputs on a random cotangent ``v`` and compares
    ``d(sum(v * fn(x)))/dx`` computed both ways, for every input that requires
    grad. Inputs should be float64.

    >>> import brickwork as bw
    >>> x = bw.randn(3, dtype=bw.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sin(), [x])
    True
    """
    rng = np.random.default_rng(seed)
    diffable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in diffable:
        if inputs[i]._data.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs")
    outs = _outputs(fn(*inputs))
    cotangents = []
    for o in outs:
        xp = o._device.xp
        cotangents.append(xp.asarray(rng.standard_normal(o._data.shape)).astype(o._data.dtype))

    def objective() -> float:
        with (enable_grad() if _recorded else no_grad()):
            res = _outputs(fn(*inputs))
        total = 0.0
        for o, v in zip(res, cotangents):
            if o._data.dtype.kind == "f":
                total += float(_host((o._data.astype(np.float64) * v).sum()))
        return total

    # analytical
    float_outs = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
    wrt = [inputs[i] for i in diffable]
    if not float_outs:
        if not _recorded:
            raise ValueError("gradcheck: no output requires grad")
        grads: Any = [None] * len(wrt)  # first derivatives that are constants: the next one is 0
    else:
        grads = autograd.grad(
            [o for o, _ in float_outs],
            wrt,
            # the cotangents exactly as the numerical side uses them: same dtype, on the output's
            # device
            grad_outputs=[autograd._wrap(v, o._device) for o, v in float_outs],
            allow_unused=True,
        )
    ok = True
    for i, g in zip(diffable, grads):
        x = inputs[i]
        analytic = np.zeros(x._data.shape) if g is None else _host(g._data).astype(np.float64)
        numeric = np.zeros(x._data.shape, dtype=np.float64)
        flat_view = x._data.reshape(-1) if x._data.flags.c_contiguous else None
        for j in range(x._data.size):
            idx = np.unravel_index(j, x._data.shape)
            old = x._data[idx].item() if flat_view is None else flat_view[j].item()
            x._data[idx] = old + eps
            plus = objective()
            x._data[idx] = old - eps
            minus = objective()
            x._data[idx] = old
            numeric[idx] = (plus - minus) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            ok = False
            if raise_exception:
                worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), analytic.shape) \
                    if analytic.size else ()
                raise AssertionError(
                    f"gradcheck: gradient of input {i} (shape {tuple(x._data.shape)}) differs from "
                    f"central differences; worst at {tuple(int(w) for w in worst)}: "
                    f"analytical {analytic[worst] if analytic.size else None}, numerical "
                    f"{numeric[worst] if numeric.size else None}\nanalytical:\n{analytic}\n"
                    f"numerical:\n{numeric}"
                )
    return ok


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: :func:`gradcheck` of the first gradient, as ``torch.autograd``'s.

    The first gradient ``x, v -> d(sum(v * fn(x)))/dx`` is computed with ``create_graph=True``
    and checked against central differences with respect to both ``x`` and the cotangent ``v``
    (random unless ``grad_outputs`` is given). Inputs should be float64.

    >>> import brickwork as bw
    >>> x = bw.randn(3, dtype=bw.float64, requires_grad=True)
    >>> gradgradcheck(lambda t: (t * t).sin(), [x])
    True
    """
    rng = np.random.default_rng(seed + 1)
    inputs = list(inputs)
    diffable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = [o for o in _outputs(fn(*inputs)) if o.requires_grad]
    if not outs:
        raise ValueError("gradgradcheck: no output requires grad")
    if grad_outputs is None:
        vs = [autograd._wrap(o._device.xp.asarray(rng.standard_normal(o._data.shape)), o._device)
              for o in outs]
    else:
        vs = [v.detach() for v in grad_outputs]
    for v in vs:
        v.requires_grad = True
    n = len(inputs)

    def first_gradient(*args: Any) -> list[Any]:
        xs, cot = args[:n], args[n:]
        res = [o for o in _outputs(fn(*xs)) if o.requires_grad]
        grads = autograd.grad(res, [xs[i] for i in diffable], grad_outputs=list(cot),
                              create_graph=True, allow_unused=True)
        from brickwork.creation import zeros_like

        return [zeros_like(xs[i]) if g is None else g for i, g in zip(diffable, grads)]

    return gradcheck(first_gradient, inputs + vs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception, _recorded=True)


# torch.testing's default tolerances (rtol, atol) by dtype; exact for every other dtype
_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _as_compared(value: Any) -> tuple[np.ndarray, Any, bool]:
    """(host array, brickwork dtype, is a tensor) for a tensor, array or Python number."""
    from brickwork import dtypes

    if isinstance(value, Tensor):
        return _host(value._data), value.dtype, True
    arr = np.asarray(value)
    return arr, dtypes.from_numpy_dtype(arr.dtype), False


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_dtype: bool = True, check_device: bool = True,
                 msg: str | None = None) -> None:
    """``torch.testing.assert_close``: same shape (and dtype, device), then ``|a - e| <= atol + rtol|e|``.

    Tolerances default by dtype as torch's do (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7;
    float16: 1e-3, 1e-5; integers and bool: exact); give both or neither. Sequences and mappings are
    compared item by item. The message counts the mismatched elements and lists the first ones.

    >>> import brickwork as bw
    >>> assert_close(bw.tensor([1.0, 2.0]), bw.tensor([1.0, 2.0 + 1e-7]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"assert_close: both 'rtol' and 'atol' must be either specified or omitted, "
                         f"but got no {'rtol' if rtol is None else 'atol'}")
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(f"The keys of the mappings do not match: {sorted(map(str, actual))} != "
                                 f"{sorted(map(str, expected))}")
        for key in actual:
            _assert_close_at(actual[key], expected[key], rtol, atol, equal_nan, check_dtype,
                             check_device, msg, f"item [{key!r}]")
        return
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close_at(a, e, rtol, atol, equal_nan, check_dtype, check_device, msg, f"item [{i}]")
        return
    _assert_close_at(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, msg, "")


def _assert_close_at(actual: Any, expected: Any, rtol: float | None, atol: float | None,
                     equal_nan: bool, check_dtype: bool, check_device: bool, msg: str | None,
                     where: str) -> None:
    if isinstance(actual, (list, tuple, dict)) or isinstance(expected, (list, tuple, dict)):
        assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                     check_dtype=check_dtype, check_device=check_device, msg=msg)
        return
    a, a_dt, a_is_tensor = _as_compared(actual)
    e, e_dt, e_is_tensor = _as_compared(expected)
    suffix = f"\n\nThe failure occurred for {where}." if where else ""
    kind = "Tensor-likes" if a_is_tensor or e_is_tensor else "Scalars"
    if a_is_tensor and e_is_tensor and check_device and actual.device != expected.device:
        raise AssertionError(msg or f"The values for attribute 'device' do not match: {actual.device} != "
                             f"{expected.device}.{suffix}")
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} != "
                             f"{e.shape}.{suffix}")
    if check_dtype and a_is_tensor and e_is_tensor and a_dt != e_dt:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a_dt!r} != "
                             f"{e_dt!r}.{suffix}")
    if rtol is None:
        rtol, atol = (max(x, y) for x, y in zip(_TOLERANCES.get(a_dt.name, (0.0, 0.0)),
                                                _TOLERANCES.get(e_dt.name, (0.0, 0.0)), strict=True))
    a64 = a.astype(np.float64) if a.dtype != np.bool_ else a.astype(np.int64)
    e64 = e.astype(np.float64) if e.dtype != np.bool_ else e.astype(np.int64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a64 - e64)
        close = (a64 == e64) | (diff <= atol + rtol * np.abs(e64))
    if equal_nan:
        close |= np.isnan(a64) & np.isnan(e64)
    if bool(np.all(close)):
        return
    if msg:
        raise AssertionError(msg)
    bad = np.argwhere(~close) if a.ndim else np.zeros((1, 0), dtype=np.int64)
    total = max(a.size, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = diff / np.abs(e64)
    abs_masked = np.where(close, 0.0, np.nan_to_num(diff, nan=np.inf))
    rel_masked = np.where(close, 0.0, np.nan_to_num(rel, nan=np.inf))
    worst_abs = np.unravel_index(int(np.argmax(abs_masked)), a.shape) if a.ndim else ()
    worst_rel = np.unravel_index(int(np.argmax(rel_masked)), a.shape) if a.ndim else ()
    listed = ", ".join(
        f"{tuple(int(i) for i in index)}: {float(a64[tuple(index)])} vs {float(e64[tuple(index)])}"
        for index in bad[:5]
    ) + (", ..." if len(bad) > 5 else "")
    raise AssertionError(
        f"{kind} are not {'equal' if rtol == 0 and atol == 0 else 'close'}!\n\n"
        f"Mismatched elements: {len(bad)} / {total} ({100.0 * len(bad) / total:.1f}%)\n"
        f"Greatest absolute difference: {float(abs_masked[worst_abs])} at index "
        f"{tuple(int(i) for i in worst_abs)} (up to {atol} allowed)\n"
        f"Greatest relative difference: {float(rel_masked[worst_rel])} at index "
        f"{tuple(int(i) for i in worst_rel)} (up to {rtol} allowed)\n"
        f"Mismatched (index: actual vs expected): {listed}{suffix}"
    )
