"""Drop-in mode (brickwork.torch; this folder is not named tests/torch because conftest puts tests/ on
sys.path, where a torch/ folder would shadow the real torch). The test session imports real torch as
the oracle, so every check that needs ``import torch`` to mean brickwork runs in a fresh subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")


def run_python(
    code: str, *args: str, module: bool = False, cwd: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``code`` (or, with module=True, ``python -m brickwork.torch <code as file> args``)."""
    env = dict(os.environ, PYTHONPATH=SRC)
    if module:
        cmd = [sys.executable, "-m", "brickwork.torch", code, *args]
    else:
        cmd = [sys.executable, "-c", textwrap.dedent(code), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=cwd)


def check(code: str) -> str:
    """Run ``code`` in a subprocess, fail with its stderr if it fails, return its stdout."""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_imports_that_tutorials_use_work():
    out = check("""
        import brickwork, brickwork.torch
        brickwork.torch.install()
        import torch
        from torch import nn
        import torch.nn.functional as F
        from torch.utils.data import DataLoader, TensorDataset
        from torch.nn import init
        import torch.optim.lr_scheduler, torch.backends.cudnn, torch.jit, torch.hub, torch.testing
        from torch.nn.parameter import Parameter
        assert torch.nn is nn and nn.Linear is brickwork.nn.Linear and F.relu is brickwork.nn.functional.relu
        assert DataLoader is brickwork.data.DataLoader and Parameter is brickwork.nn.Parameter
        assert torch.utils.data.TensorDataset is TensorDataset
        x = torch.ones(2, 3)
        print(x.dtype, torch.int64, type(x).__module__ + "." + type(x).__name__, isinstance(x, torch.Tensor))
        print(type(nn.Linear(2, 3).weight))
    """)
    assert out.splitlines() == [
        "torch.float32 torch.int64 torch.Tensor True",
        "<class 'torch.nn.parameter.Parameter'>",
    ]


def test_distribution_submodule_paths_and_vision_import():
    out = check("""
        import brickwork, brickwork.torch
        brickwork.torch.install()
        from torch.distributions.multinomial import Multinomial
        from torch.distributions.normal import Normal
        import torchvision
        from torchvision import transforms
        assert Multinomial is brickwork.distributions.Multinomial and Normal is brickwork.distributions.Normal
        print(transforms.ToTensor is brickwork.vision.transforms.ToTensor)
    """)
    assert out.split() == ["True"]


def test_round_trip_leaves_sys_modules_and_reprs_as_before():
    # A first round loads brickwork's own modules behind the proxies (they stay loaded, as any
    # imported module does); the second round must then leave sys.modules exactly as it found it.
    out = check("""
        import sys
        import brickwork, brickwork.torch
        for round in range(2):
            if round == 1:
                before = dict(sys.modules); meta = list(sys.meta_path)
            brickwork.torch.install()
            import torch, torch.nn.functional, torch.utils.data, torch.backends.cudnn
            assert repr(torch.float32) == "torch.float32" and torch.compile(len) is len
            brickwork.torch.uninstall()
        assert dict(sys.modules) == before, set(sys.modules) ^ set(before)
        assert sys.meta_path == meta
        assert repr(brickwork.float32) == "brickwork.float32"
        assert brickwork.Tensor.__module__ == "brickwork.tensor"
        try:
            import torch
        except ImportError:
            print("no torch")
        else:
            print("real torch" if not hasattr(torch, "_brickwork_target") else "still brickwork")
    """)
    assert out.strip() in ("no torch", "real torch")


@pytest.mark.parametrize("first", ["torch", "torch.nn"])
def test_refuses_when_real_torch_is_imported(first):
    result = run_python(f"""
        import importlib, brickwork.torch
        importlib.import_module({first!r})
        brickwork.torch.install()
    """)
    assert result.returncode == 1
    assert "the real torch is already imported" in result.stderr and "RuntimeError" in result.stderr


def test_missing_names_name_themselves():
    out = check("""
        import brickwork.torch
        brickwork.torch.install()
        import torch
        from torch.nn import Linear
        assert not hasattr(torch, "no_such_function") and not hasattr(torch.nn, "NoSuchLayer")
        for get in (lambda: torch.no_such_function, lambda: torch.nn.NoSuchLayer, lambda: torch.fft.rfft):
            try:
                get()
            except AttributeError as err:
                print(type(err).__name__, "|", err)
        try:
            import torch.fft
        except ImportError as err:
            print(type(err).__name__, "|", err)
        try:
            from torch.fft import rfft  # noqa: F401
        except ImportError as err:
            print(type(err).__name__, "|", err)
        try:
            import torch.no_such_module
        except ModuleNotFoundError as err:
            print(type(err).__name__, "|", err)
    """)
    lines = out.splitlines()
    assert lines[0].startswith("NotProvidedError | torch.no_such_function is not provided by brickwork")
    assert lines[1].startswith("NotProvidedError | torch.nn.NoSuchLayer is not provided by brickwork")
    assert lines[2].startswith("NotProvidedError | torch.fft is not provided by brickwork")
    assert lines[3].startswith("ModuleNotProvidedError | torch.fft is not provided by brickwork")
    assert lines[4].startswith("ModuleNotProvidedError | torch.fft is not provided by brickwork")
    assert lines[5].startswith("ModuleNotProvidedError | torch.no_such_module is not provided by brickwork")


