"""The Transformer decoder and the full encoder-decoder: TransformerDecoderLayer,
TransformerDecoder, Transformer, with PyTorch's parameter names and mask arguments.

They reuse ``MultiheadAttention`` and the encoder of ``transformer.py``; the
mask conventions are the same (bool True = may NOT attend; float masks are
added to the scores).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from brickwork import creation
from brickwork.nn import init
from brickwork.nn.container import ModuleList
from brickwork.nn.dropout import Dropout
from brickwork.nn.linear import Linear
from brickwork.nn.module import Module
from brickwork.nn.norm import LayerNorm
from brickwork.nn.transformer import (
    _ACTIVATIONS,
    MultiheadAttention,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from brickwork.tensor import Tensor

__all__ = ["TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


def _activation(activation: str | Callable[[Tensor], Tensor], owner: str,
                config: dict) -> Callable[[Tensor], Tensor]:
    """The activation function; its name goes into ``config`` when it is relu or gelu."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise RuntimeError(f"{owner}: activation should be relu/gelu, not {activation!r}")
        config["activation"] = activation
        return _ACTIVATIONS[activation]
    for name, fn in _ACTIVATIONS.items():
        if activation is fn:
            config["activation"] = name
    return activation


class TransformerDecoderLayer(Module):
    """Self-attention, attention over ``memory``, then a feed-forward block; each with dropout,
    a residual connection and LayerNorm (after, or before with ``norm_first=True``).

    >>> import brickwork as bw
    >>> layer = TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    >>> layer(bw.randn(3, 4, 8), bw.randn(3, 5, 8)).shape
    brickwork.Size([3, 4, 8])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self._config = {"d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
                        "dropout": dropout, "layer_norm_eps": layer_norm_eps,
                        "batch_first": batch_first, "norm_first": norm_first, "bias": bias}
        self.activation = _activation(activation, "TransformerDecoderLayer", self._config)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """Decode ``tgt`` against the encoder output ``memory``.

        The ``tgt_*`` masks apply to self-attention and the ``memory_*`` masks to the attention over
        ``memory``, as in :meth:`MultiheadAttention.forward` (e.g. ``tgt_mask`` from
        :meth:`Transformer.generate_square_subsequent_mask`).
        """
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Tensor | None,
                   key_padding_mask: Tensor | None, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores).

        Raises ``TypeError`` for a custom ``activation`` callable: code cannot be stored in a model file.
        """
        if "activation" not in self._config:
            raise TypeError("TransformerDecoderLayer: only activation='relu' or 'gelu' can be "
                            "saved in a model file (a custom callable is code, not data)")
        return dict(self._config)


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then ``norm`` if given.

    >>> import brickwork as bw
    >>> layer = TransformerDecoderLayer(8, 2, 16, batch_first=True)
    >>> TransformerDecoder(layer, num_layers=2)(bw.randn(3, 4, 8), bw.randn(3, 5, 8)).shape
    brickwork.Size([3, 4, 8])
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer | None, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        # decoder_layer=None starts empty: bw.load_model adds the saved layers
        layers = [] if decoder_layer is None else \
            [copy.deepcopy(decoder_layer) for _ in range(num_layers)]
        self.layers = ModuleList(layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """Run ``tgt`` through every layer against ``memory`` with the same masks, then ``norm``."""
        # is_causal is only a hint next to a mask (MultiheadAttention always applies the mask), so
        # PyTorch's detection of a causal tgt_mask would change nothing here
        causal = bool(tgt_is_causal)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
                           memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"decoder_layer": None, "num_layers": self.num_layers}


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need" (PyTorch's ``nn.Transformer``).

    ``forward(src, tgt)`` encodes ``src`` and decodes ``tgt`` against it;
    shapes are ``(S, N, E)`` and ``(T, N, E)`` (batch first with
    ``batch_first=True``) or unbatched ``(S, E)``, ``(T, E)``.

    >>> import brickwork as bw
    >>> model = Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                     dim_feedforward=16, batch_first=True)
    >>> mask = Transformer.generate_square_subsequent_mask(4)
    >>> model(bw.randn(3, 5, 8), bw.randn(3, 4, 8), tgt_mask=mask).shape
    brickwork.Size([3, 4, 8])
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self._config: dict = {
            "d_model": d_model, "nhead": nhead, "num_encoder_layers": num_encoder_layers,
            "num_decoder_layers": num_decoder_layers, "dim_feedforward": dim_feedforward,
            "dropout": dropout, "layer_norm_eps": layer_norm_eps, "batch_first": batch_first,
            "norm_first": norm_first, "bias": bias}
        _activation(activation, "Transformer", self._config)
        self._custom = custom_encoder is not None or custom_decoder is not None
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **factory)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, **factory)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        """Encode ``src``, then decode ``tgt`` against it; masks as in the encoder and decoder layers."""
        batched = src.ndim == 3
        if batched and src.shape[0 if self.batch_first else 1] != \
                tgt.shape[0 if self.batch_first else 1]:
            raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal, got "
                               f"src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                               f"(batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal to "
                               f"d_model={self.d_model}, got src {tuple(src.shape)} and tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """A float ``(sz, sz)`` mask: ``-inf`` above the diagonal (future positions), 0 elsewhere.

        >>> Transformer.generate_square_subsequent_mask(2)
        tensor([[0., -inf],
                [0., 0.]])
        """
        mask = creation.full((sz, sz), -math.inf, dtype=dtype, device=device)  # default float dtype
        return mask.triu(1)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores).

        Raises ``TypeError`` for custom modules or ``activation``: code cannot be stored in a model file.
        """
        if self._custom:
            raise TypeError("Transformer: a model with custom_encoder/custom_decoder cannot be "
                            "rebuilt from a model file (the custom modules are code, not data)")
        if "activation" not in self._config:
            raise TypeError("Transformer: only activation='relu' or 'gelu' can be saved in a "
                            "model file (a custom callable is code, not data)")
        return dict(self._config)


