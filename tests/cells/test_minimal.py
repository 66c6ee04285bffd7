"""MinGRUCell and MinLSTMCell: NumPy references, the scan path, and the Keras cell contract.

References (Feng et al. 2024, "Were RNNs All We Needed?", written from the paper's equations,
float64, independent of rnncells' code):
    minGRU:  z = s(x W_z + b_z); h~ = x W_h + b_h; h = (1 - z) h_prev + z h~
    minLSTM: f = s(x W_f + b_f); i = s(x W_i + b_i); f' = f / (f + i); i' = i / (f + i);
             h~ = x W_h + b_h; h = f' h_prev + i' h~
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import rnncells
from rnncells.cells.dense import split_gates
from rnncells.cells.minimal import MinGRUCell, MinLSTMCell
from rnncells.kernels.scan import linear_scan


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def mingru_step(x, h, kernel, bias, act=lambda v: v):
    z_lin, h_lin = np.split(x @ kernel + bias, 2, axis=-1)
    z = sigmoid(z_lin)
    return (1.0 - z) * h + z * act(h_lin)


def minlstm_step(x, h, kernel, bias, act=lambda v: v):
    f_lin, i_lin, h_lin = np.split(x @ kernel + bias, 3, axis=-1)
    f, i = sigmoid(f_lin), sigmoid(i_lin)
    return f / (f + i) * h + i / (f + i) * act(h_lin)


REFERENCES = {MinGRUCell: mingru_step, MinLSTMCell: minlstm_step}


def numpy_sequence(step, x, h0, kernel, bias, act=lambda v: v):
    h, outs = np.float64(h0), []
    for t in range(x.shape[1]):
        h = step(np.float64(x[:, t]), h, np.float64(kernel), np.float64(bias), act)
        outs.append(h)
    return np.stack(outs, axis=1)


class MutantMinGRUCell(MinGRUCell):
    """Deliberately broken: the gate weights the wrong term (a = z, b = (1 - z) h~)."""

    def scan_coefficients(self, projected):
        k_z, k_h = split_gates(projected, 2)
        return keras.ops.sigmoid(k_z), keras.ops.sigmoid(-k_z) * k_h


def random_weights(cell, rng):
    weights = [rng.normal(0, 0.7, w.shape).astype("float32") for w in cell.get_weights()]
    cell.set_weights(weights)
    return weights


def rnn_matches_reference(cell_cls, step, batch, steps, features, units, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    h0 = rng.normal(size=(batch, units)).astype("float32")
    cell = cell_cls(units)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer(x[:, :1], initial_state=[h0])
    kernel, bias = random_weights(cell, rng)
    seq, final = layer(x, initial_state=[h0])
    want = numpy_sequence(step, x, h0, kernel, bias)
    return (np.allclose(seq.numpy(), want, rtol=1e-5, atol=1e-5)
            and np.allclose(final.numpy(), want[:, -1], rtol=1e-5, atol=1e-5))


@given(cell_cls=st.sampled_from([MinGRUCell, MinLSTMCell]), batch=st.integers(1, 4),
       steps=st.integers(1, 8), features=st.integers(1, 8), units=st.integers(1, 8),
       seed=st.integers(0, 2**16))
def test_rnn_equals_numpy_reference(cell_cls, batch, steps, features, units, seed):
    assert rnn_matches_reference(cell_cls, REFERENCES[cell_cls], batch, steps, features, units,
                                 seed)


def test_reference_property_catches_the_mutant():
    assert not rnn_matches_reference(MutantMinGRUCell, mingru_step, 2, 4, 3, 5, seed=0)
    assert rnn_matches_reference(MinGRUCell, mingru_step, 2, 4, 3, 5, seed=0)


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_candidate_activation_option(cell_cls):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    cell = cell_cls(3, activation="tanh")
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer(x)
    kernel, bias = random_weights(cell, rng)
    want = numpy_sequence(REFERENCES[cell_cls], x, np.zeros((2, 3)), kernel, bias, np.tanh)
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_scan_path_equals_rnn_outputs_and_gradients(cell_cls):
    """project over the sequence -> scan_coefficients -> linear_scan (the path FusedRNN takes)
    gives the outputs and weight gradients of keras.layers.RNN(cell) stepping the cell."""
    rng = np.random.default_rng(6)
    x = tf.constant(rng.normal(size=(3, 9, 4)).astype("float32"))
    h0 = tf.constant(rng.normal(size=(3, 5)).astype("float32"))
    cell = cell_cls(5)
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer(x, initial_state=[h0])
    random_weights(cell, rng)
    with tf.GradientTape(persistent=True) as tape:
        per_step = layer(x, initial_state=[h0])
        a, b = cell.scan_coefficients(cell.project(x))
        scanned = linear_scan(a, b, h0)
        loss_step = tf.reduce_sum(per_step ** 2)
        loss_scan = tf.reduce_sum(scanned ** 2)
    np.testing.assert_allclose(scanned.numpy(), per_step.numpy(), rtol=1e-5, atol=1e-5)
    for g_scan, g_step in zip(tape.gradient(loss_scan, cell.trainable_weights),
                              tape.gradient(loss_step, cell.trainable_weights)):
        np.testing.assert_allclose(g_scan.numpy(), g_step.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell_cls, gates", [(MinGRUCell, 2), (MinLSTMCell, 3)])
def test_weights_layout_and_shapes(cell_cls, gates):
    cell = cell_cls(6)
    out = keras.layers.RNN(cell)(np.zeros((2, 4, 3), "float32"))
    assert tuple(out.shape) == (2, 6)
    assert [w.path.split("/")[-1] for w in cell.weights] == ["kernel", "bias"]
    assert tuple(cell.kernel.shape) == (3, gates * 6) and tuple(cell.bias.shape) == (gates * 6,)
    assert cell.state_size == [6] and cell.output_size == 6
    no_bias = cell_cls(6, use_bias=False)
    keras.layers.RNN(no_bias)(np.zeros((2, 4, 3), "float32"))
    assert len(no_bias.weights) == 1


def test_exported_at_top_level():
    assert rnncells.MinGRUCell is MinGRUCell and rnncells.MinLSTMCell is MinLSTMCell
    assert {"MinGRUCell", "MinLSTMCell"} <= set(rnncells.__all__)


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_config_round_trip(cell_cls):
    cell = cell_cls(7, activation="tanh", use_bias=False, dropout=0.25, seed=3,
                    kernel_initializer="he_normal")
    clone = cell_cls.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    assert clone.units == 7 and clone.dropout == 0.25 and not clone.use_bias
    assert keras.activations.serialize(clone.activation) == "tanh"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is cell_cls


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_keras_file_round_trip(cell_cls, tmp_path):
    x = np.random.default_rng(7).normal(size=(2, 5, 3)).astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(cell_cls(4)),
                              keras.layers.Dense(2)])
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[0].cell) is cell_cls
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_training_step_updates_every_weight(cell_cls):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.RNN(cell_cls(4, dropout=0.1)),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.layers[0].cell.weights]
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    after = [w.numpy() for w in model.layers[0].cell.weights]
    assert all(not np.allclose(b, a) for b, a in zip(before, after))
    assert model.evaluate(x, y, verbose=0) < first


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_mixed_float16(cell_cls):
    keras.mixed_precision.set_global_policy("mixed_float16")
    cell = cell_cls(4)
    x = np.random.default_rng(9).normal(size=(2, 5, 3)).astype("float32")
    out = keras.layers.RNN(cell, return_sequences=True)(x)
    assert out.dtype == "float16" and cell.kernel.dtype == "float32"
    assert np.all(np.isfinite(out.numpy()))
    a, b = cell.scan_coefficients(cell.project(tf.constant(x, "float16")))
    assert a.dtype == "float16" and b.dtype == "float16"


def test_min_lstm_normalized_gates_stable_in_float16():
    """Both gates saturated off (pre-activations -30): f and i underflow float16, so the
    literal f / (f + i) is 0 / 0 = NaN, while the cell's log-ratio form gives 1/2, 1/2."""
    cell = MinLSTMCell(1, use_bias=False, dtype="float16")
    cell.build((None, 1))
    projected = tf.constant([[-30.0, -30.0, 2.0]], "float16")
    a, b = cell.scan_coefficients(projected)
    np.testing.assert_allclose(a.numpy(), [[0.5]])
    np.testing.assert_allclose(b.numpy(), [[1.0]])
    f = i = tf.sigmoid(tf.constant(-30.0, "float16"))
    assert np.isnan((f / (f + i)).numpy())


