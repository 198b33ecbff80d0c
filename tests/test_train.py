"""The training helper: sync-free epochs, exact metrics, schedulers, callbacks, plots, resume."""

from __future__ import annotations

import math
import re
import sys

import numpy as np
import pytest

import brickwork as bw
from brickwork import nn
from brickwork.data import DataLoader, TensorDataset
from brickwork.train import History, StopTraining, evaluate, fit, load_checkpoint, save_checkpoint


class TinyMLP(nn.Module):
    """Two affine layers written with Parameters (independent of the layer catalogue)."""

    def __init__(self, n_in=4, hidden=16, n_out=3):
        super().__init__()
        self.w1 = nn.Parameter(bw.randn(n_in, hidden) * (1 / math.sqrt(n_in)))
        self.b1 = nn.Parameter(bw.zeros(hidden))
        self.w2 = nn.Parameter(bw.randn(hidden, n_out) * (1 / math.sqrt(hidden)))
        self.b2 = nn.Parameter(bw.zeros(n_out))

    def forward(self, x):
        return (x @ self.w1 + self.b1).relu() @ self.w2 + self.b2


def _blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.standard_normal((n, 4)).astype(np.float32) * 0.7
    return TensorDataset(bw.tensor(X), bw.tensor(y))


def _loaders(batch_size=16):
    train = DataLoader(_blobs(90, 0), batch_size=batch_size, shuffle=True)
    val = DataLoader(_blobs(40, 1), batch_size=batch_size)
    return train, val


def _params(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_an_epoch_runs_under_sync_guard_error():
    model = TinyMLP()
    train, val = _loaders()
    opt = bw.optim.Adam(model.parameters(), lr=0.01)
    sched = bw.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=2 * len(train))
    with bw.sync_guard("error") as guard:
        history = fit(model, train, val, epochs=2, optimizer=opt, scheduler=sched,
                      scheduler_interval="batch", clip_grad_norm=1.0, device="cpu", progress=True)
    assert guard.count == 0
    assert len(history) == 2 and history.last["val_acc"] is not None


def test_the_guard_does_catch_a_per_batch_sync_in_the_loop():
    model = TinyMLP()
    train, _ = _loaders()

    def syncing_loss(out, y):
        loss = bw.nn.functional.cross_entropy(out, y)
        if loss > 100:  # an implicit read of the loss every batch
            raise AssertionError
        return loss

    with bw.sync_guard("error"), pytest.raises(bw.SyncError, match="bool"):
        fit(model, train, epochs=1, loss_fn=syncing_loss, device="cpu", progress=False)


def test_recorded_metrics_are_exact_means_over_samples():
    model = TinyMLP()
    train, val = _loaders(batch_size=32)  # 90 samples: batches of 32, 32, 26
    opt = bw.optim.SGD(model.parameters(), lr=0.0)  # nothing changes: train metrics == evaluate
    history = fit(model, train, val, epochs=1, optimizer=opt, device="cpu", progress=False)
    train_scores = evaluate(model, train, device="cpu")
    val_scores = evaluate(model, val, device="cpu")
    record = history.last
    assert record["train_loss"] == pytest.approx(train_scores["loss"], rel=1e-5)
    assert record["train_acc"] == pytest.approx(train_scores["accuracy"])
    assert record["val_loss"] == pytest.approx(val_scores["loss"], rel=1e-6)
    # against a direct computation
    X, y = _blobs(40, 1).tensors
    with bw.no_grad():
        logits = model(X)
        direct = float(bw.nn.functional.cross_entropy(logits, y))
        acc = float((logits.argmax(1) == y).float().mean())
    assert val_scores["loss"] == pytest.approx(direct, rel=1e-5)
    assert val_scores["accuracy"] == pytest.approx(acc)
    assert set(record) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"}


def test_fit_learns_and_returns_history():
    bw.manual_seed(0)
    model = TinyMLP()
    train, val = _loaders()
    history = fit(model, train, val, epochs=8, lr=0.2, device="cpu", progress=False)
    assert history["epoch"] == list(range(1, 9)) and history[-1] is history.last
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.last["val_acc"] > 0.85
    assert "epochs" in repr(history)


