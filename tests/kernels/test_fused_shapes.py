"""FusedRNN in functional models: symbolic shapes for dense and convolutional cells."""

import keras
import numpy as np
import pytest

from rnncells import ConvGRUCell, ConvLSTMCell, ConvRNN, FusedRNN, LayerNormLSTMCell


@pytest.mark.parametrize("return_sequences", [False, True])
def test_fused_conv_cell_on_keras_input_matches_conv_rnn(return_sequences):
    inputs = keras.Input((4, 6, 6, 2))
    fused = FusedRNN(ConvLSTMCell(2, 3, 3, padding="same"), return_sequences=return_sequences,
                     return_state=True)
    outputs = fused(inputs)
    expected = (None, 4, 6, 6, 3) if return_sequences else (None, 6, 6, 3)
    assert tuple(outputs[0].shape) == expected
    assert [tuple(s.shape) for s in outputs[1:]] == [(None, 6, 6, 3)] * 2
    model = keras.Model(inputs, outputs[0])
    reference = ConvRNN(ConvLSTMCell(2, 3, 3, padding="same"),
                        return_sequences=return_sequences)
    x = np.random.default_rng(0).normal(size=(2, 4, 6, 6, 2)).astype("float32")
    reference(x)
    reference.cell.set_weights(fused.cell.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(x), atol=1e-5)
    assert fused.fused_path == "loop"


def test_fused_conv_gru_rank1_shapes_and_dense_cell_unchanged():
    out = FusedRNN(ConvGRUCell(1, 4, 3))(keras.Input((5, 10, 2)))
    assert tuple(out.shape) == (None, 8, 4)  # "valid" padding: 10 - 3 + 1
    dense = FusedRNN(LayerNormLSTMCell(7), return_sequences=True, return_state=True)(
        keras.Input((5, 3)))
    assert [tuple(t.shape) for t in dense] == [(None, 5, 7), (None, 7), (None, 7)]
