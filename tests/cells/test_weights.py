"""The weight-argument helper: one triplet (initializer, regularizer, constraint) per weight."""

import keras
import numpy as np
import pytest

from rnncells.cells.weights import KernelRecurrentCell, WeightArguments


class Scaled(WeightArguments, keras.layers.Layer):
    """A layer with one weight `gamma` and Keras's three arguments for it."""

    def __init__(self, gamma_initializer="ones", gamma_regularizer=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.set_weight_arguments("gamma", gamma_initializer, gamma_regularizer,
                                  gamma_constraint)

    def build(self, input_shape):
        self.gamma = self.add_weight_with_arguments("gamma", (input_shape[-1],), "gamma")

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), **self.weight_arguments_config("gamma")}


def test_the_triplet_reaches_add_weight_and_the_config():
    layer = Scaled(gamma_initializer=keras.initializers.Constant(3.0), gamma_regularizer="l2",
                   gamma_constraint="non_neg")
    layer.build((None, 4))
    np.testing.assert_allclose(layer.gamma.numpy(), 3.0)
    assert layer.gamma.constraint is layer.gamma_constraint
    assert len(layer.losses) == 1  # the regularizer is attached
    np.testing.assert_allclose(layer.losses[0], 0.01 * 4 * 9.0, rtol=1e-6)  # l2: 0.01 sum w^2
    config = layer.get_config()
    assert {key for key in config if key.startswith("gamma_")} == {
        "gamma_initializer", "gamma_regularizer", "gamma_constraint"}
    clone = Scaled.from_config(config)
    assert clone.get_config() == config
    assert isinstance(clone.gamma_constraint, keras.constraints.NonNeg)


def test_an_override_replaces_one_argument_only():
    layer = Scaled(gamma_regularizer="l1")
    layer.gamma = layer.add_weight_with_arguments(
        "gamma", (2,), "gamma", initializer="zeros", trainable=False)
    np.testing.assert_allclose(layer.gamma.numpy(), 0.0)
    assert not layer.gamma.trainable and layer.gamma.regularizer is layer.gamma_regularizer


class NoGates(KernelRecurrentCell):
    activation_arguments = ("activation",)


def test_undeclared_arguments_must_stay_at_their_defaults():
    assert "recurrent_activation" not in NoGates().get_config()
    assert "recurrent_initializer" in NoGates().get_config()
    NoGates(recurrent_activation="sigmoid")  # the default: accepted (configs of tfa / Keras 2)
    with pytest.raises(ValueError, match=r"`recurrent_activation` for NoGates.*='tanh'"):
        NoGates(recurrent_activation="tanh")
