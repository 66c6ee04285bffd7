"""PeepholeLSTMCell: NumPy reference, tfa's numbers and weight order, the Keras contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncells.cells.layer_norm import LayerNormLSTMCell
from rnncells.cells.peephole import PeepholeLSTMCell


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def peephole_step(x, h, c, kernel, recurrent_kernel, bias, p_i, p_f, p_o):
    """One step of the peephole LSTM, equations written out (tfa 0.23 / Sak et al. 2014)."""
    z = x @ kernel + h @ recurrent_kernel + bias
    u = h.shape[-1]
    z_i, z_f, z_c, z_o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
    i = sigmoid(z_i + p_i * c)            # input gate peeks at the previous c
    f = sigmoid(z_f + p_f * c)            # forget gate peeks at the previous c
    c_new = f * c + i * np.tanh(z_c)
    o = sigmoid(z_o + p_o * c_new)        # output gate peeks at the NEW c
    h_new = o * np.tanh(c_new)
    return h_new, c_new


def run_reference(weights, x, mask=None):
    """Whole sequence; masked steps keep the state (keras.layers.RNN's semantics)."""
    batch, steps, _ = x.shape
    units = weights[1].shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outputs = []
    for t in range(steps):
        h_new, c_new = peephole_step(x[:, t], h, c, *weights)
        if mask is not None:
            keep = mask[:, t:t + 1]
            h_new = np.where(keep, h_new, h)
            c_new = np.where(keep, c_new, c)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, 1), h, c


def randomize(cell, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, scale, w.shape).astype("float32") for w in cell.get_weights()]
    cell.set_weights(weights)
    return [w.astype("float64") for w in weights]


def built_cell(units=3, features=2, **kwargs):
    cell = PeepholeLSTMCell(units, **kwargs)
    cell.build((None, features))
    return cell


def test_one_step_matches_numpy_reference():
    cell = built_cell(4, 3)
    weights = randomize(cell)
    rng = np.random.default_rng(1)
    x, h, c = (rng.normal(size=s).astype("float32") for s in [(2, 3), (2, 4), (2, 4)])
    out, (h_new, c_new) = cell(x, [h, c])
    ref_h, ref_c = peephole_step(x, h, c, *weights)
    np.testing.assert_allclose(out, ref_h, atol=1e-5)
    np.testing.assert_allclose(h_new, ref_h, atol=1e-5)
    np.testing.assert_allclose(c_new, ref_c, atol=1e-5)


@settings(max_examples=5)
@given(batch=st.integers(1, 4), steps=st.integers(1, 6), features=st.integers(1, 5),
       units=st.integers(1, 5), seed=st.integers(0, 100))
def test_sequence_through_keras_rnn_matches_reference(batch, steps, features, units, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    layer = keras.layers.RNN(PeepholeLSTMCell(units), return_sequences=True,
                             return_state=True)
    layer.build((None, steps, features))
    weights = randomize(layer.cell, seed)
    outputs, h, c = layer(x)
    ref_outputs, ref_h, ref_c = run_reference(weights, x)
    np.testing.assert_allclose(outputs, ref_outputs, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)


def test_masked_steps_leave_the_state_unchanged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = keras.layers.RNN(PeepholeLSTMCell(3), return_state=True)
    layer.build((None, 5, 2))
    weights = randomize(layer.cell)
    _, h, c = layer(x, mask=mask)
    _, ref_h, ref_c = run_reference(weights, x, mask)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)


