"""Attention and the Transformer encoder: MultiheadAttention, TransformerEncoderLayer,
TransformerEncoder, with PyTorch's parameter names and argument conventions.

Masks follow ``nn.MultiheadAttention``: a bool ``attn_mask`` or
``key_padding_mask`` marks positions that may NOT be attended (True =
masked); a float mask is added to the attention scores. (``F.scaled_dot_
product_attention`` uses the opposite bool convention, as PyTorch does.) A
query whose keys are all masked gets zero attention weights, not NaN.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from brickwork import creation
from brickwork.autograd import _wrap
from brickwork.nn import functional as F
from brickwork.nn import init
from brickwork.nn.container import ModuleList
from brickwork.nn.dropout import Dropout
from brickwork.nn.linear import Linear, layer_size, new_parameter
from brickwork.nn.module import Module
from brickwork.nn.norm import LayerNorm
from brickwork.ops import linalg
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops.attention import masked_softmax
from brickwork.tensor import Tensor

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class NonDynamicallyQuantizableLinear(Linear):
    """The class of ``MultiheadAttention.out_proj`` in PyTorch (kept for identical printing)."""


def _float_mask(mask: Tensor | None, like: Tensor, name: str) -> Tensor | None:
    """A bool mask (True = masked) becomes 0/-inf in the query's dtype; float masks pass."""
    if mask is None:
        return None
    data = mask._data
    if data.dtype.kind == "b":
        xp = like._device.xp
        dtype = like._data.dtype
        return _wrap(xp.where(data, dtype.type(-np.inf), dtype.type(0)), like._device)
    if data.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are "
                        f"supported, got {mask.dtype}")
    return mask if data.dtype == like._data.dtype else mask.to(like.dtype)


