"""Run the PyTorch cells of a Dive into Deep Learning snapshot with real torch and with brickwork.

Developer tool, not run in CI. Reads the book from a fetched d2l-en git snapshot at run time (no
text or code of the book is stored in this repository), and for every section of the chosen
chapters runs its PyTorch cells in order, in one namespace, twice, each in its own process: with
real torch + torchvision, and in brickwork drop-in mode. Prints per section and per chapter: cells,
cells OK with torch, cells OK with brickwork, and brickwork's first failing cell with its error.

    python scripts/run_d2l.py /path/to/d2l-en.git [chapter_linear-regression ...] [--epochs 1]

Offline set-up: small synthetic Fashion-MNIST files are written where torchvision and d2l look
(``../data/FashionMNIST/raw`` from the working folder); ``d2l.Trainer(max_epochs=...)`` is cut to
``--epochs`` for both runs. The d2l package is loaded from the snapshot's ``d2l/torch.py``. Where the
notebook-only packages d2l imports (IPython, matplotlib_inline, requests, pandas) are not installed,
small stand-ins are put on the path: display calls do nothing and downloads fail as offline.
On the torch side, torchvision's compiled-op registrations are skipped (PyPI's torchvision does
not load them beside the CPU torch build; the parts the book uses are pure Python).
Cells that need downloads therefore fail with both frameworks and do not count against brickwork.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import struct
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

CHAPTERS = [
    "chapter_preliminaries", "chapter_linear-regression", "chapter_linear-classification",
    "chapter_multilayer-perceptrons", "chapter_builders-guide", "chapter_convolutional-neural-networks",
    "chapter_convolutional-modern", "chapter_recurrent-neural-networks", "chapter_recurrent-modern",
    "chapter_attention-mechanisms-and-transformers", "chapter_optimization",
    "chapter_computational-performance",
]
SRC = Path(__file__).resolve().parents[1] / "src"
CELL = re.compile(r"^```\{\.python \.input[^}]*\}\n(.*?)^```", re.S | re.M)


def git(snapshot: str, *args: str) -> str:
    """Run git on the bare snapshot and return its output."""
    return subprocess.run(["git", "--git-dir", snapshot, *args], check=True, capture_output=True,
                          text=True).stdout


def pytorch_cells(markdown: str) -> list[str]:
    """The cells of one section that the PyTorch tab runs, magics removed."""
    cells = []
    for body in CELL.findall(markdown):
        lines = body.splitlines()
        tabs = ["all"]
        if lines and lines[0].startswith("%%tab"):
            tabs = [t.strip() for t in lines[0][len("%%tab"):].split(",")]
            lines = lines[1:]
        if "pytorch" not in tabs and "all" not in tabs:
            continue
        if any(line.startswith("%load_ext d2lbook") or "tab.interact_select" in line for line in lines):
            continue
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        if code.strip():
            cells.append(code + "\n")
    return cells


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (the MNIST family's format), uncompressed, as torchvision reads it."""
    type_code = {np.uint8: 0x08}[array.dtype.type]
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, type_code, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.tobytes())


def place_synthetic_data(work: Path) -> None:
    """Small Fashion-MNIST / MNIST files where torchvision and d2l (root ../data) look for them."""
    rng = np.random.default_rng(0)
    for name in ("FashionMNIST", "MNIST"):
        raw = work.parent / "data" / name / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", 512), ("t10k", 128)):
            labels = rng.integers(0, 10, n).astype(np.uint8)
            images = (rng.random((n, 28, 28)) * 64).astype(np.uint8)
            images += (labels[:, None, None] * 19).astype(np.uint8)  # learnable: brightness ~ label
            write_idx(raw / f"{split}-images-idx3-ubyte", images)
            write_idx(raw / f"{split}-labels-idx1-ubyte", labels)


STAND_INS = {
    "IPython/__init__.py": "",
    "IPython/display.py": "def display(*a, **k):\n    pass\n\ndef clear_output(*a, **k):\n    pass\n",
    "matplotlib_inline/__init__.py": "",
    "matplotlib_inline/backend_inline.py": "def set_matplotlib_formats(*a, **k):\n    pass\n",
    "requests/__init__.py": (
        "def get(url, *a, **k):\n"
        "    raise ConnectionError(f'offline run (scripts/run_d2l.py): {url} was not downloaded')\n"
    ),
    "pandas/__init__.py": (
        "def __getattr__(name):\n"
        "    raise AttributeError(f'pandas.{name}: pandas is not installed (scripts/run_d2l.py)')\n"
    ),
}


