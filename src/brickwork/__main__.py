"""Command line: ``python -m brickwork demo`` and ``python -m brickwork train ...``.

``demo`` (what ``make demo`` runs) trains a LeNet-style CNN built from lazy
layers on the bundled Digits data, offline, then saves, reloads and checks
the model. ``train`` is for real runs on Digits, MNIST or Fashion-MNIST, with a
checkpoint written after every epoch and ``--resume``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import brickwork as bw
from brickwork import nn
from brickwork._blas import blas_threads

DATASETS = ("digits", "mnist", "fashion-mnist")
CHECKPOINT = "checkpoint.safetensors"


# -- models ------------------------------------------------------------------------------


def lenet(small_images: bool) -> nn.Module:
    """A LeNet-style CNN out of lazy layers: input channels and sizes come from the first batch.

    For 8x8 Digits, 3x3 convolutions with padding (and dropout: 1,497 images
    are few); for 28x28 MNIST, LeNet-5's 5x5 ones.
    """
    if small_images:
        return nn.Sequential(
            nn.LazyConv2d(32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.LazyConv2d(64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.LazyLinear(128), nn.ReLU(), nn.Dropout(0.3), nn.LazyLinear(10),
        )
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.LazyConv2d(16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.LazyLinear(120), nn.ReLU(), nn.LazyLinear(84), nn.ReLU(), nn.LazyLinear(10),
    )


def mlp() -> nn.Module:
    """A one-hidden-layer perceptron; its input size comes from the first batch."""
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))


def xavier_init(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases (recorded, then replayed, on pending parameters)."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# -- data --------------------------------------------------------------------------------


def datasets(name: str, data_dir: str, download: bool) -> tuple[Any, Any]:
    from brickwork.data import datasets as ds

    if name == "digits":
        return ds.Digits(train=True), ds.Digits(train=False)
    cls = ds.MNIST if name == "mnist" else ds.FashionMNIST
    try:
        return cls(data_dir, train=True, download=download), cls(data_dir, train=False, download=download)
    except FileNotFoundError as exc:
        # the dataset speaks to Python callers; here the switch is the command line's flag
        raise FileNotFoundError(str(exc).replace("Pass download=True", "Pass --download")) from None


def _predictions(model: nn.Module, loader: Any, device: Any) -> Any:
    model.eval()
    with bw.no_grad():
        return bw.cat([model(x.to(device)) for x, _ in loader]).cpu()


# -- demo --------------------------------------------------------------------------------


def _say(args: argparse.Namespace) -> Any:
    """``print``, or a function that prints nothing under ``--quiet``."""
    return (lambda *_, **__: None) if args.quiet else print


def _progress(args: argparse.Namespace, show: bool = True) -> bool | str:
    """fit's ``progress``: bars on a terminal (else a line per epoch); lines only; or nothing."""
    if args.quiet or not show:
        return False
    return "lines" if args.no_progress else True


def demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    # the demo's matrices are small: one BLAS thread is fastest, and does not fight a loaded machine
    with blas_threads(1) as blas:
        return _demo(args, started, blas)


def _demo(args: argparse.Namespace, started: float, blas: str) -> int:
    say = _say(args)
    bw.manual_seed(args.seed)
    device = bw.device(args.device) if args.device else bw.try_gpu()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say(f"brickwork {bw.__version__} demo: a LeNet-style CNN on the bundled UCI digits, on {device}"
        + (f"; {blas}" if device.type == "cpu" else ""))

    train_set, test_set = bw.data.datasets.Digits(train=True), bw.data.datasets.Digits(train=False)
    say(f"data: {len(train_set)} training and {len(test_set)} test images of 8x8 (bundled, offline)")
    train_loader = bw.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = bw.data.DataLoader(test_set, batch_size=300)

    net = lenet(small_images=True)
    net.apply(xavier_init)
    pending = sum(1 for p in net.parameters() if p.is_pending)
    say(f"model: built from lazy layers, {pending} parameters still pending; Xavier init recorded "
          "with net.apply(...) before the first forward")
    net.to(device)
    say(bw.utils.summary(net, (1, 1, 8, 8)))

    optimizer = bw.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = bw.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    say(f"training: {optimizer.__class__.__name__} (Nesterov momentum 0.9, lr {args.lr}, weight decay "
          f"5e-4), cosine schedule, cross-entropy with label smoothing 0.1, {args.epochs} epochs")
    history = bw.train.fit(net, train_loader, test_loader, epochs=args.epochs, optimizer=optimizer,
                           scheduler=scheduler, loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1),
                           device=device, progress=_progress(args))
    accuracy = bw.train.evaluate(net, test_loader, device=device)["accuracy"]
    say(f"trained {args.epochs} epochs in {sum(history['time']):.1f} s; "
          f"final train loss {history.last['train_loss']:.4f}")

    params_path, model_path = out / "lenet_digits_params.safetensors", out / "lenet_digits_model.safetensors"
    bw.save(net.state_dict(), params_path)
    bw.save_model(net, model_path)
    reloaded_params = lenet(small_images=True)  # fresh and lazy: loading gives it its shapes
    reloaded_params.load_state_dict(bw.load(params_path))
    reloaded_model = bw.load_model(model_path)
    expected = _predictions(net, test_loader, device)
    same = []
    for name, model in (("parameters", reloaded_params), ("whole model", reloaded_model)):
        got = _predictions(model.to(device), test_loader, device)
        identical = bool(bw.equal(got, expected))
        same.append(identical)
        say(f"reloaded {name}: predictions {'identical' if identical else 'DIFFERENT'} "
              f"on all {len(test_set)} test images")

    curves = out / "demo_curves.png"
    try:
        history.plot(curves, title="brickwork demo: LeNet-style CNN on UCI digits", val_label="test")
        curves_line = f"  training curves:         {curves}"
    except ModuleNotFoundError as exc:
        curves_line = f"  training curves:         not drawn ({exc})"
    say("files:")
    say(f"  parameters (state dict): {params_path}")
    say(f"  whole model:             {model_path}")
    say(curves_line)
    say(f"total time {time.perf_counter() - started:.1f} s")
    print(f"test accuracy: {accuracy:.4f}")
    return 0 if all(same) else 1


