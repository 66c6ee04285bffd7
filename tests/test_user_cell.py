"""A researcher's own cell on the public protocol (`rnncells.RecurrentCell`), as the README
shows it: keras.layers.RNN and FusedRNN (fused kernel) agree, outputs and gradients; it
saves to `.keras`, streams, and exports. Also run on JAX and PyTorch (tests/backends)."""

import keras
import numpy as np
import tensorflow as tf

import rnncells
from tests.user_cell import LayerNormIndRNN


def _x():
    return np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")


def test_public_protocol_is_exported():
    assert rnncells.RecurrentCell is rnncells.cells.base.RecurrentCell
    assert rnncells.FusedSpec is rnncells.cells.base.FusedSpec


def test_user_cell_runs_fused_with_keras_rnn_numbers_and_gradients():
    x = tf.constant(_x())
    fused = rnncells.FusedRNN(LayerNormIndRNN(5), return_sequences=True, use_fused=True)
    fused(x)
    assert fused.fused_path == "loop"
    rnn = keras.layers.RNN(LayerNormIndRNN(5), return_sequences=True)
    rnn(x)
    rnn.set_weights(fused.get_weights())
    results = []
    for layer in (fused, rnn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.range(5, dtype="float32"))
        results.append([y, *tape.gradient(loss, [x, *layer.trainable_weights])])
    assert fused.last_plan.route == "loop"
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_user_cell_saves_streams_and_exports(tmp_path):
    model = keras.Sequential([keras.Input((7, 4)), rnncells.FusedRNN(
        LayerNormIndRNN(5), return_sequences=True), keras.layers.Dense(2)])
    x = _x()
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    step = rnncells.streaming_model(model)
    states = rnncells.streaming.initial_states(step, 3)
    outputs = []
    for t in range(7):
        y, *states = step([x[:, t], *states])
        outputs.append(np.asarray(y))
    np.testing.assert_allclose(np.stack(outputs, 1), expected, rtol=1e-5, atol=1e-5)
    path = rnncells.export(model, tmp_path / "m.tflite")
    np.testing.assert_allclose(rnncells.deploy.run_litert(path, x), expected, rtol=1e-4,
                               atol=1e-5)
