"""``torch.jit`` in drop-in mode: ``script``/``trace`` are pass-throughs whose result still runs.

The returned object calls the model unchanged; its ``.save(path)`` writes a brickwork model
file (:func:`brickwork.save_model`, safetensors), not a TorchScript archive.
"""

from __future__ import annotations

import os
from typing import Any

from brickwork.io.models import load_model, save_model

__all__ = ["script", "trace", "load", "ScriptModule"]


class ScriptModule:
    """What ``torch.jit.script``/``trace`` return: the model itself, plus ``save``."""

    def __init__(self, model: Any) -> None:
        self.__dict__["_model"] = model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the wrapped model or function."""
        return self._model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_model"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._model, name, value)

    def save(self, f: str | os.PathLike[str]) -> None:
        """Write a brickwork model file (weights + architecture), not TorchScript."""
        save_model(self._model, f)

    def __repr__(self) -> str:
        return repr(self._model)


def script(obj: Any, *args: Any, **kwargs: Any) -> ScriptModule:
    """``torch.jit.script``: returns ``obj`` wrapped so that it runs and ``.save`` works."""
    return ScriptModule(obj)


def trace(func: Any, example_inputs: Any = None, *args: Any, **kwargs: Any) -> ScriptModule:
    """``torch.jit.trace``: no tracing; returns ``func`` wrapped so that it runs and ``.save`` works."""
    return ScriptModule(func)


def load(f: str | os.PathLike[str], map_location: Any = None) -> Any:
    """Load a file written by ``ScriptModule.save`` (a brickwork model file)."""
    return load_model(f, map_location)
