"""Files: tensors, containers, state dicts and whole models in the safetensors format.

``bw.save`` / ``bw.load`` write and read tensors, lists, tuples, dicts and
scalars; ``bw.save_model`` / ``bw.load_model`` add the architecture. Files
are standard safetensors files (a flat state dict is readable by
``safetensors.numpy.load_file`` and ``safetensors.torch.load_file`` under its
own keys); containers, scalars and tied tensors are described by JSON in the
header's ``__metadata__`` (format: docs/guides/files.md, "The file format"). Nothing is
ever unpickled or executed; malformed files raise :class:`FileFormatError`.
Writes to a path are atomic.

Modules: ``format`` (header checks), ``structure`` (containers <-> named
tensors + JSON), ``files`` (save/load, atomic writes, mmap), ``models``
(save_model/load_model and the class registry).
"""

from __future__ import annotations

from brickwork.io.files import load, save
from brickwork.io.format import FileFormatError
from brickwork.io.models import UnknownClassError, load_model, save_model, serializable

__all__ = ["save", "load", "save_model", "load_model", "serializable", "FileFormatError",
           "UnknownClassError"]
