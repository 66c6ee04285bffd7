"""The README's example of a user's cell on the public protocol (`rnncells.RecurrentCell`),
used by tests/test_user_cell.py and the cross-backend tests."""

import keras

import rnncells


@keras.saving.register_keras_serializable(package="rnncells_tests")
class LayerNormIndRNN(rnncells.RecurrentCell):
    """h_t = relu(LN(x_t @ W) + u * h_{t-1})"""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.u = self.add_weight(shape=(self.units,), name="u", initializer="ones")
        self.norm = keras.layers.LayerNormalization()
        self.norm.build((None, self.units))  # build sublayers here: .keras files need it

    def project(self, inputs, training=None):
        return self.norm(inputs @ self.kernel)

    def recur(self, projected, states, training=None):
        h = keras.ops.relu(projected + self.u * states[0])
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
