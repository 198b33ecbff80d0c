"""``save`` and ``load``: atomic writes, checked reads, memory-mapped loading.

Writing: the whole object is checked and flattened first (tensors copied to
host memory explicitly), then written with ``safetensors.numpy.save_file``
into a temporary file next to the target, flushed to disk (``fsync``) and
renamed over the target (``os.replace``), and the folder is synced. A crash
at any moment leaves the old file or the new one; a failure leaves the old
file untouched and removes the temporary file. Targets a rename must not
replace are refused first: directories, devices, FIFOs, sockets, and
write-protected files (no write access, or, even for root, no write bit at
all). OS errors (a missing folder, ENOSPC, EFBIG) name the user's path.

Reading: the header is read and checked by :func:`brickwork.io.format.parse_header`
before any data; the tensors then come from the same descriptor, each read into
its own array (a path), from one read into a single buffer (a binary file
object), or from a private memory map of the file (``mmap="lazy"``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap as _mmap
import os
import re
import secrets
import stat
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
import safetensors
import safetensors.numpy

from brickwork import _backend
from brickwork.autograd import _wrap
from brickwork.io.format import (
    DTYPES,
    FileFormatError,
    Header,
    TensorEntry,
    header_length,
    loads_json,
    parse_header,
)
from brickwork.io.structure import flatten, rebuild
from brickwork.tensor import Tensor

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT_VERSION = "1"
VERSION_KEY = "brickwork.version"
STRUCTURE_KEY = "brickwork.structure"

PathOrFile = str | os.PathLike | BinaryIO


# -- saving ----------------------------------------------------------------------


def save(obj: Any, f: PathOrFile) -> None:
    """Save tensors, containers and scalars to a safetensors file; never pickles.

    ``obj`` may be a :class:`~brickwork.Tensor`, or lists, tuples and dicts
    (str or int keys), nested, holding tensors and ``int``, ``float``, ``bool``,
    ``str`` or ``None``: a ``state_dict``, an optimiser state, a checkpoint.
    Tensors are stored bit-exactly with their dtype and shape; the same tensor
    met twice (tied weights) is stored once and comes back as one object.
    Anything else raises :class:`TypeError` naming the type and where it is,
    and nothing is written.

    With a path (``str`` or ``os.PathLike``) the write is atomic: a crash
    leaves the old file or the new one, never a torn file. A binary file
    object is written in place, without that guarantee.

    >>> import os, tempfile
    >>> import brickwork as bw
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> w = bw.arange(6.0).reshape(2, 3)
    >>> bw.save({"weight": w, "tied": w, "epoch": 3, "hist": [0.5, 0.25]}, path)
    >>> back = bw.load(path)
    >>> back["weight"]
    tensor([[0., 1., 2.],
            [3., 4., 5.]])
    >>> back["tied"] is back["weight"], back["epoch"], back["hist"]
    (True, 3, [0.5, 0.25])
    """
    write_object(obj, f, {}, "bw.save")


def write_object(obj: Any, f: PathOrFile, extra_metadata: dict[str, str], what: str) -> None:
    """Flatten ``obj`` (raising before anything is written) and write it with extra metadata."""
    arrays, root = flatten(obj, what)
    metadata = {
        VERSION_KEY: FORMAT_VERSION,
        STRUCTURE_KEY: json.dumps(root, separators=(",", ":"), allow_nan=False, ensure_ascii=False),
        **extra_metadata,
    }
    for key, text in metadata.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError(f"{what}: metadata {key!r} holds a string with a lone surrogate "
                            "(not Unicode text, so it cannot be stored); nothing was written") from None
    if isinstance(f, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(f))
        atomic_write(path, lambda tmp: write_file(arrays, metadata, tmp), what)
    elif hasattr(f, "write"):
        f.write(safetensors.numpy.save(arrays, metadata=metadata))
        with contextlib.suppress(AttributeError, OSError, ValueError):
            f.flush()
    else:
        raise TypeError(f"{what}: f must be a path (str or os.PathLike) or a binary file object, "
                        f"found {type(f).__name__}")


def write_file(arrays: dict[str, np.ndarray], metadata: dict[str, str], path: str) -> None:
    """Write the safetensors file itself (the step a full disk or a crash interrupts)."""
    safetensors.numpy.save_file(arrays, path, metadata=metadata)


_OS_ERROR = re.compile(r"os error (\d+)")


def _kind_of(mode: int) -> str:
    """'a FIFO', 'a character device', ... for an ``st_mode`` that is not a regular file."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _check_target(path: str, target: str, what: str) -> int | None:
    """Refuse targets ``bw.save`` must not replace; the existing file's mode bits, or None."""
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        folder = os.path.dirname(target)
        if not os.path.isdir(folder):
            problem = "is not a folder" if os.path.exists(folder) else "does not exist"
            raise FileNotFoundError(errno.ENOENT, f"{what}: cannot save to {path!r}: the folder "
                                    f"{os.path.dirname(path) or folder!r} {problem}", path) from None
        return None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{what}: {path!r} is a directory; give a file name", path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(
            errno.EINVAL,
            f"{what}: {path!r} is {_kind_of(st.st_mode)}, not a regular file; saving to a path writes a "
            "new file and renames it over the old one, which would replace it. To write into it, pass "
            "an open file: with open(path, 'wb') as f: bw.save(obj, f)",
            path,
        )
    mode = stat.S_IMODE(st.st_mode)
    # os.access answers for this process (root may write anywhere); a file nobody may write
    # (chmod a-w) is refused even for root, as a deliberate write protection
    if not os.access(target, os.W_OK) or not mode & 0o222:
        raise PermissionError(errno.EACCES, f"{what}: {path!r} is write-protected (mode "
                              f"{stat.filemode(st.st_mode)}); it was not replaced", path)
    return mode


