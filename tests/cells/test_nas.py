"""NASCell: NumPy reference, tfa's numbers and weight order, projection, the Keras contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncells.cells.nas import NASCell
from tests.cells.test_peephole import assert_fused_matches_keras, backwards_and_row_properties_hold


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def nas_step(x, c, m, recurrent_kernel, kernel, bias=None, projection=None):
    """One NAS step (Zoph & Le 2017, tfa 0.23's NASCell), equations written out."""
    a = np.split(x @ kernel, 8, axis=-1)
    rec = m @ recurrent_kernel
    if bias is not None:
        rec = rec + bias                    # the bias goes with m @ R (it matters for l3)
    b = np.split(rec, 8, axis=-1)
    l0 = sigmoid(a[0] + b[0])
    l1 = relu(a[1] + b[1])
    l2 = sigmoid(a[2] + b[2])
    l3 = relu(a[3] * b[3])                  # the one multiplicative branch
    l4 = np.tanh(a[4] + b[4])
    l5 = sigmoid(a[5] + b[5])
    l6 = np.tanh(a[6] + b[6])
    l7 = sigmoid(a[7] + b[7])
    # second layer, with the cell injected into the first branch
    k0 = np.tanh(np.tanh(l0 * l1) + c)
    k1 = np.tanh(l2 + l3)
    k2 = np.tanh(l4 * l5)
    k3 = sigmoid(l6 + l7)
    c_new = k0 * k1
    m_new = np.tanh(c_new * np.tanh(k2 + k3))
    if projection is not None:
        m_new = m_new @ projection
    return c_new, m_new


def split_weights(cell, weights):
    """tfa's order: recurrent_kernel, kernel, [bias], [projection_weights]."""
    named = dict(zip([w.name for w in cell.weights], weights))
    return (named["recurrent_kernel"], named["kernel"], named.get("bias"),
            named.get("projection_weights"))


def randomize(cell, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, scale, w.shape).astype("float32") for w in cell.get_weights()]
    cell.set_weights(weights)
    return split_weights(cell, [w.astype("float64") for w in weights])


def test_one_step_matches_numpy_reference_with_bias_and_projection():
    cell = NASCell(4, projection=3, use_bias=True)
    cell.build((None, 5))
    weights = randomize(cell)
    rng = np.random.default_rng(1)
    x, c, m = (rng.normal(size=s).astype("float32") for s in [(2, 5), (2, 4), (2, 3)])
    out, (c_new, m_new) = cell(x, [c, m])
    ref_c, ref_m = nas_step(x, c, m, *weights)
    np.testing.assert_allclose(c_new, ref_c, atol=1e-5)
    np.testing.assert_allclose(m_new, ref_m, atol=1e-5)
    np.testing.assert_allclose(out, ref_m, atol=1e-5)


@settings(max_examples=5)
@given(batch=st.integers(1, 4), steps=st.integers(1, 6), features=st.integers(1, 5),
       units=st.integers(1, 5), projection=st.sampled_from([None, 1, 3]),
       use_bias=st.booleans(), seed=st.integers(0, 100))
def test_sequence_through_keras_rnn_matches_reference(batch, steps, features, units,
                                                      projection, use_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    mask = rng.random((batch, steps)) < 0.7
    layer = keras.layers.RNN(NASCell(units, projection=projection, use_bias=use_bias),
                             return_state=True)
    layer.build((None, steps, features))
    weights = randomize(layer.cell, seed)
    out, c, m = layer(x, mask=mask)
    ref_c = np.zeros((batch, units))
    ref_m = np.zeros((batch, projection or units))
    for t in range(steps):  # masked steps keep the state (keras.layers.RNN's semantics)
        c_new, m_new = nas_step(x[:, t], ref_c, ref_m, *weights)
        keep = mask[:, t:t + 1]
        ref_c, ref_m = np.where(keep, c_new, ref_c), np.where(keep, m_new, ref_m)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)
    np.testing.assert_allclose(m, ref_m, atol=1e-5)
    np.testing.assert_allclose(out, ref_m, atol=1e-5)


INPUTS = np.array([[1.0] * 4, [2.0] * 4, [3.0] * 4], "float32")


def test_tfa_test_numbers_base():
    # tfa 0.23's nas_cell_test.test_base: constant 0.5 kernels, no bias, states 0.1, units 6.
    # The reference above gives the same numbers (every unit is equal by symmetry).
    cell = NASCell(6, kernel_initializer=keras.initializers.Constant(0.5),
                   recurrent_initializer=keras.initializers.Constant(0.5))
    state = np.full((3, 6), 0.1, "float32")
    out, (c, m) = cell(INPUTS, [state, state])
    expected_m = np.array([0.576751, 0.618936, 0.627393])[:, None] * np.ones(6)
    expected_c = np.array([0.7157977, 0.7804162, 0.7945764])[:, None] * np.ones(6)
    np.testing.assert_allclose(out, expected_m, atol=1e-6)
    np.testing.assert_allclose(m, expected_m, atol=1e-6)
    np.testing.assert_allclose(c, expected_c, atol=1e-6)
    ref_c, ref_m = nas_step(INPUTS, state, state, np.full((6, 48), 0.5), np.full((4, 48), 0.5))
    np.testing.assert_allclose(ref_m, expected_m, atol=1e-6)


