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
"""

import tensorflow as tf

try:
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed Keras
    raise ImportError(
        "rnncells needs keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell, the marker "
        "keras.layers.RNN uses to draw dropout masks once per sequence; this Keras "
        f"({getattr(__import__('keras'), '__version__', '?')}) does not have it. Install "
        "a Keras 3 release up to 3.15, or report the new location to rnncells."
    ) from error

try:
    from tensorflow.python.ops.control_flow_util import (
        GraphOrParentsInXlaContext as _graph_in_xla_context,
    )
    HAS_XLA_CONTEXT_CHECK = True
except ImportError:  # pragma: no cover - depends on the installed TensorFlow
    HAS_XLA_CONTEXT_CHECK = False

    def _graph_in_xla_context(graph):
        return True


def in_xla_context():
    """Whether ops created now are inside an XLA computation (True when it cannot tell)."""
    if tf.executing_eagerly():
        return False
    return bool(_graph_in_xla_context(tf.compat.v1.get_default_graph()))
