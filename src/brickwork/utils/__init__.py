"""Utilities: ``summary`` (a model's layers, shapes and parameter counts).

``brickwork.utils.data`` is ``brickwork.data``, so tutorial code that imports
``utils.data`` from PyTorch (``torch.utils.data.DataLoader``) runs after
swapping the import.
"""

from __future__ import annotations

import sys

from brickwork import data
from brickwork.utils.summary import ModelSummary, summary

sys.modules[f"{__name__}.data"] = data  # `import brickwork.utils.data` works too

__all__ = ["summary", "ModelSummary", "data"]
