"""Re-exports of the layer catalogue (linear, conv, pooling, norm, ...).

``brickwork.nn`` star-imports this module; every name in ``__all__`` is a
layer class (or a ``Lazy*`` constructor function building one).
"""

from __future__ import annotations

from brickwork.nn import activation as _activation
from brickwork.nn import conv as _conv
from brickwork.nn import dropout as _dropout
from brickwork.nn import embedding as _embedding
from brickwork.nn import flatten as _flatten
from brickwork.nn import linear as _linear
from brickwork.nn import loss as _loss
from brickwork.nn import norm as _norm
from brickwork.nn import pooling as _pooling
from brickwork.nn import rnn as _rnn
from brickwork.nn import transformer as _transformer
from brickwork.nn.activation import *  # noqa: F403
from brickwork.nn.conv import *  # noqa: F403
from brickwork.nn.dropout import *  # noqa: F403
from brickwork.nn.embedding import *  # noqa: F403
from brickwork.nn.flatten import *  # noqa: F403
from brickwork.nn.linear import *  # noqa: F403
from brickwork.nn.loss import *  # noqa: F403
from brickwork.nn.norm import *  # noqa: F403
from brickwork.nn.pooling import *  # noqa: F403
from brickwork.nn.rnn import *  # noqa: F403
from brickwork.nn.transformer import *  # noqa: F403

__all__: list[str] = [
    *_linear.__all__, *_flatten.__all__, *_conv.__all__, *_pooling.__all__, *_norm.__all__,
    *_activation.__all__, *_dropout.__all__, *_embedding.__all__, *_loss.__all__, *_rnn.__all__,
    *_transformer.__all__,
]

# nn breadth (issue 11): upsampling, padding, transformer decoder, norms, 3-D, bags, losses
from brickwork.nn import conv3d as _conv3d  # noqa: E402
from brickwork.nn import distance as _distance  # noqa: E402
from brickwork.nn import embedding_bag as _embedding_bag  # noqa: E402
from brickwork.nn import instancenorm as _instancenorm  # noqa: E402
from brickwork.nn import loss_extra as _loss_extra  # noqa: E402
from brickwork.nn import padding as _padding  # noqa: E402
from brickwork.nn import transformer_decoder as _transformer_decoder  # noqa: E402
from brickwork.nn import upsampling as _upsampling  # noqa: E402
from brickwork.nn.conv3d import *  # noqa: E402, F403
from brickwork.nn.distance import *  # noqa: E402, F403
from brickwork.nn.embedding_bag import *  # noqa: E402, F403
from brickwork.nn.instancenorm import *  # noqa: E402, F403
from brickwork.nn.loss_extra import *  # noqa: E402, F403
from brickwork.nn.padding import *  # noqa: E402, F403
from brickwork.nn.transformer_decoder import *  # noqa: E402, F403
from brickwork.nn.upsampling import *  # noqa: E402, F403

__all__ += [
    *_conv3d.__all__, *_distance.__all__, *_embedding_bag.__all__, *_instancenorm.__all__,
    *_loss_extra.__all__, *_padding.__all__, *_transformer_decoder.__all__, *_upsampling.__all__,
]
# end nn breadth
