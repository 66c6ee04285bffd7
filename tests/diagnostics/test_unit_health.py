"""unit_health: dead ReLU units and saturated gates, on cells whose answer is known exactly."""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.diagnostics import unit_health


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
    assert health.gate_units == 0 and health.saturated_fraction == 0.0


def test_saturated_tanh_units_counted_exactly():
    # tanh(10) > 0.99 saturates, tanh(0) = 0 does not: 2 of 4 units saturated everywhere.
    cell = keras.layers.SimpleRNNCell(
        4, kernel_initializer="zeros", recurrent_initializer="zeros",
        bias_initializer=keras.initializers.Constant(np.array([10, -10, 0, 0], "float32")))
    health = unit_health(cell, _x())
    assert health.saturated_fraction == pytest.approx(0.5)
    assert health.saturated_unit_fraction == pytest.approx(0.5)
    assert health.dead_fraction == 0.0


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


def test_rnncells_cells_and_a_model_wrapping_one():
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.Dense(2),
                              keras.layers.RNN(rnncells.IndRNNCell(4))])
    health = unit_health(model, _x())
    assert health.relu_units == 4 and 0.0 <= health.dead_fraction <= 1.0
    ln = unit_health(rnncells.LayerNormLSTMCell(3), _x())
    assert ln.gate_units == 15 and 0.0 <= ln.saturated_fraction <= 1.0
    with pytest.raises(ValueError, match="threshold"):
        unit_health(rnncells.IndRNNCell(2), _x(), threshold=0.5)
