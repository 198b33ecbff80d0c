"""Every ```python block of the README runs, section by section, as a reader would run it.

Blocks of one ``## `` section share a namespace and run in order in a scratch folder.
The "Saving and loading" section has its own, stricter test in tests/io/test_readme.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
COVERED_ELSEWHERE = {"Saving and loading"}


def _sections() -> dict[str, list[str]]:
    text = README.read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    for part in re.split(r"\n## ", text)[1:]:
        title, _, body = part.partition("\n")
        blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
        if blocks and title.strip() not in COVERED_ELSEWHERE:
            sections[title.strip()] = blocks
    return sections


SECTIONS = _sections()


def test_readme_has_runnable_examples_for_the_core_sections():
    for title in ("Tensors and autograd", "Building blocks"):
        assert title in SECTIONS, f"README section {title!r} has no python example"


@pytest.mark.parametrize("title", sorted(SECTIONS))
def test_readme_section_runs(title, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for i, block in enumerate(SECTIONS[title]):
        exec(compile(block, f"README.md [{title} #{i + 1}]", "exec"), namespace)
