"""MNIST and Fashion-MNIST from their IDX files, with checked, atomic downloads.

The four standard files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally
gzipped) are looked up in ``root/<Name>/raw`` (torchvision's layout, where
downloads go), ``root/<Name>`` and ``root``. ``download=True`` fetches the
missing ones from the public mirrors in turn, checks each file's MD5 against
the published checksum, and moves it into place only when it matches
(temporary file in the same folder, fsync, rename), so an interrupted or
corrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.data.datasets._images import ImageClassification
from brickwork.tensor import Tensor

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


_MAX_IDX_DIMS = 64  # NumPy's limit on an array's dimensions
_CHUNK = 1 << 20  # bytes decompressed at a time: memory follows the data, never a gzip bomb


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array, checking its header.

    The header is two zero bytes, a type code (0x08 = uint8, ...), the number
    of dimensions, then each dimension as a big-endian uint32. The data must be
    exactly the size the header implies: a gzipped file is decompressed in
    bounded chunks and reading stops there, so a small file that inflates to
    gigabytes fails at once.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        stream: Any = gzip.GzipFile(fileobj=fh, mode="rb") if gzipped else fh
        try:
            return _read_idx_stream(stream, path, None if gzipped else os.fstat(fh.fileno()).st_size)
        except (OSError, EOFError, zlib.error) as exc:
            if not gzipped:
                raise
            raise ValueError(
                f"{path}: corrupt gzip data ({exc}); delete the file and fetch it again"
            ) from None


def _read_idx_stream(stream: Any, path: Path, file_size: int | None) -> np.ndarray:
    """The IDX array in ``stream``; ``file_size`` (uncompressed files) checks the size before reading."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file (expected the magic bytes 00 00 <type> <ndim>, found "
            f"{magic.hex(' ') or 'an empty file'})"
        )
    dtype, ndim = np.dtype(_IDX_TYPES[magic[2]]), magic[3]
    if ndim > _MAX_IDX_DIMS:
        raise ValueError(f"{path}: the IDX header declares {ndim} dimensions; at most {_MAX_IDX_DIMS} "
                         "are supported (the file is corrupt)")
    dims = _read_up_to(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({4 + len(dims)} bytes for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", dims)
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a product cannot wrap
    if expected > np.iinfo(np.int64).max:
        raise ValueError(f"{path}: the IDX header's shape {shape} of {dtype.name} ({expected} bytes) is "
                         "too large to be an array (the file is corrupt)")
    header = 4 + 4 * ndim
    if file_size is not None and file_size - header != expected:
        raise _size_mismatch(path, shape, dtype, expected, f"{file_size - header} bytes")
    chunks, have = [], 0
    while have < expected:
        chunk = stream.read(min(_CHUNK, expected - have))
        if not chunk:
            raise _size_mismatch(path, shape, dtype, expected, f"only {have} bytes")
        chunks.append(chunk)
        have += len(chunk)
    if stream.read(1):
        raise _size_mismatch(path, shape, dtype, expected, "more bytes")
    data = np.frombuffer(b"".join(chunks), dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def _read_up_to(stream: Any, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, have = [], 0
    while have < n:
        part = stream.read(n - have)
        if not part:
            break
        parts.append(part)
        have += len(part)
    return b"".join(parts)


def _size_mismatch(path: Path, shape: tuple[int, ...], dtype: np.dtype, expected: int,
                   found: str) -> ValueError:
    return ValueError(
        f"{path}: the IDX header says shape {shape} of {dtype.name} ({expected} bytes of data) but "
        f"the file has {found} of data; the file is truncated or corrupt"
    )


def _check_labels(labels: np.ndarray, n_classes: int, path: Path, name: str) -> None:
    """Class labels must be integers in ``[0, n_classes)``: a float file (3.7 would become 3), NaN or
    a negative int8 is a corrupt label file, named in the error."""
    if labels.dtype.kind not in "iu":
        bad = labels[~np.isfinite(labels)] if labels.dtype.kind == "f" else labels[:0]
        what = f"a non-finite label ({bad[0]})" if bad.size else f"labels of type {labels.dtype.name}"
        raise ValueError(f"{name}: {path} holds {what}; class labels must be integers in "
                         f"[0, {n_classes})")
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            raise ValueError(f"{name}: {path}: label {low if low < 0 else high} out of range for "
                             f"{n_classes} classes (expected integers in [0, {n_classes}))")


def _fetch(url: str, folder: Path, name: str, md5: str, timeout: float) -> None:
    """Download ``url`` to ``folder/name`` atomically, if its MD5 is ``md5``."""
    from brickwork.io.files import atomic_write

    def download(tmp: str) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch: MD5 {digest.hexdigest()}, expected {md5}")

    atomic_write(str(folder / name), download)  # temporary file, fsync, rename; removed on failure


class MNIST(ImageClassification):
    """The MNIST handwritten digits (60,000 training and 10,000 test images of 28x28).

    Items are ``(image, label)``: a float32 tensor of shape ``(1, 28, 28)``
    scaled to [0, 1] (what torchvision's ``ToTensor()`` gives) and an int.
    ``data`` (uint8, ``(N, 28, 28)``) and ``targets`` (int64) are the raw
    split as tensors. ``transform`` / ``target_transform`` apply to each item;
    without them batches are vectorised (``__getbatch__``).

    ``root`` is searched for the files as described in the module docstring;
    with ``download=True`` missing files are fetched into ``root/MNIST/raw``.
    """

    mirrors: ClassVar[list[str]] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes: ClassVar[list[str]] = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
        "7 - seven", "8 - eight", "9 - nine",
    ]
    timeout: ClassVar[float] = 60.0

    def __init__(self, root: str | os.PathLike[str], train: bool = True,
                 transform: Callable[[Tensor], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None, download: bool = False) -> None:
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        images_path = self._find(f"{prefix}-images-idx3-ubyte")
        labels_path = self._find(f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(images_path), read_idx(labels_path)
        name = type(self).__name__
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{name}: expected {prefix} images of shape (N, H, W) and type uint8 in {images_path}, "
                f"found shape {images.shape} of {images.dtype}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"{name}: expected {len(images)} {prefix} labels (one per image) in {labels_path}, found "
                f"shape {labels.shape}"
            )
        _check_labels(labels, len(self.classes), labels_path, name)
        self._images = images
        self._labels = labels.astype(np.int64)
        self.data = _wrap(images, _backend.CPU)
        self.targets = _wrap(self._labels, _backend.CPU)

    # -- files ------------------------------------------------------------------
    @property
    def raw_folder(self) -> Path:
        """Where downloads go: ``root/<ClassName>/raw``."""
        return self.root / type(self).__name__ / "raw"

    def _candidates(self, stem: str) -> list[Path]:
        folders = [self.raw_folder, self.root / type(self).__name__, self.root]
        return [folder / name for folder in folders for name in (stem, stem + ".gz")]

    def _find(self, stem: str) -> Path:
        for path in self._candidates(stem):
            if path.is_file():
                return path
        raise FileNotFoundError(
            f"{type(self).__name__}: {stem}[.gz] not found under {self.root} (looked in "
            f"{self.raw_folder}, {self.root / type(self).__name__} and {self.root}). Pass "
            f"download=True, or put these files into {self.raw_folder}:\n{self._manual_help()}"
        )

    def _present(self, filename: str) -> bool:
        stem = filename.removesuffix(".gz")
        return any(path.is_file() for path in self._candidates(stem))

    def _manual_help(self) -> str:
        lines = [f"  {name}  (MD5 {md5}), from e.g. {self.mirrors[0]}{name}" for name, md5 in self.resources]
        return "\n".join(lines)

    def download(self) -> None:
        """Fetch the files that are missing, trying each mirror; checksums are verified."""
        missing = [(name, md5) for name, md5 in self.resources if not self._present(name)]
        if not missing:
            return
        created = [f for f in (self.raw_folder, *self.raw_folder.parents) if not f.exists()]
        self.raw_folder.mkdir(parents=True, exist_ok=True)
        try:
            self._fetch_missing(missing)
        except BaseException:
            for folder in created:  # deepest first; a failed download leaves no empty folders behind
                try:
                    folder.rmdir()
                except OSError:  # not empty (a file did arrive, or someone else's), or gone already
                    break
            raise

    def _fetch_missing(self, missing: list[tuple[str, str]]) -> None:
        for name, md5 in missing:
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{name}"
                try:
                    _fetch(url, self.raw_folder, name, md5, self.timeout)
                    break
                except (OSError, ValueError) as exc:  # URLError, timeouts, checksum mismatch
                    errors.append(f"  {url}: {exc}")
            else:
                raise RuntimeError(
                    f"{type(self).__name__}: could not download {name} from any mirror:\n"
                    + "\n".join(errors)
                    + f"\nIf this machine is offline, download the files elsewhere and put them into "
                    f"{self.raw_folder}:\n{self._manual_help()}"
                )

    # -- items ------------------------------------------------------------------
    def _float_images(self, index: np.ndarray) -> np.ndarray:
        images = self._images[index][:, None].astype(np.float32)
        images *= np.float32(1 / 255.0)
        return images

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={'train' if self.train else 'test'}, images={len(self)})"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 images of 10 kinds of clothing, MNIST's file format and sizes.

    Same interface as :class:`MNIST`; downloads go to ``root/FashionMNIST/raw``.
    """

    mirrors: ClassVar[list[str]] = [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ]
    resources: ClassVar[list[tuple[str, str]]] = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes: ClassVar[list[str]] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot",
    ]
