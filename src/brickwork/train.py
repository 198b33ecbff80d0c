"""A small training helper: ``fit``, ``evaluate``, the ``History`` of a run, checkpoints, plots.

``fit(model, train_loader, val_loader, optimizer=..., epochs=...)`` runs the
usual loop (forward, loss, backward, optimiser step, scheduler) on ``device``
(``bw.try_gpu()`` by default), validates after each epoch, shows a tqdm
progress bar per epoch (one plain line per epoch when stderr is not a
terminal) and returns a :class:`History`.

No host syncs per batch: the loss sum and the correct count accumulate as
tensors on the device and are read once per epoch (an explicit, allowed
read), so an epoch runs cleanly under ``bw.sync_guard("error")``. The running
loss/accuracy in the progress bar come from a non-blocking device-to-host
copy taken every few batches and shown one refresh later (on a GPU that copy
may be a batch or two behind, which is fine for a progress display; the
numbers in the History are exact).

Checkpoints (:func:`save_checkpoint` / :func:`load_checkpoint`) hold the
model's and optimiser's state dicts, the scheduler's, the History, the epoch
and the CPU random state, in one safetensors file written atomically by
``bw.save``; training resumed from one gives the same result as training
without the interruption.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from brickwork import _backend
from brickwork._sync import allow_sync
from brickwork.autograd import no_grad
from brickwork.tensor import Tensor

__all__ = ["fit", "evaluate", "History", "StopTraining", "plot_history", "save_checkpoint",
           "load_checkpoint"]


class StopTraining(Exception):  # noqa: N818 - a signal, not an error
    """Raise from a callback to end training after the current epoch."""


class History:
    """Per-epoch records of a run: ``history["val_acc"]`` is the list of one metric.

    Each record is a dict with ``epoch`` (1-based), ``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc`` (None when not measured), ``lr``
    and ``time`` (seconds for the epoch, validation included).

    >>> h = History([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.25}])
    >>> h["train_loss"], len(h)
    ([0.5, 0.25], 2)
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records]

    def append(self, record: dict[str, Any]) -> None:
        """Add one epoch's record (a copy of the dict)."""
        self.records.append(dict(record))

    def __getitem__(self, key: str | int) -> Any:
        """``history["val_acc"]``: one metric per epoch; ``history[-1]``: one epoch's record."""
        if isinstance(key, int):
            return self.records[key]
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict[str, Any]:
        """The latest epoch's record."""
        if not self.records:
            raise IndexError("History.last: no epoch recorded yet")
        return self.records[-1]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``bw.save``)."""
        return {"records": [dict(r) for r in self.records]}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> History:
        """A History from :meth:`to_dict`'s plain data (e.g. read back with ``bw.load``).

        >>> h = History.from_dict(History([{"epoch": 1, "val_acc": 0.9}]).to_dict())
        >>> h["val_acc"]
        [0.9]
        """
        return cls(state.get("records", []))

    def plot(self, path: str | os.PathLike[str], title: str | None = None,
             val_label: str = "validation") -> Path:
        """Write the loss and accuracy curves to a PNG (needs matplotlib); see :func:`plot_history`."""
        return plot_history(self, path, title, val_label)

    def __repr__(self) -> str:
        if not self.records:
            return "History(no epochs)"
        return f"History({len(self)} epochs, last={_describe(self.last)})"


def _describe(record: dict[str, Any]) -> str:
    parts = []
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        value = record.get(key)
        if value is not None:
            parts.append(f"{key} {value:.4f}")
    return ", ".join(parts)


# -- metrics on the device ---------------------------------------------------------------


class _Meter:
    """Loss sum and correct count as device tensors; the sample count on the host (shapes are free)."""

    def __init__(self) -> None:
        self.loss_sum: Tensor | None = None
        self.correct: Tensor | None = None
        self.count = 0
        self.classify: bool | None = None
        self._snapshot: tuple[Any, int] | None = None

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        n = target.shape[0] if target.ndim else 1
        with no_grad():
            batch_loss = loss.detach() * n
            self.loss_sum = batch_loss if self.loss_sum is None else self.loss_sum + batch_loss
            if self.classify is None:  # decided from shapes and dtypes: no sync
                self.classify = (output.ndim == 2 and target.ndim == 1
                                 and not target.is_floating_point())
            if self.classify:
                hits = (output.argmax(1) == target).sum()
                self.correct = hits if self.correct is None else self.correct + hits
        self.count += n

    def snapshot(self) -> None:
        """Start a non-blocking copy of the running sums to the host (for the progress bar)."""
        if self.loss_sum is None:
            return
        with no_grad():
            parts = [self.loss_sum.float()]
            if self.correct is not None:
                parts.append(self.correct.float())
            from brickwork.ops.shape import stack

            host = stack(parts).to(_backend.CPU, non_blocking=True)
        self._snapshot = (host._data, self.count)

    def running(self) -> dict[str, str]:
        """The last snapshot, formatted (reads host memory only)."""
        if self._snapshot is None:
            return {}
        values, count = self._snapshot
        shown = {"loss": f"{float(values[0]) / max(count, 1):.4f}"}
        if len(values) > 1:
            shown["acc"] = f"{float(values[1]) / max(count, 1):.4f}"
        return shown

    def result(self) -> tuple[float | None, float | None]:
        """The epoch's mean loss and accuracy: the one deliberate read of the epoch."""
        if self.loss_sum is None:
            return None, None
        with allow_sync():
            loss = self.loss_sum.cpu().item() / self.count
            acc = self.correct.cpu().item() / self.count if self.correct is not None else None
        return loss, acc