# -- train -------------------------------------------------------------------------------


def train(args: argparse.Namespace) -> int:
    say = _say(args)
    device = bw.device(args.device) if args.device else bw.try_gpu()
    # under mpiexec -n N: data parallel, one GPU per rank with NCCL, each rank its shard of every epoch
    parallel = bw.distributed.init_from_launcher("nccl" if device.type == "cuda" else "mpi")
    rank = bw.distributed.get_rank() if parallel else 0
    if parallel and device.type == "cuda":
        device = bw.device("cuda", bw.distributed.get_node_local_rank())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bw.manual_seed(args.seed)
    train_set, test_set = datasets(args.dataset, args.data_dir, args.download)
    sampler = bw.data.DistributedSampler(train_set, seed=args.seed) if parallel else None
    train_loader = bw.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=not parallel,
                                      sampler=sampler)
    test_loader = bw.data.DataLoader(test_set, batch_size=max(args.batch_size, 256))
    net = lenet(small_images=args.dataset == "digits") if args.model == "lenet" else mlp()
    net.apply(xavier_init)
    net.to(device)
    checkpoint_path = out / CHECKPOINT
    history = bw.train.History()
    resume_from = None
    if args.resume is not None:
        resume_from = Path(args.resume) if args.resume else checkpoint_path
        if not resume_from.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {resume_from}")
    # the optimiser may be built before the lazy layers have shapes
    if args.optimizer == "sgd":
        optimizer: Any = bw.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    else:
        optimizer = bw.optim.Adam(net.parameters(), lr=args.lr)
    if resume_from is not None:
        saved = bw.load(resume_from).get("config", {})
        for key in ("model", "dataset", "optimizer"):
            if saved.get(key, getattr(args, key)) != getattr(args, key):
                raise ValueError(f"--resume: {resume_from} was made with --{key} {saved[key]}, "
                                 f"not --{key} {getattr(args, key)}")
        checkpoint = bw.train.load_checkpoint(resume_from, net, optimizer)  # materialises the model
        history = checkpoint["history"]
        if rank == 0:
            say(f"resumed from {resume_from} after epoch {len(history)}")
    remaining = args.epochs - len(history)
    config = {k: getattr(args, k) for k in ("model", "dataset", "optimizer", "lr", "batch_size", "seed")}

    def write_checkpoint(record: dict[str, Any]) -> None:
        if sampler is not None:
            sampler.set_epoch(record["epoch"])  # the next epoch's order (same on every rank)
        if rank == 0:
            bw.train.save_checkpoint(checkpoint_path, net, optimizer, history=history, config=config)

    if sampler is not None:
        sampler.set_epoch(len(history))
    if rank == 0:
        say(f"training {args.model} on {args.dataset} ({len(train_set)} images) on {device}: "
              f"{max(remaining, 0)} epoch(s) to go of {args.epochs}"
              + (f", data parallel on {bw.distributed.get_world_size()} processes" if parallel else ""))
    if remaining > 0:
        model = bw.nn.parallel.DistributedDataParallel(net) if parallel else net
        bw.train.fit(model, train_loader, test_loader, epochs=remaining, optimizer=optimizer, device=device,
                     history=history, callbacks=[write_checkpoint],
                     progress=_progress(args, show=rank == 0))
    if rank != 0:
        return 0  # rank 0 writes the files and reports
    model_path = out / "model.safetensors"
    bw.save_model(net, model_path)
    curves = out / "curves.png"
    say("files:")
    say(f"  checkpoint (each epoch): {checkpoint_path}")
    say(f"  whole model:             {model_path}")
    try:
        history.plot(curves, title=f"{args.model} on {args.dataset}", val_label="test")
        say(f"  training curves:         {curves}")
    except ModuleNotFoundError as exc:
        say(f"  training curves:         not drawn ({exc})")
    accuracy = bw.train.evaluate(net, test_loader, device=device)["accuracy"]
    print(f"test accuracy: {accuracy:.4f}")
    return 0


