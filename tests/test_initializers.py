"""rnncells.initializers: Chrono (Tallec & Ollivier 2018) and IdentityRecurrent (Le et al. 2015)."""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.initializers import Chrono, IdentityRecurrent

# ---------------------------------------------------------------------- Chrono


def test_chrono_lstm_layout():
    """Keras LSTM order i, f, c, o: b_f = log U[1, T - 1], b_i = -b_f, c and o zero."""
    units, timescale = 500, 40.0
    bias = np.asarray(Chrono(timescale, seed=1)((4 * units,)))
    b_i, b_f, b_c, b_o = np.split(bias, 4)
    np.testing.assert_array_equal(b_i, -b_f)
    np.testing.assert_array_equal(b_c, 0.0)
    np.testing.assert_array_equal(b_o, 0.0)
    assert b_f.min() >= 0.0 and b_f.max() <= np.log(timescale - 1) + 1e-6
    # exp(b_f) is uniform on [1, T - 1]: its mean is T / 2 (within 5 sigma of the sample mean).
    sigma = (timescale - 2) / np.sqrt(12 * units)
    assert abs(np.exp(b_f).mean() - timescale / 2) < 5 * sigma
    # The forget gate sigma(b_f) keeps memory for 1 / (1 - sigma(b_f)) ~ exp(b_f) + 1 steps.
    timescales = 1 / (1 - 1 / (1 + np.exp(-b_f)))
    assert timescales.min() >= 2 - 1e-4 and timescales.max() <= timescale + 1e-3


def test_chrono_gru_layouts_and_sign_convention():
    """Keras GRU order z, r, h and h' = z h + (1 - z) n: b_z = +log U[1, T - 1] keeps memory."""
    units, timescale = 300, 100
    flat = np.asarray(Chrono(timescale, gates="gru", seed=2)((3 * units,)))
    b_z, b_r, b_h = np.split(flat, 3)
    assert b_z.min() >= 0 and b_z.max() <= np.log(timescale - 1) + 1e-6
    assert np.median(b_z) > 1.0  # most z gates start near 1: keep the state
    np.testing.assert_array_equal(b_r, 0.0)
    np.testing.assert_array_equal(b_h, 0.0)
    two_rows = np.asarray(Chrono(timescale, gates="gru", seed=2)((2, 3 * units)))
    np.testing.assert_array_equal(two_rows[0], flat)  # the input bias, same draw (same seed)
    np.testing.assert_array_equal(two_rows[1], 0.0)  # the recurrent bias stays zero


def test_chrono_in_keras_and_rnncells_cells_and_serialization(tmp_path):
    init = Chrono(50, seed=3)
    lstm = keras.layers.LSTM(4, unit_forget_bias=False, bias_initializer=init)
    gru = keras.layers.GRU(4, bias_initializer=Chrono(50, gates="gru", seed=3))
    conv = rnncells.ConvLSTM1D(2, 3, unit_forget_bias=False, bias_initializer=init)
    model = keras.Sequential([keras.Input((5, 6, 3)), conv,
                              keras.layers.Reshape((4, 2)), lstm, keras.layers.Reshape((1, 4)),
                              gru])
    bias = lstm.cell.bias.numpy()
    np.testing.assert_array_equal(bias[:4], -bias[4:8])
    assert np.all(bias[4:8] >= 0) and np.any(bias[4:8] > 0)
    assert np.all(gru.cell.bias.numpy()[0, :4] >= 0) and np.all(gru.cell.bias.numpy()[1] == 0)
    np.testing.assert_array_equal(conv.cell.bias.numpy()[:2], -conv.cell.bias.numpy()[2:4])
    path = tmp_path / "chrono.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.layers[2].cell.bias_initializer
    assert isinstance(restored, Chrono) and restored.get_config() == init.get_config()
    config = keras.initializers.serialize(Chrono(10, gates="gru"))
    assert keras.initializers.deserialize(config).get_config() == {
        "max_timescale": 10.0, "gates": "gru", "seed": None}