def _to(batch: Any, device: Any) -> Any:
    if isinstance(batch, Tensor):
        # asynchronous from pinned memory (DataLoader(pin_memory=True)); otherwise an ordinary copy
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        return batch["input"], batch["target"]
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        "fit/evaluate: expected batches of (input, target) or {'input': ..., 'target': ...}, got a "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (list, tuple)) else "")
    )


def _default_loss() -> Callable[[Tensor, Tensor], Tensor]:
    from brickwork.nn import functional as F

    return F.cross_entropy


def _resolve_device(device: Any) -> Any:
    if device is None:
        import brickwork

        return brickwork.try_gpu()
    return _backend.Device(device).resolved()


PROGRESS_MODES = ("auto", "bar", "lines", "off")


def _progress_mode(progress: bool | str) -> str:
    """``progress`` as one of PROGRESS_MODES: True means "auto", False means "off"."""
    if progress is True:
        progress = "auto"
    elif progress is False or progress is None:
        progress = "off"
    if progress not in PROGRESS_MODES:
        raise ValueError(f"fit: progress must be True, False or one of {PROGRESS_MODES}, got {progress!r}")
    if progress == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return "bar" if isatty is not None and isatty() else "lines"
    return progress


def _epoch_line(desc: str, record: dict[str, Any]) -> str:
    """One epoch's metrics on one line (what a log file gets instead of redrawn bars)."""
    metrics = _describe(record)
    return f"{desc}: {metrics + ', ' if metrics else ''}{record['time']:.1f} s"


def _progress(total: int | None, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=True, disable=not enabled,
                file=sys.stderr, dynamic_ncols=True)


# -- the loops ------------------------------------------------------------------------------


def evaluate(model: Any, loader: Iterable[Any], loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
             device: Any = None) -> dict[str, float | None]:
    """Mean loss and accuracy of ``model`` over ``loader``, in eval mode without gradients.

    Accuracy is reported for classification (2-d outputs, integer targets),
    else None. Values are read from the device once, at the end. Batches go
    to ``device``, by default the model's (that of its first parameter).
    """
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first._device if first is not None else None
    device = _resolve_device(device)
    loss_fn = loss_fn or _default_loss()
    meter = _Meter()
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(_to(batch, device))
                out = model(x)
                meter.update(out, y, loss_fn(out, y))
    finally:
        model.train(was_training)
    loss, acc = meter.result()
    return {"loss": loss, "accuracy": acc}


