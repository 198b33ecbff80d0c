"""torchvision as the oracle: imported with its compiled-op registrations stubbed out.

The PyPI wheel of torchvision 0.28 fails to import beside the CPU torch ("operator
torchvision::nms does not exist") because its compiled ops do not load; the pure-Python parts
(transforms, datasets, utils) work once the two modules that register those ops are replaced
by empty ones. Tests that need it take the ``tv`` fixture and are skipped, with the reason,
where torchvision (or torch) is not installed.
"""

from __future__ import annotations

import sys
import types

import pytest


@pytest.fixture(scope="session")
def tv() -> types.ModuleType:
    """The torchvision package, or a skip saying why it is unavailable."""
    for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import torchvision
        import torchvision.transforms.functional  # noqa: F401
        import torchvision.utils  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"torchvision is not installed (the oracle for brickwork.vision): {exc}")
    return torchvision
