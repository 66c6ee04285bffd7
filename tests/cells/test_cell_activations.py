"""Every cell that takes `activation` / `recurrent_activation` computes with the ones it is
given: outputs compared with the NumPy references of `activation_reference` under
non-default activations (relu, a leaky relu with slope 0.1, elu; hard_sigmoid for the gates),
in keras.layers.RNN and in every FusedRNN path the cell has (per step, the compiled loop, and
the parallel scan for scan cells; the "keras" path runs Keras's own cells only), after a
get_config round trip too. A cell that ignores the activation it was given (hard-wired
tanh / sigmoid) fails the same comparison.
"""

import inspect

import keras
import numpy as np
import pytest

import rnncells
from rnncells.cells.base import RecurrentCell
from tests.cells import activation_reference as ref

UNITS = 3


def _both(cls, **kw):
    return lambda a, r: cls(UNITS, activation=a, recurrent_activation=r, **kw)


def _only(cls, **kw):
    return lambda a, r: cls(UNITS, activation=a, **kw)


# name: (factory(activation, recurrent_activation), one input step (no batch), reference,
#        takes recurrent_activation)
CELLS = {
    "LayerNormLSTMCell": (_both(rnncells.LayerNormLSTMCell), (4,), ref.layer_norm_lstm, True),
    "LayerNormGRUCell": (_both(rnncells.LayerNormGRUCell), (4,), ref.layer_norm_gru, True),
    "LayerNormSimpleRNNCell": (_only(rnncells.LayerNormSimpleRNNCell), (4,),
                               ref.layer_norm_simple_rnn, False),
    "BatchNormLSTMCell": (_both(rnncells.BatchNormLSTMCell, max_steps=3), (4,),
                          ref.batch_norm_lstm, True),
    "BatchNormGRUCell": (_both(rnncells.BatchNormGRUCell, max_steps=3), (4,),
                         ref.batch_norm_gru, True),
    "PeepholeLSTMCell": (_both(rnncells.PeepholeLSTMCell), (4,), ref.peephole_lstm, True),
    "ESNCell": (_only(rnncells.ESNCell, connectivity=1.0), (4,), ref.esn, False),
    "IndRNNCell": (_only(rnncells.IndRNNCell), (4,), ref.indrnn, False),
    "MinGRUCell": (_only(rnncells.MinGRUCell), (4,), ref.min_gru, False),
    "MinLSTMCell": (_only(rnncells.MinLSTMCell), (4,), ref.min_lstm, False),
    "ConvLSTMCell": (lambda a, r: rnncells.ConvLSTMCell(
        1, 2, 3, padding="same", activation=a, recurrent_activation=r), (5, 2), ref.conv_lstm,
        True),
    "ConvGRUCell": (lambda a, r: rnncells.ConvGRUCell(
        1, 2, 3, padding="same", activation=a, recurrent_activation=r), (5, 2), ref.conv_gru,
        True),
}
# Cells whose activations are fixed by their definition: they must refuse the argument.
FIXED = {"NASCell": lambda: rnncells.NASCell(UNITS, activation="relu")}

ACTIVATIONS = ("relu", "LeakyReLU(0.1)", "elu")
GATE = "hard_sigmoid"


def _resolve(name):
    return rnncells.activations.LeakyReLU(0.1) if name == "LeakyReLU(0.1)" else name


def _takes_activation(cls):
    return any("activation" in inspect.signature(klass.__init__).parameters
               for klass in cls.__mro__ if "__init__" in vars(klass))


def test_every_cell_with_an_activation_is_covered():
    exported = {name for name in rnncells.__all__
                if inspect.isclass(getattr(rnncells, name))
                and issubclass(getattr(rnncells, name), RecurrentCell)
                and _takes_activation(getattr(rnncells, name))}
    assert exported == set(CELLS) | set(FIXED)


@pytest.mark.parametrize("name", sorted(FIXED))
def test_cells_with_fixed_activations_refuse_the_argument(name):
    with pytest.raises(ValueError, match="activation"):
        FIXED[name]()


