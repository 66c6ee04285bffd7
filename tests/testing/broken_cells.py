"""Deliberately broken cells for `rnncells.testing.check_cell`: each makes one property fail
the way a real mistake does (the "Write your own cell" guide lists them)."""

import keras
from keras import ops

import rnncells


class TanhCell(rnncells.RecurrentCell):
    """A healthy cell: h_t = tanh(x_t @ W + h_{t-1} @ U + b)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def project(self, inputs, training=None):
        return inputs @ self.kernel + self.bias

    def recur(self, projected, states, training=None):
        h = ops.tanh(projected + states[0] @ self.recurrent_kernel)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class LoudCell(TanhCell):
    """bounded_state: the state is 2000 tanh(.) (the recurrence sees it divided by 2000, so
    the Jacobian is the healthy cell's)."""

    def recur(self, projected, states, training=None):
        h = 2000.0 * ops.tanh(projected + (states[0] / 2000.0) @ self.recurrent_kernel)
        return h, [h]


class BatchStatisticsCell(TanhCell):
    """batch_independence: normalizes over the batch at inference too."""

    def recur(self, projected, states, training=None):
        z = projected + states[0] @ self.recurrent_kernel
        h = ops.tanh(z - ops.mean(z, axis=0, keepdims=True))
        return h, [h]


class SideEffectCell(TanhCell):
    """masking: counts its calls in a variable and reads the count, so state lives outside
    `states`, which the RNN layers cannot hold at a masked step."""

    def build(self, input_shape):
        super().build(input_shape)
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="calls")

    def recur(self, projected, states, training=None):
        self.calls.assign_add(1.0)
        h = ops.tanh(projected + states[0] @ self.recurrent_kernel + 0.1 * self.calls)
        return h, [h]


class ForgetfulConfigCell(TanhCell):
    """config_round_trip: `gain` changes the outputs but get_config() leaves it out."""

    def __init__(self, units, gain=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.gain = gain

    def recur(self, projected, states, training=None):
        h = ops.tanh(self.gain * projected + states[0] @ self.recurrent_kernel)
        return h, [h]


@keras.saving.register_keras_serializable(package="rnncells_tests")
class LazySublayerCell(TanhCell):
    """keras_round_trip: a sublayer built on first call instead of in build(), so a loaded
    model has no weights to restore it into."""

    def build(self, input_shape):
        super().build(input_shape)
        self.norm = keras.layers.Dense(self.units, name="late")

    def project(self, inputs, training=None):
        return self.norm(super().project(inputs))


class FalseClaimGRUCell(rnncells.LayerNormGRUCell):
    """fused_equals_rnn: overrides `recur` (a different candidate gain) but claims that the
    parent's analytic adjoint still holds, so FusedRNN's gradients are the parent's."""

    fast_paths_hold = True

    def recur(self, projected, states, training=None):
        return super().recur(2.0 * projected, states, training=training)
