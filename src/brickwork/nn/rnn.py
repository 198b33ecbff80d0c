"""Recurrent layers: RNN (tanh/relu), LSTM, GRU and their single-step cells.

Parameter names, layouts and gate orders are PyTorch's (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse`` for the
backward direction; LSTM gates ``i, f, g, o``; GRU gates ``r, z, n``), so a
PyTorch state dict loads unchanged. Each layer and direction projects the
whole input sequence with one GEMM, then steps through time with one small
GEMM per step; autograd records the steps like any other ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brickwork import creation
from brickwork.autograd import _wrap
from brickwork.nn import functional as F
from brickwork.nn import init
from brickwork.nn.linear import layer_size, new_parameter
from brickwork.nn.module import Module
from brickwork.ops import elementwise as ew
from brickwork.ops import shape as sh
from brickwork.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------------------
# one time step; ``x_gates`` is the input's projection ``x W_ihᵀ + b_ih``


def _rnn_step(mode: str, x_gates: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor,
              b_hh: Tensor | None, w_hr: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    h_gates = F.linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = sh.chunk(x_gates + h_gates, 4, -1)
        c = ew.sigmoid(f) * c + ew.sigmoid(i) * ew.tanh(g)
        h = ew.sigmoid(o) * ew.tanh(c)
        if w_hr is not None:
            h = F.linear(h, w_hr)
        return h, c
    if mode == "GRU":
        xr, xz, xn = sh.chunk(x_gates, 3, -1)
        hr, hz, hn = sh.chunk(h_gates, 3, -1)
        r = ew.sigmoid(xr + hr)
        z = ew.sigmoid(xz + hz)
        n = ew.tanh(xn + r * hn)
        return n + z * (h - n), None
    pre = x_gates + h_gates
    return (ew.tanh(pre) if mode == "RNN_TANH" else ew.relu(pre)), None


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, init, the multi-layer loop, repr, config."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        input_size = layer_size(input_size, name, "input_size")
        hidden_size = layer_size(hidden_size, name, "hidden_size")
        num_layers = layer_size(num_layers, name, "num_layers")
        proj_size = layer_size(proj_size, name, "proj_size")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1], got {dropout}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive, got "
                             f"hidden_size={hidden_size}, num_layers={num_layers}")
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(f"{name}: proj_size must be in [0, hidden_size), got {proj_size}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        self._flat_names: list[str] = []
        for layer in range(num_layers):
            layer_input = self.input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for kind, shape in shapes:
                    setattr(self, kind + suffix, new_parameter(shape, False, device, dtype))
                    self._flat_names.append(kind + suffix)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, n) for n in self._flat_names]

    @property
    def _flat_weights_names(self) -> list[str]:
        """The parameter names in PyTorch's flat order (``weight_ih_l0``, ``weight_hh_l0``, ...):
        private in PyTorch, but d2l's ``init_seq2seq`` reads it."""
        return list(self._flat_names)

    @property
    def _all_weights(self) -> list[list[str]]:
        """The parameter names per layer and direction, as PyTorch's ``_all_weights``."""
        per = len(self._flat_names) // (self.num_layers * (2 if self.bidirectional else 1))
        return [self._flat_names[i:i + per] for i in range(0, len(self._flat_names), per)]

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch compatibility (cuDNN weight packing)."""

    def _layer_params(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix), get("weight_hr" + suffix))

    def _check_input(self, input: Tensor) -> None:
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input to be 2D (unbatched) or 3D (batched), got "
                             f"{input.ndim}D input of shape {tuple(input.shape)}")
        if input._data.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name} was built for input_size={self.input_size} but received an input with "
                f"input_size={input._data.shape[-1]} (input of shape {tuple(input.shape)})"
            )

    def _initial(self, hx: Tensor | None, batch: int, size: int, like: Tensor, what: str,
                 batched: bool) -> Tensor:
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, size)
        if hx is None:
            return creation.zeros(*expected, dtype=like.dtype, device=like.device)
        if not batched:
            if hx.ndim != 2:
                raise RuntimeError(f"{type(self).__name__}: for unbatched 2-D input, {what} should "
                                   f"also be 2-D but got a {hx.ndim}-D tensor")
            hx = hx.unsqueeze(1)
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: expected {what} of shape {expected}, got "
                               f"{tuple(hx.shape)}")
        return hx

    def _forward_packed(self, packed: Any, hx: Any) -> tuple[Any, Any]:
        """A PackedSequence runs padded, in its sorted order; sequences that have ended keep
        their state (steps past a sequence's end are masked), so h_n is each one's last step."""
        from brickwork.nn.utils import rnn as rnn_utils  # noqa: PLC0415

        padded, _ = rnn_utils.pad_packed_sequence(
            packed._replace(sorted_indices=None, unsorted_indices=None))
        self._check_input(padded)
        batch_sizes = [int(n) for n in packed.batch_sizes.tolist()]
        batch = padded.shape[1]
        xp = padded._device.xp
        masks = [_wrap(xp.asarray((np.arange(batch) < n)[:, None]), padded._device)
                 for n in batch_sizes]

        def sort(h: Tensor | None) -> Tensor | None:
            if h is None or packed.sorted_indices is None:
                return h
            return h.index_select(1, packed.sorted_indices.to(h.device))

        out_size = self.proj_size or self.hidden_size
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0 = self._initial(sort(hx[0]) if hx else None, batch, out_size, padded, "h_0", True)
            c0 = self._initial(sort(hx[1]) if hx else None, batch, self.hidden_size, padded,
                               "c_0", True)
        else:
            h0 = self._initial(sort(hx), batch, out_size, padded, "hx", True)
            c0 = None
        output, h_n, c_n = self._run(padded, h0, c0, masks)
        lengths = (np.asarray(batch_sizes)[:, None] > np.arange(batch)[None, :]).sum(0)
        data = rnn_utils.pack_padded_sequence(output, lengths.tolist()).data
        out = packed._replace(data=data)

        def unsort(h: Tensor | None) -> Tensor | None:
            if h is None or packed.unsorted_indices is None:
                return h
            return h.index_select(1, packed.unsorted_indices.to(h.device))

        return out, ((unsort(h_n), unsort(c_n)) if self.mode == "LSTM" else unsort(h_n))

    def _run(self, input: Tensor, h0: Tensor, c0: Tensor | None,
             masks: list[Tensor] | None = None) -> tuple[Tensor, Tensor, Any]:
        """``input`` is ``(L, N, I)``; returns output ``(L, N, D·H)``, h_n and c_n.

        ``masks[t]`` (``(N, 1)`` bool, packed sequences only) says which batch rows
        are still running at step ``t``; the others keep their state."""
        directions = 2 if self.bidirectional else 1
        seq_len = input.shape[0]
        layer_input = input
        h_last, c_last = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, direction)
                x_gates = F.linear(layer_input, w_ih, b_ih)
                h = h0[index]
                c = c0[index] if c0 is not None else None
                steps = range(seq_len - 1, -1, -1) if direction else range(seq_len)
                hs: list[Any] = [None] * seq_len
                for t in steps:
                    h_new, c_new = _rnn_step(self.mode, x_gates[t], h, c, w_hh, b_hh, w_hr)
                    if masks is None:
                        h, c = h_new, c_new
                    else:
                        h = ew.where(masks[t], h_new, h)
                        c = ew.where(masks[t], c_new, c) if c is not None else None
                    hs[t] = h
                outputs.append(sh.stack(hs, 0) if seq_len else
                               creation.zeros(0, h.shape[0], h.shape[1], dtype=h.dtype,
                                              device=h.device))
                h_last.append(h)
                c_last.append(c)
            layer_input = outputs[0] if directions == 1 else sh.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = sh.stack(h_last, 0)
        c_n = sh.stack(c_last, 0) if c0 is not None else None
        return layer_input, h_n, c_n

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """Run the sequence ``input`` (or a ``PackedSequence``) through the layers.

        ``hx`` is the initial hidden state ``(D·num_layers, N, H)`` (for an LSTM the pair ``(h_0, c_0)``),
        zeros when None. Returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for an LSTM.
        """
        from brickwork.nn.utils.rnn import PackedSequence  # noqa: PLC0415 (utils imports nn)

        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        out_size = self.proj_size or self.hidden_size
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0 = self._initial(hx[0] if hx else None, batch, out_size, input, "h_0", batched)
            c0 = self._initial(hx[1] if hx else None, batch, self.hidden_size, input, "c_0", batched)
        else:
            h0 = self._initial(hx, batch, out_size, input, "hx", batched)
            c0 = None
        output, h_n, c_n = self._run(input, h0, c0)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "bias": self.bias, "batch_first": self.batch_first,
                "dropout": self.dropout, "bidirectional": self.bidirectional}


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`` (or relu).

    Returns ``(output, h_n)``: output ``(L, N, D·H)`` (``(N, L, D·H)`` with
    ``batch_first``), ``h_n`` ``(D·num_layers, N, H)``.

    >>> import brickwork as bw
    >>> out, h = RNN(3, 4, num_layers=2)(bw.ones(5, 2, 3))
    >>> out.shape, h.shape
    (brickwork.Size([5, 2, 4]), brickwork.Size([2, 2, 4]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {**super().get_config(), "nonlinearity": self.nonlinearity}


class LSTM(RNNBase):
    """Long short-term memory; returns ``(output, (h_n, c_n))``.

    >>> import brickwork as bw
    >>> out, (h, c) = LSTM(3, 4, batch_first=True)(bw.ones(2, 5, 3))
    >>> out.shape, h.shape, c.shape
    (brickwork.Size([2, 5, 4]), brickwork.Size([1, 2, 4]), brickwork.Size([1, 2, 4]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {**super().get_config(), "proj_size": self.proj_size}


class GRU(RNNBase):
    """Gated recurrent unit; returns ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------------------
# cells


class _CellBase(Module):
    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any,
                 dtype: Any) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = layer_size(input_size, name, "input_size")
        self.hidden_size, self.bias = layer_size(hidden_size, name, "hidden_size"), bias
        gate_size = _GATES[self.mode] * self.hidden_size
        self.weight_ih = new_parameter((gate_size, self.input_size), False, device, dtype)
        self.weight_hh = new_parameter((gate_size, self.hidden_size), False, device, dtype)
        if bias:
            self.bias_ih = new_parameter((gate_size,), False, device, dtype)
            self.bias_hh = new_parameter((gate_size,), False, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, input: Tensor, hx: Any) -> tuple[Tensor, Any]:
        name = type(self).__name__
        if input.ndim not in (1, 2) or input._data.shape[-1] != self.input_size:
            raise RuntimeError(f"{name} was built for input_size={self.input_size} but received "
                               f"input of shape {tuple(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            h, c = zeros, (zeros if self.mode == "LSTM" else None)
        elif self.mode == "LSTM":
            h, c = hx if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        else:
            h, c = (hx if batched else hx.unsqueeze(0)), None
        h, c = _rnn_step(self.mode, F.linear(x, self.weight_ih, self.bias_ih), h, c,
                         self.weight_hh, self.bias_hh)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        return s

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}


class RNNCell(_CellBase):
    """One step of an Elman RNN: returns ``h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx)[0]

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {**super().get_config(), "nonlinearity": self.nonlinearity}


class LSTMCell(_CellBase):
    """One LSTM step: returns ``(h', c')``."""

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        return self._step(input, hx)


class GRUCell(_CellBase):
    """One GRU step: returns ``h'``."""

    mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx)[0]
