"""Random number generation: one default generator per device, and local ones.

``bw.manual_seed(s)`` seeds every device's default generator, so the same seed
gives bit-identical tensors on the same device. A :class:`Generator` is a
local stream that leaves the global ones alone (``bw.rand(3, generator=g)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brickwork import _backend

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A random stream on one device (``torch.Generator``).

    >>> import brickwork as bw
    >>> g = bw.Generator().manual_seed(0)
    >>> a = bw.rand(2, generator=g)
    >>> _ = g.manual_seed(0)
    >>> bool((a == bw.rand(2, generator=g)).all())
    True
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _backend.Device(device).resolved()
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng: Any = None

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (taken modulo 2**64); returns the generator.

        >>> import brickwork as bw
        >>> g = bw.Generator().manual_seed(3)
        >>> g.initial_seed()
        3
        """
        self._seed = int(seed) % (2**64)
        self._rng = None
        return self

    def seed(self) -> int:
        """Reseed from fresh operating-system entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed the stream started from (the last :meth:`manual_seed` or :meth:`seed`)."""
        return self._seed

    @property
    def rng(self) -> Any:
        """The backend generator (``numpy.random.Generator`` or CuPy's)."""
        if self._rng is None:
            if self.device.type == "cpu":
                self._rng = np.random.Generator(np.random.PCG64(self._seed))
            else:
                xp = self.device.xp
                with xp.cuda.Device(self.device.index or 0):
                    self._rng = xp.random.Generator(xp.random.XORWOW(self._seed))
        return self._rng

    def get_state(self) -> dict:
        """The generator's state as plain data (CPU generators only)."""
        if self.device.type != "cpu":
            raise NotImplementedError("get_state: only CPU generators can export their state")
        return {"seed": self._seed, "bit_generator": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> Generator:
        """Restore a state from :meth:`get_state` (CPU generators only); returns the generator.

        >>> import brickwork as bw
        >>> g = bw.Generator().manual_seed(0)
        >>> state = g.get_state()
        >>> a = bw.rand(3, generator=g)
        >>> b = bw.rand(3, generator=g.set_state(state))
        >>> bool((a == b).all())
        True
        """
        if self.device.type != "cpu":
            raise NotImplementedError("set_state: only CPU generators can import a state")
        self._seed = int(state["seed"])
        self._rng = None
        self.rng.bit_generator.state = state["bit_generator"]
        return self


_defaults: dict[Any, Generator] = {}


def default_generator(device: Any = "cpu") -> Generator:
    """The default :class:`Generator` of ``device`` (one per device, made on first use).

    Unlike PyTorch's ``torch.default_generator`` attribute this is a function of the device. Each
    device's stream is seeded from the global seed (:func:`manual_seed`) plus an offset per GPU.

    >>> import brickwork as bw
    >>> _ = bw.manual_seed(5)
    >>> bw.random.default_generator("cpu").initial_seed()
    5
    """
    dev = _backend.Device(device).resolved()
    gen = _defaults.get(dev)
    if gen is None:
        gen = Generator(dev)
        gen.manual_seed(_global_seed[0] + (0 if dev.type == "cpu" else 1 + (dev.index or 0)))
        _defaults[dev] = gen
    return gen


_global_seed = [int(np.random.SeedSequence().entropy % (2**62))]


def manual_seed(seed: int) -> Generator:
    """Seed the default generators of every device; returns the CPU one."""
    _global_seed[0] = int(seed)
    for dev, gen in _defaults.items():
        gen.manual_seed(int(seed) + (0 if dev.type == "cpu" else 1 + (dev.index or 0)))
    return default_generator("cpu")


def seed() -> int:
    """Seed every device's default generator from fresh entropy; returns the seed chosen."""
    s = int(np.random.SeedSequence().entropy % (2**62))
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The global seed: the last :func:`manual_seed` (or :func:`seed`), else a random one.

    >>> import brickwork as bw
    >>> _ = bw.manual_seed(42)
    >>> bw.initial_seed()
    42
    """
    return _global_seed[0]


def get_rng_state() -> dict:
    """The CPU default generator's state as a plain ``dict`` (PyTorch returns a ByteTensor).

    Pass it to :func:`set_rng_state` to replay the same draws.

    >>> import brickwork as bw
    >>> state = bw.get_rng_state()
    >>> a = bw.rand(2)
    >>> bw.set_rng_state(state)
    >>> bool((bw.rand(2) == a).all())
    True
    """
    return default_generator("cpu").get_state()


def set_rng_state(state: dict) -> None:
    """Restore the CPU default generator from a state returned by :func:`get_rng_state`."""
    default_generator("cpu").set_state(state)


def rng_for(device: Any, generator: Generator | None) -> Any:
    """The backend generator to draw from for ``device``."""
    if generator is None:
        return default_generator(device).rng
    if generator.device is not device:
        raise RuntimeError(
            f"generator is on {generator.device} but the tensor is created on {device}"
        )
    return generator.rng