def test_chrono_seed_is_deterministic():
    a = np.asarray(Chrono(20, seed=5)((8,)))
    np.testing.assert_array_equal(a, np.asarray(Chrono(20, seed=5)((8,))))
    assert not np.array_equal(a, np.asarray(Chrono(20, seed=6)((8,))))


@pytest.mark.parametrize("args,shape,match", [
    ((1,), (8,), r"`max_timescale`.*>= 2.*max_timescale=1"),
    (("10",), (8,), r"`max_timescale`.*'10'"),
    ((10, "rnn"), (8,), r"`gates`.*'lstm', 'gru'.*'rnn'"),
    ((10,), (6,), r"\(4 \* units,\).*shape=\(6,\)"),
    ((10,), (2, 8), r"\(4 \* units,\).*shape=\(2, 8\)"),
    ((10, "gru"), (3, 6), r"\(3 \* units,\) or \(2, 3 \* units\).*shape=\(3, 6\)"),
])
def test_chrono_bad_arguments(args, shape, match):
    with pytest.raises(ValueError, match=match):
        Chrono(*args)(shape)


# ---------------------------------------------------------------------- IdentityRecurrent


def test_identity_recurrent_dense_layouts():
    np.testing.assert_array_equal(IdentityRecurrent(0.5)((3, 3)), 0.5 * np.eye(3))
    blocks = np.asarray(IdentityRecurrent(2.0)((3, 12)))
    for block in np.split(blocks, 4, axis=1):  # every gate block (e.g. LSTM's i, f, c, o)
        np.testing.assert_array_equal(block, 2.0 * np.eye(3))
    np.testing.assert_array_equal(IdentityRecurrent(0.9)((5,)), np.full(5, 0.9, "float32"))


@pytest.mark.parametrize("kernel_size", [(3,), (2,), (3, 3), (4, 3), (3, 2, 3)])
def test_identity_recurrent_conv_kernel_copies_the_state_with_same_padding(kernel_size):
    """conv(h, delta kernel, "same") = gain * h, block by block, for odd and even sizes."""
    rng = np.random.default_rng(0)
    filters, blocks, gain = 3, 2, 0.7
    kernel = IdentityRecurrent(gain)((*kernel_size, filters, blocks * filters))
    h = rng.normal(size=(2, *(5,) * len(kernel_size), filters)).astype("float32")
    out = np.asarray(keras.ops.conv(h, kernel, padding="same"))
    for block in np.split(out, blocks, axis=-1):
        np.testing.assert_allclose(block, gain * h, atol=1e-6)


def test_irnn_in_keras_simple_rnn_and_serialization(tmp_path):
    """IRNN: ReLU SimpleRNN with U = I and zero bias, so a zero input keeps the state."""
    cell = keras.layers.SimpleRNNCell(4, activation="relu",
                                      recurrent_initializer=IdentityRecurrent())
    layer = keras.layers.RNN(cell, return_state=True)
    x = np.zeros((1, 6, 2), "float32")
    h0 = np.array([[0.5, 1.0, 2.0, 0.0]], "float32")
    _, h = layer(x, initial_state=[h0])
    np.testing.assert_allclose(h, h0)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.RNN(
        rnncells.IndRNNCell(3, recurrent_initializer=IdentityRecurrent(0.5)))])
    np.testing.assert_array_equal(model.layers[0].cell.recurrent_kernel.numpy(), 0.5)
    path = tmp_path / "irnn.keras"
    model.save(path)
    restored = keras.models.load_model(path).layers[0].cell.recurrent_initializer
    assert isinstance(restored, IdentityRecurrent) and restored.gain == 0.5


@pytest.mark.parametrize("gain,shape,match", [
    ("1", (3, 3), r"`gain`.*gain='1'"),
    (float("nan"), (3, 3), r"`gain`.*gain=nan"),
    (1.0, (3, 4), r"\(U,\), \(U, k \* U\).*shape=\(3, 4\)"),
    (1.0, (3, 3, 2, 3), r"shape=\(3, 3, 2, 3\)"),
])
def test_identity_recurrent_bad_arguments(gain, shape, match):
    with pytest.raises(ValueError, match=match):
        IdentityRecurrent(gain)(shape)
