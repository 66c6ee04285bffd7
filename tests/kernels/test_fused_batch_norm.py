"""FusedRNN with per-step batch-norm cells: a stateful continuation keeps counting steps."""

import keras
import numpy as np
import pytest

from rnncells import BatchNormGRUCell, BatchNormLSTMCell, FusedRNN


@pytest.mark.parametrize("cell_cls", [BatchNormLSTMCell, BatchNormGRUCell])
@pytest.mark.parametrize("training", [False, True])
def test_stateful_fused_continuation_matches_keras_rnn(cell_cls, training):
    """Two halves through a stateful FusedRNN == the same halves through keras.layers.RNN:
    the second half must use the statistics of steps 3..5, not of steps 0..2."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    layers = {}
    for name, cls in (("fused", FusedRNN), ("keras", keras.layers.RNN)):
        layers[name] = cls(cell_cls(5, max_steps=8, momentum=0.5), return_sequences=True,
                           stateful=True)
        layers[name](x[:, :3])
    layers["fused"].cell.set_weights(layers["keras"].cell.get_weights())
    # distinct per-step moving statistics, so using the wrong steps would show
    for w in layers["keras"].cell.non_trainable_weights:
        value = rng.uniform(0.5, 2.0, size=w.shape).astype("float32")
        w.assign(value)
    layers["fused"].cell.set_weights(layers["keras"].cell.get_weights())
    outs = {}
    for name, layer in layers.items():
        layer.reset_state()
        first = layer(x[:, :3], training=training)
        second = layer(x[:, 3:], training=training)
        outs[name] = np.concatenate([first, second], axis=1)
    np.testing.assert_allclose(outs["fused"], outs["keras"], atol=1e-5)
    for wf, wk in zip(layers["fused"].cell.non_trainable_weights,
                      layers["keras"].cell.non_trainable_weights):
        np.testing.assert_allclose(wf.numpy(), wk.numpy(), atol=1e-5)
    assert layers["fused"].fused_path == "loop"
