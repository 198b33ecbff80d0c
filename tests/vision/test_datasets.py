"""brickwork.vision.datasets against torchvision.datasets on small files in tmp_path (no network)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

import brickwork as bw
from brickwork.vision import datasets, transforms
from brickwork.vision.datasets import _download
from brickwork.vision.datasets._pickle_subset import UnsafePickleError, load_data_pickle


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _same_pil(a, b) -> None:
    assert a.mode == b.mode and a.size == b.size
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# -- MNIST ----------------------------------------------------------------------------------------------
def _idx(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08}[arr.dtype.type]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _mnist_files(n: int = 7, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, count in (("train", n), ("t10k", n - 2)):
        files[f"{prefix}-images-idx3-ubyte"] = _idx(rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        files[f"{prefix}-labels-idx1-ubyte"] = _idx(rng.integers(0, 10, count, dtype=np.uint8))
    return files


def _write_mnist(root, name="MNIST", gz=False) -> dict[str, bytes]:
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    files = _mnist_files()
    for stem, data in files.items():
        if gz:
            (raw / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / stem).write_bytes(data)
    return files


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_same_as_torchvision(tv, tmp_path, name, train):
    _write_mnist(tmp_path, name)
    ours = getattr(datasets, name)(tmp_path, train=train)
    theirs = getattr(tv.datasets, name)(str(tmp_path), train=train)
    assert (
        len(ours) == len(theirs)
        and ours.classes == theirs.classes
        and ours.class_to_idx == theirs.class_to_idx
    )
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    np.testing.assert_array_equal(ours.targets.numpy(), theirs.targets.numpy())
    assert ours.data.dtype is bw.uint8 and ours.targets.dtype is bw.int64
    for i in range(len(ours)):
        (a, y), (b, z) = ours[i], theirs[i]
        _same_pil(a, b)
        assert y == z and type(y) is int
    assert repr(ours) == repr(theirs)
    pipeline = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    tv_pipeline = [tv.transforms.ToTensor(), tv.transforms.Normalize((0.1307,), (0.3081,))]
    ours = getattr(datasets, name)(
        tmp_path, train=train, transform=transforms.Compose(pipeline), target_transform=lambda y: y + 100
    )
    theirs = getattr(tv.datasets, name)(
        str(tmp_path), train=train, transform=tv.transforms.Compose(tv_pipeline)
    )
    image, target = ours[1]
    np.testing.assert_array_equal(image.numpy(), theirs[1][0].numpy())
    assert target == theirs[1][1] + 100


def test_mnist_reads_gzipped_files_and_batches(tmp_path):
    files = _write_mnist(tmp_path, gz=True)
    data = datasets.MNIST(tmp_path, transform=transforms.ToTensor())
    want = np.frombuffer(files["train-images-idx3-ubyte"][16:], np.uint8).reshape(-1, 28, 28)
    np.testing.assert_array_equal(data.data.numpy(), want)
    images, labels = next(iter(bw.data.DataLoader(data, batch_size=4)))
    assert images.shape == (4, 1, 28, 28) and labels.dtype is bw.int64
    np.testing.assert_allclose(images.numpy()[:, 0], want[:4] / np.float32(255))


def test_mnist_missing_files_error_lists_them(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(_mnist_files()["train-images-idx3-ubyte"])
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.MNIST(tmp_path)
    message = str(info.value)
    assert "3 of 4 files missing" in message and "download=True" in message
    for name, md5 in datasets.MNIST.resources[1:]:
        assert f"{raw / name}  (MD5 {md5}" in message
    assert "train-images" not in message.split("there")[1]
    assert isinstance(info.value, RuntimeError)


def _mirror(tmp_path, files: dict[str, bytes], corrupt: bool = False):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for stem, data in files.items():
        packed = gzip.compress(data)
        (mirror / f"{stem}.gz").write_bytes(packed[:-3] + b"xyz" if corrupt else packed)
        resources.append((f"{stem}.gz", _md5(packed)))
    return mirror, resources


def test_mnist_download_from_mirrors_then_torchvision_reads_it(tv, tmp_path):
    files = _mnist_files()
    mirror, resources = _mirror(tmp_path, files)

    class Local(datasets.MNIST):
        pass

    Local.mirrors = [(tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/"]
    Local.resources = resources
    root = tmp_path / "data"
    data = Local(root, download=True)
    raw = root / "Local" / "raw"
    assert sorted(os.listdir(raw)) == sorted([*files, *(f"{s}.gz" for s in files)])  # no temporary files left
    for stem, content in files.items():
        assert (raw / stem).read_bytes() == content
    (raw.parent.parent / "MNIST").symlink_to(raw.parent)
    theirs = tv.datasets.MNIST(str(root))
    np.testing.assert_array_equal(data.data.numpy(), theirs.data.numpy())
    Local(root, download=True)  # nothing missing: nothing fetched


def test_mnist_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    files = _mnist_files()
    mirror, resources = _mirror(tmp_path, files, corrupt=True)

    class Local(datasets.MNIST):
        pass

    Local.mirrors = [mirror.as_uri() + "/"]
    Local.resources = [(name, _md5(gzip.compress(files[name[:-3]]))) for name, _ in resources]
    with pytest.raises(RuntimeError) as info:
        Local(tmp_path / "data", download=True)
    message = str(info.value)
    assert (
        "checksum mismatch" in message
        and "offline" in message
        and str(tmp_path / "data" / "Local" / "raw") in message
    )
    assert os.listdir(tmp_path / "data" / "Local" / "raw") == []


def test_download_uses_the_module_urlopen(tmp_path, monkeypatch):
    payload = b"hello"
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(_download, "urlopen", fake_urlopen)
    path = _download.download_url("https://example.invalid/x", tmp_path, "x.bin", _md5(payload))
    assert path.read_bytes() == payload and calls == ["https://example.invalid/x"]
    with pytest.raises(ValueError, match="checksum"):
        _download.download_url("https://example.invalid/y", tmp_path, "y.bin", "0" * 32)
    assert not (tmp_path / "y.bin").exists()


def test_mnist_without_pillow_items_are_arrays(tmp_path, monkeypatch):
    _write_mnist(tmp_path)
    data = datasets.MNIST(tmp_path)
    from_pil = transforms.ToTensor()(data[0][0]).numpy()
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    image, target = data[0]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (28, 28)
    np.testing.assert_array_equal(transforms.ToTensor()(image).numpy(), from_pil)


# -- CIFAR-10 -------------------------------------------------------------------------------------------
def _py2_pickle(obj) -> bytes:
    """A protocol-2 pickle as Python 2's cPickle wrote CIFAR-10 (str as SHORT_BINSTRING/BINSTRING)."""
    out = bytearray(b"\x80\x02")

    def string(s: bytes) -> None:
        out.extend(b"U" + bytes([len(s)]) + s if len(s) < 256 else b"T" + struct.pack("<i", len(s)) + s)

    def emit(value) -> None:
        if isinstance(value, dict):
            out.extend(b"}(")
            for key, item in value.items():
                emit(key)
                emit(item)
            out.extend(b"u")
        elif isinstance(value, list):
            out.extend(b"](")
            for item in value:
                emit(item)
            out.extend(b"e")
        elif isinstance(value, str):
            string(value.encode("latin-1"))
        elif isinstance(value, int):
            out.extend(b"K" + bytes([value]) if 0 <= value < 256 else b"J" + struct.pack("<i", value))
        elif isinstance(value, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85")
            string(b"b")
            out.extend(b"\x87R(K\x01")
            out.extend(b"(" + b"".join(b"M" + struct.pack("<H", d) for d in value.shape) + b"t")
            out.extend(b"cnumpy\ndtype\n")
            string(b"u1")
            out.extend(b"K\x00K\x01\x87R(K\x03")
            string(b"|")
            out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89")
            string(value.tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(value))

    emit(obj)
    return bytes(out + b".")


CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _cifar_files(py2: bool, per_batch: int = 3) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    dump = _py2_pickle if py2 else (lambda obj: pickle.dumps(obj, protocol=4))
    files = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        files[name] = dump(
            {
                "batch_label": f"{name} of 5",
                "labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                "filenames": [f"img_{i}.png" for i in range(per_batch)],
            }
        )
    files["batches.meta"] = dump({"num_cases_per_batch": per_batch, "label_names": CLASSES, "num_vis": 3072})
    return files


def _cifar_classes(files: dict[str, bytes], tv=None):
    """brickwork's (and torchvision's) CIFAR10 with the checksums of these test files."""

    def attrs(base):
        return {
            "train_list": [[f"data_batch_{i}", _md5(files[f"data_batch_{i}"])] for i in range(1, 6)],
            "test_list": [["test_batch", _md5(files["test_batch"])]],
            "meta": {"filename": "batches.meta", "key": "label_names", "md5": _md5(files["batches.meta"])},
        }

    ours = type("CIFAR10", (datasets.CIFAR10,), attrs(datasets.CIFAR10))
    theirs = type("CIFAR10", (tv.datasets.CIFAR10,), attrs(None)) if tv is not None else None
    return ours, theirs


@pytest.mark.parametrize("py2", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_cifar10_same_as_torchvision(tv, tmp_path, py2, train):
    files = _cifar_files(py2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    ours_cls, theirs_cls = _cifar_classes(files, tv)
    ours, theirs = ours_cls(tmp_path, train=train), theirs_cls(str(tmp_path), train=train)
    assert ours.data.dtype == np.uint8 and ours.data.shape == theirs.data.shape
    np.testing.assert_array_equal(ours.data, theirs.data)
    assert ours.targets == theirs.targets and ours.classes == theirs.classes == CLASSES
    assert ours.class_to_idx == theirs.class_to_idx and len(ours) == len(theirs)
    for i in range(len(ours)):
        _same_pil(ours[i][0], theirs[i][0])
        assert ours[i][1] == theirs[i][1]
    assert repr(ours) == repr(theirs)


def test_cifar10_missing_and_corrupt_files_are_listed(tmp_path):
    files = _cifar_files(True)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, data in files.items():
        if name != "data_batch_2":
            (folder / name).write_bytes(data if name != "test_batch" else data[:-1] + b"!")
    ours_cls, _ = _cifar_classes(files)
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        ours_cls(tmp_path)
    message = str(info.value)
    assert (
        f"{folder / 'data_batch_2'}  (missing" in message
        and f"{folder / 'test_batch'}  (wrong MD5" in message
    )
    assert "data_batch_1" not in message and datasets.CIFAR10.url in message


def test_cifar10_download_extracts_only_its_folder(tv, tmp_path):
    files = _cifar_files(True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in [
            *((f"cifar-10-batches-py/{n}", d) for n, d in files.items()),
            ("../escaped", b"x"),
            ("elsewhere/file", b"y"),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    server = tmp_path / "server"
    server.mkdir()
    (server / "cifar.tgz").write_bytes(buffer.getvalue())
    ours_cls, theirs_cls = _cifar_classes(files, tv)
    ours_cls.url = (server / "cifar.tgz").as_uri()
    ours_cls.tgz_md5 = _md5(buffer.getvalue())
    root = tmp_path / "root"
    data = ours_cls(root, download=True)
    assert sorted(os.listdir(root)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert not (tmp_path / "escaped").exists()
    theirs = theirs_cls(str(root))
    np.testing.assert_array_equal(data.data, theirs.data)
    ours_cls.tgz_md5 = "0" * 32
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        ours_cls(tmp_path / "other", download=True)


class _Runs:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_without_running_anything(tmp_path):
    marker = tmp_path / "ran"
    hostile = pickle.dumps({"data": _Runs(str(marker)), "labels": [1]}, protocol=2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    files = _cifar_files(True)
    files["data_batch_1"] = hostile
    for name, data in files.items():
        (folder / name).write_bytes(data)
    ours_cls, _ = _cifar_classes(files)
    with pytest.raises(UnsafePickleError, match=r"global (posix|os)\.system is not allowed"):
        ours_cls(tmp_path)
    assert not marker.exists()
    # the same file through pickle would have run the command
    pickle.loads(hostile)
    assert marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(np.array([1, "a"], dtype=object), protocol=2),  # object arrays carry arbitrary objects
        pickle.dumps(eval, protocol=4),  # STACK_GLOBAL builtins.eval
        b"\x80\x02cnumpy\ndtype\n)R.",  # an allowed global called with the wrong arguments
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncos\nsystem\n)U\x01b\x87R.",
        pickle.dumps(bytearray(b"ab"), protocol=2),  # builtins.bytearray via REDUCE
        b"\x80\x02)\x81.",  # NEWOBJ
        b"\x80\x02P1\n.",  # persistent id
        b"\x80\x02K\x01",  # no STOP
        b"\x80\x02K\x01K\x02.",  # two values at STOP
    ],
)
def test_pickle_subset_rejects(payload):
    with pytest.raises(UnsafePickleError):
        load_data_pickle(payload)


@pytest.mark.parametrize("protocol", range(6))
def test_pickle_subset_reads_plain_data(protocol):
    value = {
        "a": [1, -2, 300, 70000, 2**70],
        "b": b"xy",
        "c": "t\u00e9xt",
        "d": (1.5, None, True, False),
        "e": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f": np.arange(6, dtype=">i4").reshape(2, 3).T,
    }
    got = load_data_pickle(pickle.dumps(value, protocol=protocol))
    assert got.keys() == value.keys()
    for key in "abcd":
        assert got[key] == value[key]
    for key in "ef":
        np.testing.assert_array_equal(got[key], value[key])
        assert got[key].dtype == value[key].dtype.newbyteorder("=")


# -- ImageFolder ----------------------------------------------------------------------------------------
def _image_tree(root) -> None:
    rng = np.random.default_rng(2)
    layout = {
        "dog": ["b.png", "a.JPG", "sub/c.bmp", "notes.txt"],
        "cat": ["z.png", "y.ppm"],
        "bird": ["x.png"],
    }
    for name, files in layout.items():
        for file in files:
            path = root / name / file
            path.parent.mkdir(parents=True, exist_ok=True)
            if file.endswith(".txt"):
                path.write_text("not an image")
            else:
                mode = "L" if file.endswith("bmp") else "RGB"
                Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).convert(mode).save(
                    path,
                    format={"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "ppm": "PPM"}[path.suffix[1:].lower()],
                )
    (root / "stray.png").write_bytes(b"")


def test_image_folder_same_as_torchvision(tv, tmp_path):
    _image_tree(tmp_path)
    ours, theirs = datasets.ImageFolder(tmp_path), tv.datasets.ImageFolder(str(tmp_path))
    assert (
        ours.classes == theirs.classes == ["bird", "cat", "dog"] and ours.class_to_idx == theirs.class_to_idx
    )
    assert ours.samples == theirs.samples and ours.imgs == theirs.imgs and ours.targets == theirs.targets
    for i in range(len(ours)):
        _same_pil(ours[i][0], theirs[i][0])
        assert ours[i][1] == theirs[i][1]
    assert repr(ours) == repr(theirs)
    only_png = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"), allow_empty=True)
    assert (
        only_png.samples
        == tv.datasets.ImageFolder(
            str(tmp_path), is_valid_file=lambda p: p.endswith(".png"), allow_empty=True
        ).samples
    )
    loaded = datasets.ImageFolder(
        tmp_path,
        transform=transforms.Compose([transforms.Resize(4), transforms.ToTensor()]),
        loader=lambda p: Image.open(p).convert("L"),
    )
    assert loaded[0][0].shape[0] == 1


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="class folder"):
        datasets.ImageFolder(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "full" / "a.png")
    with pytest.raises(FileNotFoundError, match="empty.*Supported extensions are: .jpg"):
        datasets.ImageFolder(tmp_path)
    data = datasets.ImageFolder(tmp_path, allow_empty=True)
    assert data.classes == ["empty", "full"] and data.targets == [1]
    with pytest.raises(ValueError, match="exactly one"):
        datasets.DatasetFolder(tmp_path, loader=print)
