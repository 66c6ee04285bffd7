"""rnncells: Keras 3 recurrent cells that train reliably, and fused kernels that run them fast."""

from rnncells._backend import require_tensorflow_backend

require_tensorflow_backend()

from rnncells import activations  # noqa: E402
from rnncells.cells.layer_norm import (  # noqa: E402
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LayerNormSimpleRNNCell,
)
from rnncells.cells.minimal import MinGRUCell, MinLSTMCell  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNNCell",
    "MinGRUCell",
    "MinLSTMCell",
    "activations",
]
