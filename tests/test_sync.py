"""sync_guard: implicit device-to-host reads raise, warn or are counted; explicit transfers are allowed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import brickwork as bw
from brickwork._sync import allow_sync


def _reads(x):
    return {
        "item": lambda: x.sum().item(),
        "float": lambda: float(x.sum()),
        "int": lambda: int(x.sum()),
        "bool": lambda: bool(x.sum() > 0),
        "if": lambda: 1 if x.sum() > 0 else 0,
        "tolist": lambda: x.tolist(),
        "numpy": lambda: x.numpy() if x.device.type == "cpu" else x.cpu().numpy(),
        "repr": lambda: repr(x),
        "print": lambda: print(x),
        "format": lambda: f"{x.sum():.2f}",
        "np.asarray": lambda: np.asarray(x) if x.device.type == "cpu" else x.cpu().numpy(),
        "index": lambda: [1, 2, 3][bw.tensor(1, device=x.device)],
    }


@pytest.mark.parametrize("what", list(_reads(bw.ones(1))))
def test_error_mode_raises_on_every_implicit_read(what, device):
    x = bw.ones(3, device=device)
    read = _reads(x)[what]
    with bw.sync_guard("error"), pytest.raises(bw.SyncError, match="implicit host sync"):
        read()
    read()  # fine outside the guard


@pytest.mark.parametrize("what", ["item", "tolist", "print", "bool"])
def test_warn_mode_warns(what, device):
    x = bw.ones(3, device=device)
    with bw.sync_guard("warn"), pytest.warns(UserWarning, match="implicit host sync"):
        _reads(x)[what]()


def test_count_mode_counts_and_names_the_reads(device):
    x = bw.ones(3, device=device)
    with bw.sync_guard("count") as guard:
        y = (x * 2).sum()  # ops on the device are not syncs
        float(y)
        y.item()
        x.tolist()
    assert guard.count == 3
    assert guard.calls == ["float(tensor)", "Tensor.item()", "Tensor.tolist()"]


def test_explicit_transfers_are_allowed(device):
    x = bw.ones(3, device=device)
    with bw.sync_guard("error"):
        y = x.cpu()
        z = x.to("cpu")
        w = (x * 2).sum(0, keepdim=True)
    assert y.device == bw.device("cpu") and z.device == bw.device("cpu") and w.tolist() == [6.0]


def test_no_syncs_in_a_training_step(device):
    w = bw.randn(4, 1, device=device, requires_grad=True)
    X, y = bw.randn(8, 4, device=device), bw.randn(8, 1, device=device)
    with bw.sync_guard("error"):
        for _ in range(3):
            loss = ((X @ w - y) ** 2).mean()
            loss.backward()
            with bw.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()


def test_nested_guards_and_allow_sync(device):
    x = bw.ones(2, device=device)
    with bw.sync_guard("count") as outer:
        with bw.sync_guard("count") as inner:
            x.tolist()
        x.tolist()
        with allow_sync():
            x.tolist()  # deliberate read: not counted
    assert inner.count == 1 and outer.count == 1


def test_bad_mode():
    with pytest.raises(ValueError, match="'error', 'warn' or 'count'"):
        bw.sync_guard("loud")


def test_guard_is_removed_after_an_exception(device):
    x = bw.ones(1, device=device)
    with pytest.raises(bw.SyncError), bw.sync_guard():
        x.item()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.item()  # no guard left behind


def test_data_dependent_shapes_are_syncs(device):
    x = bw.tensor([1.0, -2.0, 3.0], device=device)
    for fn, what in [(lambda: x[x > 0], "bool mask"), (lambda: x.nonzero(), "nonzero"),
                     (lambda: x.masked_select(x > 0), "bool mask"), (lambda: bw.where(x > 0), "nonzero"),
                     (lambda: x[bw.tensor(1, device=device)], "0-d integer tensor")]:
        with bw.sync_guard("count") as guard:
            fn()
        assert guard.count >= 1 and what in guard.calls[0]
    with bw.sync_guard("error"):
        x[bw.tensor([0, 2], device=device)]  # integer index tensors need no sync
        x[1:]


def test_guard_watches_only_its_own_thread():
    # issue 12 item 10c: a guard in one thread made .item() raise in every other thread
    import threading

    inside, release = threading.Event(), threading.Event()
    seen = {}

    def guarded():
        with bw.sync_guard("error"):
            inside.set()
            release.wait(10)
            try:
                bw.ones(2).sum().item()
            except bw.SyncError:
                seen["guarded"] = "raised"

    worker = threading.Thread(target=guarded)
    worker.start()
    assert inside.wait(10)
    seen["other"] = bw.ones(2).sum().item()  # this thread has no guard, while the worker's is active
    with bw.sync_guard("count") as mine:
        bw.ones(1).item()
    release.set()
    worker.join(10)
    assert seen == {"other": 2.0, "guarded": "raised"} and mine.count == 1
