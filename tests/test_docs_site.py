"""The documentation's shape: a short README that reaches every guide, a reference for every public module.

`mkdocs build --strict` (run by `make test` and `make docs`) checks links, anchors and the nav
itself; these tests check what the build cannot know, and run without MkDocs installed.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
GUIDES = sorted(p.relative_to(ROOT).as_posix() for p in (DOCS / "guides").glob("*.md"))

# entry points a user imports by name, though no __all__ lists them
ENTRY_POINTS = ["brickwork", "brickwork.torch", "brickwork.testing", "brickwork.vision"]


def test_readme_is_short():
    size = len(README.encode("utf-8"))
    assert size < 12 * 1024, f"README.md is {size} bytes: move detail into docs/ (the aim is ~12 KB)"


def test_readme_reaches_every_guide_and_the_reference_in_one_click():
    links = set(re.findall(r"\]\((docs/[^)#\s]+)", README))
    missing = [g for g in [*GUIDES, "docs/reference/index.md", "docs/getting-started.md"] if g not in links]
    assert not missing, f"README.md does not link to {missing}"


def _slug(title: str) -> str:
    # the anchors MkDocs (toc) and GitHub give a heading
    title = re.sub(r"[`*]", "", title).strip().lower()
    return re.sub(r"\s+", "-", re.sub(r"[^\w\s-]", "", title))


def test_readme_links_into_docs_point_at_pages_and_headings_that_exist():
    broken = []
    for target in re.findall(r"\]\((docs/[^)\s]+)", README):
        page, _, anchor = target.partition("#")
        path = ROOT / page
        if not path.is_file():
            broken.append(target)
        elif anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert not broken, broken


def test_readme_keeps_the_drop_in_section_with_the_three_ways_and_the_limits():
    # issue 11: a README section under this title lists the three ways and the limits
    title = "## Running existing PyTorch code and Dive into Deep Learning\n"
    assert title in README
    section = README.split(title, 1)[1].split("\n## ", 1)[0]
    for way in ("python -m brickwork.torch", "%load_ext brickwork.torch", "brickwork.torch.install()"):
        assert way in section, way
    for limit in ("not provided", "random streams", "safetensors", "num_workers", "docs/guides/dropin.md"):
        assert limit in section, limit
    guide = (DOCS / "guides" / "dropin.md").read_text(encoding="utf-8")
    assert "## Limits" in guide and "Not yet provided" in guide


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = set(re.findall(r"^\s*- (?:[^:\n]+: )?([\w/.-]+\.md)\s*$", MKDOCS, flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert nav - pages == set(), f"nav entries without a page: {sorted(nav - pages)}"
    assert pages - nav == set(), f"pages missing from the nav in mkdocs.yml: {sorted(pages - nav)}"


def _public_modules() -> set[str]:
    """The modules a user reaches: the entry points and every module their __all__ lists."""
    found: set[str] = set()
    todo = list(ENTRY_POINTS)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            value = getattr(module, attr)
            if isinstance(value, types.ModuleType) and value.__name__.startswith("brickwork"):
                todo.append(value.__name__)
    return found


def test_every_public_module_has_an_api_reference_entry():
    documented = set()
    for page in (DOCS / "reference").glob("*.md"):
        documented |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M))
    missing = sorted(m for m in _public_modules() if m not in documented)
    assert not missing, f"public modules with no `::: name` in docs/reference/: {missing}"


def test_the_reference_extension_fences_doctests_and_drops_sphinx_roles():
    pytest.importorskip("griffe")  # the docs extra (part of the test extra)
    path = ROOT / "scripts" / "mkdocs_docstrings.py"
    spec = importlib.util.spec_from_file_location("mkdocs_docstrings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert doctest.testmod(module).failed == 0
    text = "Intro.\n\n    >>> f(1)\n    [1]\n    >>> g()\n\n```python\n>>> kept\n```\nSee :meth:`Tensor.add`."
    out = module.markdown_docstring(text)
    assert out == ("Intro.\n\n    ```pycon\n    >>> f(1)\n    [1]\n    >>> g()\n    ```\n\n"
                   "```python\n>>> kept\n```\nSee `Tensor.add`.")
    assert module.markdown_docstring("ends\n>>> 1\n1") == "ends\n```pycon\n>>> 1\n1\n```"
