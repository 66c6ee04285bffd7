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
    assert _compat.has_xla_context_check()
    seen = {}

    def probe(x):
        seen[len(seen)] = _compat.in_xla_context()
        return x + 1

    assert not _compat.in_xla_context()  # eager
    tf.function(probe)(tf.constant(1.0))
    tf.function(probe, jit_compile=True)(tf.constant(1.0))
    assert seen == {0: False, 1: True}
    assert keras.__version__


def test_export_tracing_modules_are_keras_and_tensorflow_converters():
    import importlib

    assert importlib.import_module("keras.src.export.litert").export_litert
    assert importlib.import_module("keras.src.export.onnx").export_onnx
    assert importlib.import_module("tensorflow.lite.python.lite").TFLiteConverterV2
    assert set(_compat.EXPORT_TRACING_MODULES.values()) == {"litert", "onnx"}


def test_export_tracing_format_reads_the_tracing_module_from_the_stack():
    import types

    seen = []

    def probe(x):
        seen.append(_compat.export_tracing_format())
        return x + 1

    def caller(fn, x):  # re-created below as if defined in a converter's module
        return fn(x)

    assert _compat.export_tracing_format() is None  # eager never walks the stack
    tf.function(probe)(tf.constant(1.0))
    modules = {"keras.src.export.onnx": "onnx", "keras.src.export.litert": "litert",
               "keras.src.export.saved_model": None}
    for module in modules:
        in_module = types.FunctionType(caller.__code__, {"__name__": module})
        in_module(tf.function(probe), tf.constant(1.0))
    assert seen == [None, *modules.values()]