def test_evaluate_without_classification_reports_no_accuracy():
    X = bw.randn(10, 4)
    loader = DataLoader(TensorDataset(X, X.sum(1, keepdim=True)), batch_size=4)
    net = TinyMLP(n_out=1)
    scores = evaluate(net, loader, loss_fn=lambda o, t: ((o - t) ** 2).mean(), device="cpu")
    assert scores["accuracy"] is None and scores["loss"] > 0
    assert net.training  # evaluate restores the mode


def test_schedulers_per_epoch_and_on_plateau():
    model = TinyMLP()
    train, val = _loaders()
    opt = bw.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, train, epochs=3, optimizer=opt, device="cpu", progress=False,
                  scheduler=bw.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert history["lr"] == [0.1, 0.05, 0.025]
    seen = []

    class Spy(bw.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics, epoch=None):
            seen.append(metrics)
            super().step(metrics, epoch)

    opt2 = bw.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, train, val, epochs=2, optimizer=opt2, device="cpu", progress=False,
                  scheduler=Spy(opt2))
    assert seen == history["val_loss"]
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, train, epochs=1, scheduler_interval="step", device="cpu")


def test_callbacks_see_each_record_and_can_stop():
    model = TinyMLP()
    train, _ = _loaders()
    seen = []

    def stop_after_two(record):
        seen.append(record["epoch"])
        if record["epoch"] == 2:
            raise StopTraining

    history = fit(model, train, epochs=5, callbacks=[stop_after_two], device="cpu", progress=False)
    assert seen == [1, 2] and len(history) == 2


def test_progress_bar_shows_epochs(capsys):
    model = TinyMLP()
    train, val = _loaders()
    fit(model, train, val, epochs=2, device="cpu", progress="bar", refresh_every=2)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "val_acc" in err and "\r" in err


def test_progress_without_a_terminal_is_one_line_per_epoch(capsys):
    # capsys's stderr is not a TTY, as in CI logs or 2>log: no bars, no redraws, no repeated lines
    model = TinyMLP()
    train, val = _loaders()
    history = fit(model, train, val, epochs=3, device="cpu", progress=True, refresh_every=1)
    out = capsys.readouterr()
    assert out.out == "" and "\r" not in out.err
    lines = out.err.splitlines()
    assert len(lines) == 3, lines
    for epoch, (line, record) in enumerate(zip(lines, history.records, strict=True), 1):
        assert line.startswith(f"epoch {epoch}/3: train_loss {record['train_loss']:.4f}, "), line
        assert f"val_acc {record['val_acc']:.4f}" in line and re.search(r", \d+\.\d s$", line), line


def test_progress_off_prints_nothing_and_bad_values_are_refused(capsys):
    train, _ = _loaders()
    fit(TinyMLP(), train, epochs=1, device="cpu", progress=False)
    fit(TinyMLP(), train, epochs=1, device="cpu", progress="off")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    with pytest.raises(ValueError, match="progress must be True, False or one of"):
        fit(TinyMLP(), train, epochs=1, device="cpu", progress="verbose")


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = History([{"epoch": e, "train_loss": 1 / e, "train_acc": 1 - 1 / (e + 1), "val_loss": 1.2 / e,
                        "val_acc": 0.9 - 1 / (e + 2)} for e in range(1, 6)])
    path = history.plot(tmp_path / "sub" / "curves.png", title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ModuleNotFoundError, match=r"brickwork\[plot\]"):
        History([{"epoch": 1, "train_loss": 1.0}]).plot(tmp_path / "x.png")
    model = TinyMLP()
    train, _ = _loaders()
    with pytest.warns(RuntimeWarning, match="no plot written"):
        fit(model, train, epochs=1, device="cpu", progress=False, plot=tmp_path / "y.png")
    assert not (tmp_path / "y.png").exists()


