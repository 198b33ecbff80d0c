"""A griffe extension for the API reference (mkdocs.yml loads it): docstrings as Markdown.

brickwork's docstrings are plain text with doctest examples (``>>>``, run by the test suite) and
the occasional Sphinx role (:func:`fmod`). mkdocstrings renders docstrings as Markdown, where a
doctest is ordinary text (its output ``['a', 'b']`` even reads as a link) and a role is noise.
This extension, applied to every docstring as griffe loads it:

* puts each doctest run (from a ``>>>`` line to the next blank line) in a ```pycon fence;
* turns Sphinx roles into inline code (:func:`fmod` -> `fmod`).

Text inside existing fences is left alone. Nothing in the source files changes.

It also lists the Tensor methods that ``brickwork/ops/__init__.py`` installs at import time (``x.exp()``,
``x.sum()``, ...), which griffe's static analysis of ``tensor.py`` cannot see: each becomes a method of
``brickwork.Tensor`` with the signature and docstring of the function behind it.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import griffe

SRC = Path(__file__).resolve().parents[1] / "src"

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|obj|data|exc|const|term|ref):`~?([^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_docstring(text: str) -> str:
    """The docstring with doctests fenced and Sphinx roles as inline code.

    >>> markdown_docstring("Sum (see :func:`add`).\\n\\n>>> 1 + 1\\n2\\n\\nDone.").split("\\n")
    ['Sum (see `add`).', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'Done.']
    """
    out: list[str] = []
    in_fence = in_doctest = False
    indent = ""
    for line in text.split("\n"):
        if in_doctest and not line.strip():
            out.append(f"{indent}```")
            in_doctest = False
        if not in_doctest and FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if not in_fence and not in_doctest and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            in_doctest = True
        out.append(line if in_fence or in_doctest else ROLE.sub(r"`\1`", line))
    if in_doctest:
        out.append(f"{indent}```")
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    """Rewrites each docstring with ``markdown_docstring`` as griffe creates the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name == "brickwork":
            add_tensor_methods(pkg, loader)


def add_tensor_methods(pkg: griffe.Module, loader: griffe.GriffeLoader) -> None:
    """Give the static ``brickwork.Tensor`` the methods the running package has installed on it."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    runtime = importlib.import_module("brickwork").Tensor
    cls = pkg["tensor.Tensor"]
    for name, value in vars(runtime).items():
        if name.startswith("_") or name in cls.members or not inspect.isfunction(value):
            continue
        target = loader.modules_collection.get_member(f"{value.__module__}.{value.__qualname__}") \
            if "<locals>" not in value.__qualname__ else None
        if isinstance(target, griffe.Alias):
            target = target.final_target
        cls.set_member(name, _method(name, value, target if isinstance(target, griffe.Function) else None))


def _method(name: str, fn: Any, target: griffe.Function | None) -> griffe.Function:
    """A method named ``name`` of Tensor for ``fn``: its first parameter (the tensor) becomes ``self``."""
    if target is not None:
        params = list(target.parameters)
        doc = target.docstring.value if target.docstring else None
    else:
        params = [griffe.Parameter(p.name, kind=griffe.ParameterKind(p.kind.description),  # same names
                                   default=None if p.default is p.empty else repr(p.default))
                  for p in inspect.signature(fn).parameters.values()]
        doc = markdown_docstring(inspect.cleandoc(fn.__doc__)) if fn.__doc__ else None
    if params and params[0].kind in (griffe.ParameterKind.positional_only,
                                     griffe.ParameterKind.positional_or_keyword):
        first = params[0]
        params[0] = griffe.Parameter("self", kind=first.kind)
    method = griffe.Function(name, parameters=griffe.Parameters(*params))
    if doc:
        method.docstring = griffe.Docstring(doc, parent=method)
    return method
