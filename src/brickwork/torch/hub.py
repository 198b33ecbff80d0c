"""``torch.hub`` in drop-in mode: the cache folder, ``load_state_dict_from_url``, downloads.

Files are brickwork (safetensors) files read with :func:`brickwork.load`; pickled
``.pth`` checkpoints cannot be read (brickwork never unpickles).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from brickwork.io.files import atomic_write, load

__all__ = ["get_dir", "set_dir", "load_state_dict_from_url", "download_url_to_file"]

_hub_dir: str | None = None
_HASH_PREFIX = re.compile(r"-([a-f0-9]*)\.")  # torch's convention: name-<sha256 prefix>.ext


def get_dir() -> str:
    """The hub folder: set_dir's, else $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    if _hub_dir is not None:
        return _hub_dir
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return os.path.join(os.path.expanduser(torch_home), "hub")


def set_dir(d: str | os.PathLike[str]) -> None:
    """Make ``d`` the hub folder for this process."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(
    url: str, dst: str | os.PathLike[str], hash_prefix: str | None = None, progress: bool = True
) -> None:
    """Download ``url`` to ``dst`` atomically; with ``hash_prefix``, check the SHA-256 first.

    A failed download or a wrong hash leaves ``dst`` untouched.
    """
    dst = os.fspath(dst)

    def write(tmp: str) -> None:
        sha = hashlib.sha256()
        try:
            with urllib.request.urlopen(url) as response, open(tmp, "wb") as out:  # noqa: S310
                while chunk := response.read(1 << 20):
                    sha.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, OSError) as err:
            raise RuntimeError(
                f"torch.hub: could not download {url} ({err}); offline, place the file at {dst}"
            ) from err
        if hash_prefix is not None and not sha.hexdigest().startswith(hash_prefix):
            raise RuntimeError(
                f'torch.hub: invalid hash value for {url} (expected "{hash_prefix}", got '
                f'"{sha.hexdigest()}"); the file was not kept'
            )

    atomic_write(dst, write)


def load_state_dict_from_url(
    url: str,
    model_dir: str | None = None,
    map_location: Any = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = True,
) -> dict[str, Any]:
    """Load a state_dict file from ``url``, cached in ``model_dir`` (default get_dir()/checkpoints).

    With ``check_hash``, the file name's ``-<hex>.`` part must prefix the file's SHA-256 (as torch).
    """
    model_dir = model_dir or os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(model_dir, name)
    if not os.path.exists(cached):
        hash_prefix = None
        if check_hash:
            found = _HASH_PREFIX.search(name)
            hash_prefix = found.group(1) if found else None
        download_url_to_file(url, cached, hash_prefix, progress=progress)
    try:
        return load(cached, map_location=map_location)
    except Exception as err:
        raise RuntimeError(
            f"torch.hub: {cached} (from {url}) is not a brickwork/safetensors file ({err}); "
            "brickwork cannot read pickled .pth checkpoints"
        ) from err