def place_stand_ins(folder: Path) -> None:
    """Stand-ins for notebook-only packages that are not installed here."""
    for rel, text in STAND_INS.items():
        package = rel.split("/", 1)[0]
        try:
            __import__(package)
            continue
        except ImportError:
            pass
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def child(mode: str, cells_dir: str, epochs: int) -> None:
    """Run the numbered cell files of one section in one namespace; print one JSON line per cell."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    if mode == "brickwork":
        import brickwork.torch

        brickwork.torch.install()
    else:
        # PyPI's torchvision wheel does not load its compiled ops beside the CPU torch build; its
        # Python parts (datasets, transforms, utils) work once its two op registrations are skipped
        import types

        for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
            sys.modules.setdefault(name, types.ModuleType(name))
    import d2l.torch as d2l_torch

    original_init = d2l_torch.Trainer.__init__

    def cut_init(self, max_epochs, *args, **kwargs):  # same cut for both frameworks
        original_init(self, min(max_epochs, epochs), *args, **kwargs)

    d2l_torch.Trainer.__init__ = cut_init
    namespace: dict = {"__name__": "__main__"}
    for cell in sorted(Path(cells_dir).glob("cell_*.py")):
        try:
            namespace = runpy.run_path(str(cell), init_globals=namespace, run_name="__main__")
            print(json.dumps({"cell": cell.name, "ok": True}), flush=True)
        except BaseException as err:  # noqa: BLE001 - every failure is a result here
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            print(json.dumps({"cell": cell.name, "ok": False, "error": last[:300]}), flush=True)


def run_section(mode: str, cells_dir: Path, env: dict, work: Path, epochs: int, timeout: int) -> list[dict]:
    """Results per cell of one section in one mode (a timeout fails the remaining cells)."""
    cmd = [sys.executable, __file__, "--child", mode, str(cells_dir), "--epochs", str(epochs)]
    why = "not run (timeout)"
    try:
        done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=timeout)
        out = done.stdout
        why = "not run: " + (done.stderr.strip().splitlines() or ["crash"])[-1][:200]
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
    results = [json.loads(line) for line in out.splitlines() if line.startswith('{"cell"')]
    n = len(list(cells_dir.glob("cell_*.py")))
    while len(results) < n:
        results.append({"cell": f"cell_{len(results):03d}.py", "ok": False, "error": why})
    return results


def main() -> None:
    """Parse arguments, run the chapters, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", help="bare git dir of d2l-ai/d2l-en (from the fetch tool)")
    parser.add_argument("chapters", nargs="*", default=CHAPTERS)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per section and framework")
    parser.add_argument("--sections", default="", help="regex: only sections whose file name matches")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="run_d2l_"))
    work = tmp / "work"
    work.mkdir()
    libs = tmp / "libs"
    (libs / "d2l").mkdir(parents=True)
    (libs / "d2l" / "__init__.py").write_text(git(args.snapshot, "show", "HEAD:d2l/__init__.py"))
    (libs / "d2l" / "torch.py").write_text(git(args.snapshot, "show", "HEAD:d2l/torch.py"))
    place_stand_ins(libs)
    place_synthetic_data(work)
    base = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in (str(libs), base) if p))
    env_bw = dict(env, PYTHONPATH=os.pathsep.join((str(SRC), env["PYTHONPATH"])))

    print(f"{'section':58} {'cells':>5} {'torch':>5} {'bw':>5}  first brickwork failure (torch OK)")
    for chapter in args.chapters:
        files = [f for f in git(args.snapshot, "ls-tree", "--name-only", f"HEAD:{chapter}").split()
                 if f.endswith(".md") and f != "index.md" and re.search(args.sections, f)]
        totals = [0, 0, 0, 0]
        for name in files:
            cells = pytorch_cells(git(args.snapshot, "show", f"HEAD:{chapter}/{name}"))
            if not cells:
                continue
            cells_dir = tmp / "cells" / chapter / name[:-3]
            cells_dir.mkdir(parents=True)
            for i, code in enumerate(cells):
                (cells_dir / f"cell_{i:03d}.py").write_text(code)
            real = run_section("torch", cells_dir, env, work, args.epochs, args.timeout)
            ours = run_section("brickwork", cells_dir, env_bw, work, args.epochs, args.timeout)
            both = sum(1 for r, o in zip(real, ours, strict=True) if r["ok"] and o["ok"])
            first = next((f"{o['cell']}: {o['error']}" for r, o in zip(real, ours, strict=True)
                          if r["ok"] and not o["ok"]), "")
            n_torch, n_bw = sum(r["ok"] for r in real), sum(o["ok"] for o in ours)
            totals = [totals[0] + len(cells), totals[1] + n_torch, totals[2] + n_bw, totals[3] + both]
            if not n_torch:  # nothing to compare with: say why torch itself failed
                first = f"torch failed: {real[0]['error']}"
            print(f"  {name[:56]:56} {len(cells):5} {n_torch:5} {n_bw:5}  {first[:200]}", flush=True)
        print(f"{chapter:58} {totals[0]:5} {totals[1]:5} {totals[2]:5}  (both OK: {totals[3]})", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    else:
        main()
