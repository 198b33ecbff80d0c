"""Variable-length sequences for the recurrent layers: ``pad_sequence``, ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence`` and their inverses.

A PackedSequence stores the time steps of a batch sorted by decreasing length
one after the other: ``data`` is ``(sum of lengths, *)`` and ``batch_sizes[t]``
says how many sequences are still running at step ``t``, as in PyTorch.
Packing and unpacking are index gathers (``index_select``), so gradients flow
through them. Lengths live on the host (a Python-side bookkeeping array, as
PyTorch requires CPU lengths).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from brickwork import creation, dtypes
from brickwork.autograd import _wrap
from brickwork.ops import shape as sh
from brickwork.tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


def _host_ints(values: Any, what: str) -> np.ndarray:
    if isinstance(values, Tensor):
        if values.device.type != "cpu":
            raise RuntimeError(f"{what} must be a CPU tensor or a list of ints (got a tensor on "
                               f"{values.device}), as in PyTorch")
        return np.asarray(values.numpy(), dtype=np.int64).reshape(-1)
    return np.asarray(list(values), dtype=np.int64).reshape(-1)


def _index(values: np.ndarray, like: Tensor) -> Tensor:
    return _wrap(like._device.xp.asarray(values), like._device)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    perm = _host_ints(permutation, "invert_permutation: permutation")
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    return creation.tensor(inverse, dtype=dtypes.int64)


class PackedSequence(NamedTuple):
    """A batch of sequences packed time step by time step (see the module docstring)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data`` moved or cast; the bookkeeping (batch sizes) stays on the host."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return self._replace(data=data)

    def cpu(self) -> PackedSequence:
        """``data`` on the CPU."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        """``data`` on a GPU."""
        return self.to(device if device is not None else "cuda")

    def double(self) -> PackedSequence:
        """``data`` as float64."""
        return self.to(dtypes.float64)

    def float(self) -> PackedSequence:
        """``data`` as float32."""
        return self.to(dtypes.float32)

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a GPU."""
        return self.data.device.type == "cuda"

    def is_pinned(self) -> bool:
        """Whether ``data`` is in pinned host memory."""
        return bool(getattr(self.data, "is_pinned", lambda: False)())


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack ``(L_i, *)`` tensors into ``(L_max, B, *)`` (``(B, L_max, *)`` with ``batch_first``).

    >>> import brickwork as bw
    >>> pad_sequence([bw.ones(2), bw.ones(1)], batch_first=True).tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    sequences = list(sequences.unbind(0) if isinstance(sequences, Tensor) else sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must be (L, *{trailing}); sequence "
                               f"{i} has shape {tuple(s.shape)}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            fill = creation.full((missing, *trailing), padding_value, dtype=s.dtype, device=s.device)
            s = sh.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return sh.stack(padded, 0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded ``(T, B, *)`` batch (``(B, T, *)`` with ``batch_first``) of ``lengths``.

    ``enforce_sorted=True`` requires lengths in decreasing order; otherwise the
    batch is sorted here and the permutation kept in the result.

    >>> import brickwork as bw
    >>> packed = pack_padded_sequence(bw.tensor([[1.0, 2.0], [3.0, 0.0]]), [2, 1], batch_first=True)
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 3.0, 2.0], [2, 1])
    """
    op = "pack_padded_sequence"
    lengths_np = _host_ints(lengths, f"{op}: lengths")
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an input of at least 2 dims (T, B, *), got shape "
                         f"{tuple(input.shape)}")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lengths_np.size != batch:
        raise ValueError(f"{op}: expected {batch} lengths (the batch size of the input of shape "
                         f"{tuple(input.shape)}), got {lengths_np.size}")
    if lengths_np.size and (lengths_np.min() <= 0 or lengths_np.max() > steps):
        raise RuntimeError(f"{op}: every length must be in [1, {steps}] (the padded length), got "
                           f"{lengths_np.tolist()}")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lengths_np) > 0):
            raise RuntimeError(f"{op}: lengths {lengths_np.tolist()} are not sorted in decreasing "
                               "order; sort the batch or pass enforce_sorted=False")
        order = np.arange(batch)
    else:
        order = np.argsort(-lengths_np, kind="stable")
        sorted_indices = creation.tensor(order, dtype=dtypes.int64)
    sorted_lengths = lengths_np[order]
    batch_sizes = np.array([(sorted_lengths > t).sum() for t in range(int(sorted_lengths.max(
        initial=0)))], dtype=np.int64)
    # row t*B + order[j] of the flattened (T*B, *) input, for each running sequence j at step t
    rows = np.concatenate([t * batch + order[:n] for t, n in enumerate(batch_sizes)]) \
        if batch_sizes.size else np.zeros(0, dtype=np.int64)
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = sh.index_select(flat, 0, _index(rows, input))
    return PackedSequence(data, creation.tensor(batch_sizes, dtype=dtypes.int64), sorted_indices,
                          invert_permutation(sorted_indices))


def _padded_rows(batch_sizes: np.ndarray, total: int, pad_row: int) -> np.ndarray:
    """For each (t, j) of a (total, B) padded layout in sorted order: its row in packed data."""
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    rows = np.full((total, batch), pad_row, dtype=np.int64)
    start = 0
    for t, n in enumerate(batch_sizes):
        rows[t, :n] = np.arange(start, start + n)
        start += n
    return rows


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)`` in the original order.

    >>> import brickwork as bw
    >>> packed = pack_sequence([bw.tensor([1.0, 2.0]), bw.tensor([3.0])])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0], [3.0, 0.0]], [2, 1])
    """
    data = sequence.data
    batch_sizes = _host_ints(sequence.batch_sizes, "pad_packed_sequence: batch_sizes")
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is smaller than "
                             f"the longest sequence ({steps} steps)")
        steps = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    trailing = tuple(data.shape[1:])
    fill = creation.full((1, *trailing), padding_value, dtype=data.dtype, device=data.device)
    rows = _padded_rows(batch_sizes, steps, data.shape[0])
    lengths = (batch_sizes[:, None] > np.arange(batch)[None, :]).sum(0)  # sorted order
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        perm = _host_ints(unsorted, "pad_packed_sequence: unsorted_indices")
        rows, lengths = rows[:, perm], lengths[perm]
    padded = sh.index_select(sh.cat([data, fill], 0), 0, _index(rows.reshape(-1), data))
    padded = padded.reshape(steps, batch, *trailing)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, creation.tensor(lengths.astype(np.int64), dtype=dtypes.int64)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors (decreasing lengths unless ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any,
                   batch_first: bool = False) -> list[Tensor]:
    """The inverse of :func:`pad_sequence`: a list of the sequences cut to their ``lengths``."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :n] for i, n in
            enumerate(_host_ints(lengths, "unpad_sequence: lengths").tolist())]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The inverse of :func:`pack_sequence`: the list of sequences in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
