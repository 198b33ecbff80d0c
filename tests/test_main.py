"""The command line: help, one-line argument errors, the demo, train with checkpoints and --resume."""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import brickwork as bw
from brickwork.__main__ import main


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _exit(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["train", "--help"]])
def test_help_is_clear(capsys, argv):
    code, out, _ = _exit(capsys, *argv)
    assert code == 0 and "usage: python -m brickwork" in out
    if argv[0] == "train":
        for option in ("--model", "--dataset", "--epochs", "--batch-size", "--lr", "--optimizer", "--device",
                       "--data-dir", "--out", "--resume", "{mlp,lenet}", "digits,mnist,fashion-mnist"):
            assert option in out, option
    if argv[0] == "demo":
        assert "--out" in out and "runs/demo" in out


@pytest.mark.parametrize(("argv", "needle"), [
    (["train", "--epochs", "0"], "--epochs: expected a positive int, got '0'"),
    (["train", "--lr", "fast"], "--lr: expected a positive float, got 'fast'"),
    (["train", "--model", "resnet"], "--model: invalid choice: 'resnet'"),
    (["train", "--dataset", "cifar"], "--dataset: invalid choice: 'cifar'"),
    (["train", "--optimizer", "lbfgs"], "--optimizer: invalid choice"),
    (["train", "--device", "tpu"], "unknown device type 'tpu'"),
    (["train", "--device", "cuda:7"], "CUDA device(s)"),
    (["demo", "--batch-size", "-3"], "--batch-size: expected a positive int"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_arguments_give_one_line_errors(capsys, argv, needle):
    code, out, err = _exit(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and err.startswith("python -m brickwork")


def test_no_subcommand_prints_the_help(capsys):
    code, out, err = _run(capsys)
    assert code == 0 and err == ""
    assert out.startswith("usage: python -m brickwork") and "demo" in out and "train" in out
    assert "--version" in out


def test_version(capsys):
    code, out, _ = _exit(capsys, "--version")
    assert code == 0 and out == f"brickwork {bw.__version__}\n"


def test_the_console_script_calls_itself_brickwork(tmp_path):
    # what the installed `brickwork` script does: argv[0] is its path, then main() with no arguments
    script = ("import sys; sys.argv[0] = '/usr/local/bin/brickwork'; "
              "from brickwork.__main__ import main; sys.exit(main())")
    for args, stream, code in ((["--help"], "stdout", 0), (["train", "--epochs", "0"], "stderr", 2)):
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                              timeout=120)
        text = getattr(done, stream)
        assert done.returncode == code, done.stderr
        assert text.startswith("usage: brickwork ") or text.startswith("brickwork train: error:"), text
        assert "python -m" not in text


@pytest.mark.parametrize("where", ["file", "below a file"])
def test_out_that_cannot_be_a_folder_is_a_one_line_error(capsys, tmp_path, where):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    out_dir = existing if where == "file" else existing / "run"
    code, out, err = _exit(capsys, "train", "--out", str(out_dir), "--device", "cpu")
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert f"--out {out_dir}: " in err and ("exists and is not a folder" in err or "is not a folder" in err)
    assert existing.read_text() == "keep me"


def test_quiet_prints_only_the_result_and_no_progress_keeps_epoch_lines(capsys, tmp_path):
    common = ["train", "--model", "mlp", "--epochs", "2", "--device", "cpu"]
    code, out, err = _run(capsys, *common, "--out", str(tmp_path / "q"), "--quiet")
    assert code == 0 and err == ""
    assert re.fullmatch(r"test accuracy: 0\.\d{4}\n", out), out
    code, out, err = _run(capsys, *common, "--out", str(tmp_path / "n"), "--no-progress")
    assert code == 0 and "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: train_loss ") and "val_acc" in lines[1], err


def test_demo_runs_saves_reloads_and_ends_with_the_accuracy(capsys, tmp_path):
    code, out, _ = _run(capsys, "demo", "--out", str(tmp_path / "demo"), "--epochs", "2", "--no-progress",
                        "--device", "cpu")
    assert code == 0
    lines = out.strip().splitlines()
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", lines[-1])
    assert "Total params" in out and "pending" in out
    assert "BLAS on 1 thread(s)" in lines[0] or "BLAS threads left as chosen" in lines[0], lines[0]
    assert out.count("predictions identical on all 300 test images") == 2
    for name in ("lenet_digits_params.safetensors", "lenet_digits_model.safetensors", "demo_curves.png"):
        assert (tmp_path / "demo" / name).is_file(), name
        assert str(tmp_path / "demo" / name) in out
    model = bw.load_model(tmp_path / "demo" / "lenet_digits_model.safetensors")
    assert isinstance(model, bw.nn.Sequential)


def test_python_dash_m_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "brickwork", "train", "--epochs", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--epochs" in result.stderr


def _final_model_params(path):
    return {k: v.numpy() for k, v in bw.load_model(path).state_dict().items()}


def test_train_resume_gives_the_same_result_as_uninterrupted(capsys, tmp_path):
    common = ["train", "--model", "mlp", "--dataset", "digits", "--batch-size", "64", "--optimizer", "sgd",
              "--device", "cpu", "--no-progress"]
    code, straight, _ = _run(capsys, *common, "--epochs", "3", "--out", str(tmp_path / "a"))
    assert code == 0 and (tmp_path / "a" / "checkpoint.safetensors").is_file()
    code, _, _ = _run(capsys, *common, "--epochs", "1", "--out", str(tmp_path / "b"))
    assert code == 0
    code, resumed, _ = _run(capsys, *common, "--epochs", "3", "--out", str(tmp_path / "b"), "--resume")
    assert code == 0 and "resumed from" in resumed and "after epoch 1" in resumed
    assert straight.strip().splitlines()[-1] == resumed.strip().splitlines()[-1]
    a = _final_model_params(tmp_path / "a" / "model.safetensors")
    b = _final_model_params(tmp_path / "b" / "model.safetensors")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    history = bw.load(tmp_path / "b" / "checkpoint.safetensors")["history"]["records"]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    # nothing left to do
    code, out, _ = _run(capsys, *common, "--epochs", "3", "--out", str(tmp_path / "b"), "--resume")
    assert code == 0 and "0 epoch(s) to go" in out


def test_train_resume_errors(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--resume", "--out", str(tmp_path), "--no-progress",
                        "--device", "cpu")
    assert code == 1 and "no checkpoint at" in err and err.count("\n") == 1
    _run(capsys, "train", "--model", "mlp", "--epochs", "1", "--out", str(tmp_path), "--no-progress",
         "--device", "cpu")
    code, _, err = _run(capsys, "train", "--model", "lenet", "--epochs", "2", "--out", str(tmp_path),
                        "--resume", "--no-progress", "--device", "cpu")
    assert code == 1 and "--model mlp" in err


def _idx(arr):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def test_train_on_mnist_files_with_lenet(capsys, tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 48), ("t10k", 16)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 50).astype(np.uint8)
        images[np.arange(n), 2 * labels + 3, 5:20] = 255  # a learnable stroke per class
        (raw / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (raw / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    code, out, _ = _run(capsys, "train", "--model", "lenet", "--dataset", "mnist", "--epochs", "1",
                        "--batch-size", "16", "--data-dir", str(tmp_path / "data"),
                        "--out", str(tmp_path / "run"), "--no-progress", "--device", "cpu")
    assert code == 0 and "48 images" in out and re.search(r"test accuracy: \d\.\d{4}$", out.strip())


def test_train_without_dataset_files_explains(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path),
                        "--out", str(tmp_path / "run"), "--no-progress", "--device", "cpu")
    assert code == 1 and "FashionMNIST" in err and "Pass --download" in err and "download=True" not in err
    assert not (tmp_path / "FashionMNIST").exists()


def test_train_with_a_failed_download_leaves_no_folders(capsys, tmp_path, monkeypatch):
    from brickwork.data.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/"])
    code, _, err = _run(capsys, "train", "--dataset", "mnist", "--download", "--data-dir",
                        str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert code == 1 and "could not download" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()
