"""The private TensorFlow / Keras names in rnncells._compat still resolve and behave."""

import keras
import tensorflow as tf

from rnncells import _compat
from rnncells.cells.base import RecurrentCell


def test_dropout_marker_is_the_class_keras_rnn_checks():
    from keras.src.layers.rnn import rnn as keras_rnn_module

    assert _compat.DropoutRNNCell is keras_rnn_module.DropoutRNNCell
    assert issubclass(RecurrentCell, _compat.DropoutRNNCell)


def test_in_xla_context_tells_compiled_from_plain_graphs():
    assert _compat.HAS_XLA_CONTEXT_CHECK
    seen = {}

    def probe(x):
        seen[len(seen)] = _compat.in_xla_context()
        return x + 1

    assert not _compat.in_xla_context()  # eager
    tf.function(probe)(tf.constant(1.0))
    tf.function(probe, jit_compile=True)(tf.constant(1.0))
    assert seen == {0: False, 1: True}
    assert keras.__version__