class MultiheadAttention(Module):
    """Multi-head attention ``softmax(Q Kᵀ / sqrt(d) + mask) V`` over ``num_heads`` heads.

    Inputs are ``(L, N, E)`` (``(N, L, E)`` with ``batch_first=True``) or
    unbatched ``(L, E)``. Returns ``(attn_output, attn_weights)``; the weights
    (averaged over heads unless ``average_attn_weights=False``) are None with
    ``need_weights=False``.

    >>> import brickwork as bw
    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> x = bw.randn(3, 5, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (brickwork.Size([3, 5, 8]), brickwork.Size([3, 5, 5]))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        embed_dim = layer_size(embed_dim, "MultiheadAttention", "embed_dim")
        num_heads = layer_size(num_heads, "MultiheadAttention", "num_heads")
        kdim = layer_size(kdim, "MultiheadAttention", "kdim", lazy=True)
        vdim = layer_size(vdim, "MultiheadAttention", "vdim", lazy=True)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter((3 * e, e), False, device, dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new_parameter((e, e), False, device, dtype)
            self.k_proj_weight = new_parameter((e, self.kdim), False, device, dtype)
            self.v_proj_weight = new_parameter((e, self.vdim), False, device, dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_parameter((3 * e,), False, device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = new_parameter((1, 1, e), False, device, dtype)
            self.bias_v = new_parameter((1, 1, e), False, device, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v from batch-major ``(N, L, E)`` inputs; one GEMM for self-attention."""
        e, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                return sh.chunk(F.linear(query, w, b), 3, -1)
            if key is value:
                q = F.linear(query, w[:e], bq)
                k, v = sh.chunk(F.linear(key, w[e:], None if b is None else b[e:]), 2, -1)
                return q, k, v
            return F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk), \
                F.linear(value, w[2 * e:], bv)
        return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                F.linear(value, self.v_proj_weight, bv))

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns ``(attn_output, attn_weights)``.

        ``key_padding_mask`` ``(N, S)`` marks keys to ignore (True, or a float mask added to the
        scores); ``attn_mask`` ``(L, S)`` or ``(N·num_heads, L, S)`` likewise, bool True = blocked.
        ``is_causal`` is only a hint and needs ``attn_mask``, as in PyTorch.
        """
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True needs attn_mask as well (it is "
                               "a hint that attn_mask is causal, as in PyTorch)")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise RuntimeError(
                f"MultiheadAttention: query, key and value must all be 3-D (batched) or 2-D "
                f"(unbatched), got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        same_kv, self_attn = key is value, query is key and key is value
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:  # work batch-major: (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if self_attn:
            key = value = query
        elif same_kv:
            value = key
        self._check_sizes(query, key, value)
        n, tgt_len, e = query.shape
        heads, head_dim = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        attn_mask = _float_mask(attn_mask, q, "attn_mask")
        key_padding_mask = _float_mask(key_padding_mask, q, "key_padding_mask")
        if self.bias_k is not None:
            k = sh.cat([k, self.bias_k.expand(n, 1, e)], 1)
            v = sh.cat([v, self.bias_v.expand(n, 1, e)], 1)
            attn_mask = F.pad(attn_mask, (0, 1)) if attn_mask is not None else None
            key_padding_mask = F.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None \
                else None
        # (N, L, E) -> (N, H, L, d)
        q = q.reshape(n, tgt_len, heads, head_dim).transpose(1, 2)
        k = k.reshape(n, k.shape[1], heads, head_dim).transpose(1, 2)
        v = v.reshape(n, v.shape[1], heads, head_dim).transpose(1, 2)
        if self.add_zero_attn:
            zeros = creation.zeros(n, heads, 1, head_dim, dtype=q.dtype, device=q.device)
            k, v = sh.cat([k, zeros], 2), sh.cat([v, zeros], 2)
            attn_mask = F.pad(attn_mask, (0, 1)) if attn_mask is not None else None
            key_padding_mask = F.pad(key_padding_mask, (0, 1)) if key_padding_mask is not None \
                else None
        src_len = k.shape[2]
        mask = self._merge_masks(attn_mask, key_padding_mask, n, tgt_len, src_len)
        scores = linalg.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
        weights = masked_softmax(scores, mask)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        out = linalg.matmul(weights, v).transpose(1, 2).reshape(n, tgt_len, e)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = rd.mean(weights, dim=1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def _check_sizes(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        e = query.shape[-1]
        problems = []
        if e != self.embed_dim:
            problems.append(f"query has embed_dim {e}, expected {self.embed_dim}")
        if key.shape[-1] != self.kdim:
            problems.append(f"key has {key.shape[-1]} features, expected kdim={self.kdim}")
        if value.shape[-1] != self.vdim:
            problems.append(f"value has {value.shape[-1]} features, expected vdim={self.vdim}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            problems.append("key and value must have the same batch and sequence sizes, and the "
                            "same batch size as query")
        if problems:
            raise RuntimeError(
                f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}): "
                + "; ".join(problems) + f" (batch-major shapes {tuple(query.shape)}, "
                f"{tuple(key.shape)}, {tuple(value.shape)})"
            )

    def _merge_masks(self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, n: int,
                     tgt_len: int, src_len: int) -> Tensor | None:
        """One additive mask broadcastable to the scores ``(N, H, L, S)``."""
        mask = None
        if attn_mask is not None:
            if attn_mask.ndim == 2:
                if tuple(attn_mask.shape) != (tgt_len, src_len):
                    raise RuntimeError(f"MultiheadAttention: the shape of the 2D attn_mask is "
                                       f"{tuple(attn_mask.shape)}, but should be {(tgt_len, src_len)}")
                mask = attn_mask
            elif attn_mask.ndim == 3:
                expected = (n * self.num_heads, tgt_len, src_len)
                if tuple(attn_mask.shape) != expected:
                    raise RuntimeError(f"MultiheadAttention: the shape of the 3D attn_mask is "
                                       f"{tuple(attn_mask.shape)}, but should be {expected}")
                mask = attn_mask.reshape(n, self.num_heads, tgt_len, src_len)
            else:
                raise RuntimeError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got "
                                   f"{attn_mask.ndim}-D")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, src_len):
                raise RuntimeError(f"MultiheadAttention: expected key_padding_mask of shape "
                                   f"{(n, src_len)}, got {tuple(key_padding_mask.shape)}")
            padding = key_padding_mask.reshape(n, 1, 1, src_len)
            mask = padding if mask is None else mask + padding
        return mask

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads, "dropout": self.dropout,
                "bias": self.in_proj_bias is not None, "add_bias_kv": self.bias_k is not None,
                "add_zero_attn": self.add_zero_attn, "kdim": self.kdim, "vdim": self.vdim,
                "batch_first": self.batch_first}


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, residual and LayerNorm.

    ``norm_first=False`` (post-norm, PyTorch's default):
    ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``; ``norm_first=True``:
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``.

    >>> import brickwork as bw
    >>> layer = TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    >>> layer(bw.randn(3, 5, 8)).shape
    brickwork.Size([3, 5, 8])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self._config = {"d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
                        "dropout": dropout, "layer_norm_eps": layer_norm_eps,
                        "batch_first": batch_first, "norm_first": norm_first, "bias": bias}
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"TransformerEncoderLayer: activation should be relu/gelu, not "
                                   f"{activation!r}")
            self._config["activation"] = activation
            activation = _ACTIVATIONS[activation]
        elif activation is F.relu or activation is F.gelu:
            self._config["activation"] = "relu" if activation is F.relu else "gelu"
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """Encode ``src``; the masks are those of :meth:`MultiheadAttention.forward`."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores).

        Raises ``TypeError`` for a custom ``activation`` callable: code cannot be stored in a model file.
        """
        if "activation" not in self._config:
            raise TypeError("TransformerEncoderLayer: only activation='relu' or 'gelu' can be "
                            "saved in a model file (a custom callable is code, not data)")
        return dict(self._config)


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    >>> import brickwork as bw
    >>> layer = TransformerEncoderLayer(8, 2, 16, batch_first=True)
    >>> TransformerEncoder(layer, num_layers=2)(bw.randn(3, 5, 8)).shape
    brickwork.Size([3, 5, 8])
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer | None, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        # encoder_layer=None starts empty: bw.load_model adds the saved layers
        layers = [] if encoder_layer is None else \
            [copy.deepcopy(encoder_layer) for _ in range(num_layers)]
        self.layers = ModuleList(layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool | None = None) -> Tensor:
        """Run ``src`` through every layer with the same ``mask`` and padding mask, then ``norm``."""
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=bool(is_causal),
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output

    def get_config(self) -> dict:
        """The constructor arguments as JSON-able data (what :func:`brickwork.save_model` stores)."""
        return {"encoder_layer": None, "num_layers": self.num_layers,
                "enable_nested_tensor": self.enable_nested_tensor, "mask_check": self.mask_check}

