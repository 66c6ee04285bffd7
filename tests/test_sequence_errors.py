"""Clear errors (or Keras's own result) for sequence batches a loop cannot run as given:
0 time steps, 0 rows, an `initial_state` whose batch differs from the sequences'. Every
rnncells sequence layer; also run on JAX and PyTorch (tests/backends)."""

import keras
import numpy as np
import pytest

import rnncells

LAYERS = {
    "FusedRNN(LayerNormLSTMCell)": (lambda **kw: rnncells.FusedRNN(
        rnncells.LayerNormLSTMCell(4), **kw), (3,)),
    "FusedRNN(BatchNormLSTMCell)": (lambda **kw: rnncells.FusedRNN(
        rnncells.BatchNormLSTMCell(4), **kw), (3,)),
    "FusedRNN(MinGRUCell)": (lambda **kw: rnncells.FusedRNN(rnncells.MinGRUCell(4), **kw),
                             (3,)),
    "FusedRNN(keras LSTMCell)": (lambda **kw: rnncells.FusedRNN(keras.layers.LSTMCell(4),
                                                                 **kw), (3,)),
    "ConvRNN(ConvLSTMCell)": (lambda **kw: rnncells.ConvRNN(
        rnncells.ConvLSTMCell(1, 2, 3, padding="same"), **kw), (5, 3)),
    "ConvGRU2D": (lambda **kw: rnncells.ConvGRU2D(2, 3, padding="same", **kw), (4, 4, 3)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_zero_time_steps_is_a_clear_error(name):
    make, step = LAYERS[name]
    with pytest.raises(ValueError, match="`sequences`.*0 time steps"):
        make()(np.zeros((2, 0, *step), "float32"))


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("return_state", [False, True])
def test_an_empty_batch_gives_empty_outputs(name, return_state):
    make, step = LAYERS[name]
    layer = make(return_sequences=True, return_state=return_state)
    full = layer(np.zeros((2, 5, *step), "float32"), training=True)
    empty = layer(np.zeros((0, 5, *step), "float32"), training=True)
    full, empty = (list(full), list(empty)) if return_state else ([full], [empty])
    assert [tuple(e.shape) for e in empty] == [(0, *f.shape[1:]) for f in full]


@pytest.mark.parametrize("name", LAYERS)
def test_an_initial_state_of_another_batch_size_is_a_clear_error(name):
    make, step = LAYERS[name]
    layer = make()
    layer(np.zeros((2, 5, *step), "float32"))
    states = [keras.ops.zeros((3, *keras.ops.shape(s)[1:]))
              for s in layer.cell.get_initial_state(batch_size=2)]
    with pytest.raises(ValueError, match="`initial_state`.*batch size 3.*batch size 2"):
        layer(np.zeros((2, 5, *step), "float32"), initial_state=states)


def test_symbolic_zero_steps_fail_when_the_model_is_built():
    with pytest.raises(ValueError, match="0 time steps"):
        keras.Sequential([keras.Input((0, 3)),
                          rnncells.FusedRNN(rnncells.LayerNormGRUCell(4))])
