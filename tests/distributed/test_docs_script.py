"""train.py of docs/guides/distributed.md runs on 2 processes and prints what the page shows."""

from __future__ import annotations

from pathlib import Path

import test_docs_examples as docs  # tests/ is on sys.path (tests/conftest.py)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "distributed.md"
COMMAND = "mpiexec -n 2 python train.py"


def _blocks() -> tuple[docs.Block, docs.Block]:
    blocks = docs.parse(PAGE)
    (script,) = [b for b in blocks if b.kind == "file" and b.title == "train.py"]
    (shown,) = [b for b in blocks if b.command == COMMAND]
    return script, shown


def test_training_script_runs_on_2_processes_and_prints_what_the_page_shows(run_mpi, tmp_path):
    import brickwork as bw
    from brickwork import nn

    script, shown = _blocks()
    (tmp_path / "train.py").write_text(script.code, encoding="utf-8")
    out = run_mpi(2, str(tmp_path / "train.py"), cwd=tmp_path).stdout
    shown.output = shown.code
    docs._check_output(shown, out)  # one line per epoch, from rank 0 only
    net = nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))
    net.load_state_dict(bw.load(tmp_path / "digits_mlp.safetensors"))  # a plain model loads it
    test = bw.data.datasets.Digits(train=False)
    X, y = bw.stack([test[i][0] for i in range(len(test))]), bw.tensor([test[i][1] for i in range(len(test))])
    assert float((net(X).argmax(1) == y).float().mean()) > 0.85
