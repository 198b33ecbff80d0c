"""Shared checks for the layer catalogue: a brickwork layer against its PyTorch twin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import brickwork as bw

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


def copy_weights(src: torch.nn.Module, dst: bw.nn.Module) -> None:
    """Load a PyTorch state dict (converted with ``.numpy()``) into the brickwork twin."""
    sd = {k: bw.tensor(v.detach().cpu().numpy()) for k, v in src.state_dict().items()}
    if not any(p.is_pending for p in dst.parameters()):  # a pending model has no state dict yet
        assert list(sd) == list(dst.state_dict().keys()), (list(sd), list(dst.state_dict()))
    dst.load_state_dict(sd)


def _as_list(out: Any) -> list:
    if isinstance(out, (bw.Tensor, torch.Tensor)):
        return [out]
    flat = []
    for o in out:
        flat.extend(_as_list(o) if isinstance(o, (tuple, list)) else [o])
    return [o for o in flat if o is not None]


def check_layer(make_bw: Callable[[], bw.nn.Module], make_torch: Callable[[], torch.nn.Module],
                inputs: Sequence[np.ndarray], device: Any, train: bool = False,
                dtypes: Sequence[Any] = (np.float32, np.float64), grad: bool = True,
                seed: int = 0) -> None:
    """Same weights -> same outputs, input gradients and parameter gradients, in each dtype."""
    for dt in dtypes:
        t_layer = make_torch().to(torch.float64 if dt == np.float64 else torch.float32)
        b_layer = make_bw().to(bw.float64 if dt == np.float64 else bw.float32)
        copy_weights(t_layer, b_layer)
        b_layer.to(device)
        t_layer.train(train)
        b_layer.train(train)
        arrays = [a.astype(dt) if a.dtype.kind == "f" else a for a in inputs]
        b_in = [bw.tensor(a, device=device, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
        t_in = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
        b_out, t_out = _as_list(b_layer(*b_in)), _as_list(t_layer(*t_in))
        assert len(b_out) == len(t_out)
        tol = TOL[dt]
        for i, (bo, to) in enumerate(zip(b_out, t_out)):
            assert tuple(bo.shape) == tuple(to.shape), (i, tuple(bo.shape), tuple(to.shape))
            np.testing.assert_allclose(bo.detach().cpu().numpy(), to.detach().numpy(),
                                       err_msg=f"output {i} ({dt.__name__})", **tol)
        if not grad:
            continue
        rng = np.random.default_rng(seed)
        b_loss, t_loss = 0, 0
        for bo, to in zip(b_out, t_out):
            if not to.requires_grad:
                continue
            v = rng.standard_normal(tuple(to.shape)).astype(dt)
            b_loss = b_loss + (bo * bw.tensor(v, device=device)).sum()
            t_loss = t_loss + (to * torch.tensor(v)).sum()
        b_loss.backward()
        t_loss.backward()
        for i, (bi, ti) in enumerate(zip(b_in, t_in)):
            if ti.grad is not None:
                np.testing.assert_allclose(bi.grad.cpu().numpy(), ti.grad.numpy(),
                                           err_msg=f"grad of input {i} ({dt.__name__})", **tol)
        t_params = dict(t_layer.named_parameters())
        for name, p in b_layer.named_parameters():
            tp = t_params[name]
            if tp.grad is None:
                assert p.grad is None or not p.grad.cpu().numpy().any(), name
                continue
            np.testing.assert_allclose(p.grad.cpu().numpy(), tp.grad.numpy(),
                                       err_msg=f"grad of {name} ({dt.__name__})", **tol)


def check_repr_and_state_keys(b_layer: bw.nn.Module, t_layer: torch.nn.Module) -> None:
    assert repr(b_layer) == repr(t_layer)
    assert list(b_layer.state_dict().keys()) == list(t_layer.state_dict().keys())
    for (bn, bp), (tn, tp) in zip(b_layer.state_dict().items(), t_layer.state_dict().items()):
        assert tuple(bp.shape) == tuple(tp.shape), bn


def check_config_round_trip(layer: bw.nn.Module) -> None:
    """``type(layer)(**layer.get_config())`` rebuilds an equivalent layer (same repr and state keys)."""
    config = layer.get_config()
    again = type(layer)(**config)
    assert repr(again) == repr(layer)
    assert [(k, tuple(v.shape)) for k, v in again.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in layer.state_dict().items()]
