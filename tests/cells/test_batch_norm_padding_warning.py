"""keras.layers.RNN(batch-norm cell) behind Masking without `mask_value` lets padding into the
batch statistics: the cell warns once, naming FusedRNN and mask_value."""

import warnings

import keras
import numpy as np
import pytest

import rnncells
from rnncells.cells.batch_norm import PaddingInStatisticsWarning


def _fit(layer, x):
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Masking(0.0), layer,
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, np.zeros((len(x), 1), "float32"), epochs=2, batch_size=2, verbose=0)


def _padded():
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")
    x[0, -2:] = 0.0
    return x


def test_keras_rnn_behind_masking_warns_once_naming_the_remedies():
    with pytest.warns(PaddingInStatisticsWarning, match="FusedRNN.*mask_value=0.0") as caught:
        _fit(keras.layers.RNN(rnncells.BatchNormGRUCell(4)), _padded())
    assert len([w for w in caught if w.category is PaddingInStatisticsWarning]) == 1


@pytest.mark.parametrize("make", [
    lambda: keras.layers.RNN(rnncells.BatchNormLSTMCell(4, mask_value=0.0)),
    lambda: rnncells.FusedRNN(rnncells.BatchNormLSTMCell(4)),
], ids=["mask_value", "FusedRNN"])
def test_no_warning_where_the_padding_is_kept_out(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaddingInStatisticsWarning)
        _fit(make(), _padded())


def test_no_warning_without_zero_rows():
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaddingInStatisticsWarning)
        _fit(keras.layers.RNN(rnncells.BatchNormLSTMCell(4)), _padded() + 5.0)