@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_input_dropout_mask_shared_over_time(cell_cls):
    cell = cell_cls(3, dropout=0.5, seed=1)
    cell.build((None, 4))
    step = np.random.default_rng(10).normal(size=(2, 1, 4)).astype("float32")
    x = np.repeat(step, 6, axis=1)  # the same input at every step
    dropped = cell.project(x, training=True).numpy()
    np.testing.assert_allclose(dropped, np.repeat(dropped[:, :1], 6, axis=1), rtol=1e-6)
    clean = cell.project(x, training=False).numpy()
    assert not np.allclose(dropped, clean)
    cell.reset_dropout_mask()
    np.testing.assert_allclose(cell.project(x).numpy(), clean)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, "units.*positive integer.*units=0"),
        ({"units": 4, "recurrent_dropout": 0.2}, "recurrent_dropout.*0.*recurrent_dropout=0.2"),
        ({"units": 4, "dropout": 1.5}, r"dropout.*\[0, 1\).*dropout=1.5"),
        ({"units": 4, "activation": "nope"}, "nope"),
    ],
)
@pytest.mark.parametrize("cell_cls", [MinGRUCell, MinLSTMCell])
def test_bad_arguments_raise_value_error(cell_cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cell_cls(**kwargs)


def test_wrong_input_rank_raises():
    with pytest.raises(ValueError, match="rank 2"):
        keras.layers.RNN(MinGRUCell(3))(np.zeros((2, 4, 3, 1), "float32"))


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_no_recurrent_weight_arguments(cls):
    config = cls(4).get_config()
    recurrent = [key for key in config if key.startswith("recurrent_")]
    assert recurrent == ["recurrent_dropout"]
    assert "kernel_initializer" in config and "bias_constraint" in config
    for name, value in [("recurrent_initializer", "zeros"), ("recurrent_activation", "relu")]:
        with pytest.raises(ValueError, match=rf"`{name}` for {cls.__name__}.*{name}='{value}'"):
            cls(4, **{name: value})
