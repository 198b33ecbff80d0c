"""Re-exports of the layer catalogue (linear, conv, pooling, norm, ...).

``brickwork.nn`` star-imports this module; every name in ``__all__`` is a
layer class (or a ``Lazy*`` constructor function building one). ``__all__`` is
written out (scripts/update_all.py) from the ``__all__`` of the modules
imported here, because type checkers read only literal lists.
"""

from __future__ import annotations

from brickwork.nn import activation as _activation
from brickwork.nn import conv as _conv

# nn breadth (issue 11): upsampling, padding, transformer decoder, norms, 3-D, bags, losses
from brickwork.nn import conv3d as _conv3d  # noqa: E402
from brickwork.nn import distance as _distance  # noqa: E402
from brickwork.nn import dropout as _dropout
from brickwork.nn import embedding as _embedding
from brickwork.nn import embedding_bag as _embedding_bag  # noqa: E402
from brickwork.nn import flatten as _flatten
from brickwork.nn import instancenorm as _instancenorm  # noqa: E402
from brickwork.nn import linear as _linear
from brickwork.nn import loss as _loss
from brickwork.nn import loss_extra as _loss_extra  # noqa: E402
from brickwork.nn import norm as _norm
from brickwork.nn import padding as _padding  # noqa: E402
from brickwork.nn import pooling as _pooling
from brickwork.nn import rnn as _rnn
from brickwork.nn import transformer as _transformer
from brickwork.nn import transformer_decoder as _transformer_decoder  # noqa: E402
from brickwork.nn import upsampling as _upsampling  # noqa: E402
from brickwork.nn.activation import *  # noqa: F403
from brickwork.nn.conv import *  # noqa: F403
from brickwork.nn.conv3d import *  # noqa: E402, F403
from brickwork.nn.distance import *  # noqa: E402, F403
from brickwork.nn.dropout import *  # noqa: F403
from brickwork.nn.embedding import *  # noqa: F403
from brickwork.nn.embedding_bag import *  # noqa: E402, F403
from brickwork.nn.flatten import *  # noqa: F403
from brickwork.nn.instancenorm import *  # noqa: E402, F403
from brickwork.nn.linear import *  # noqa: F403
from brickwork.nn.loss import *  # noqa: F403
from brickwork.nn.loss_extra import *  # noqa: E402, F403
from brickwork.nn.norm import *  # noqa: F403
from brickwork.nn.padding import *  # noqa: E402, F403
from brickwork.nn.pooling import *  # noqa: F403
from brickwork.nn.rnn import *  # noqa: F403
from brickwork.nn.transformer import *  # noqa: F403
from brickwork.nn.transformer_decoder import *  # noqa: E402, F403
from brickwork.nn.upsampling import *  # noqa: E402, F403

# end nn breadth


# --- public names (scripts/update_all.py writes this list; tests/test_typing.py checks it) ---
__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "Bilinear", "CELU", "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss", "Dropout", "Dropout1d", "Dropout2d",
    "Dropout3d", "ELU", "Embedding", "EmbeddingBag", "Flatten", "Fold", "GELU", "GLU", "GRU", "GRUCell",
    "GaussianNLLLoss", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "HingeEmbeddingLoss",
    "HuberLoss", "Identity", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "KLDivLoss", "L1Loss",
    "LSTM", "LSTMCell", "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d",
    "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyInstanceNorm1d",
    "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear", "LeakyReLU", "Linear", "LogSigmoid",
    "LogSoftmax", "MSELoss", "MarginRankingLoss", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d",
    "MaxUnpool2d", "MaxUnpool3d", "Mish", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
    "MultiMarginLoss", "MultiheadAttention", "NLLLoss", "PReLU", "PairwiseDistance", "PixelShuffle",
    "PixelUnshuffle", "PoissonNLLLoss", "RMSNorm", "RNN", "RNNBase", "RNNCell", "ReLU", "ReLU6",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "SELU", "SiLU", "Sigmoid", "SmoothL1Loss", "SoftMarginLoss", "Softmax", "Softmin",
    "Softplus", "Softsign", "Tanh", "Tanhshrink", "Threshold", "Transformer", "TransformerDecoder",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "Unflatten", "Unfold", "Upsample", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]
# --- end of public names ---