def test_names_added_to_brickwork_later_appear():
    out = check("""
        import brickwork, brickwork.torch
        brickwork.torch.install()
        import torch
        print(hasattr(torch, "brand_new_op"))
        brickwork.brand_new_op = lambda: 42
        print(torch.brand_new_op())
    """)
    assert out.split() == ["False", "42"]


def test_unmapped_target_module_gives_clear_error_not_crash():
    out = check("""
        import brickwork.torch
        brickwork.torch.MODULE_MAP["torch.future_thing"] = "brickwork.future_thing_not_there"
        brickwork.torch.install()
        import torch
        try:
            import torch.future_thing
        except ImportError as err:
            print(err)
    """)
    assert "torch.future_thing is not provided by brickwork" in out
    assert "brickwork.future_thing_not_there does not exist" in out


TUTORIAL = """\
import sys
import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X = torch.randn(64, 3)
y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1
loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
opt = torch.optim.Adam(net.parameters(), lr=0.05)
for epoch in range(30):
    for xb, yb in loader:
        loss = F.mse_loss(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    final = F.mse_loss(net(X), y).item()
print(__name__, sys.argv[1:], type(X), X.dtype, final < 0.05)
if sys.argv[1:] == ["fail"]:
    raise ValueError("asked to fail")
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"""


def test_python_dash_m_runs_a_tutorial_script(tmp_path):
    script = tmp_path / "tutorial.py"
    script.write_text(TUTORIAL)
    ok = run_python(str(script), "--flag", module=True, cwd=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "__main__ ['--flag'] <class 'torch.Tensor'> torch.float32 True"
    assert run_python(str(script), "3", module=True).returncode == 3
    failed = run_python(str(script), "fail", module=True)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Traceback (most recent call last):\n")
    assert f'File "{script}", line' in failed.stderr and "runpy" not in failed.stderr
    assert failed.stderr.strip().endswith("ValueError: asked to fail")
    missing = run_python(str(tmp_path / "nope.py"), module=True)
    assert missing.returncode == 2 and "nope.py" in missing.stderr


def test_ipython_extension_with_a_fake_shell():
    out = check("""
        import sys, types
        import brickwork.torch
        shell = types.SimpleNamespace(user_ns={})
        brickwork.torch.load_ipython_extension(shell)
        import torch
        print(torch.zeros(1).dtype, brickwork.torch.is_installed())
        brickwork.torch.unload_ipython_extension(shell)
        print(brickwork.torch.is_installed(), "torch" in sys.modules)
    """)
    assert out.split() == ["torch.float32", "True", "False", "False"]


def test_ipython_extension_with_real_ipython():
    pytest.importorskip("IPython")
    out = check("""
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        ip.run_line_magic("load_ext", "brickwork.torch")
        ip.run_cell("import torch; x = torch.ones(2)")
        print(ip.user_ns["x"].dtype)
    """)
    assert out.strip().endswith("torch.float32")


def test_outside_drop_in_mode_names_stay_brickwork():
    import brickwork as bw
    import brickwork.torch  # noqa: F401  (importing does not install)

    assert repr(bw.float32) == "brickwork.float32"
    assert bw.Tensor.__module__ == "brickwork.tensor"
    assert isinstance(sys.modules.get("torch"), (types.ModuleType, type(None)))
    assert not hasattr(sys.modules.get("torch"), "_brickwork_target")


def test_runtime_api_is_forwarded_in_drop_in_mode():
    out = check("""
        import brickwork.torch
        brickwork.torch.install()
        import torch
        from torch import nn
        torch.set_default_dtype(torch.float64)
        print(torch.get_default_dtype(), torch.zeros(1).dtype, nn.Linear(1, 1).weight.dtype)
        torch.set_default_dtype(torch.float32)
        print(torch.finfo(torch.float32).eps, torch.iinfo(torch.int8).max)
        torch.testing.assert_close(torch.ones(2), torch.ones(2))
        torch.backends.cudnn.benchmark = True
        print(torch.backends.cudnn.benchmark, torch.backends.mps.is_available(), torch.cuda.is_available())
        net = nn.Linear(2, 1)
        print(torch.compile(net) is net, torch.jit.script(net)(torch.ones(1, 2)).shape)
        print(torch.hub.get_dir().endswith("hub"), torch.float32 == torch.float, torch.Tensor,
              type(torch.ones(1).shape))
        torch.set_printoptions(precision=2)
        print(torch.tensor([1.23456]))
    """)
    assert out.splitlines() == [
        "torch.float64 torch.float64 torch.float64",
        "1.1920928955078125e-07 127",
        "True False False",
        "True torch.Size([1, 1])",
        "True True <class 'torch.Tensor'> <class 'torch.Size'>",
        "tensor([1.23])",
    ]