def _user_error(exc: BaseException, path: str, what: str) -> BaseException:
    """An OSError about the hidden temporary file (or a SafetensorError wrapping one), re-told
    with the errno and the user's path; anything else unchanged."""
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    if code is None and type(exc).__name__ == "SafetensorError":
        found = _OS_ERROR.search(str(exc))
        code = int(found.group(1)) if found else None
    if code is None:
        return exc
    return OSError(code, f"{what}: cannot write {path!r}: {os.strerror(code)}", path)


def atomic_write(path: str, write: Callable[[str], None], what: str = "bw.save") -> None:
    """Run ``write(tmp)`` on a fresh file next to ``path``, sync it, rename it over ``path``.

    A symbolic link at ``path`` is kept: the file it points to is replaced.
    Directories, devices, FIFOs, sockets and write-protected files are refused;
    a missing folder is named. On any failure the temporary file is removed
    and ``path`` is untouched; OS errors name ``path`` and keep their errno.
    """
    target = os.path.realpath(path)
    mode = _check_target(path, target, what)
    folder, name = os.path.split(target)
    try:
        tmp = _reserve_temporary(folder, name, what)
    except OSError as exc:
        raise _user_error(exc, path, what) from None
    try:
        if mode is None:
            mode = stat.S_IMODE(os.stat(tmp).st_mode)  # a new file: 0o666 minus the umask
        write(tmp)
        os.chmod(tmp, mode)  # the writer may have replaced the file (safetensors >= 0.7 does)
        _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        told = _user_error(exc, path, what)
        if told is exc:
            raise
        raise told from None
    _fsync_directory(folder)


_TEMPORARY_PREFIX_BYTES = 64  # of the target's name; the rest of a temporary name is 18 bytes


