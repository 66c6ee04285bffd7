"""IndRNN's promise at T = 1000, measured by autodiff: with `max_steps=1000`, after an
optimizer step (Keras applies the constraint), every entry of d h_T / d h_t is <= 2 in
magnitude for every t, with the Jacobian taken by TensorFlow's autodiff through the cell's
own call (no formula for it).

How: the state entering step t is h_t + delta_t with delta_t = 0 a watched input; one
backward pass per output unit j of sum_b h_T[b, j] gives row j of d h_T / d h_t for every t
and sample at once (rows never interact in inference mode).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncells import IndRNNCell
from tests.cells.test_indrnn import BATCH, FEATURES, UNITS, BoundHarness, MutantIndRNNCell, T

# float32 products over 1000 steps: relative rounding <= 1000 * 2^-24 < 1e-4.
BOUND = 2.0 * (1 + 1e-4)


class Harness(BoundHarness):
    """test_indrnn's harness (layer, SGD step with the constraint) + an autodiff Jacobian."""

    def __init__(self, cell):
        super().__init__(cell)
        self.jacobian = tf.function(self._jacobian)

    def _jacobian(self, x):
        """(UNITS_out, BATCH, T, UNITS_in): d h_T[:, j] / d h_t by autodiff."""
        deltas = tf.zeros((T, BATCH, UNITS))
        steps = tf.transpose(x, (1, 0, 2))

        def step(h, inputs):
            x_t, delta_t = inputs
            return self.cell(x_t, [h + delta_t])[0]

        with tf.GradientTape(persistent=True) as tape:
            tape.watch(deltas)
            states = tf.scan(step, (steps, deltas), initializer=tf.zeros((BATCH, UNITS)))
            last = states[-1]
            rows = [tf.reduce_sum(last[:, j]) for j in range(UNITS)]
        jac = tf.stack([tape.gradient(r, deltas) for r in rows])  # (out, T, B, in)
        return tf.transpose(jac, (0, 2, 1, 3)), states

    def check(self, u_raw, seed, learning_rate, scale):
        """Assign u, one SGD step, then the largest |d h_T / d h_t| entry and finiteness."""
        rng = np.random.default_rng(seed)
        self.cell.recurrent_kernel.assign(np.asarray(u_raw, "float32"))
        self.cell.bias.assign(np.abs(rng.normal(size=UNITS)).astype("float32"))
        x = tf.constant(rng.normal(size=(BATCH, T, FEATURES)) * scale, tf.float32)
        grads = [tf.where(tf.math.is_finite(g), g, 0.0) for g in self.run(x)[2][:-1]]
        self.optimizer.learning_rate = learning_rate
        self.optimizer.apply(grads, self.layer.trainable_variables)
        x = tf.constant(rng.normal(size=(BATCH, T, FEATURES)) * scale, tf.float32)
        jac, states = self.jacobian(x)
        jac = jac.numpy()
        # The same states as keras.layers.RNN (the scan runs the cell's own call).
        np.testing.assert_allclose(states.numpy().transpose(1, 0, 2), self.layer(x).numpy(),
                                   rtol=1e-4, atol=1e-5)  # 1000 steps of rounding
        largest = float(np.max(np.abs(jac))) if np.isfinite(jac).all() else float("inf")
        return largest


@pytest.fixture(scope="module")
def harness():
    keras.utils.set_random_seed(0)
    return Harness(IndRNNCell(UNITS, max_steps=T))


@pytest.mark.slow
@settings(max_examples=4)
@given(u_raw=st.lists(st.floats(-3.0, 3.0), min_size=UNITS, max_size=UNITS),
       seed=st.integers(0, 2**16), learning_rate=st.sampled_from([0.01, 0.1, 1.0]),
       scale=st.sampled_from([0.1, 1.0, 3.0]))
def test_autodiff_jacobian_stays_within_two_over_max_steps(harness, u_raw, seed,
                                                              learning_rate, scale):
    assert harness.check(u_raw, seed, learning_rate, scale) <= BOUND


@pytest.mark.slow
def test_an_unconstrained_cell_breaks_the_autodiff_bound():
    """Mutant: max_steps given but the constraint dropped; u = 1.1 gives 1.1^999."""
    keras.utils.set_random_seed(0)
    mutant = Harness(MutantIndRNNCell(UNITS, max_steps=T))
    assert mutant.check([1.1] * UNITS, seed=3, learning_rate=0.0, scale=0.01) > BOUND
