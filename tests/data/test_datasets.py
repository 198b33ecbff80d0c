"""The bundled Digits, and MNIST / Fashion-MNIST on small IDX files made here (no network)."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import stat
import struct
import threading
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import brickwork as bw
from brickwork.data import DataLoader
from brickwork.data.datasets import MNIST, Digits, FashionMNIST, read_idx

# -- Digits -------------------------------------------------------------------------


def test_digits_split_sizes_and_items():
    train, test = Digits(), Digits(train=False)
    assert (len(train), len(test)) == (1497, 300)
    image, label = train[5]
    assert image.shape == (1, 8, 8) and image.dtype == bw.float32 and isinstance(label, int)
    for ds in (train, test):
        x = ds.__getbatch__(np.arange(len(ds)))[0].numpy()
        assert x.min() == 0.0 and x.max() == 1.0
        assert sorted(set(ds.targets.tolist())) == list(range(10))
    assert np.bincount(test.targets.numpy()).tolist() == [30] * 10  # stratified
    assert train.data.dtype == bw.uint8 and int(train.data.numpy().max()) == 16


def test_digits_split_is_fixed_and_disjoint():
    path = resources.files("brickwork.data").joinpath("_bundled", "digits.npz")
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        train_index, test_index = npz["train_index"], npz["test_index"]
    assert len(set(train_index.tolist()) | set(test_index.tolist())) == 1797
    assert not set(train_index.tolist()) & set(test_index.tolist())
    # the split is stored, not drawn at load time: two loads agree and a seed changes nothing
    bw.manual_seed(99)
    np.testing.assert_array_equal(Digits(train=False).data.numpy(), Digits(train=False).data.numpy())


def test_digits_licence_is_bundled():
    text = resources.files("brickwork.data").joinpath("_bundled", "DIGITS-LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "10.24432/C50P49" in text and "Alpaydin" in text


def test_digits_batches_equal_items_and_transforms_apply():
    ds = Digits(train=False)
    idx = np.array([3, 0, 299])
    images, labels = ds.__getbatch__(idx)
    for row, i in enumerate(idx):
        image, label = ds[int(i)]
        np.testing.assert_array_equal(images.numpy()[row], image.numpy())
        assert labels.tolist()[row] == label
    flipped = Digits(train=False, transform=lambda x: x.flip(-1), target_transform=lambda y: y + 10)
    x, y = next(iter(DataLoader(flipped, batch_size=3)))
    np.testing.assert_array_equal(x.numpy(), ds.__getbatch__([0, 1, 2])[0].numpy()[..., ::-1])
    assert y.tolist() == [v + 10 for v in ds.targets.tolist()[:3]]


# -- IDX files ----------------------------------------------------------------------


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i4"): 0x0C,
            np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}[arr.dtype]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def _make_split(folder: Path, prefix: str, n: int, gz: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        raw = _idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return images, labels


def test_read_idx_plain_gzipped_and_big_endian(tmp_path):
    arr = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    (tmp_path / "b.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    for name in ("a", "b.gz"):
        got = read_idx(tmp_path / name)
        np.testing.assert_array_equal(got, np.arange(24).reshape(2, 3, 4))
        assert got.dtype == np.int32 and got.dtype.isnative


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x01\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (b"", "empty file"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01",
     r"shape \(5,\) of uint8 \(5 bytes of data\) but the file has 2"),
])
def test_read_idx_rejects_bad_files_clearly(tmp_path, content, message):
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_idx(tmp_path / "bad")


def test_read_idx_stops_a_gzip_bomb_at_the_size_the_header_implies(tmp_path):
    # issue 12 item 8: the whole .gz was decompressed before the size check (2 MB -> 4.4 GB, 40 s)
    import tracemalloc

    header = b"\x00\x00\x08\x01" + struct.pack(">I", 4)
    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(header)
        block = bytes(1 << 20)
        for _ in range(64):  # 64 MB of zeros after a header declaring 4 bytes (~64 KB on disk)
            fh.write(block)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{bomb}.*shape \\(4,\\).*more bytes"):
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"read_idx held {peak} bytes to reject a 4-byte file"


def test_read_idx_reads_a_gzip_larger_than_one_chunk(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, size=(3, 700, 1000), dtype=np.uint8)  # 2.1 MB
    (tmp_path / "big.gz").write_bytes(gzip.compress(_idx_bytes(arr), compresslevel=1))
    np.testing.assert_array_equal(read_idx(tmp_path / "big.gz"), arr)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x00\x08\xff" + b"\x00\x00\x00\x01" * 255 + b"\x00", "declares 255 dimensions"),
    (b"\x00\x00\x08\x04" + struct.pack(">4I", 65536, 65536, 65536, 65536), "too large to be an array"),
    (b"\x00\x00\x0e\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1), "too large to be an array"),
], ids=["255_dims", "product_wraps_to_zero", "product_overflows"])
def test_read_idx_rejects_impossible_headers_naming_the_file(tmp_path, content, message, gz):
    # issue 12 item 8: raw NumPy messages without the file name; 2**64 elements wrapped to 0 and passed
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=f"{path}: .*{message}"):
        read_idx(path)


def test_read_idx_corrupt_deflate_data_is_a_value_error_naming_the_file(tmp_path):
    # issue 12 item 10f: a raw zlib.error escaped
    raw = bytearray(gzip.compress(_idx_bytes(np.random.default_rng(1).integers(0, 256, 5000, np.uint8))))
    raw[12:40] = bytes(range(200, 228))  # inside the deflate stream, after the 10-byte gzip header
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{path}: corrupt gzip data"):
        read_idx(path)


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([1, -5, 2, 3], np.int8), "label -5 out of range"),
    (np.array([1.0, 3.7, 2.0, 0.0], ">f4"), "labels of type float32"),
    (np.array([1.0, np.nan, 2.0, 0.0], ">f8"), "non-finite label \\(nan\\)"),
    (np.array([1, 2, 10, 0], np.uint8), "label 10 out of range"),
], ids=["negative_int8", "float", "nan", "too_large"])
def test_mnist_rejects_bad_label_files_naming_the_file(tmp_path, labels, message):
    # issue 12 item 10f: int8 -5 and float 3.7 (-> 3) were accepted; NaN gave a raw NumPy message
    _make_split(tmp_path, "train", 4, False, seed=0)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(_idx_bytes(labels))
    with pytest.raises(ValueError, match=f"MNIST: {path}.*{message}"):
        MNIST(tmp_path)


@pytest.mark.parametrize(("layout", "gz"), [("raw", True), ("named", False), ("root", True)])
def test_mnist_reads_files_from_the_usual_places(tmp_path, layout, gz):
    folder = {"raw": tmp_path / "MNIST" / "raw", "named": tmp_path / "MNIST", "root": tmp_path}[layout]
    train_images, train_labels = _make_split(folder, "train", 12, gz, seed=0)
    test_images, test_labels = _make_split(folder, "t10k", 5, gz, seed=1)
    train, test = MNIST(tmp_path), MNIST(str(tmp_path), train=False)
    assert (len(train), len(test)) == (12, 5)
    image, label = train[3]
    assert image.shape == (1, 28, 28) and image.dtype == bw.float32 and label == int(train_labels[3])
    np.testing.assert_allclose(image.numpy()[0], train_images[3] / 255.0, rtol=1e-6)
    assert train.data.shape == (12, 28, 28) and train.targets.dtype == bw.int64
    np.testing.assert_array_equal(test.targets.numpy(), test_labels)
    x, y = next(iter(DataLoader(test, batch_size=5)))
    assert x.shape == (5, 1, 28, 28) and x.dtype == bw.float32
    np.testing.assert_allclose(x.numpy()[:, 0], test_images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), test_labels)


def test_mnist_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        MNIST(tmp_path)
    text = str(err.value)
    assert "train-images-idx3-ubyte" in text and str(tmp_path / "MNIST" / "raw") in text
    assert "download=True" in text and "f68b3c2dcbeaaa9fbdd348bbdeb94873" in text


def test_mnist_checks_labels_against_images(tmp_path):
    _make_split(tmp_path, "train", 4, False, seed=0)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="expected 4 train labels"):
        MNIST(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.full(4, 12, np.uint8)))
    with pytest.raises(ValueError, match="label 12 out of range"):
        MNIST(tmp_path)


# -- downloads ----------------------------------------------------------------------


@contextlib.contextmanager
def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _mirror(tmp_path: Path) -> tuple[Path, list[tuple[str, str]]]:
    source = tmp_path / "mirror"
    _make_split(source, "train", 6, True, seed=2)
    _make_split(source, "t10k", 3, True, seed=3)
    resources_ = [(p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(source.iterdir())]
    return source, resources_


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_download_from_a_mirror_with_checksums(tmp_path, monkeypatch, cls):
    source, files = _mirror(tmp_path)
    root = tmp_path / "data"
    with _serve(source) as url:
        monkeypatch.setattr(cls, "mirrors", [url])
        monkeypatch.setattr(cls, "resources", files)
        ds = cls(root, download=True)
    raw = root / cls.__name__ / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(name for name, _ in files)  # no temp files left
    umask = os.umask(0o022)
    os.umask(umask)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask for p in raw.iterdir())
    assert len(ds) == 6 and len(cls(root, train=False)) == 3
    # present files are not fetched again (the mirror is gone now)
    monkeypatch.setattr(cls, "mirrors", ["http://127.0.0.1:9/"])
    assert len(cls(root, download=True)) == 6


def test_download_skips_a_mirror_with_a_bad_checksum(tmp_path, monkeypatch):
    source, files = _mirror(tmp_path)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name, _ in files:
        (corrupt / name).write_bytes(b"not the file")
    monkeypatch.setattr(MNIST, "mirrors", [corrupt.as_uri() + "/", source.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", files)
    ds = MNIST(tmp_path / "data", download=True)
    assert len(ds) == 6


def test_download_failure_explains_what_to_do_offline(tmp_path, monkeypatch):
    source, files = _mirror(tmp_path)
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", files)
    with pytest.raises(RuntimeError) as err:
        MNIST(tmp_path / "data", download=True)
    text = str(err.value)
    assert "could not download" in text and "offline" in text
    assert str(tmp_path / "data" / "MNIST" / "raw") in text and files[0][1] in text
    assert not (tmp_path / "data").exists()  # nothing half-written, not even empty folders
    # checksum mismatch everywhere, into a root that exists: the root stays, the folders made go
    (tmp_path / "data2").mkdir()
    monkeypatch.setattr(MNIST, "mirrors", [source.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", [(name, "0" * 32) for name, _ in files])
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        MNIST(tmp_path / "data2", download=True)
    assert list((tmp_path / "data2").iterdir()) == []
    # a file that did arrive is kept (with its folders): the next try fetches only the rest
    monkeypatch.setattr(MNIST, "resources", [files[0], (files[1][0], "0" * 32), *files[2:]])
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        MNIST(tmp_path / "data3", download=True)
    assert [p.name for p in (tmp_path / "data3" / "MNIST" / "raw").iterdir()] == [files[0][0]]
