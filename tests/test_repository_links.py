"""No document in the repository links outside it (users have only the repository)."""

from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIBLING = "../" + "shared" + "/"  # the engineers' notes beside the checkout, which users never have
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "site", "build")]
        for name in files:
            if name.endswith(".md"):
                yield os.path.join(folder, name)


def test_relative_links_stay_inside_the_repository():
    outside = []
    for path in _markdown_files():
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # URLs and anchors
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
            if not resolved.startswith(ROOT + os.sep):
                outside.append(f"{os.path.relpath(path, ROOT)} -> {target}")
        if SIBLING in text:
            outside.append(f"{os.path.relpath(path, ROOT)} mentions {SIBLING}")
    assert not outside, outside