def _reserve_temporary(folder: str, name: str, what: str = "bw.save") -> str:
    """Create an empty, uniquely named file in ``folder`` (mode 0o666 minus the umask).

    Its name starts with (a prefix of) the target's, short enough that any
    valid target name gives a valid temporary name.
    """
    prefix = name
    while len(os.fsencode(prefix)) > _TEMPORARY_PREFIX_BYTES:
        prefix = prefix[:-1]
    for _ in range(100):
        tmp = os.path.join(folder, f".{prefix}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, f"{what}: could not create a temporary file in {folder!r}")


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(folder: str) -> None:
    """Make the rename durable; not every platform or file system can sync a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- loading ---------------------------------------------------------------------


def load(
    f: PathOrFile,
    map_location: Any = None,
    *,
    device: Any = None,
    mmap: bool | str = False,
    weights_only: bool | None = None,
) -> Any:
    """Load what :func:`save` wrote, or any safetensors file; never executes anything.

    ``map_location`` (alias ``device``) puts every tensor on that device
    (``"cpu"``, ``"cuda:0"``, a :class:`~brickwork.device`, or a dict mapping
    saved device names to new ones); by default tensors go back to the device
    they were saved from. ``weights_only`` is accepted for PyTorch
    compatibility; brickwork files never hold code.

    Everything (structure, scalars, tensors) is read from one open
    descriptor, so a file saved over ``path`` meanwhile gives the old or the
    new file whole. By default, and with ``mmap=True`` (accepted for PyTorch
    compatibility), the tensors are read into private memory: nothing done to
    the file later can change them or crash the process. ``mmap="lazy"`` maps
    the file instead: loading is nearly free and pages are read when used
    (writes to such tensors stay private), but the file must then not be
    truncated or rewritten in place while those tensors live (a later read
    would see the new bytes, or die with SIGBUS past a truncation);
    ``bw.save`` never does that, it renames a new file over the old one.

    A file written by another tool (e.g. ``safetensors.torch.save_file``)
    loads as a dict of tensors. A malformed file raises
    :class:`~brickwork.io.FileFormatError` saying what is wrong.

    >>> import io
    >>> import brickwork as bw
    >>> buffer = io.BytesIO()
    >>> bw.save([bw.tensor([1, 2]), ("a", None)], buffer)
    >>> _ = buffer.seek(0)
    >>> bw.load(buffer)
    [tensor([1, 2]), ('a', None)]
    """
    del weights_only  # always safe: there is nothing to execute in a file
    target = _target_device(map_location, device)
    header, arrays, where = read_arrays(f, mmap)
    return _objects(header, arrays, target, where)


def read_arrays(f: PathOrFile, mmap: bool | str = False) -> tuple[Header, dict[str, np.ndarray], str]:
    """Check the header and read every tensor's array (host memory)."""
    if mmap is not True and mmap is not False and mmap != "lazy":
        raise ValueError(f"bw.load: mmap must be False, True or 'lazy', found {mmap!r:.100}")
    if isinstance(f, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(f))
        return (*_read_path(path, mmap == "lazy"), repr(path))
    if hasattr(f, "read"):
        if mmap:
            raise ValueError("bw.load: mmap=True needs a path, not a file object")
        where = repr(getattr(f, "name", "<file object>"))
        return (*_read_stream(f, where), where)
    raise TypeError(f"bw.load: f must be a path (str or os.PathLike) or a binary file object, "
                    f"found {type(f).__name__}")


def _open_regular(path: str, where: str) -> int:
    """A descriptor of the regular file at ``path``; directories, devices and FIFOs are refused."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"bw.load: {path!r} is a directory, not a file", path)
        if not stat.S_ISREG(mode):
            raise FileFormatError(
                f"{where} is {_kind_of(mode)}, not a regular file; bw.load reads files from a path. "
                "For a pipe or a device, pass an open binary file: with open(path, 'rb') as f: bw.load(f)"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_path(path: str, lazy: bool) -> tuple[Header, dict[str, np.ndarray]]:
    """Header and tensors from ONE descriptor: a file renamed over ``path`` meanwhile is not seen."""
    where = repr(path)
    with open(_open_regular(path, where), "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        prefix = bytes(_read_exact(fh, 8))
        n = header_length(prefix, size, where)
        header = parse_header(prefix, bytes(_read_exact(fh, n)), size, where)
        if lazy:
            return header, _mapped_arrays(fh, header, size, where)
        return header, _read_tensors(fh, header, where)


def _read_tensors(fh: Any, header: Header, where: str) -> dict[str, np.ndarray]:
    """Read each tensor into its own (aligned, private) array, in file order, after the header."""
    arrays = {}
    for entry in sorted(header.entries.values(), key=lambda e: e.begin):
        arr = np.empty(entry.shape, entry.dtype)
        view = memoryview(arr.reshape(-1).view(np.uint8))
        filled = 0
        while filled < len(view):
            got = fh.readinto(view[filled:filled + (1 << 26)])
            if not got:
                raise FileFormatError(f"{where}: the file was truncated while it was being loaded "
                                      f"(tensor {entry.name!r} is cut short)")
            filled += got
        arrays[entry.name] = arr
    return {name: arrays[name] for name in header.entries}


def _mapped_arrays(fh: Any, header: Header, size: int, where: str) -> dict[str, np.ndarray]:
    """Views of a private (copy-on-write) memory map: no data is read until used."""
    if header.data_length == 0:
        return _arrays_in(b"", header, 0)
    mapping = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_COPY)
    if len(mapping) != size:
        raise FileFormatError(f"{where}: the file changed size while it was being loaded")
    return _arrays_in(mapping, header, header.data_start)


def _arrays_in(buffer: Any, header: Header, start: int) -> dict[str, np.ndarray]:
    """The header's tensors as arrays over ``buffer`` (no copies); data begins at ``start``."""
    arrays = {}
    for entry in header.entries.values():
        if entry.begin == entry.end:
            arrays[entry.name] = np.empty(entry.shape, entry.dtype)
        else:
            count = (entry.end - entry.begin) // entry.dtype.itemsize
            arrays[entry.name] = np.frombuffer(
                buffer, entry.dtype, count, start + entry.begin
            ).reshape(entry.shape)
    return arrays


def _stream_size(fh: Any) -> int | None:
    """Bytes left in a seekable file object, or None for a stream."""
    try:
        if not fh.seekable():
            return None
        start = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return end - start


def _read_exact(fh: Any, n: int) -> bytearray:
    """Read up to ``n`` bytes in chunks (never allocating more than what arrives)."""
    out = bytearray()
    while len(out) < n:
        chunk = fh.read(min(n - len(out), 1 << 24))
        if not chunk:
            break
        if isinstance(chunk, str):
            raise TypeError("bw.load: the file object is open in text mode; open it with 'rb'")
        out += chunk
    return out


def _read_stream(fh: Any, where: str) -> tuple[Header, dict[str, np.ndarray]]:
    size = _stream_size(fh)
    prefix = bytes(_read_exact(fh, 8))
    n = header_length(prefix, size, where)
    header = parse_header(prefix, bytes(_read_exact(fh, n)), size, where)
    data = _read_exact(fh, header.data_length)
    if len(data) != header.data_length:
        raise FileFormatError(f"{where}: truncated file: tensors need {header.data_length} data bytes, "
                              f"the stream held {len(data)}")
    return header, _arrays_in(data, header, 0)


# -- arrays -> objects -------------------------------------------------------------


def _target_device(map_location: Any, device: Any) -> Any:
    """None (saved devices), a Device, or a dict of saved device name -> Device."""
    if map_location is not None and device is not None:
        raise ValueError("bw.load: give map_location or device, not both")
    spec = map_location if map_location is not None else device
    if spec is None:
        return None
    if isinstance(spec, dict):
        return {str(_backend.Device(k).resolved()): _backend.Device(v).resolved() for k, v in spec.items()}
    if isinstance(spec, (str, int, _backend.Device)) and not isinstance(spec, bool):
        return _backend.Device(spec).resolved()
    raise TypeError(
        f"bw.load: map_location must be a device, a device string such as 'cpu' or 'cuda:0', or a "
        f"dict of device names, found {type(spec).__name__}"
    )


def _check_bool(entry: TensorEntry, arr: np.ndarray, where: str) -> None:
    if arr.size and arr.view(np.uint8).max() > 1:
        raise FileFormatError(f"{where}: tensor {entry.name!r} has dtype BOOL but holds bytes other than "
                              "0 and 1")


def _objects(header: Header, arrays: dict[str, np.ndarray], target: Any, where: str) -> Any:
    metadata = header.metadata
    for entry in header.entries.values():
        if entry.dtype is DTYPES["BOOL"]:
            _check_bool(entry, arrays[entry.name], where)

    def make_tensor(key: str, node: dict[str, Any]) -> Tensor:
        saved = node.get("device", "cpu")
        try:
            saved_device = _backend.Device(saved).resolved()
        except (TypeError, ValueError):
            raise FileFormatError(f"{where}: tensor {key!r} has an invalid device {saved!r:.100}") from None
        if isinstance(target, dict):
            dev = target.get(str(saved_device), saved_device)
        else:
            dev = target or saved_device
        arr = arrays[key]
        if node.get("requires_grad") and arr.dtype.kind != "f":
            raise FileFormatError(f"{where}: tensor {key!r} of dtype {arr.dtype} is marked requires_grad; "
                                  "only floating-point tensors can require gradients")
        t = to_device(arr, dev, key, saved_device)
        if node.get("parameter"):
            from brickwork.nn.parameter import Parameter  # noqa: PLC0415 - nn sits above io

            return Parameter(t, requires_grad=bool(node.get("requires_grad")))
        if node.get("requires_grad"):
            t.requires_grad = True
        return t

    version = metadata.get(VERSION_KEY)
    if version is None:  # a plain safetensors file (PyTorch, another tool): a flat dict
        return {key: make_tensor(key, {}) for key in header.entries}
    if version != FORMAT_VERSION:
        raise FileFormatError(f"{where}: brickwork format version {version!r:.50}; this brickwork reads "
                              f"version {FORMAT_VERSION} (a newer brickwork may have written it)")
    if STRUCTURE_KEY not in metadata:
        raise FileFormatError(f"{where}: the metadata has {VERSION_KEY} but no {STRUCTURE_KEY}")
    root = loads_json(metadata[STRUCTURE_KEY], f"{where}: metadata {STRUCTURE_KEY}")
    return rebuild(root, set(header.entries), make_tensor, where)


def to_device(arr: np.ndarray, dev: Any, key: str, saved_device: Any) -> Tensor:
    """Wrap a host array as a tensor on ``dev`` (an explicit copy when ``dev`` is a GPU)."""
    if dev.type == "cpu":
        return _wrap(arr, _backend.CPU)
    try:
        return _wrap(_backend.transfer(arr, dev), dev)
    except RuntimeError as exc:
        hint = " (it was saved from there)" if dev is saved_device else ""
        raise RuntimeError(
            f"bw.load: cannot put tensor {key!r} on {dev}{hint}: {exc}. Pass map_location='cpu' "
            "to load onto the CPU"
        ) from None
