"""Every rnncells cell accepts relu, leaky_relu, tanh, elu and softplus as `activation`, and a
leaky_relu slope (`rnncells.activations.LeakyReLU`) survives get_config / from_config.

The cells are the exported `RecurrentCell` subclasses: those below with their own factory,
plus any other exported cell built as `cls(units, activation=...)` (discovered, so a new cell
is covered without editing this file).
"""

import inspect

import keras
import numpy as np
import pytest

import rnncells
from rnncells.cells.base import RecurrentCell

# (factory, one input step without batch)
FACTORIES = {
    "LayerNormLSTMCell": (lambda a: rnncells.LayerNormLSTMCell(3, activation=a), (2,)),
    "LayerNormGRUCell": (lambda a: rnncells.LayerNormGRUCell(3, activation=a), (2,)),
    "LayerNormSimpleRNNCell": (lambda a: rnncells.LayerNormSimpleRNNCell(3, activation=a),
                               (2,)),
    "ConvLSTMCell": (lambda a: rnncells.ConvLSTMCell(1, 2, 3, activation=a), (5, 2)),
    "ConvGRUCell": (lambda a: rnncells.ConvGRUCell(2, 2, 3, activation=a,
                                                   normalization="layer"), (4, 4, 2)),
    "IndRNNCell": (lambda a: rnncells.IndRNNCell(3, activation=a, max_steps=4), (2,)),
}


def _discovered():
    for name in rnncells.__all__:
        cls = getattr(rnncells, name)
        if (name in FACTORIES or not inspect.isclass(cls)
                or not issubclass(cls, RecurrentCell)):
            continue
        try:
            cell = cls(3, activation="tanh")
        except (TypeError, ValueError):
            continue  # not a `units` cell with an activation (e.g. a wrapper)
        if "activation" not in cell.get_config():
            continue  # takes no activation (NASCell: fixed by its architecture)
        FACTORIES[name] = ((lambda c: lambda a: c(3, activation=a))(cls), (2,))


_discovered()

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),
    "tanh": np.tanh,
    "elu": lambda z: np.where(z >= 0, z, np.expm1(z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "LeakyReLU(0.05)": lambda z: np.where(z >= 0, z, 0.05 * z),
}


def _resolve(name):
    return rnncells.activations.LeakyReLU(0.05) if name == "LeakyReLU(0.05)" else name


def test_the_known_cells_are_covered():
    assert {"LayerNormLSTMCell", "LayerNormGRUCell", "LayerNormSimpleRNNCell",
            "ConvLSTMCell", "ConvGRUCell", "IndRNNCell"} <= set(FACTORIES)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("cell_name", sorted(FACTORIES))
def test_cell_accepts_activation_and_round_trips_it(cell_name, activation):
    factory, step_shape = FACTORIES[cell_name]
    cell = factory(_resolve(activation))
    probe = np.linspace(-3.0, 3.0, 13).astype("float32")
    np.testing.assert_allclose(cell.activation(probe), ACTIVATIONS[activation](probe),
                               rtol=1e-5, atol=1e-6)
    x = np.random.default_rng(0).normal(size=(2, *step_shape)).astype("float32")
    cell.build(x.shape)
    out, _ = cell(x, cell.get_initial_state(2))  # one step, as keras.layers.RNN calls it
    assert np.all(np.isfinite(np.asarray(out)))
    for clone in (type(cell).from_config(cell.get_config()),
                  keras.saving.deserialize_keras_object(
                      keras.saving.serialize_keras_object(cell))):
        assert type(clone) is type(cell)
        np.testing.assert_allclose(clone.activation(probe), ACTIVATIONS[activation](probe),
                                   rtol=1e-5, atol=1e-6)
        assert clone.get_config()["activation"] == cell.get_config()["activation"]
