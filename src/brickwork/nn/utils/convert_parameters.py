"""Flatten parameters into one vector and back (``torch.nn.utils.parameters_to_vector``)."""

from __future__ import annotations

from collections.abc import Iterable

from brickwork.autograd import DeviceMismatchError
from brickwork.ops.shape import cat
from brickwork.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """One 1-d tensor holding every parameter, flattened, in order (differentiable).

    >>> import brickwork as bw
    >>> parameters_to_vector([bw.ones(2, 2), bw.zeros(1)])
    tensor([1., 1., 1., 1., 0.])
    """
    params = list(parameters)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place (their identity is kept).

    >>> import brickwork as bw
    >>> a, b = bw.zeros(2), bw.zeros(1)
    >>> vector_to_parameters(bw.tensor([1.0, 2.0, 3.0]), [a, b])
    >>> a, b
    (tensor([1., 2.]), tensor([3.]))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    params = list(parameters)
    total = sum(p._data.size for p in params)
    if vec._data.ndim != 1 or vec._data.size != total:
        raise ValueError(
            f"vector_to_parameters: expected a 1-d vector of {total} elements (the parameters' total), "
            f"got shape {tuple(vec._data.shape)}"
        )
    offset = 0
    for p in params:
        if p._device is not vec._device:
            raise DeviceMismatchError("vector_to_parameters", [vec._device, p._device])
        n = p._data.size
        p._data[...] = vec._data[offset:offset + n].reshape(p._data.shape)
        p._version[0] += 1
        offset += n
