"""Testing helpers: gradient checks by central differences, and closeness asserts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from brickwork import autograd
from brickwork.autograd import no_grad
from brickwork.tensor import Tensor

__all__ = ["gradcheck", "assert_close"]


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
        with no_grad():
            res = _outputs(fn(*inputs))
        total = 0.0
        for o, v in zip(res, cotangents):
            if o._data.dtype.kind == "f":
                total += float(_host((o._data.astype(np.float64) * v).sum()))
        return total

    # analytical
    float_outs = [(o, v) for o, v in zip(outs, cotangents) if o.requires_grad]
    if not float_outs:
        raise ValueError("gradcheck: no output requires grad")
    wrt = [inputs[i] for i in diffable]
    grads = autograd.grad(
        [o for o, _ in float_outs],
        wrt,
        # the cotangents exactly as the numerical side uses them: same dtype, on the output's device
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


def assert_close(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-8,
                 msg: str = "") -> None:
    """Assert two tensors/arrays are elementwise close (shapes must match)."""
    a = _host(actual._data) if isinstance(actual, Tensor) else np.asarray(actual)
    e = _host(expected._data) if isinstance(expected, Tensor) else np.asarray(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{msg} shapes differ: {a.shape} vs {e.shape}")
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)
