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


# ------------------------------------------------------------------ the config keys
#: what rnncells adds to each cell's tfa config (docs/migrating_from_tfa.md); tfa's
#: `implementation` is accepted but not written, every Keras 3 config has a `name`.
EXTRA_KEYS = {
    "LayerNormLSTMCell": {"formulation", "seed", "recurrent_dropconnect"},
    "LayerNormSimpleRNNCell": {"seed", "recurrent_dropconnect"},
    "PeepholeLSTMCell": {"seed", "recurrent_dropconnect"},
    "NASCell": {f"{prefix}_{kind}" for prefix in ("kernel", "recurrent", "bias", "projection")
                for kind in ("regularizer", "constraint")}
    | {"dropout", "recurrent_dropout", "recurrent_dropconnect", "seed"},
    "ESNCell": {"dropout", "recurrent_dropout", "seed"},
}


def config_keys_are_tfas(cls, name):
    """`cls(4).get_config()` has exactly the keys of tfa's `name` and rnncells' documented
    additions."""
    expected = (set(TFA_CONFIGS[name]) - {"implementation"}) | {"name"} | EXTRA_KEYS[name]
    return set(cls(4).get_config()) == expected


class SimpleRNNWithRecurrentActivation(rnncells.LayerNormSimpleRNNCell):
    """Mutant: takes and writes the inherited `recurrent_activation`, which a SimpleRNN (and
    tfa's config) does not have."""

    activation_arguments = ("activation", "recurrent_activation")


@pytest.mark.parametrize("name", list(TFA_CONFIGS))
def test_config_has_tfas_keys_and_the_documented_additions_only(name):
    assert config_keys_are_tfas(getattr(rnncells, name), name)


def test_config_key_check_catches_an_inherited_key():
    assert not config_keys_are_tfas(SimpleRNNWithRecurrentActivation, "LayerNormSimpleRNNCell")


@pytest.mark.parametrize("name, argument, value", [
    ("LayerNormSimpleRNNCell", "recurrent_activation", "relu"),
    ("NASCell", "activation", "relu"),
    ("NASCell", "recurrent_activation", "relu"),
    ("ESNCell", "recurrent_activation", "relu"),
    ("ESNCell", "kernel_regularizer", "l2"),
])
def test_an_argument_the_cell_does_not_have_is_refused(name, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` for {name}.*{value}"):
        getattr(rnncells, name)(4, **{argument: value})


# ------------------------------------------------------------------ positional arguments
#: (tfa's leading argument names, values for them, a value for one more positional argument).
#: The cells built on Keras's LSTMCell / SimpleRNNCell take `units` by position and the rest
#: by keyword; NASCell and ESNCell take tfa's whole (short) signature by position.
POSITIONAL = {
    "LayerNormLSTMCell": (("units",), (4,), "relu"),  # tfa's next argument: activation
    "LayerNormSimpleRNNCell": (("units",), (4,), "relu"),
    "PeepholeLSTMCell": (("units",), (4,), "relu"),
    "NASCell": (("units", "projection", "use_bias", "kernel_initializer",
                 "recurrent_initializer", "projection_initializer", "bias_initializer"),
                (4, 3, True, "ones", "zeros", "ones", "ones"), 0.5),
    "ESNCell": (("units", "connectivity", "leaky", "spectral_radius", "use_norm2", "use_bias",
                 "activation", "kernel_initializer", "recurrent_initializer",
                 "bias_initializer"),
                (4, 0.5, 0.5, 0.8, True, False, "relu", "ones", "ones", "ones"), 0.5),
}


def binds_positions_as_tfa(cls, names, values, extra):
    """`cls(*values)` is `cls(**dict(zip(names, values)))`, and one more positional argument
    is a TypeError (never bound to some other argument)."""
    by_position = cls(*values, name="cell").get_config()
    if by_position != cls(**dict(zip(names, values)), name="cell").get_config():
        return False
    try:
        cls(*values, extra, name="cell")
    except TypeError:
        return True
    return False


class UnitForgetBiasSecond(rnncells.PeepholeLSTMCell):
    """Mutant: `unit_forget_bias` by position after `units`, where tfa has `activation`, so
    `cell(4, "relu")` silently sets unit_forget_bias."""

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, unit_forget_bias=unit_forget_bias, **kwargs)


@pytest.mark.parametrize("name", list(POSITIONAL))
def test_positional_arguments_bind_as_in_tfa_or_are_refused(name):
    assert binds_positions_as_tfa(getattr(rnncells, name), *POSITIONAL[name])


def test_positional_check_catches_a_misbound_argument():
    assert not binds_positions_as_tfa(UnitForgetBiasSecond, *POSITIONAL["PeepholeLSTMCell"])
