"""The export loop in TensorFlow (no conversion, fast): the layers' semantics, no TensorLists."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnncells
from rnncells.kernels.export_loop import export_format, exporting, is_exporting


def _graph_op_types(fn, *args):
    """Op types of a traced function and of every function it calls (while bodies...)."""
    graph_def = fn.get_concrete_function(*args).graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types |= {node.op for node in function.node_def}
    return types


def _layer_fn(layer):
    return tf.function(lambda x, mask: layer(x, mask=mask, training=False),
                       input_signature=[tf.TensorSpec((None, None, 3)),
                                        tf.TensorSpec((None, None), tf.bool)])


SETTINGS = list(itertools.product([False, True], [False, True], [False, True]))


@pytest.mark.parametrize("blocked", [False, True], ids=["one-loop", "blocked"])
@pytest.mark.parametrize("go_backwards, return_sequences, zero_output_for_mask", SETTINGS)
@pytest.mark.parametrize("make", [lambda: rnncells.LayerNormLSTMCell(3),
                                  lambda: rnncells.BatchNormGRUCell(3),
                                  lambda: keras.layers.GRUCell(3)],
                         ids=["protocol", "step-counter", "keras-cell"])
def test_export_loop_matches_the_layer_for_every_setting(make, go_backwards, return_sequences,
                                                         zero_output_for_mask, blocked):
    layer = rnncells.FusedRNN(make(), go_backwards=go_backwards,
                              return_sequences=return_sequences, return_state=True,
                              zero_output_for_mask=zero_output_for_mask)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 7, 3)).astype("float32")  # blocks of 3: 3 + 3 + 1 steps
    mask = np.ones((3, 7), bool)
    mask[0, 5:] = False  # trailing padding
    mask[1, :2] = False  # leading padding
    expected = layer(x, mask=mask, training=False)
    fn = _layer_fn(layer)
    with exporting("litert" if blocked else "onnx"):
        got = fn(x, mask)
    for e, g in zip(tf.nest.flatten(expected), tf.nest.flatten(got)):
        np.testing.assert_allclose(g, e, atol=1e-6)


def test_export_graph_has_no_tensorlists_and_the_regular_one_has():
    """What makes LiteRT need Flex is absent inside exporting(); the mutant (the regular
    trace of the same layer) shows the check finds TensorList ops when they are there."""
    for layer in (rnncells.FusedRNN(rnncells.LayerNormLSTMCell(3), return_sequences=True),
                  rnncells.ConvRNN(rnncells.ConvGRUCell(1, 2, 3), return_sequences=True)):
        shape = (None, None, 3) if isinstance(layer, rnncells.FusedRNN) else (None, None, 5, 3)
        fn = tf.function(lambda x, layer=layer: layer(x, training=False))
        spec = tf.TensorSpec(shape)
        regular = _graph_op_types(fn, spec)
        assert any(op.startswith("TensorList") for op in regular)
        fn = tf.function(lambda x, layer=layer: layer(x, training=False))
        with exporting():
            exported = _graph_op_types(fn, spec)
        assert not any(op.startswith("TensorList") for op in exported), sorted(exported)
        assert "TensorScatterUpdate" in exported


def test_exporting_is_scoped_and_nests():
    assert not is_exporting()
    with exporting("onnx"):
        with exporting("litert"):
            assert is_exporting() and export_format() == "litert"
        assert is_exporting() and export_format() == "onnx"
    assert not is_exporting() and export_format() is None