def test_tfa_test_numbers():
    # tfa 0.23's peephole_lstm_cell_test: one_hot([1, 2, 3, 4], 4) (the last row is all zero),
    # kernel_initializer="ones", zero state. Each gate pre-activation is then 1 (rows 0-2), so
    # c' = sigma(1) tanh(1) = 0.55677 and h' = sigma(1 + 1 * c') tanh(c') = 0.417551 (the
    # output peephole, initialized to ones, sees the NEW c'); the zero row gives
    # c' = sigma(0) tanh(0) = 0 and h' = 0.
    cell = built_cell(5, 4, kernel_initializer="ones")
    inputs = np.eye(4, dtype="float32")[[1, 2, 3]]
    inputs = np.concatenate([inputs, np.zeros((1, 4), "float32")])
    out, _ = cell(inputs, cell.get_initial_state(batch_size=4))
    c_new = sigmoid(1.0) * np.tanh(1.0)
    derived = sigmoid(1.0 + c_new) * np.tanh(c_new)
    expected = np.array([[0.417551] * 5] * 3 + [[0.0] * 5])
    np.testing.assert_allclose(derived, 0.417551, atol=1e-6)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_weight_names_shapes_and_order_are_tfa_s():
    cell = built_cell(3, 2)
    names = [w.name for w in cell.weights]
    assert names == ["kernel", "recurrent_kernel", "bias", "input_gate_peephole_weights",
                     "forget_gate_peephole_weights", "output_gate_peephole_weights"]
    assert [tuple(w.shape) for w in cell.weights] == [(2, 12), (3, 12), (12,), (3,), (3,),
                                                      (3,)]
    assert len(cell.trainable_weights) == 6
    assert len(built_cell(3, 2, use_bias=False).weights) == 5
    # unit_forget_bias: the forget block (i, f, c, o order) starts at 1, the rest at 0.
    np.testing.assert_array_equal(cell.bias.numpy(), np.repeat([0.0, 1.0, 0.0, 0.0], 3))
    # The peepholes use kernel_initializer, as tfa.
    ones = built_cell(3, 2, kernel_initializer="ones")
    np.testing.assert_array_equal(ones.output_gate_peephole_weights.numpy(), np.ones(3))


def test_set_weights_from_tfa_ordered_list():
    # tfa's get_weights() order is kernel, recurrent_kernel, bias, then the three peepholes.
    source = built_cell(3, 2)
    weights = randomize(source, seed=7)
    target = built_cell(3, 2)
    target.set_weights([w.astype("float32") for w in weights])
    np.testing.assert_allclose(target.forget_gate_peephole_weights.numpy(), weights[4],
                               atol=1e-7)


def test_config_round_trip_and_tfa_config_keys():
    cell = PeepholeLSTMCell(4, unit_forget_bias=False, dropout=0.1, recurrent_dropout=0.2,
                            recurrent_dropconnect=0.3, name="peep")
    config = cell.get_config()
    restored = PeepholeLSTMCell.from_config(config)
    assert restored.get_config() == config
    assert (restored.units, restored.unit_forget_bias, restored.recurrent_dropconnect) == (
        4, False, 0.3)
    # A Keras 2 / tfa config carries `implementation`; it is accepted.
    assert PeepholeLSTMCell.from_config({**config, "implementation": 1}).units == 4


