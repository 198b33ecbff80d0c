"""Checked, atomic downloads and extraction for the vision datasets, and the "files missing" error.

Every file is written to a temporary name in its final folder, synced and renamed into place
(``brickwork.io.files.atomic_write``), and a download is renamed only once its MD5 matches the
published one: an interrupted or corrupted transfer never leaves a file that looks complete.
``urlopen`` is looked up on this module at call time, so tests can replace it (and ``file://``
mirrors work as they are).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brickwork.io.files import atomic_write

__all__ = ["DatasetNotFoundError", "md5_of", "check_integrity", "download_url", "extract_gzip", "extract_tar"]

urlopen = urllib.request.urlopen
TIMEOUT = 60.0


class DatasetNotFoundError(RuntimeError):
    """A dataset's files are missing or corrupt; the message lists them and where they go."""


def md5_of(path: str | os.PathLike[str]) -> str:
    """The hex MD5 of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_integrity(path: str | os.PathLike[str], md5: str | None = None) -> bool:
    """Whether ``path`` is a file (with MD5 ``md5`` when given)."""
    return os.path.isfile(path) and (md5 is None or md5_of(path) == md5)


def download_url(url: str, folder: str | os.PathLike[str], filename: str, md5: str | None) -> Path:
    """Fetch ``url`` into ``folder/filename`` atomically; raise ValueError if its MD5 is not ``md5``."""
    target = Path(folder) / filename
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        with open(tmp, "wb") as out, urlopen(url, timeout=TIMEOUT) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url}: MD5 {digest.hexdigest()}, expected {md5}")

    atomic_write(str(target), write)
    return target


def extract_gzip(source: Path, target: Path) -> None:
    """Decompress ``source`` into ``target`` atomically."""

    def write(tmp: str) -> None:
        with gzip.open(source, "rb") as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)

    atomic_write(str(target), write)


def extract_tar(source: Path, root: Path, folder: str) -> list[Path]:
    """Extract the regular files under ``folder/`` of a tar archive into ``root``, each atomically.

    Members outside ``folder/`` (absolute paths, ``..``, links, devices) are skipped, so an
    archive cannot write anywhere else.
    """
    written = []
    with tarfile.open(source, "r:*") as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if (
                not member.isfile()
                or not parts
                or parts[0] != folder
                or ".." in parts
                or os.path.isabs(member.name)
            ):
                continue
            target = root.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            stream = archive.extractfile(member)
            if stream is None:
                continue

            def write(tmp: str, stream: Any = stream) -> None:
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)

            atomic_write(str(target), write)
            written.append(target)
    return written


def fetch_from_mirrors(
    dataset: str, urls: Sequence[str], folder: Path, filename: str, md5: str | None, manual_help: str
) -> Path:
    """Try each URL in turn; on failure, a RuntimeError listing every attempt and the manual way."""
    errors = []
    for url in urls:
        try:
            return download_url(url, folder, filename, md5)
        except (OSError, ValueError) as exc:  # URLError, timeouts, checksum mismatch
            errors.append(f"  {url}: {exc}")
    raise RuntimeError(
        f"{dataset}: could not download {filename}:\n"
        + "\n".join(errors)
        + f"\nIf this machine is offline, fetch the files elsewhere and put them in place:\n{manual_help}"
    )