def fit(
    model: Any,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    epochs: int = 10,
    optimizer: Any = None,
    lr: float = 0.1,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    scheduler: Any = None,
    scheduler_interval: str = "epoch",
    device: Any = None,
    progress: bool | str = True,
    callbacks: Sequence[Callable[[dict[str, Any]], Any]] = (),
    history: History | None = None,
    clip_grad_norm: float | None = None,
    plot: str | os.PathLike[str] | None = None,
    refresh_every: int = 10,
) -> History:
    """Train ``model`` for ``epochs`` epochs; returns the :class:`History`.

    ``optimizer`` defaults to ``SGD(model.parameters(), lr=lr)`` and
    ``loss_fn`` (which must return the batch mean) to cross-entropy. The
    model is moved to ``device`` (``bw.try_gpu()`` by default; parameters
    keep their identity, so an optimiser built before stays valid) and each
    batch ``(input, target)`` follows it. ``scheduler`` steps once per epoch
    (``scheduler_interval="epoch"``, ReduceLROnPlateau gets the validation
    loss, or the training loss without validation) or per batch
    (``"batch"``, e.g. OneCycleLR). ``callbacks`` get each epoch's record
    after it is added to the History; one may raise :class:`StopTraining`.
    Pass a ``history`` (e.g. from a checkpoint) to continue its epoch count.
    ``plot`` writes the curves to that PNG at the end (skipped, with a
    warning, when matplotlib is missing).

    ``progress``: ``True`` (``"auto"``) draws a tqdm bar per epoch when
    stderr is a terminal and otherwise writes one line per epoch with its
    metrics (for logs and CI: no redraws); ``"bar"`` or ``"lines"`` force
    one of the two; ``False`` (``"off"``) prints nothing.

    >>> import brickwork as bw
    >>> _ = bw.manual_seed(0)
    >>> X = bw.randn(64, 2); y = (X[:, 0] > 0).long()
    >>> loader = bw.data.DataLoader(bw.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    >>> net = bw.nn.Linear(2, 2)
    >>> h = bw.train.fit(net, loader, epochs=5, lr=0.5, progress=False, device="cpu")
    >>> len(h), h.last["train_acc"] > 0.8
    (5, True)
    """
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    mode = _progress_mode(progress)
    device = _resolve_device(device)
    model.to(device)
    if optimizer is None:
        from brickwork.optim import SGD

        optimizer = SGD(model.parameters(), lr=lr)
    loss_fn = loss_fn or _default_loss()
    history = history if history is not None else History()
    from brickwork.optim.lr_scheduler import ReduceLROnPlateau

    plateau = isinstance(scheduler, ReduceLROnPlateau)
    clip = None
    if clip_grad_norm is not None:
        from brickwork.nn.utils import clip_grad_norm_

        clip = clip_grad_norm_
    first = len(history) + 1
    for epoch in range(first, first + epochs):
        started = time.perf_counter()
        meter = _Meter()
        model.train()
        total = len(train_loader) if hasattr(train_loader, "__len__") else None  # type: ignore[arg-type]
        desc = f"epoch {epoch}/{first + epochs - 1}"
        bar = _progress(total, desc, mode == "bar")
        try:
            for step, batch in enumerate(train_loader, 1):
                x, y = _split(_to(batch, device))
                out = model(x)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                if clip is not None:
                    clip(model.parameters(), clip_grad_norm)
                optimizer.step()
                if scheduler is not None and scheduler_interval == "batch":
                    scheduler.step()
                meter.update(out, y, loss)
                if mode == "bar" and step % refresh_every == 0:
                    bar.set_postfix(meter.running(), refresh=False)
                    meter.snapshot()
                bar.update(1)
            train_loss, train_acc = meter.result()
            record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                                      "val_loss": None, "val_acc": None,
                                      "lr": optimizer.param_groups[0]["lr"]}
            if val_loader is not None:
                scores = evaluate(model, val_loader, loss_fn, device)
                record["val_loss"], record["val_acc"] = scores["loss"], scores["accuracy"]
            if scheduler is not None and scheduler_interval == "epoch":
                if plateau:
                    metric = record["val_loss"] if record["val_loss"] is not None else train_loss
                    scheduler.step(metric)
                else:
                    scheduler.step()
            record["time"] = time.perf_counter() - started
            if mode == "bar":
                shown = ("train_loss", "train_acc", "val_loss", "val_acc")
                bar.set_postfix({k.replace("train_", ""): f"{v:.4f}" for k, v in record.items()
                                 if k in shown and v is not None}, refresh=True)
        finally:
            bar.close()
        if mode == "lines":
            print(_epoch_line(desc, record), file=sys.stderr, flush=True)
        history.append(record)
        try:
            for callback in callbacks:
                callback(record)
        except StopTraining:
            break
    if plot is not None:
        try:
            plot_history(history, plot)
        except ModuleNotFoundError as exc:
            import warnings

            warnings.warn(f"fit: no plot written: {exc}", RuntimeWarning, stacklevel=2)
    return history


