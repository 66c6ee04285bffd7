"""rnncells: Keras 3 recurrent cells that train reliably, and fused kernels that run them fast."""

from rnncells._backend import require_supported_backend

require_supported_backend()

from rnncells import activations, diagnostics, initializers  # noqa: E402
from rnncells.cells.base import FusedSpec, RecurrentCell  # noqa: E402
from rnncells.cells.batch_norm import BatchNormGRUCell, BatchNormLSTMCell  # noqa: E402
from rnncells.cells.conv import ConvGRUCell, ConvLSTMCell  # noqa: E402
from rnncells.cells.esn import ESNCell, ESNRecurrentInitializer  # noqa: E402
from rnncells.cells.indrnn import IndRNNCell, MagnitudeBound  # noqa: E402
from rnncells.cells.layer_norm import (  # noqa: E402
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LayerNormSimpleRNNCell,
)
from rnncells.cells.minimal import MinGRUCell, MinLSTMCell  # noqa: E402
from rnncells.cells.nas import NASCell  # noqa: E402
from rnncells.cells.peephole import PeepholeLSTMCell  # noqa: E402
from rnncells.cells.zoneout import Zoneout  # noqa: E402
from rnncells.deploy import export  # noqa: E402
from rnncells.layers.conv_rnn import (  # noqa: E402
    ConvGRU1D,
    ConvGRU2D,
    ConvGRU3D,
    ConvLSTM1D,
    ConvLSTM2D,
    ConvLSTM3D,
    ConvRNN,
)
from rnncells.layers.fused_rnn import FusedRNN  # noqa: E402
from rnncells.precise_statistics import precise_statistics  # noqa: E402
from rnncells.streaming import streaming_model  # noqa: E402
from rnncells.torch_import import from_torch  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "BatchNormGRUCell",
    "BatchNormLSTMCell",
    "ConvGRU1D",
    "ConvGRU2D",
    "ConvGRU3D",
    "ConvGRUCell",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "ConvLSTMCell",
    "ConvRNN",
    "ESNCell",
    "ESNRecurrentInitializer",
    "FusedRNN",
    "FusedSpec",
    "IndRNNCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNNCell",
    "MagnitudeBound",
    "MinGRUCell",
    "MinLSTMCell",
    "NASCell",
    "PeepholeLSTMCell",
    "RecurrentCell",
    "Zoneout",
    "activations",
    "diagnostics",
    "export",
    "from_torch",
    "initializers",
    "precise_statistics",
    "streaming_model",
]
