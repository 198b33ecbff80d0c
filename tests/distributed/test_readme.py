"""The training script in the README section "Training on several GPUs or machines" runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _script() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- section: distributed -->")
    end = text.index("\n## ", start)
    (block,) = re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)
    return block


def test_readme_training_script_runs_on_2_processes(run_mpi, tmp_path):
    import brickwork as bw
    from brickwork import nn

    script = tmp_path / "train.py"
    script.write_text(_script(), encoding="utf-8")
    out = run_mpi(2, str(script), cwd=tmp_path).stdout
    losses = [float(v) for v in re.findall(r"epoch \d: loss ([\d.]+)", out)]
    assert len(losses) == 3 and losses[-1] < 0.5, out  # printed once per epoch (rank 0 only)
    net = nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))
    net.load_state_dict(bw.load(tmp_path / "digits_mlp.safetensors"))  # a plain model loads it
    test = bw.data.datasets.Digits(train=False)
    X, y = bw.stack([test[i][0] for i in range(len(test))]), bw.tensor([test[i][1] for i in range(len(test))])
    assert float((net(X).argmax(1) == y).float().mean()) > 0.85
