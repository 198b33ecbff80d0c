"""Run the PyTorch cells of a Dive into Deep Learning snapshot with real torch and with brickwork.

Developer tool, not run in CI. Reads the book from a fetched d2l-en git snapshot at run time (no
text or code of the book is stored in this repository), and for every section of the chosen
chapters runs its PyTorch cells in order, in one namespace, twice, each in its own process: with
real torch + torchvision, and in brickwork drop-in mode. Prints per section and per chapter: cells,
cells OK with torch, cells OK with brickwork, and brickwork's first failing cell with its error.

    python scripts/run_d2l.py /path/to/d2l-en.git [chapter_linear-regression ...] [--epochs 1]

Cells that branch on d2lbook's ``tab.selected(...)`` see the PyTorch tab selected.
Offline set-up: small synthetic Fashion-MNIST files are written where torchvision and d2l look
(``../data/FashionMNIST/raw`` from the working folder); ``d2l.Trainer(max_epochs=...)`` is cut to
``--epochs`` for both runs. The d2l package is loaded from the snapshot's ``d2l/torch.py``. Where the
notebook-only packages d2l imports (IPython, matplotlib_inline, requests, pandas, scipy) are not
installed, small stand-ins are put on the path: display calls do nothing, downloads fail as offline,
and scipy offers only ``spatial.distance_matrix`` (what d2l imports).
On the torch side, torchvision's compiled-op registrations are skipped (PyPI's torchvision does
not load them beside the CPU torch build; the parts the book uses are pure Python).
Cells that need downloads therefore fail with both frameworks and do not count against brickwork.

Printed values: each cell runs as a notebook cell does (its last expression is displayed with
``repr`` unless the line ends with ``;``) and its printed output is kept. Torch runs each section
twice, the second time with every random stream moved (``torch.manual_seed``, ``random.seed`` and
``np.random.seed`` offset, explicit seeds included). A cell counts as deterministic when both torch
runs printed the same text and its code neither times anything nor lists names or docstrings
(``help(...)``, ``dir(...)``: brickwork's own by design); for those cells the brickwork output
is compared with torch's after normalising ``brickwork.`` to ``torch.`` and runs of white space, and
numbers are equal within the precision they were printed with (one unit in the last printed digit,
plus 1e-4 relative). Per chapter: values agree / differ, the cells skipped as random or timing, and
each differing cell with the first difference.

    python scripts/run_d2l.py SNAPSHOT chapter_preliminaries --sections 'ndarray|autograd' --timeout 300
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import math
import os
import re
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
    # matplotlib asks an imported IPython for its version and shell
    "IPython/__init__.py": "version_info = (8, 0, 0)\n\ndef get_ipython():\n    return None\n",
    "IPython/display.py": "def display(*a, **k):\n    pass\n\ndef clear_output(*a, **k):\n    pass\n",
    "matplotlib_inline/__init__.py": "",
    "matplotlib_inline/backend_inline.py": "def set_matplotlib_formats(*a, **k):\n    pass\n",
    "requests/__init__.py": (
        "def get(url, *a, **k):\n"
        "    raise ConnectionError(f'offline run (scripts/run_d2l.py): {url} was not downloaded')\n"
    ),
    "scipy/__init__.py": "",
    "scipy/spatial/__init__.py": (
        "import numpy as np\n\n"
        "def distance_matrix(x, y, p=2):\n"
        "    diff = np.abs(np.asarray(x)[:, None, :] - np.asarray(y)[None, :, :])\n"
        "    return (diff ** p).sum(-1) ** (1.0 / p)\n"
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


def run_cell(source: str, filename: str, namespace: dict) -> None:
    """Run one cell in ``namespace`` as a notebook does: the last expression's value is displayed
    (printed with ``repr``) unless it is None or the cell ends with ``;``."""
    tree = ast.parse(source, filename)
    shown = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        shown = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - the book's cells, run on purpose
    if shown is not None:
        value = eval(compile(shown, filename, "eval"), namespace)  # noqa: S307
        if value is not None:
            print(repr(value))


class PytorchTab:
    """What d2lbook's ``tab`` module answers in the PyTorch tab: ``tab.selected('pytorch', ...)``
    is true when 'pytorch' is among the names (cells branch on it)."""

    @staticmethod
    def selected(*names: str) -> bool:
        return "pytorch" in names

    @staticmethod
    def interact_select(*args: object, **kwargs: object) -> None:
        return None


def move_random_streams(offset: int) -> None:
    """Seed every random stream differently from a plain run, explicit seeds included (``seed + offset``),
    so that a cell whose output depends on random draws prints something else."""
    import random

    import torch

    for module, name in ((torch, "manual_seed"), (random, "seed"), (np.random, "seed")):
        original = getattr(module, name)

        def shifted(seed=None, *args, _original=original, **kwargs):
            return _original(None if seed is None else int(seed) + offset, *args, **kwargs)

        setattr(module, name, shifted)
        shifted(0)


def child(mode: str, cells_dir: str, epochs: int, seed_offset: int = 0) -> None:
    """Run the numbered cell files of one section in one namespace; print one JSON line per cell
    (with what the cell printed)."""
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
    if seed_offset:
        move_random_streams(seed_offset)
    import d2l.torch as d2l_torch

    original_init = d2l_torch.Trainer.__init__

    def cut_init(self, max_epochs, *args, **kwargs):  # same cut for both frameworks
        original_init(self, min(max_epochs, epochs), *args, **kwargs)

    d2l_torch.Trainer.__init__ = cut_init
    report = sys.stdout
    namespace: dict = {"__name__": "__main__", "tab": PytorchTab()}
    for cell in sorted(Path(cells_dir).glob("cell_*.py")):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                run_cell(cell.read_text(), str(cell), namespace)
            result = {"cell": cell.name, "ok": True}
        except BaseException as err:  # noqa: BLE001 - every failure is a result here
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            result = {"cell": cell.name, "ok": False, "error": last[:300]}
        result["out"] = printed.getvalue()[:20000]
        print(json.dumps(result), file=report, flush=True)


# -- comparing printed values -----------------------------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")
TIMING = re.compile(r"\btime\b|Timer|timeit|perf_counter|benchmark", re.I)
INTROSPECTION = re.compile(r"\b(help|dir)\(")  # lists names / docstrings: brickwork's own, by design


def normalise(text: str) -> str:
    """Framework names and layout out of the way: ``brickwork.`` reads ``torch.``, white space runs
    are one space (column widths follow the widest number, which may differ in the last digit)."""
    text = re.sub(r"\bbrickwork\.", "torch.", text)
    return re.sub(r"\s+", " ", text).strip()


def _unit(token: str) -> float:
    """One unit in the last digit printed; 0 for a number printed without decimals (``2.`` or ``7``:
    exact in torch's formats)."""
    mantissa, _, exponent = token.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    if not places and not exponent:
        return 0.0
    return 10.0 ** (int(exponent or 0) - places)


def first_difference(expected: str, found: str) -> str | None:
    """None when the two outputs agree; else a short description of the first difference. Text must
    be equal; numbers within one unit of the last digit printed (plus 1e-4 relative; numbers printed
    without decimals within 1e-4 relative only)."""
    a, b = normalise(expected), normalise(found)
    a_parts, b_parts = NUMBER.split(a), NUMBER.split(b)
    a_nums, b_nums = NUMBER.findall(a), NUMBER.findall(b)
    if len(a_nums) != len(b_nums) or a_parts != b_parts:
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return f"text: torch {a[max(at - 30, 0):at + 40]!r} vs brickwork {b[max(at - 30, 0):at + 40]!r}"
    for x, y in zip(a_nums, b_nums):
        fx, fy = float(x), float(y)
        if math.isnan(fx) and math.isnan(fy) or fx == fy:
            continue
        unit = max(_unit(x), _unit(y))
        if not abs(fx - fy) <= 1.01 * unit + 1e-4 * max(abs(fx), abs(fy)):
            return f"number: torch {x} vs brickwork {y}"
    return None


def compare_values(cells: list[str], real: list[dict], moved: list[dict], ours: list[dict]) -> dict:
    """Per section: which cells' printed values agree, differ, or are skipped (and why)."""
    counts = {"agree": 0, "differ": 0, "random": 0, "timing": 0, "introspection": 0, "silent": 0}
    differing = []
    for code, r, m, o in zip(cells, real, moved, ours, strict=True):
        if not (r["ok"] and o["ok"]):
            continue
        if not r["out"].strip():
            counts["silent"] += 1
        elif TIMING.search(code):
            counts["timing"] += 1
        elif INTROSPECTION.search(code):
            counts["introspection"] += 1
        elif not m["ok"] or m["out"] != r["out"]:
            counts["random"] += 1
        else:
            why = first_difference(r["out"], o["out"])
            counts["differ" if why else "agree"] += 1
            if why:
                differing.append(f"{o['cell']}: {why}")
    counts["differing"] = differing
    return counts


def run_section(mode: str, cells_dir: Path, env: dict, work: Path, epochs: int, timeout: int,
                seed_offset: int = 0) -> list[dict]:
    """Results per cell of one section in one mode (a timeout fails the remaining cells)."""
    cmd = [sys.executable, __file__, "--child", mode, str(cells_dir), "--epochs", str(epochs),
           "--seed-offset", str(seed_offset)]
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
        results.append({"cell": f"cell_{len(results):03d}.py", "ok": False, "error": why, "out": ""})
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

    print(f"{'section':58} {'cells':>5} {'torch':>5} {'bw':>5} {'agree':>5} {'differ':>6}  "
          "first brickwork failure (torch OK)")
    for chapter in args.chapters:
        files = [f for f in git(args.snapshot, "ls-tree", "--name-only", f"HEAD:{chapter}").split()
                 if f.endswith(".md") and f != "index.md" and re.search(args.sections, f)]
        totals = dict.fromkeys(("cells", "torch", "bw", "both", "agree", "differ", "random", "timing",
                                "introspection", "silent"), 0)
        differing: list[str] = []
        for name in files:
            cells = pytorch_cells(git(args.snapshot, "show", f"HEAD:{chapter}/{name}"))
            if not cells:
                continue
            cells_dir = tmp / "cells" / chapter / name[:-3]
            cells_dir.mkdir(parents=True)
            for i, code in enumerate(cells):
                (cells_dir / f"cell_{i:03d}.py").write_text(code)
            real = run_section("torch", cells_dir, env, work, args.epochs, args.timeout)
            moved = run_section("torch", cells_dir, env, work, args.epochs, args.timeout, seed_offset=1000)
            ours = run_section("brickwork", cells_dir, env_bw, work, args.epochs, args.timeout)
            values = compare_values(cells, real, moved, ours)
            both = sum(1 for r, o in zip(real, ours, strict=True) if r["ok"] and o["ok"])
            first = next((f"{o['cell']}: {o['error']}" for r, o in zip(real, ours, strict=True)
                          if r["ok"] and not o["ok"]), "")
            n_torch, n_bw = sum(r["ok"] for r in real), sum(o["ok"] for o in ours)
            for key, value in (("cells", len(cells)), ("torch", n_torch), ("bw", n_bw), ("both", both)):
                totals[key] += value
            for key in ("agree", "differ", "random", "timing", "introspection", "silent"):
                totals[key] += values[key]
            differing += [f"{name[:-3]}/{d}" for d in values["differing"]]
            if not n_torch:  # nothing to compare with: say why torch itself failed
                first = f"torch failed: {real[0]['error']}"
            print(f"  {name[:56]:56} {len(cells):5} {n_torch:5} {n_bw:5} {values['agree']:5} "
                  f"{values['differ']:6}  {first[:200]}", flush=True)
        print(f"{chapter:58} {totals['cells']:5} {totals['torch']:5} {totals['bw']:5} {totals['agree']:5} "
              f"{totals['differ']:6}  (both OK: {totals['both']}; values skipped: random {totals['random']}, "
              f"timing {totals['timing']}, help/dir {totals['introspection']}, no output {totals['silent']})",
              flush=True)
        for line in differing:
            print(f"    differs: {line[:300]}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # --child MODE CELLS_DIR --epochs N --seed-offset K
        child(sys.argv[2], sys.argv[3], int(sys.argv[5]), int(sys.argv[7]))
    else:
        main()
