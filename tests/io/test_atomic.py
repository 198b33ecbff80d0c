"""Crash safety: killed writers, failing writes, full disks never leave a torn or missing file."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest

import brickwork as bw
import brickwork.io.files as files

KILL_SCRIPT = textwrap.dedent(
    """
    import os, random, signal, sys, time
    import numpy as np
    import brickwork as bw

    path, trials = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]))
    folder = os.path.dirname(path)
    A = {"w": bw.full((256, 1024), 1.0), "tag": "A", "hist": [1, 2]}
    B = {"w": bw.full((512, 1024), 2.0), "tag": "B", "extra": [bw.ones(3)]}
    bw.save(A, path)
    interrupted = 0
    for trial in range(trials):
        pid = os.fork()
        if pid == 0:  # the writer: save A and B alternately until killed
            i = 0
            while True:
                bw.save(B if i % 2 == 0 else A, path)
                i += 1
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        leftovers = [n for n in os.listdir(folder) if n != os.path.basename(path)]
        interrupted += bool(leftovers)  # temporary files of a write that was cut short
        for name in leftovers:
            os.unlink(os.path.join(folder, name))
        obj = bw.load(path)  # must always be a complete file
        if obj["tag"] == "A":
            ok = obj["w"].shape == (256, 1024) and bool((obj["w"] == 1.0).all()) and obj["hist"] == [1, 2]
        else:
            ok = (obj["tag"] == "B" and obj["w"].shape == (512, 1024) and bool((obj["w"] == 2.0).all())
                  and obj["extra"][0].tolist() == [1.0, 1.0, 1.0])
        if not ok:
            print("BAD", trial, obj["tag"])
            sys.exit(1)
    print("OK", trials, "interrupted", interrupted)
    """
)


def _run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL")
def test_sigkill_at_random_moments_leaves_old_or_new_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    result = _run(KILL_SCRIPT, str(path), "40", "1234")
    assert result.returncode == 0, result.stdout + result.stderr
    words = result.stdout.split()
    assert words[:2] == ["OK", "40"], result.stdout
    # the kills really landed inside writes (otherwise this test would prove nothing)
    assert int(words[3]) >= 5, result.stdout


FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import os, resource, signal, sys
    import brickwork as bw

    path = sys.argv[1]
    bw.save({"old": bw.ones(4)}, path)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
    try:
        bw.save({"new": bw.zeros(1 << 20)}, path)  # 4 MiB: cannot be written
    except Exception as exc:
        print("raised", type(exc).__name__)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print("files", sorted(os.listdir(os.path.dirname(path))))
    print("old", bw.load(path)["old"].tolist())
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE to make the disk 'full'")
def test_real_write_failure_keeps_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    result = _run(FULL_DISK_SCRIPT, str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("raised"), result.stdout
    assert lines[1] == "files ['ckpt.safetensors']", result.stdout
    assert lines[2] == "old [1.0, 1.0, 1.0, 1.0]", result.stdout


def _disk_full_writer(arrays, metadata, path):
    with open(path, "wb") as fh:
        fh.write(b"partial garbage")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("stage", ["write", "fsync", "rename"])
def test_injected_failure_keeps_old_file_and_removes_temporary(stage, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    bw.save({"epoch": 1, "w": bw.ones(3)}, path)
    before = path.read_bytes()
    if stage == "write":
        monkeypatch.setattr(files, "write_file", _disk_full_writer)
    elif stage == "fsync":
        def failing_fsync(name):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(files, "_fsync_path", failing_fsync)
    else:
        def failing_replace(src, dst):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError):
        bw.save({"epoch": 2, "w": bw.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert bw.load(path)["epoch"] == 1


def test_interrupt_during_write_also_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"

    def interrupted(arrays, metadata, name):
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "write_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bw.save([1], path)
    assert os.listdir(tmp_path) == []


def test_missing_folder_raises_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        bw.save([1], tmp_path / "no" / "such" / "folder.safetensors")
    assert os.listdir(tmp_path) == []