def test_reference_activations_match_keras():
    """The NumPy activations are the functions Keras resolves from the same identifiers."""
    probe = np.linspace(-7.0, 7.0, 57)
    for name in (*ACTIVATIONS, GATE, "leaky_relu", "tanh", "sigmoid"):
        fn = rnncells.activations.get(_resolve(name))
        np.testing.assert_allclose(np.asarray(fn(probe.astype("float32"))),
                                   ref.ACTIVATIONS[name](probe), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def _randomize(cell, seed=0):
    """Weights away from their initial values (gains and statistics included)."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in cell.weights:
        shape, path = tuple(weight.shape), weight.path
        if "variance" in path:
            values.append(rng.uniform(0.5, 2.0, shape))
        elif "gamma" in path:
            values.append(rng.uniform(0.5, 1.5, shape))
        else:
            values.append(rng.normal(0.0, 0.6, shape))
    cell.set_weights([v.astype("float32") for v in values])


def _inputs(step_shape, seed=1):
    return np.random.default_rng(seed).normal(size=(3, 4, *step_shape)).astype("float32")


def build_cell(name, activation, recurrent_activation=GATE):
    factory, step_shape = CELLS[name][:2]
    cell = factory(_resolve(activation), recurrent_activation)
    x = _inputs(step_shape)
    keras.layers.RNN(cell, return_sequences=True)(x)  # builds the weights
    _randomize(cell)
    return cell, x


def expected(name, cell, x, activation, recurrent_activation=GATE):
    _, _, reference, _ = CELLS[name]
    step = reference(ref.weights_by_name(cell), ref.ACTIVATIONS[activation],
                     ref.ACTIVATIONS[recurrent_activation])
    states = [np.asarray(s, np.float64) for s in cell.get_initial_state(x.shape[0])]
    return ref.run(step, np.asarray(x, np.float64), states)[0]


def layer_for(path, cell):
    if path == "rnn":
        return keras.layers.RNN(cell, return_sequences=True)
    layer = rnncells.FusedRNN(cell, return_sequences=True, use_fused=path != "per_step")
    if path == "loop" and layer.fused_path == "scan":
        layer.fused_path = "loop"  # the compiled loop also runs scan cells
    assert layer.fused_path == path
    return layer


def check(name, cell, x, activation, path):
    got = np.asarray(layer_for(path, cell)(x))
    np.testing.assert_allclose(got, expected(name, cell, x, activation), rtol=1e-4, atol=2e-5,
                               err_msg=f"{name} {activation} {path}")


def _paths(name):
    cell = CELLS[name][0]("tanh", "sigmoid")
    return ["rnn", "per_step", "loop"] + (["scan"] if cell.fused_spec().scan else [])


CASES = [(name, path) for name in sorted(CELLS) for path in _paths(name)]


@pytest.mark.parametrize("name,path", CASES)
def test_cell_uses_its_activations(name, path):
    for activation in ACTIVATIONS:
        cell, x = build_cell(name, activation)
        check(name, cell, x, activation, path)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_activations_survive_get_config(name):
    activation = "LeakyReLU(0.1)"
    cell, x = build_cell(name, activation)
    for clone in (type(cell).from_config(cell.get_config()),
                  keras.saving.deserialize_keras_object(
                      keras.saving.serialize_keras_object(cell))):
        assert type(clone) is type(cell)
        keras.layers.RNN(clone, return_sequences=True)(x)
        clone.set_weights(cell.get_weights())
        check(name, clone, x, activation, "rnn")


# ---------------------------------------------------------------- the comparison's mutants
@pytest.mark.parametrize("name", sorted(CELLS))
def test_a_cell_with_tanh_hard_wired_fails(name):
    """Mutant: the cell ignores `activation` and computes with tanh."""
    cell, x = build_cell(name, "relu")
    cell.activation = keras.activations.tanh
    with pytest.raises(AssertionError):
        check(name, cell, x, "relu", "rnn")


@pytest.mark.parametrize("name", sorted(n for n in CELLS if CELLS[n][3]))
def test_a_cell_with_sigmoid_gates_hard_wired_fails(name):
    """Mutant: the cell ignores `recurrent_activation` and gates with the sigmoid."""
    cell, x = build_cell(name, "relu")
    cell.recurrent_activation = keras.activations.sigmoid
    with pytest.raises(AssertionError):
        check(name, cell, x, "relu", "rnn")


def test_a_layer_norm_gru_subclass_with_tanh_hard_wired_fails():
    """The breakage that once passed the suite, written as a subclass."""

    class TanhLayerNormGRUCell(rnncells.LayerNormGRUCell):
        def recur(self, projected, states, training=None):
            chosen, self.activation = self.activation, keras.activations.tanh
            try:
                return super().recur(projected, states, training=training)
            finally:
                self.activation = chosen

    cell = TanhLayerNormGRUCell(UNITS, activation="elu", recurrent_activation=GATE)
    x = _inputs((4,))
    keras.layers.RNN(cell, return_sequences=True)(x)
    _randomize(cell)
    for path in ("rnn", "loop"):
        with pytest.raises(AssertionError):
            check("LayerNormGRUCell", cell, x, "elu", path)
