"""Crash safety: killed writers, failing writes, full disks never leave a torn or missing file."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap

import pytest
import safetensors

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


# -- targets bw.save must not replace, and errors that name the user's path (issue 12) ----


def test_write_protected_file_is_not_replaced(tmp_path):
    path = tmp_path / "frozen.safetensors"
    bw.save({"v": 1}, path)
    before = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="write-protected") as info:
        bw.save({"v": 2}, path)
    assert info.value.filename == str(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["frozen.safetensors"]
    assert oct(path.stat().st_mode & 0o777) == "0o444"
    path.chmod(0o644)  # writable again: replaced as usual
    bw.save({"v": 3}, path)
    assert bw.load(path)["v"] == 3


def _special_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    found = [(fifo, "FIFO")]
    device = tmp_path / "null-copy"
    try:  # a copy of /dev/null's device numbers; the real /dev/null is never touched
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        found.append((device, "character device"))
    except (PermissionError, OSError):
        pass
    return found


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_devices_and_fifos_are_never_replaced(tmp_path):
    for special, kind in _special_files(tmp_path):
        mode = special.lstat().st_mode
        link = tmp_path / f"link-to-{special.name}"
        link.symlink_to(special)
        for target in (special, link):
            with pytest.raises(OSError, match=f"{kind}.*not a regular file.*open\\(path, 'wb'\\)"):
                bw.save([1], target)
        assert special.lstat().st_mode == mode  # still the FIFO / device, not a regular file
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_missing_folder_is_named_not_the_temporary_file(tmp_path):
    target = tmp_path / "missing_dir" / "x.pt"
    with pytest.raises(FileNotFoundError) as info:
        bw.save([1], target)
    message = str(info.value)
    assert str(target) in message and "does not exist" in message and ".tmp" not in message
    assert os.listdir(tmp_path) == []
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        bw.save([1], tmp_path / "afile" / "x.pt")


def test_longest_valid_file_name_can_be_saved(tmp_path):
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    for length in (name_max - 3, name_max):  # 252 and 255 on most file systems
        path = tmp_path / ("n" * (length - len(".st")) + ".st")
        bw.save({"w": bw.ones(2)}, path)
        assert bw.load(path)["w"].tolist() == [1.0, 1.0]
    assert all(not n.endswith(".tmp") for n in os.listdir(tmp_path))


def test_disk_full_is_an_os_error_with_errno_and_path(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"

    def full_disk(arrays, metadata, name):  # what safetensors raises when the disk fills up
        raise safetensors.SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(files, "write_file", full_disk)
    with pytest.raises(OSError) as info:
        bw.save({"w": bw.ones(3)}, path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert str(path) in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


EFBIG_SCRIPT = textwrap.dedent(
    """
    import os, resource, signal, sys
    import brickwork as bw

    path = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        bw.save({"w": bw.zeros(1 << 16)}, path)
    except OSError as exc:
        print(type(exc).__name__, exc.errno, exc.filename == path, exc)
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE")
def test_file_size_limit_is_an_os_error_with_errno_and_path(tmp_path):
    path = str(tmp_path / "big.safetensors")
    result = _run(EFBIG_SCRIPT, path)
    assert result.returncode == 0, result.stderr
    kind, code, named, message = result.stdout.split(" ", 3)
    assert (kind, int(code), named) == ("OSError", errno.EFBIG, "True"), result.stdout
    assert path in message and ".tmp" not in message, result.stdout


# -- one process or thread saving while another loads the same path (issue 12, item B) ----

CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    import brickwork as bw

    path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    A = {"tag": "A", "w": bw.full((64,), 1.0), "n": 1}
    B = {"tag": "B", "w": bw.full((96, 2), 2.0), "n": 2, "extra": [bw.ones(3)]}

    def whole(obj):
        if obj["tag"] == "A":
            return obj["n"] == 1 and obj["w"].shape == (64,) and bool((obj["w"] == 1.0).all())
        return (obj["tag"] == "B" and obj["n"] == 2 and obj["w"].shape == (96, 2)
                and bool((obj["w"] == 2.0).all()) and obj["extra"][0].tolist() == [1.0] * 3)

    def writer(stop):
        i = 0
        while not stop():
            bw.save(A if i % 2 else B, path)
            i += 1

    bw.save(A, path)
    deadline = time.monotonic() + seconds
    if mode == "process":
        pid = os.fork()
        if pid == 0:
            writer(lambda: time.monotonic() > deadline)
            os._exit(0)
    else:
        thread = threading.Thread(target=writer, args=(lambda: time.monotonic() > deadline,))
        thread.start()
    loads, bad, errors, tags = 0, 0, [], set()
    while time.monotonic() < deadline:
        try:
            obj = bw.load(path)
        except Exception as exc:
            errors.append(repr(exc))
            continue
        loads += 1
        tags.add(obj["tag"])
        bad += not whole(obj)
    if mode == "process":
        os.waitpid(pid, 0)
    else:
        thread.join()
    print(loads, bad, len(errors), "".join(sorted(tags)), errors[:3])
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("mode", ["process", "thread"])
def test_concurrent_save_and_load_of_one_path_give_whole_files(mode, tmp_path):
    result = _run(CONCURRENT_SCRIPT, str(tmp_path / "c.safetensors"), mode, "2.5")
    assert result.returncode == 0, result.stderr
    loads, bad, errors, tags, first_errors = result.stdout.split(" ", 4)
    assert (bad, errors) == ("0", "0"), result.stdout  # no torn result, no spurious error
    assert int(loads) >= 50 and tags == "AB", result.stdout  # both versions were really seen