def test_resume_from_a_checkpoint_equals_uninterrupted_training(tmp_path):
    def setup():
        model = TinyMLP()
        opt = bw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = bw.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)
        return model, opt, sched

    bw.manual_seed(5)
    model, opt, sched = setup()
    train, val = _loaders()
    straight = fit(model, train, val, epochs=3, optimizer=opt, scheduler=sched, device="cpu", progress=False)
    expected = _params(model)

    bw.manual_seed(5)
    model, opt, sched = setup()
    train, val = _loaders()
    first = fit(model, train, val, epochs=2, optimizer=opt, scheduler=sched, device="cpu", progress=False)
    save_checkpoint(tmp_path / "ckpt.bw", model, opt, sched, first, note="two epochs")
    bw.manual_seed(999)  # the interruption: the process state is gone

    model2, opt2, sched2 = setup()
    ckpt = load_checkpoint(tmp_path / "ckpt.bw", model2, opt2, sched2)
    assert ckpt["note"] == "two epochs" and len(ckpt["history"]) == 2
    train, val = _loaders()
    resumed = fit(model2, train, val, epochs=1, optimizer=opt2, scheduler=sched2, device="cpu",
                  progress=False, history=ckpt["history"])
    assert resumed["epoch"] == [1, 2, 3]
    for key, value in _params(model2).items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
    assert resumed["train_loss"] == straight["train_loss"]
    assert resumed["val_acc"] == straight["val_acc"]


def test_load_checkpoint_rejects_other_files(tmp_path):
    bw.save({"weights": bw.ones(2)}, tmp_path / "w.bw")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "w.bw", TinyMLP())


def test_an_mlp_on_digits_reaches_95_percent():
    bw.manual_seed(0)
    train = DataLoader(bw.data.datasets.Digits(), batch_size=32, shuffle=True)
    test = DataLoader(bw.data.datasets.Digits(train=False), batch_size=300)
    net = nn.Sequential(nn.Flatten(), nn.Linear(None, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    # built before the lazy layer has a shape
    opt = bw.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    sched = bw.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    history = fit(net, train, test, epochs=12, optimizer=opt, scheduler=sched, device="cpu", progress=False)
    assert history.last["val_acc"] >= 0.95, history["val_acc"]
    assert evaluate(net, test, device="cpu")["accuracy"] == history.last["val_acc"]


def test_plot_file_gets_the_usual_permissions(tmp_path):
    pytest.importorskip("matplotlib")
    import os
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    path = History([{"epoch": 1, "train_loss": 1.0}]).plot(tmp_path / "c.png")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# -- two models trained at once in two threads ------------------------------------------------------


def _threaded_setup(seed):
    bw.manual_seed(seed)  # built in the main thread: the global generator is shared, as in PyTorch
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(None, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3))
    model(bw.zeros(2, 1, 8, 8))  # the lazy Linear takes its size (and its init) here
    g = bw.Generator().manual_seed(seed)
    data = TensorDataset(bw.randn(48, 1, 8, 8, generator=g), bw.randint(0, 3, (48,), generator=g))
    return model, data


def _threaded_train(model, data, seed, start=None):
    if start is not None:
        start.wait()  # both threads start together, so their steps interleave
    loader = DataLoader(data, batch_size=8, shuffle=True, generator=bw.Generator().manual_seed(seed))
    opt = bw.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    with bw.sync_guard("count") as guard:
        for xb, yb in loader:  # a hand-written loop: backward, clipping, hooks on the graph
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.detach())
        history = fit(model, loader, loader, epochs=2, optimizer=bw.optim.SGD(model.parameters(), lr=0.05),
                      progress=False)
    records = [{k: v for k, v in r.items() if k != "time"} for r in history.records]
    return ([float(x) for x in losses], records, guard.count,
            {k: v.numpy().copy() for k, v in model.state_dict().items()})


def test_two_threads_training_two_models_match_sequential_runs():
    # issue 12 reliability: grad mode, sync guards, scratch buffers and optimiser state must be per
    # thread or per model, so two trainings at once give each exactly its sequential result
    import threading

    sequential = {seed: _threaded_train(*_threaded_setup(seed), seed) for seed in (1, 2)}
    for _ in range(2):
        setups = {seed: _threaded_setup(seed) for seed in (1, 2)}
        results, errors, start = {}, [], threading.Barrier(2)

        def run(seed, setups=setups, results=results, errors=errors, start=start):
            try:
                results[seed] = _threaded_train(*setups[seed], seed, start)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        for seed in (1, 2):
            losses, records, syncs, state = results[seed]
            want_losses, want_records, want_syncs, want_state = sequential[seed]
            assert losses == want_losses and records == want_records and syncs == want_syncs
            assert state.keys() == want_state.keys()
            for key in state:
                np.testing.assert_array_equal(state[key], want_state[key], err_msg=key)