# -- checkpoints and plots ----------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None, scheduler: Any = None,
                    history: History | None = None, **extra: Any) -> Path:
    """Write everything needed to resume training to ``path`` (atomically, via ``bw.save``).

    Holds ``model`` (state dict), ``optimizer``, ``scheduler``, ``history``,
    the CPU random state ``rng`` (shuffling order, initialisation) and any
    ``extra`` plain values.
    """
    from brickwork.io import save
    from brickwork.random import get_rng_state

    checkpoint: dict[str, Any] = {"model": model.state_dict(), "rng": get_rng_state(), **extra}
    if optimizer is not None:
        checkpoint["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        checkpoint["scheduler"] = scheduler.state_dict()
    if history is not None:
        checkpoint["history"] = history.to_dict()
    save(checkpoint, path)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], model: Any, optimizer: Any = None,
                    scheduler: Any = None, restore_rng: bool = True) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into the given objects; returns the checkpoint.

    The returned dict has ``history`` as a :class:`History` (empty if none
    was saved). The model may be lazy: loading materialises it.
    """
    from brickwork.io import load
    from brickwork.random import set_rng_state

    checkpoint = load(path)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"load_checkpoint: {path} is not a training checkpoint (no 'model' entry)")
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        if "optimizer" not in checkpoint:
            raise ValueError(f"load_checkpoint: {path} has no optimizer state")
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and "scheduler" in checkpoint:
        scheduler.load_state_dict(checkpoint["scheduler"])
    if restore_rng and "rng" in checkpoint:
        set_rng_state(checkpoint["rng"])
    checkpoint["history"] = History.from_dict(checkpoint.get("history", {}))
    return checkpoint


def plot_history(history: History, path: str | os.PathLike[str], title: str | None = None,
                 val_label: str = "validation") -> Path:
    """Draw loss and accuracy per epoch (train and validation) into a PNG at ``path``.

    ``val_label`` names the held-out curve in the legend (e.g. ``"test"``).

    Needs matplotlib (``pip install 'brickwork[plot]'``); raises
    ``ModuleNotFoundError`` saying so when it is missing. Uses matplotlib's
    object API with the Agg canvas, so no global backend is changed. The
    file is written atomically.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ModuleNotFoundError(
            "matplotlib is not installed, so no curve plot can be drawn; install it with "
            "pip install 'brickwork[plot]' (or pip install matplotlib)"
        ) from None
    epochs = history["epoch"]
    fig = Figure(figsize=(10, 4), dpi=110)
    FigureCanvasAgg(fig)
    panels = [("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc")]
    for i, (name, train_key, val_key) in enumerate(panels, 1):
        ax = fig.add_subplot(1, 2, i)
        for key, label, style in ((train_key, "train", "-o"), (val_key, val_label, "-s")):
            values = history[key]
            points = [(e, v) for e, v in zip(epochs, values) if v is not None]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label, markersize=4)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        if epochs:
            ax.set_xlim(min(epochs) - 0.2, max(epochs) + 0.2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from brickwork.io.files import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(str(path), lambda tmp: fig.savefig(tmp, format="png"))
    return path
