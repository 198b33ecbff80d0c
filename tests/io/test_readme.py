"""The examples in the README section "Saving and loading" run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- section: files -->")
    end = text.index("\n## ", start)
    return text[start:end]


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    model = namespace["model"]
    assert type(model).__name__ == "Sequential" and type(model[0]).__name__ == "MLP"
    assert namespace["start_epoch"] == 4


def test_readme_structure_example_is_what_save_writes(tmp_path):
    import safetensors

    import brickwork as bw

    w = bw.ones(2)
    path = tmp_path / "example.safetensors"
    bw.save({"model": {"w": w, "w_tied": w}, "epoch": 3, "hist": (0.5,)}, path)
    with safetensors.safe_open(path, framework="np") as f:
        assert list(f.keys()) == ["model.w"]
        written = json.loads(f.metadata()["brickwork.structure"])
    shown = re.search(r"```json\n(.*?)```", _section(), flags=re.S).group(1)
    assert written == json.loads(shown)
