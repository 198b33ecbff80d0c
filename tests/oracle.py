"""PyTorch as an oracle: run the same computation in brickwork and in torch.

``check_against_torch`` builds inputs from one NumPy seed, runs ``bw_fn`` and
``torch_fn`` on equal copies, compares outputs, then back-propagates the same
random cotangent through both and compares every input gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import brickwork as bw
import brickwork.testing

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, bw.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy(force=True)  # (force: torch's ZeroTensors of double backward)
    return np.asarray(x)


def torch_device(device: bw.device) -> str:
    """Where the oracle runs: the same GPU when this torch build has CUDA, else the CPU (the test
    extra pins a CPU build; results are compared on the host either way)."""
    if device.type == "cpu" or not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{device.index or 0}"


def make_pair(arr: np.ndarray, device: bw.device, requires_grad: bool) -> tuple[bw.Tensor, torch.Tensor]:
    b = bw.tensor(arr, device=device)
    t = torch.tensor(arr, device=torch_device(device))
    if requires_grad and arr.dtype.kind == "f":
        b.requires_grad_()
        t.requires_grad_()
    return b, t


def _outs(res: Any) -> list:
    if isinstance(res, (bw.Tensor, torch.Tensor)):
        return [res]
    return [r for r in res if isinstance(r, (bw.Tensor, torch.Tensor))]


def check_against_torch(
    bw_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    device: bw.device | str = "cpu",
    grad: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    check_dtype: bool = True,
) -> None:
    device = bw.device(device).resolved()
    pairs = [make_pair(np.array(a, copy=True), device, grad) for a in arrays]
    b_in = [p[0] for p in pairs]
    t_in = [p[1] for p in pairs]
    b_out = _outs(bw_fn(*b_in))
    t_out = _outs(torch_fn(*t_in))
    assert len(b_out) == len(t_out), "different number of outputs"
    dt = next((a.dtype.type for a in arrays if a.dtype.kind == "f"), np.float32)
    tol = dict(TOL.get(dt, TOL[np.float32]))
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    for i, (bo, to) in enumerate(zip(b_out, t_out)):
        assert tuple(bo.shape) == tuple(to.shape), (
            f"output {i}: shape {tuple(bo.shape)} vs torch {tuple(to.shape)}")
        if check_dtype:
            assert str(bo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1], (
                f"output {i}: dtype {bo.dtype} vs torch {to.dtype}")
        np.testing.assert_allclose(to_numpy(bo), to_numpy(to), err_msg=f"output {i}", equal_nan=True, **tol)
    if not grad:
        return
    rng = np.random.default_rng(seed)
    b_roots, b_seeds, t_roots, t_seeds = [], [], [], []
    for bo, to in zip(b_out, t_out):
        if bo.requires_grad and to.requires_grad:
            v = rng.standard_normal(tuple(bo.shape)).astype(to_numpy(to).dtype)
            b_roots.append(bo)
            b_seeds.append(bw.tensor(v, device=device))
            t_roots.append(to)
            t_seeds.append(torch.tensor(v, device=torch_device(device)))
        else:
            assert not bo.requires_grad and not to.requires_grad or bo.numel() == 0, \
                "requires_grad of an output differs from torch"
    if not b_roots:
        return
    bw.autograd.backward(b_roots, b_seeds)
    torch.autograd.backward(t_roots, t_seeds)
    for i, (bi, ti) in enumerate(zip(b_in, t_in)):
        if not ti.requires_grad:
            continue
        if ti.grad is None:
            assert bi.grad is None or not to_numpy(bi.grad).any(), f"input {i}: torch has no grad"
            continue
        assert bi.grad is not None, f"input {i}: brickwork produced no gradient"
        np.testing.assert_allclose(to_numpy(bi.grad), to_numpy(ti.grad), err_msg=f"grad of input {i}",
                                   equal_nan=True, **tol)


def gradcheck_arrays(
    bw_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    device: bw.device | str = "cpu",
    **kwargs: Any,
) -> None:
    """``bw.testing.gradcheck`` of ``bw_fn`` on float64 copies of ``arrays`` (floats require grad)."""
    assert bw.testing.gradcheck(bw_fn, _float64_inputs(arrays, device), **kwargs)


def _float64_inputs(arrays: Sequence[np.ndarray], device: bw.device | str) -> list[bw.Tensor]:
    """Tensors of ``arrays`` on ``device``: floats as float64 that require grad, the rest as they are."""
    device = bw.device(device).resolved()
    inputs = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            inputs.append(bw.tensor(a.astype(np.float64), device=device, requires_grad=True))
        else:
            inputs.append(bw.tensor(a, device=device))
    return inputs


def check_double_against_torch(
    bw_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    device: bw.device | str = "cpu",
    seed: int = 0,
    rtol: float = 1e-7,
    atol: float = 1e-9,
) -> None:
    """Second derivatives against torch's, in float64.

    Both frameworks compute the first gradient ``g = d(sum(v * f(x)))/dx`` with
    ``create_graph=True``, project it on a random ``u`` and differentiate ``sum(u * g)`` with
    respect to the inputs ``x`` and the cotangents ``v``. Where torch cannot differentiate the op
    twice, nothing is compared.
    """
    device = bw.device(device).resolved()
    arrays = [np.asarray(a).astype(np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    pairs = [make_pair(np.array(a, copy=True), device, True) for a in arrays]
    b_in, t_in = [p[0] for p in pairs], [p[1] for p in pairs]
    b_out = [o for o in _outs(bw_fn(*b_in)) if o.requires_grad]
    t_out = [o for o in _outs(torch_fn(*t_in)) if o.requires_grad]
    if not t_out or not b_out:
        return
    b_wrt = [b for b, t in zip(b_in, t_in) if t.requires_grad]
    t_wrt = [t for t in t_in if t.requires_grad]
    rng = np.random.default_rng(seed + 7)
    vs = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    b_v = [bw.tensor(v, device=device, requires_grad=True) for v in vs]
    t_v = [torch.tensor(v, device=torch_device(device), requires_grad=True) for v in vs]
    try:
        t_g = torch.autograd.grad(t_out, t_wrt, t_v, create_graph=True, allow_unused=True)
    except RuntimeError:
        return  # torch has no double backward for this op
    b_g = bw.autograd.grad(b_out, b_wrt, b_v, create_graph=True, allow_unused=True)
    us = [None if g is None else rng.standard_normal(tuple(g.shape)) for g in t_g]
    t_terms = [(g * torch.tensor(u, device=g.device)).sum() for g, u in zip(t_g, us)
               if g is not None and g.requires_grad]
    b_terms = [(g * bw.tensor(u, device=device)).sum() for g, u in zip(b_g, us)
               if g is not None and g.requires_grad]
    if not t_terms:
        for i, (bg, tg) in enumerate(zip(b_g, t_g)):  # constant first gradients: values only
            if tg is not None and bg is not None:
                np.testing.assert_allclose(to_numpy(bg), to_numpy(tg), rtol=rtol, atol=atol,
                                           err_msg=f"first gradient of input {i}")
        return
    assert b_terms, "brickwork's first gradient does not require grad where torch's does"
    t_wrt2 = t_wrt + t_v
    b_wrt2 = b_wrt + b_v
    try:
        t_h = torch.autograd.grad(sum(t_terms), t_wrt2, allow_unused=True)
    except RuntimeError:
        return
    b_h = bw.autograd.grad(sum(b_terms), b_wrt2, allow_unused=True)
    for i, (bh, th) in enumerate(zip(b_h, t_h)):
        what = f"second derivative w.r.t. {'input' if i < len(t_wrt) else 'cotangent'} {i}"
        if th is None:
            assert bh is None or not to_numpy(bh).any(), f"{what}: torch has none"
            continue
        got = np.zeros(tuple(th.shape)) if bh is None else to_numpy(bh)
        np.testing.assert_allclose(got, to_numpy(th), rtol=rtol, atol=atol, err_msg=what, equal_nan=True)


def gradgradcheck_arrays(
    bw_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    device: bw.device | str = "cpu",
    **kwargs: Any,
) -> None:
    """``bw.testing.gradgradcheck`` of ``bw_fn`` on float64 copies of ``arrays``."""
    assert bw.testing.gradgradcheck(bw_fn, _float64_inputs(arrays, device), **kwargs)


def check_op(
    bw_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    device: bw.device | str = "cpu",
    grad: bool = True,
    gradcheck: bool = True,
    dtypes: Sequence[Any] = (np.float32, np.float64),
    double: bool = True,
    **kwargs: Any,
) -> None:
    """The full check of one op: the torch oracle in each float dtype, then float64 gradcheck,
    then (``double``) second derivatives against torch's and float64 gradgradcheck."""
    for dt in dtypes:
        cast = [np.asarray(a).astype(dt) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
                for a in arrays]
        check_against_torch(bw_fn, torch_fn, cast, device=device, grad=grad, **kwargs)
    floats = any(np.asarray(a).dtype.kind == "f" for a in arrays)
    if grad and gradcheck and floats:
        gradcheck_arrays(bw_fn, arrays, device=device)
    if grad and double and floats:
        tol = {k: kwargs[k] for k in ("rtol", "atol") if kwargs.get(k) is not None}
        check_double_against_torch(bw_fn, torch_fn, arrays, device=device,
                                   **{k: max(v, TOL[np.float64][k]) for k, v in tol.items()})
        if gradcheck:
            gradgradcheck_arrays(bw_fn, arrays, device=device)
