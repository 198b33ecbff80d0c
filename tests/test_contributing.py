"""The Python examples of CONTRIBUTING.md run as written, in order in one namespace, doctests included."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", CONTRIBUTING.read_text(encoding="utf-8"), flags=re.S)


def test_contributing_has_the_worked_op_example():
    assert any("class LogCosh(Function)" in block for block in _blocks())


def test_contributing_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "contributing"}
    for block in _blocks():
        exec(compile(block, str(CONTRIBUTING), "exec"), namespace)
    # the docstrings the examples define are doctests too
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    functions = [value for value in namespace.values()
                 if callable(value) and getattr(value, "__module__", "") == "contributing"]
    assert functions
    for fn in functions:
        for test in finder.find(fn, globs=dict(namespace)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