def test_tfa_test_numbers_projection():
    # tfa 0.23's nas_cell_test.test_projection: the same with projection=5 (weights 0.5).
    half = keras.initializers.Constant(0.5)
    cell = NASCell(6, projection=5, kernel_initializer=half, recurrent_initializer=half,
                   projection_initializer=half)
    out, (c, m) = cell(INPUTS, [np.full((3, 6), 0.1, "float32"), np.full((3, 5), 0.1,
                                                                          "float32")])
    expected_m = np.array([1.697418, 1.840037, 1.873985])[:, None] * np.ones(5)
    expected_c = np.array([0.69855207, 0.77073824, 0.78973997])[:, None] * np.ones(6)
    np.testing.assert_allclose(out, expected_m, atol=1e-5)
    np.testing.assert_allclose(m, expected_m, atol=1e-5)
    np.testing.assert_allclose(c, expected_c, atol=1e-6)


def test_weight_order_is_tfa_s_recurrent_kernel_first():
    cell = NASCell(4, projection=3, use_bias=True)
    cell.build((None, 5))
    assert [w.name for w in cell.weights] == ["recurrent_kernel", "kernel", "bias",
                                              "projection_weights"]
    assert [tuple(w.shape) for w in cell.weights] == [(3, 32), (5, 32), (32,), (4, 3)]
    plain = NASCell(4)  # tfa's defaults: no bias, no projection
    plain.build((None, 5))
    assert [tuple(w.shape) for w in plain.weights] == [(4, 32), (5, 32)]
    assert plain.state_size == [4, 4] and plain.output_size == 4
    assert cell.state_size == [4, 3] and cell.output_size == 3


def test_recurrent_dropout_and_dropconnect_apply_to_m_with_projection():
    # keras.layers.RNN draws the recurrent mask from the FIRST state (c, width 4); NAS's
    # mask must have m's width (3), so this runs and differs from inference.
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    layer = keras.layers.RNN(NASCell(4, projection=3, recurrent_dropout=0.5,
                                     recurrent_dropconnect=0.5))
    inference = layer(x)
    training = layer(x, training=True)
    assert training.shape == inference.shape == (2, 3)
    assert not np.allclose(training, inference)
    np.testing.assert_array_equal(layer(x), inference)


def test_config_round_trip():
    cell = NASCell(10, projection=5, use_bias=True, name="nas_cell_3")
    config = cell.get_config()
    for key in ("units", "projection", "use_bias", "kernel_initializer",
                "recurrent_initializer", "bias_initializer", "projection_initializer"):
        assert key in config  # tfa's keys
    assert "activation" not in config  # fixed by the architecture
    restored = NASCell.from_config(config)
    assert restored.get_config() == config


@pytest.mark.parametrize("kwargs, name", [
    ({"units": 0}, "units"),
    ({"units": 2, "projection": 0}, "projection"),
    ({"units": 2, "activation": "relu"}, "activation"),
    ({"units": 2, "recurrent_dropconnect": 1.0}, "recurrent_dropconnect"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NASCell(**kwargs)


def test_keras_save_load_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)),
                              keras.layers.RNN(NASCell(5, projection=2, use_bias=True))])
    randomize(model.layers[0].cell)
    path = str(tmp_path / "nas.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_gradients_are_finite_for_every_weight():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype("float32")
    layer = keras.layers.RNN(NASCell(4, projection=3, use_bias=True))
    layer.build((None, 5, 2))
    randomize(layer.cell)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 4
    for weight, grad in zip(layer.trainable_weights, grads):
        assert np.all(np.isfinite(grad)) and np.any(grad != 0), weight.name


def test_mixed_float16_matches_float32():
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    ref_layer = keras.layers.RNN(NASCell(4, projection=2))
    ref_layer.build((None, 4, 3))
    randomize(ref_layer.cell)
    expected = ref_layer(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(NASCell(4, projection=2))
    layer.build((None, 4, 3))
    layer.cell.set_weights(ref_layer.cell.get_weights())
    out = layer(x)
    assert out.dtype == "float16"
    np.testing.assert_allclose(np.asarray(out, "float32"), expected, atol=1e-2)


def test_go_backwards_and_row_independence():
    assert backwards_and_row_properties_hold(lambda: NASCell(4, projection=3, use_bias=True))


def test_fused_rnn_matches_keras_rnn():
    assert_fused_matches_keras(lambda: NASCell(4, projection=3, use_bias=True))
