"""Rewrite the literal ``__all__`` lists of ``brickwork`` and ``brickwork.nn`` from what they define.

Type checkers read a package's re-exports from a literal ``__all__`` (``mypy --strict`` reports
"Module does not explicitly export attribute" otherwise), so the lists are written out in full.
tests/test_typing.py fails when they are out of date; then run:

    PYTHONPATH=src python scripts/update_all.py
"""

from __future__ import annotations

import os
import re
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "# --- public names (scripts/update_all.py writes this list; tests/test_typing.py checks it) ---"
END = "# --- end of public names ---"


# the submodules that are part of the API (the others are implementation files)
PUBLIC_SUBMODULES = {
    "brickwork": {"autograd", "backends", "cuda", "data", "distributed", "distributions", "dtypes",
                  "hub", "io", "jit", "linalg", "nn", "optim", "random", "testing", "train", "utils",
                  "vision"},
    "brickwork.nn": {"functional", "init", "parallel", "utils"},
}


def public_names(module: types.ModuleType) -> list[str]:
    """Names a user may import from ``module``: no private names, no ``from __future__`` flags, and
    only the submodules that are part of the API."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or name == "annotations":
            continue
        if isinstance(value, types.ModuleType) and name not in PUBLIC_SUBMODULES[module.__name__]:
            continue
        names.append(name)
    return sorted(names)


def catalogue_names(module: types.ModuleType) -> list[str]:
    """The layer catalogue: every name in the ``__all__`` of the layer modules it imports."""
    names: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, types.ModuleType) and value.__name__.startswith("brickwork.nn."):
            names.update(getattr(value, "__all__", ()))
    return sorted(names)


def render(names: list[str]) -> str:
    lines, line = [], "   "
    for name in names:
        item = f' "{name}",'
        if len(line) + len(item) > 108:
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    return "\n".join([BEGIN, "__all__ = [", *lines, "]", END])


def block_of(path: str) -> str | None:
    with open(path) as fh:
        text = fh.read()
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, flags=re.S)
    return match.group(0) if match else None


def update(path: str, module: types.ModuleType) -> bool:
    with open(path) as fh:
        text = fh.read()
    new = expected(path, module)
    old = block_of(path)
    if old == new:
        return False
    text = text.replace(old, new) if old else text.rstrip("\n") + "\n\n\n" + new + "\n"
    with open(path, "w") as fh:
        fh.write(text)
    return True


def targets() -> list[tuple[str, types.ModuleType]]:
    import brickwork
    import brickwork.nn
    import brickwork.nn._catalogue

    package = os.path.join(ROOT, "src", "brickwork")
    return [(os.path.join(package, "__init__.py"), brickwork),
            (os.path.join(package, "nn", "_catalogue.py"), brickwork.nn._catalogue),
            (os.path.join(package, "nn", "__init__.py"), brickwork.nn)]


def expected(path: str, module: types.ModuleType) -> str:
    if module.__name__ == "brickwork.nn._catalogue":
        return render(catalogue_names(module))
    return render([n for n in public_names(module) if n != "__all__"])


if __name__ == "__main__":
    # run in a fresh process: what `import brickwork` alone defines (no submodule imported by others)
    if sys.argv[1:] == ["--check"]:
        stale = [path for path, module in targets() if block_of(path) != expected(path, module)]
        print("out of date: " + ", ".join(stale) if stale else "up to date")
        sys.exit(1 if stale else 0)
    changed = [path for path, module in targets() if update(path, module)]
    print("updated: " + ", ".join(changed) if changed else "up to date")
    sys.exit(0)
