"""Configs written by tensorflow-addons (Keras 2 serialization) rebuild the rnncells cells."""

import keras
import pytest

import rnncells


def keras2(class_name, **config):
    """An object as Keras 2 serialized it: class name and config, no module."""
    return {"class_name": class_name, "config": config}


COMMON = {"name": "cell", "trainable": True, "dtype": "float32", "use_bias": True,
          "kernel_initializer": keras2("GlorotUniform", seed=None),
          "bias_initializer": keras2("Zeros")}
DENSE = {**COMMON, "activation": "tanh", "recurrent_initializer": keras2("Orthogonal",
                                                                         seed=None, gain=1.0),
         "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
         "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
         "dropout": 0.0, "recurrent_dropout": 0.0}

TFA_CONFIGS = {
    # LSTMCell's keys (with Keras 2's `implementation`) + the three norm arguments.
    "LayerNormLSTMCell": {**DENSE, "units": 4, "recurrent_activation": "sigmoid",
                          "unit_forget_bias": True, "implementation": 2,
                          "norm_gamma_initializer": keras2("Ones"),
                          "norm_beta_initializer": keras2("Zeros"), "norm_epsilon": 1e-4},
    # SimpleRNNCell's keys without `name` (tfa deletes it) + its LayerNormalization's.
    "LayerNormSimpleRNNCell": {**{k: v for k, v in DENSE.items() if k != "name"}, "units": 4,
                               "layernorm_epsilon": 1e-4, "gamma_initializer": keras2("Ones"),
                               "gamma_regularizer": None, "gamma_constraint": None},
    "PeepholeLSTMCell": {**DENSE, "units": 4, "recurrent_activation": "sigmoid",
                         "unit_forget_bias": True, "implementation": 1},
    "NASCell": {**COMMON, "units": 4, "projection": 3,
                "recurrent_initializer": "glorot_uniform",
                "projection_initializer": "glorot_uniform"},
    "ESNCell": {**COMMON, "units": 4, "connectivity": 0.5, "leaky": 0.5, "spectral_radius": 0.8,
                "use_norm2": True, "activation": "tanh",
                "recurrent_initializer": keras2("GlorotUniform", seed=None)},
}


@pytest.mark.parametrize("name", list(TFA_CONFIGS))
def test_tfa_config_rebuilds_the_cell(name):
    config = TFA_CONFIGS[name]
    cell = getattr(rnncells, name).from_config(dict(config))
    assert cell.units == 4
    for key in ("norm_epsilon", "layernorm_epsilon", "projection", "leaky", "spectral_radius"):
        if key in config:
            assert getattr(cell, key) == config[key]
    out = keras.layers.RNN(cell)(keras.ops.ones((2, 3, 5)))
    assert tuple(out.shape) == (2, cell.output_size)
    if name == "LayerNormSimpleRNNCell":
        assert cell.layernorm.epsilon == 1e-4
