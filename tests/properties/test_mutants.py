"""Every property check fails on a deliberately broken cell and passes on its healthy twin.

Same checkers, same bounds as test_cell_properties.py; only the cell is broken.
"""

import math

import keras
import numpy as np

import rnncells
from rnncells.cells.minimal import MinGRUCell
from tests.properties import checks
from tests.properties.registry import MEMORY_SPECS, SPECS, fro

SPEC = {s.name: s for s in SPECS + MEMORY_SPECS}


def _x(batch, steps, scale=1.0, seed=0):
    return (scale * np.random.default_rng(seed).standard_normal((batch, steps, 3))).astype(
        "float32")


def _simple_rnn_bound(units):
    # proof for keras.layers.SimpleRNNCell at its default initialization: the step Jacobian
    # diag(tanh') U^T with U orthogonal has spectral norm <= 1, so over any number of steps
    # ||d h_T/d h_t||_2 <= 1 and ||.||_F <= sqrt(units).
    return math.sqrt(units) * (1 + 1e-5)


def test_no_explosion_fails_on_simple_rnn_with_recurrent_weights_times_3():
    x = _x(2, 100)
    healthy = keras.layers.SimpleRNNCell(4)
    result = checks.check_no_explosion(checks.trace(healthy, x), _simple_rnn_bound(4),
                                       fro(healthy.kernel) if healthy.built else None)
    assert result, result.message
    mutant = keras.layers.SimpleRNNCell(
        4, recurrent_initializer=keras.initializers.Orthogonal(gain=3.0))
    # tanh saturation tempers the growth (chaotic regime): ~4.5x the bound at T = 100.
    broken = checks.check_no_explosion(checks.trace(mutant, x), _simple_rnn_bound(4))
    assert not broken and broken.value > 2 * broken.limit, broken.message


def test_no_explosion_fails_on_indrnn_without_its_bound():
    spec = SPEC["IndRNNCell"]
    x = _x(2, 100, scale=0.01)
    healthy = rnncells.IndRNNCell(4, max_steps=300, bias_initializer="ones")
    tr = checks.trace(healthy, x)
    assert checks.check_no_explosion(tr, spec.jacobian_bound(healthy, x),
                                     spec.input_bound(healthy, x))
    # |u| = 1.5 > 2^(1/300) with every unit active (bias 1, small inputs): 1.5^99 per element.
    mutant = rnncells.IndRNNCell(4, recurrent_initializer=keras.initializers.Constant(1.5),
                                 bias_initializer="ones")
    broken = checks.check_no_explosion(checks.trace(mutant, x), spec.jacobian_bound(mutant, x))
    assert not broken and broken.value > 1e10, broken.message


def test_memory_fails_on_simple_rnn_times_0_1_and_on_a_closed_forget_gate():
    x = _x(2, 300)
    spec = SPEC["PeepholeLSTMCell+chrono"]
    healthy = spec.make(3)
    assert checks.check_memory(checks.trace(healthy, x), spec.memory_threshold(healthy, x))
    # recurrent weights x0.1: ||d h_T/d h_0|| <= 0.1^299
    shrunk = keras.layers.SimpleRNNCell(
        3, recurrent_initializer=keras.initializers.Orthogonal(gain=0.1))
    broken = checks.check_memory(checks.trace(shrunk, x), 1e-3)
    assert not broken and broken.value < 1e-30, broken.message
    # forget bias -5 instead of chrono: the c-path keeps sigma(-5)^299 ~ 1e-290
    closed = rnncells.PeepholeLSTMCell(3, unit_forget_bias=False,
                                       bias_initializer=keras.initializers.Constant(-5.0))
    broken = checks.check_memory(checks.trace(closed, x), spec.memory_threshold(closed, x))
    assert not broken, broken.message


def test_finite_fails_on_a_linear_rnn_times_3():
    x = _x(2, 300)
    assert checks.check_finite(checks.trace(keras.layers.SimpleRNNCell(3), x))
    # h_t = x_t W + 3 Q h_{t-1}: |h| grows like 3^t and overflows float32 (3^81 > 3.4e38).
    mutant = keras.layers.SimpleRNNCell(
        3, activation=None, recurrent_initializer=keras.initializers.Orthogonal(gain=3.0))
    broken = checks.check_finite(checks.trace(mutant, x))
    assert not broken, broken.message


class UnnormalizedMinGRUCell(MinGRUCell):
    """Mutant: keep coefficient 1 + (1 - z) > 1, so h is no longer a convex combination."""

    def scan_coefficients(self, projected):
        a, b = super().scan_coefficients(projected)
        return 1.0 + a, b


def test_bounded_state_and_no_explosion_fail_on_a_non_convex_min_gru():
    spec = SPEC["MinGRUCell"]
    x = _x(2, 60)
    keras.utils.set_random_seed(5)
    healthy = MinGRUCell(4)
    tr = checks.trace(healthy, x)
    assert checks.check_bounded_state(tr, spec.state_bound(healthy, x))
    assert checks.check_no_explosion(tr, spec.jacobian_bound(healthy, x))
    keras.utils.set_random_seed(5)
    mutant = UnnormalizedMinGRUCell(4)
    np.testing.assert_array_equal(_kernel(mutant, x), _kernel(healthy, x))  # same weights
    tr = checks.trace(mutant, x)
    bounded = checks.check_bounded_state(tr, spec.state_bound(mutant, x))
    assert not bounded, bounded.message
    exploded = checks.check_no_explosion(tr, spec.jacobian_bound(mutant, x))
    assert not exploded, exploded.message


def _kernel(cell, x):
    if not cell.built:
        cell.build((None, x.shape[-1]))
    return cell.kernel.numpy()
