"""brickwork is a typed package: py.typed ships, public re-exports are literal ``__all__`` lists (kept
current by scripts/update_all.py), and ``mypy --strict`` on a user script finds every name typed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")

USER_SCRIPT = textwrap.dedent('''
    import brickwork as bw
    from brickwork import nn


    def build() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))


    def main(path: str) -> float:
        bw.manual_seed(0)
        net = build()
        x = bw.randn(3, 1, 6, 6)
        loss = nn.functional.mse_loss(net(x), bw.zeros(3, 2))
        loss.backward()
        opt = bw.optim.SGD(net.parameters(), lr=0.1)
        opt.step()
        bw.save(net.state_dict(), path)
        net.load_state_dict(bw.load(path))
        loader = bw.data.DataLoader(bw.data.TensorDataset(x, bw.zeros(3)), batch_size=2)
        for xb, _ in loader:
            net(xb)
        return float(loss.item())
''')


def test_py_typed_ships_with_the_package():
    assert os.path.exists(os.path.join(SRC, "brickwork", "py.typed"))


def test_the_literal_all_lists_are_current():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "update_all.py"), "--check"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": SRC})
    assert res.returncode == 0, (res.stdout + res.stderr
                                 + "\nrun: PYTHONPATH=src python scripts/update_all.py")


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_on_a_user_script_sees_typed_public_names(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    # brickwork's own modules are followed silently, as for an installed package
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                          "--cache-dir", str(tmp_path / "cache"), "--no-color-output", str(script)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "MYPYPATH": SRC})
    out = res.stdout + res.stderr
    assert "missing library stubs" not in out and "py.typed" not in out
    assert "untyped" not in out, out
    assert res.returncode == 0, out
