"""The one home of every private TensorFlow / Keras name rnncells uses.

Each has a fallback that either fails loudly or keeps the numbers and only costs speed;
`tests/test_compat.py` checks that the private names still resolve on the installed versions.

- `DropoutRNNCell`: the class `keras.layers.RNN` checks (with `isinstance`) to draw a cell's
  dropout masks once before the loop and reset them after it. Without it, dropout masks
  would silently be drawn per call instead of per sequence, so a Keras that moved it makes
  importing rnncells fail with an ImportError that says so.
- `in_xla_context()`: whether the graph being built is inside an XLA computation (no public
  API tells). Fallback: True, i.e. "never nest an XLA call", the slower but always correct
  choice.
- `export_tracing_format()`: whether the graph being traced now is traced by Keras's own
  export for a converter: "litert" under `model.export(path, format="litert")` (module
  `keras.src.export.litert`) or TensorFlow's `TFLiteConverter.from_keras_model` (module
  `tensorflow.lite.python.lite`), "onnx" under `model.export(path, format="onnx")` (module
  `keras.src.export.onnx`), else None. No public API tells, so it looks for those modules'
  functions among the Python frames of the trace. Fallback (a Keras/TF that moved them):
  None, i.e. the export keeps the training/inference loop, which LiteRT then runs only with
  the Flex delegate; `tests/export` fails loudly in that case.

The TensorFlow names are looked up on the TensorFlow backend only (TensorFlow is imported on
first use, so JAX and PyTorch users need not have it); elsewhere `in_xla_context()` is False
(no TensorFlow graph is being built) and `export_tracing_format()` is None.
"""

import functools
import sys

from rnncells import _backend

try:
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed Keras
    raise ImportError(
        "rnncells needs keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell, the marker "
        "keras.layers.RNN uses to draw dropout masks once per sequence; this Keras "
        f"({getattr(__import__('keras'), '__version__', '?')}) does not have it. Install "
        "a Keras 3 release up to 3.15, or report the new location to rnncells."
    ) from error

@functools.cache
def _xla_context_check():
    """TensorFlow's private `GraphOrParentsInXlaContext`, or None where it moved."""
    try:
        from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
    except ImportError:  # pragma: no cover - depends on the installed TensorFlow
        return None
    return GraphOrParentsInXlaContext


def has_xla_context_check():
    """Whether this TensorFlow still has the private XLA-context check (TensorFlow only)."""
    return _xla_context_check() is not None


def in_xla_context():
    """Whether ops created now are inside a TensorFlow XLA computation (True when it cannot
    tell; False when eager and on the JAX and PyTorch backends)."""
    graph = _backend.current_graph()
    if graph is None:
        return False
    check = _xla_context_check()
    return True if check is None else bool(check(graph))


#: Modules whose functions trace a model for a converter, and the converter's format.
EXPORT_TRACING_MODULES = {
    "keras.src.export.litert": "litert",
    "tensorflow.lite.python.lite": "litert",
    "keras.src.export.onnx": "onnx",
}


def export_tracing_format():
    """The format of the converter tracing the graph being built now, or None (see above).

    Cheap enough for trace time (one walk up the Python stack); eager code never walks.
    """
    if _backend.current_graph() is None:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        found = EXPORT_TRACING_MODULES.get(frame.f_globals.get("__name__"))
        if found:
            return found
        frame = frame.f_back
    return None