@pytest.mark.parametrize("kwargs, name", [
    ({"units": 0}, "units"),
    ({"units": 2, "implementation": 3}, "implementation"),
    ({"units": 2, "dropout": 1.0}, "dropout"),
    ({"units": 2, "recurrent_dropconnect": -0.1}, "recurrent_dropconnect"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        PeepholeLSTMCell(**kwargs)


def test_keras_save_load_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(PeepholeLSTMCell(5))])
    randomize(model.layers[0].cell)
    path = str(tmp_path / "peephole.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0].cell, PeepholeLSTMCell)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_training_step_gives_finite_gradients_for_every_weight():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype("float32")
    layer = keras.layers.RNN(PeepholeLSTMCell(4, dropout=0.2, recurrent_dropout=0.2))
    layer.build((None, 5, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 6
    for weight, grad in zip(layer.trainable_weights, grads):
        assert np.all(np.isfinite(grad)), weight.name
        assert np.any(grad != 0), weight.name


def test_mixed_float16_matches_float32():
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    ref_layer = keras.layers.RNN(PeepholeLSTMCell(4))
    ref_layer.build((None, 4, 3))
    weights = randomize(ref_layer.cell)
    expected = ref_layer(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(PeepholeLSTMCell(4))
    layer.build((None, 4, 3))
    layer.cell.set_weights([w.astype("float32") for w in weights])
    out = layer(x)
    assert out.dtype == "float16"
    assert all(w.dtype == "float32" for w in layer.weights)
    np.testing.assert_allclose(np.asarray(out, "float32"), expected, atol=1e-2)


def test_keras2_tfa_style_configs_are_accepted():
    # What `tfa_cell.get_config()` gives under Keras 2: serialized initializers as dicts, and
    # `implementation` (LSTMCell's, which both tfa LSTM cells inherit).
    glorot = {"module": "keras.initializers", "class_name": "GlorotUniform",
              "config": {"seed": None}, "registered_name": None}
    config = {"name": "peephole_lstm_cell", "trainable": True, "dtype": "float32", "units": 4,
              "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
              "kernel_initializer": glorot, "recurrent_initializer": "orthogonal",
              "bias_initializer": "zeros", "unit_forget_bias": True, "dropout": 0.0,
              "recurrent_dropout": 0.0, "implementation": 2}
    cell = PeepholeLSTMCell.from_config(config)
    assert cell.units == 4 and isinstance(cell.kernel_initializer,
                                          keras.initializers.GlorotUniform)
    ln_config = {**config, "name": "layer_norm_lstm_cell", "norm_epsilon": 1e-3,
                 "norm_gamma_initializer": "ones", "norm_beta_initializer": "zeros"}
    assert LayerNormLSTMCell.from_config(ln_config).norm_epsilon == 1e-3


def backwards_and_row_properties_hold(make_cell, features=3, seed=0):
    """go_backwards == the reversed sequence, and (inference) each row's output does not
    depend on the other rows of the batch. Returns whether both hold."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 5, features)).astype("float32")
    cell = make_cell()
    forward = keras.layers.RNN(cell)
    backward = keras.layers.RNN(cell, go_backwards=True)  # shares the cell's weights
    forward.build((None, 5, features))
    same_backwards = np.allclose(backward(x), forward(x[:, ::-1]), atol=1e-6)
    alone = np.concatenate([np.asarray(forward(x[i:i + 1])) for i in range(4)])
    return same_backwards and np.allclose(alone, forward(x), atol=1e-6)


class BatchCoupledPeephole(PeepholeLSTMCell):
    """Mutant: the batch mean of h leaks into the gates (as batch statistics would)."""

    def recur(self, projected, states, training=None):
        coupled = projected + keras.ops.mean(states[0], axis=0, keepdims=True)[:, :1]
        return super().recur(coupled, states, training)


def test_go_backwards_and_row_independence():
    assert backwards_and_row_properties_hold(lambda: PeepholeLSTMCell(4))


def test_the_row_property_catches_a_batch_coupled_mutant():
    assert not backwards_and_row_properties_hold(lambda: BatchCoupledPeephole(4))


def assert_fused_matches_keras(make_cell, features=3, seed=0, atol=1e-5):
    """FusedRNN(cell) == keras.layers.RNN(cell) on the same cell (so the same weights):
    outputs, final states and the gradients of the input and every trainable weight."""
    from rnncells.layers.fused_rnn import FusedRNN

    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(3, 6, features)).astype("float32"))
    mask = np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 1]], bool)
    cell = make_cell()
    reference = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    fused = FusedRNN(cell, return_sequences=True, return_state=True)
    reference.build((None, 6, features))
    randomize(cell, seed)
    assert fused.fused_path == "loop"  # the fast path, not the per-step fallback
    results, grads = [], []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            result = layer(x, mask=mask)
            loss = sum(tf.reduce_sum(tf.square(r)) for r in result)
        results.append(result)
        grads.append(tape.gradient(loss, [x] + cell.trainable_weights))
    for ref, got in zip(*results):
        np.testing.assert_allclose(got, ref, atol=atol)
    assert len(grads[0]) == 1 + len(cell.trainable_weights)
    for ref, got in zip(*grads):
        np.testing.assert_allclose(got, ref, atol=atol)


def test_fused_rnn_matches_keras_rnn():
    assert_fused_matches_keras(lambda: PeepholeLSTMCell(4))


def test_keras2_get_initial_state_keywords():
    # tfa's tests (Keras 2) call get_initial_state(inputs=..., batch_size=..., dtype=...).
    cell = PeepholeLSTMCell(5)
    inputs = np.eye(4, dtype="float32")
    for states in (cell.get_initial_state(inputs=inputs, batch_size=4, dtype="float32"),
                   cell.get_initial_state(inputs=inputs)):
        assert [tuple(s.shape) for s in states] == [(4, 5), (4, 5)]
        assert all(s.dtype == "float32" and not np.any(s) for s in states)
    assert cell.get_initial_state(batch_size=2, dtype="float16")[1].dtype == "float16"
