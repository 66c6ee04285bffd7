"""check_batch_invariance flags batch statistics at inference.

(A model accurate on training-size batches, poor one sample at a time.)
"""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.diagnostics import check_batch_invariance


class BatchStatsCell(keras.layers.Layer):
    """A user's cell with BatchNormalization inside; `force_training` reproduces the bug.

    h' = tanh(BN(x @ W) + h @ U). With force_training=True the BN layer is called with
    training=True at every call, so inference normalizes with the statistics of the batch.
    """

    def __init__(self, units, force_training, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.force_training = force_training
        self.dense = keras.layers.Dense(units, use_bias=False)
        self.recurrent = keras.layers.Dense(units, use_bias=False)
        self.norm = keras.layers.BatchNormalization()

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.recurrent.build((input_shape[0], self.units))
        self.norm.build((input_shape[0], self.units))
        self.built = True

    def call(self, inputs, states, training=None):
        flag = True if self.force_training else training
        h = keras.ops.tanh(self.norm(self.dense(inputs), training=flag)
                           + self.recurrent(states[0]))
        return h, [h]


def _model(cell):
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(cell),
                              keras.layers.Dense(2)])
    return model


def _x(rows=8):
    return np.random.default_rng(0).normal(size=(rows, 5, 3)).astype("float32")


def test_flags_batch_norm_called_with_training_true_inside_a_cell():
    report = check_batch_invariance(_model(BatchStatsCell(4, force_training=True)), _x())
    assert not report.passed
    # one row alone normalizes to exactly 0 (x - mean(x) over a batch of 1): far from whole
    assert report.row_by_row_diff > 100 * report.tolerance
    assert report.shuffled_diff > report.tolerance


def test_passes_the_same_cell_when_inference_uses_moving_statistics():
    report = check_batch_invariance(_model(BatchStatsCell(4, force_training=False)), _x())
    assert report.passed and report.max_abs_diff <= report.tolerance


@pytest.mark.parametrize("make", [lambda: rnncells.BatchNormLSTMCell(4),
                                  lambda: rnncells.BatchNormGRUCell(4),
                                  lambda: rnncells.LayerNormLSTMCell(4)])
def test_passes_rnncells_normalized_cells(make):
    model = _model(make())
    x = _x()
    before = [w.numpy().copy() for w in model.non_trainable_weights]
    model(2.0 * x + 1.0, training=True)  # training calls update the moving statistics
    after = [w.numpy() for w in model.non_trainable_weights]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))
    report = check_batch_invariance(model, x)
    assert report.passed, report


def test_multiple_inputs_and_bad_arguments():
    a = keras.Input((2,))
    b = keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Add()([a, b]))
    x = [np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")]
    assert check_batch_invariance(model, x, batch_size=3)
    with pytest.raises(ValueError, match="`x`"):
        check_batch_invariance(model, [x[0], x[1][:3]])
    with pytest.raises(ValueError, match="shuffles"):
        check_batch_invariance(model, x, shuffles=0)
