"""unit_health: dead ReLU units and saturated gates, on cells whose answer is known exactly."""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.diagnostics import unit_health
from tests.cells import activation_reference as ref


def _x(steps=6):
    return np.random.default_rng(0).normal(size=(3, steps, 2)).astype("float32")


def test_dead_relu_units_counted_exactly():
    # zero input and recurrent weights: pre-activation = bias, so units with bias -1 output 0
    # at every step (dead) and units with bias +1 output 1 (alive): 2 of 5 dead.
    bias = np.array([-1, -1, 1, 1, 1], "float32")
    cell = keras.layers.SimpleRNNCell(5, activation="relu", kernel_initializer="zeros",
                                      recurrent_initializer="zeros",
                                      bias_initializer=keras.initializers.Constant(bias))
    health = unit_health(cell, _x())
    assert health.relu_units == 5 and health.dead_fraction == pytest.approx(2 / 5)
    assert health.gate_units == 0 and health.saturated_fraction is None  # not measured
    assert health.measured == {"dead": True, "saturation": False}
    assert "saturated: not measured" in health.summary()


def test_saturated_tanh_units_counted_exactly():
    # tanh(10) > 0.99 saturates, tanh(0) = 0 does not: 2 of 4 units saturated everywhere.
    cell = keras.layers.SimpleRNNCell(
        4, kernel_initializer="zeros", recurrent_initializer="zeros",
        bias_initializer=keras.initializers.Constant(np.array([10, -10, 0, 0], "float32")))
    health = unit_health(cell, _x())
    assert health.saturated_fraction == pytest.approx(0.5)
    assert health.saturated_unit_fraction == pytest.approx(0.5)
    assert health.dead_fraction is None and "dead: not measured" in health.summary()


def test_plain_keras_cell_without_get_initial_state_is_not_measured_not_healthy():
    class Plain(keras.layers.Layer):  # state_size + call: all keras.layers.RNN asks for
        state_size = 3

        def call(self, inputs, states):
            h = keras.ops.tanh(keras.ops.sum(inputs, -1, keepdims=True) + states[0])
            return h, [h]

    assert not hasattr(Plain(), "get_initial_state")
    health = unit_health(Plain(), _x())
    assert health.dead_fraction is None and health.saturated_fraction is None
    assert health.measured == {"dead": False, "saturation": False}
    assert health.summary().count("not measured") == 2


def test_lstm_sites_and_unsaturated_zero_weights():
    # all-zero weights: i = f = o = sigmoid(0) = 0.5, candidate tanh(0) = 0, c = 0: nothing
    # saturated. The five sites are i, f, candidate, o, act(c), in Keras's call order.
    cell = keras.layers.LSTMCell(3, kernel_initializer="zeros", recurrent_initializer="zeros",
                                 unit_forget_bias=False)
    health = unit_health(keras.layers.RNN(cell), _x())
    assert [s["function"] for s in health.sites] == ["sigmoid", "sigmoid", "tanh", "sigmoid",
                                                      "tanh"]
    assert health.saturated_fraction == 0.0 and health.gate_units == 15
    assert cell.activation is keras.activations.tanh  # the recorders are removed again


def _recording(fn, outputs):
    def record(z):
        y = fn(z)
        outputs.append(y)
        return y
    return record


def test_dead_fraction_of_indrnn_in_a_model_equals_a_numpy_count():
    # The Dense layer in front feeds the cell; the NumPy IndRNN (activation_reference) run on
    # the Dense outputs gives every relu output, so the dead units are counted by hand.
    cell = rnncells.IndRNNCell(6, bias_initializer=keras.initializers.Constant(
        np.array([-3, -3, 0, 0, 1, 1], "float32")))
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.Dense(2),
                              keras.layers.RNN(cell)])
    x = _x()
    health = unit_health(model, x)
    dense_out = np.asarray(model.layers[0](x), np.float64)
    outputs = []
    step = ref.indrnn(ref.weights_by_name(cell), _recording(ref.ACTIVATIONS["relu"], outputs),
                      None)
    ref.run(step, dense_out, [np.zeros((3, 6))])
    dead = int((np.stack(outputs) <= 0).all(axis=(0, 1)).sum())
    assert health.relu_units == 6
    assert health.dead_fraction == pytest.approx(dead / 6)
    assert 0 < dead < 6  # the biases make some units dead and some alive: a real count


def test_saturated_fraction_of_layer_norm_lstm_equals_a_numpy_count():
    # Weights x3 push some gates into saturation; the NumPy LN-LSTM records every sigmoid and
    # tanh output (i, f, candidate, o, act(c) per step), and the saturated ones are counted.
    cell = rnncells.LayerNormLSTMCell(3)
    x = 3 * _x()
    keras.layers.RNN(cell)(x)
    rng = np.random.default_rng(3)
    cell.set_weights([w * 3 + rng.normal(0, 0.5, w.shape).astype("float32")
                      for w in cell.get_weights()])
    health = unit_health(cell, x)
    gates, cands = [], []
    step = ref.layer_norm_lstm(ref.weights_by_name(cell), _recording(np.tanh, cands),
                               _recording(ref.sigmoid, gates))
    ref.run(step, np.asarray(x, np.float64), [np.zeros((3, 3)), np.zeros((3, 3))])
    gates, cands = np.stack(gates), np.stack(cands)
    saturated = ((gates < 0.01) | (gates > 0.99)).sum() + (np.abs(cands) > 0.99).sum()
    total = gates.size + cands.size
    assert health.gate_units == 15
    # float32 vs float64: a value within rounding of the 0.01 threshold may flip; allow 1.
    assert health.saturated_fraction == pytest.approx(saturated / total, abs=1.01 / total)
    assert 0 < saturated < total
    with pytest.raises(ValueError, match="threshold"):
        unit_health(rnncells.IndRNNCell(2), _x(), threshold=0.5)
