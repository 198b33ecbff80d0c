"""``brickwork.nn.utils``: gradient clipping and parameter/vector conversion."""

from __future__ import annotations

from brickwork.nn.utils import rnn as rnn  # pad_sequence, PackedSequence, ... (issue 11)
from brickwork.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from brickwork.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]