# -- arguments ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _device(text: str) -> str:
    try:
        dev = bw.device(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if dev.type == "cuda" and bw.cuda.device_count() <= (dev.index or 0):
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {bw.cuda.device_count()} CUDA device(s); use cpu or leave "
            "--device out (the default is bw.try_gpu())"
        )
    return text


MODULE_PROG = "python -m brickwork"


def program_name(argv0: str | None = None) -> str:
    """How the user started the command line: ``python -m brickwork``, or the console script's name."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = os.path.basename(argv0)
    if not name or name in ("__main__.py", "-c", "-m") or Path(argv0).resolve() == Path(__file__).resolve():
        return MODULE_PROG
    return name.removesuffix(".exe")


def build_parser(prog: str = MODULE_PROG) -> argparse.ArgumentParser:
    """The argument parser; ``prog`` is the name usage lines and errors start with."""
    parser = _Parser(prog=prog, description="brickwork's command line: the offline demo, and training runs.")
    parser.add_argument("--version", action="version", version=f"brickwork {bw.__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="{demo,train}")

    d = sub.add_parser("demo", help="train a lazy LeNet-style CNN on the bundled digits (offline, <1 min)",
                       description="Train a LeNet-style CNN made of lazy layers on the bundled UCI digits, "
                                   "print its summary and test accuracy, save and reload it, and draw the "
                                   "training curves.")
    d.add_argument("--out", default="runs/demo",
                   help="folder for the saved model and plot (default: %(default)s)")
    d.add_argument("--epochs", type=_positive(int), default=20, help="epochs (default: %(default)s)")
    d.add_argument("--batch-size", type=_positive(int), default=32, help="batch size (default: %(default)s)")
    d.add_argument("--lr", type=_positive(float), default=0.05,
                   help="SGD learning rate (default: %(default)s)")
    d.add_argument("--device", type=_device, default=None, help="cpu or cuda[:N] (default: bw.try_gpu())")
    d.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    d.add_argument("--no-progress", action="store_true",
                   help="no progress bars; one line of metrics per epoch instead")
    d.add_argument("--quiet", action="store_true",
                   help="print only errors and the final test accuracy")

    t = sub.add_parser("train", help="train an MLP or LeNet on digits, MNIST or Fashion-MNIST",
                       description="Train a model; a checkpoint is written after every epoch, and --resume "
                                   "continues from it exactly where training stopped.")
    t.add_argument("--model", choices=("mlp", "lenet"), default="lenet",
                   help="architecture (default: %(default)s)")
    t.add_argument("--dataset", choices=DATASETS, default="digits", help="data (default: %(default)s)")
    t.add_argument("--epochs", type=_positive(int), default=10, help="total epochs (default: %(default)s)")
    t.add_argument("--batch-size", type=_positive(int), default=64, help="batch size (default: %(default)s)")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: 0.05 for sgd, 0.002 for adam)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="adam",
                   help="sgd (momentum 0.9) or adam (default: %(default)s)")
    t.add_argument("--device", type=_device, default=None, help="cpu or cuda[:N] (default: bw.try_gpu())")
    t.add_argument("--data-dir", default="data",
                   help="where MNIST/Fashion-MNIST files are (or are downloaded to) (default: %(default)s)")
    t.add_argument("--download", action="store_true", help="download MNIST/Fashion-MNIST if missing")
    t.add_argument("--out", default="runs/train",
                   help="folder for checkpoint, model and plot (default: %(default)s)")
    t.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                   help=f"continue from a checkpoint (default: OUT/{CHECKPOINT})")
    t.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    t.add_argument("--no-progress", action="store_true",
                   help="no progress bars; one line of metrics per epoch instead")
    t.add_argument("--quiet", action="store_true",
                   help="print only errors and the final test accuracy")
    return parser


def _folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be (made) a folder: it, or the nearest existing folder above it, is a file."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            if candidate.is_dir():
                return None
            if candidate == path:
                return "exists and is not a folder"
            return f"{candidate} is not a folder"
    return None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default: this process's arguments); returns the exit code.

    Usage lines and errors start with ``prog``: by default the name the
    program was started by (``python -m brickwork`` or ``brickwork``) when
    ``argv`` comes from the process, ``python -m brickwork`` when it is given.
    """
    if prog is None:
        prog = program_name() if argv is None else MODULE_PROG
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:  # no subcommand: show what there is
        parser.print_help()
        return 0
    problem = _folder_problem(Path(args.out))
    if problem is not None:
        parser.error(f"--out {args.out}: {problem}")
    if args.command == "train" and args.lr is None:
        args.lr = 0.05 if args.optimizer == "sgd" else 0.002
    try:
        return demo(args) if args.command == "demo" else train(args)
    except (OSError, RuntimeError, ValueError) as exc:
        if bw.distributed.is_initialized() and bw.distributed.get_world_size() > 1:
            raise  # uncaught, it aborts every rank (returning would leave the others waiting)
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
