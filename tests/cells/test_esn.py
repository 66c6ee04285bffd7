"""ESNCell and ESNRecurrentInitializer: NumPy reference, tfa's behaviours, the Keras contract."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncells import FusedRNN, LayerNormLSTMCell, Zoneout
from rnncells.cells.esn import ESNCell, ESNRecurrentInitializer
from tests.cells.test_peephole import assert_fused_matches_keras, backwards_and_row_properties_hold


def esn_step(x, h, recurrent_kernel, kernel, bias, leaky, activation=np.tanh):
    """h' = (1 - leaky) h + leaky act(x W + h W_r + b) (Jaeger 2001; tfa 0.23's ESNCell)."""
    pre = x @ kernel + h @ recurrent_kernel + (0.0 if bias is None else bias)
    return (1 - leaky) * h + leaky * activation(pre)


def spectral_radius(w):
    return np.max(np.abs(np.linalg.eigvals(np.asarray(w, "float64"))))


def built_cell(units=4, features=3, **kwargs):
    cell = ESNCell(units, **kwargs)
    cell.build((None, features))
    return cell


def test_one_step_matches_numpy_reference():
    cell = built_cell(5, 3, leaky=0.3, connectivity=0.6, bias_initializer="glorot_uniform")
    recurrent_kernel, kernel, bias = (np.asarray(w, "float64") for w in cell.get_weights())
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 5)).astype("float32")
    out, (h_new,) = cell(x, [h])
    ref = esn_step(x, h, recurrent_kernel, kernel, bias, 0.3)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(h_new, ref, atol=1e-5)


@settings(max_examples=5)
@given(batch=st.integers(1, 4), steps=st.integers(1, 6), features=st.integers(1, 5),
       units=st.integers(1, 6), leaky=st.sampled_from([1.0, 0.5, 0.1]),
       use_bias=st.booleans(), seed=st.integers(0, 100))
def test_sequence_through_keras_rnn_matches_reference(batch, steps, features, units, leaky,
                                                      use_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    mask = rng.random((batch, steps)) < 0.7
    layer = keras.layers.RNN(
        ESNCell(units, leaky=leaky, use_bias=use_bias, connectivity=0.5,
                bias_initializer="random_normal"),
        return_sequences=True, return_state=True)
    layer.build((None, steps, features))
    weights = [np.asarray(w, "float64") for w in layer.cell.get_weights()]
    recurrent_kernel, kernel = weights[:2]
    bias = weights[2] if use_bias else None
    outputs, h = layer(x, mask=mask)
    ref = np.zeros((batch, units))
    for t in range(steps):  # masked steps keep the state
        ref = np.where(mask[:, t:t + 1], esn_step(x[:, t], ref, recurrent_kernel, kernel,
                                                  bias, leaky), ref)
    np.testing.assert_allclose(h, ref, atol=1e-5)
    np.testing.assert_allclose(outputs[:, -1], ref, atol=1e-5)


def test_tfa_test_numbers():
    # tfa 0.23's esn_cell_test.test_base_esn: all weights 0.5, connectivity 1, use_norm2,
    # linear activation, inputs k * ones(4) for k = 1, 2, 3, state 0.3. The 3x3 reservoir of
    # 0.5s has 2-norm sqrt(9 * 0.25) = 1.5, so it is scaled by 0.9 / 1.5 to 0.3 everywhere:
    # h' = 4 * 0.5 * k + 3 * 0.3 * 0.3 + 0.5 = 2k + 0.77.
    half = keras.initializers.Constant(0.5)
    cell = ESNCell(3, connectivity=1, leaky=1, spectral_radius=0.9, use_norm2=True,
                   activation=None, kernel_initializer=half, recurrent_initializer=half,
                   bias_initializer=half)
    inputs = np.array([[1.0] * 4, [2.0] * 4, [3.0] * 4], "float32")
    state = np.full((3, 3), 0.3, "float32")
    out, h = cell(inputs, [state, state])  # tfa's test passes two states; h is bare
    expected = np.array([[2.77] * 3, [4.77] * 3, [6.77] * 3])
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(h, expected, rtol=1e-5)


@pytest.mark.parametrize("use_norm2", [False, True])
def test_echo_state_property_spectral_radius_below_one(use_norm2):
    # tfa's test: recurrent_initializer="ones", connectivity 1 (radius 3 before scaling).
    cell = built_cell(3, 3, use_norm2=use_norm2, recurrent_initializer="ones",
                      connectivity=1.0)
    assert spectral_radius(cell.get_weights()[0]) < 1


def test_eigenvalue_scaling_hits_the_target_and_norm2_bounds_it():
    w = np.asarray(ESNRecurrentInitializer(connectivity=0.5, spectral_radius=0.7, seed=1)(
        (20, 20)))
    np.testing.assert_allclose(spectral_radius(w), 0.7, rtol=1e-4)
    w2 = np.asarray(ESNRecurrentInitializer(connectivity=0.5, spectral_radius=0.7,
                                            use_norm2=True, seed=1)((20, 20)))
    np.testing.assert_allclose(np.sqrt(np.sum(w2 ** 2)), 0.7, rtol=1e-5)
    assert spectral_radius(w2) <= 0.7 + 1e-6


def test_connectivity_is_respected():
    # Each entry is kept with probability `connectivity`: the kept fraction of n entries has
    # binomial standard deviation sqrt(p (1 - p) / n); allow 4 of them.
    units, connectivity = 120, 0.3
    cell = built_cell(units, 2, connectivity=connectivity, use_norm2=True,
                      recurrent_initializer="ones")
    kept = np.count_nonzero(cell.get_weights()[0]) / units ** 2
    tolerance = 4 * np.sqrt(connectivity * (1 - connectivity) / units ** 2)
    assert abs(kept - connectivity) < tolerance


def test_zero_reservoir_stays_zero():
    w = ESNRecurrentInitializer(connectivity=0.0)((4, 4))
    np.testing.assert_array_equal(w, np.zeros((4, 4)))
    w2 = ESNRecurrentInitializer(connectivity=0.0, use_norm2=True)((4, 4))
    np.testing.assert_array_equal(w2, np.zeros((4, 4)))


def test_initializer_is_seeded_and_serializable():
    init = ESNRecurrentInitializer(connectivity=0.4, spectral_radius=0.5, use_norm2=True,
                                   base_initializer=keras.initializers.RandomNormal(seed=3),
                                   seed=2)
    np.testing.assert_array_equal(init((6, 6)), init((6, 6)))
    restored = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert isinstance(restored, ESNRecurrentInitializer)
    assert restored.get_config() == init.get_config()
    np.testing.assert_allclose(restored((6, 6)), init((6, 6)))
    # Usable outside ESNCell, e.g. as a Keras SimpleRNN's recurrent initializer.
    layer = keras.layers.SimpleRNN(5, recurrent_initializer=init)
    layer.build((None, 2, 3))
    np.testing.assert_allclose(np.sqrt(np.sum(layer.get_weights()[1] ** 2)), 0.5, rtol=1e-5)


def test_weight_order_names_and_non_trainable():
    cell = built_cell(4, 3)
    assert [w.name for w in cell.weights] == ["recurrent_kernel", "kernel", "bias"]
    assert [tuple(w.shape) for w in cell.weights] == [(4, 4), (3, 4), (4,)]
    assert cell.trainable_weights == [] and len(cell.non_trainable_weights) == 3
    assert len(built_cell(4, 3, use_bias=False).weights) == 2


def test_fit_trains_only_the_readout():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 1))
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(ESNCell(6)),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    reservoir = [np.array(w) for w in model.layers[0].get_weights()]
    readout = np.array(model.layers[1].get_weights()[0])
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    for before, after in zip(reservoir, model.layers[0].get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(readout, model.layers[1].get_weights()[0])


def test_config_round_trip_has_tfa_keys():
    cell = ESNCell(3, connectivity=1, leaky=0.5, spectral_radius=0.8, use_norm2=True,
                   activation="relu", name="esn")
    config = cell.get_config()
    for key in ("units", "connectivity", "leaky", "spectral_radius", "use_norm2", "use_bias",
                "activation", "kernel_initializer", "recurrent_initializer",
                "bias_initializer"):
        assert key in config
    restored = ESNCell.from_config(config)
    assert restored.get_config() == config
    assert (restored.leaky, restored.spectral_radius, restored.use_norm2) == (0.5, 0.8, True)


@pytest.mark.parametrize("kwargs, name", [
    ({"units": 0}, "units"),
    ({"units": 2, "connectivity": 1.5}, "connectivity"),
    ({"units": 2, "leaky": -0.1}, "leaky"),
    ({"units": 2, "spectral_radius": 0}, "spectral_radius"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ESNCell(**kwargs)


def test_eigen_scaling_needs_a_square_shape():
    with pytest.raises(ValueError, match="shape"):
        ESNRecurrentInitializer()((3, 4))


def test_keras_save_load_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(ESNCell(5, leaky=0.5))])
    path = str(tmp_path / "esn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.layers[0].cell.trainable_weights == []


def test_mixed_float16_matches_float32():
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    ref_layer = keras.layers.RNN(ESNCell(4, connectivity=0.5))
    ref_layer.build((None, 4, 3))
    expected = ref_layer(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(ESNCell(4))
    layer.build((None, 4, 3))
    layer.cell.set_weights(ref_layer.cell.get_weights())
    out = layer(x)
    assert out.dtype == "float16"
    np.testing.assert_allclose(np.asarray(out, "float32"), expected, atol=1e-2)


def test_go_backwards_and_row_independence():
    assert backwards_and_row_properties_hold(lambda: ESNCell(4, connectivity=0.5, leaky=0.5))


def test_fused_rnn_matches_keras_rnn():
    assert_fused_matches_keras(lambda: ESNCell(4, connectivity=0.5, leaky=0.5))


# ------------------------------------------------------------ state structure (tfa's: bare)
def test_state_is_one_bare_tensor_as_tfa():
    cell = built_cell(4, 3)
    assert cell.state_size == 4 and cell.output_size == 4
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    (h0,) = cell.get_initial_state(batch_size=2)  # a list, as every Keras 3 cell's
    assert tuple(h0.shape) == (2, 4)
    out, h = cell(x, h0)  # out, state = cell(x, state), as with tfa's ESNCell
    assert not isinstance(h, (list, tuple))
    np.testing.assert_array_equal(out, h)
    out2, h2 = cell(x, h)
    # Keras's single-state convention for a one-item list: the structure comes back.
    out_list, h_list = cell(x, [h])
    assert isinstance(h_list, list) and len(h_list) == 1
    np.testing.assert_array_equal(h_list[0], h2)
    np.testing.assert_array_equal(out_list, out2)
    # Keras 2 / tfa spelling of get_initial_state.
    (h0_keras2,) = cell.get_initial_state(inputs=x, dtype="float32")
    assert tuple(h0_keras2.shape) == (2, 4) and h0_keras2.dtype == "float32"


class AlwaysBareESNCell(ESNCell):
    """Mutant: returns a bare state even for `[h]`, which keras.layers.StackedRNNCells
    mistakes for a one-item list when the batch has one row (it keeps `h[0]`)."""

    def recur(self, projected, states, training=None):
        h, _ = super().recur(projected, states, training=training)
        return h, h


def stacked_run(cell_class, batch, bare_initial_states):
    """RNN(StackedRNNCells([ESN(3), ESN(2)])) -> (x, layer, (out, state1, state2)); the
    initial states are the cells' own (lists) or bare zero tensors given by the caller."""
    x = np.random.default_rng(batch).normal(size=(batch, 5, 2)).astype("float32")
    cells = [cell_class(3, connectivity=1.0, seed=1), cell_class(2, connectivity=1.0, seed=2)]
    layer = keras.layers.RNN(keras.layers.StackedRNNCells(cells), return_state=True)
    initial = None
    if bare_initial_states:
        initial = [np.zeros((batch, 3), "float32"), np.zeros((batch, 2), "float32")]
    return x, layer, layer(x, initial_state=initial)


def bare(state):
    """The tensor of a one-item list (the structure of a cell's own initial state)."""
    return state[0] if isinstance(state, (list, tuple)) else state


@pytest.mark.parametrize("bare_initial_states", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
def test_stacked_rnn_cells_carry_the_bare_state(batch, bare_initial_states):
    x, layer, (out, h1, h2) = stacked_run(ESNCell, batch, bare_initial_states)
    h1, h2 = bare(h1), bare(h2)
    assert tuple(h1.shape) == (batch, 3) and tuple(h2.shape) == (batch, 2)
    # The same numbers as the two cells run one after the other.
    first = keras.layers.RNN(layer.cell.cells[0], return_sequences=True)(x)
    second = keras.layers.RNN(layer.cell.cells[1])(first)
    np.testing.assert_allclose(out, second, atol=1e-6)
    np.testing.assert_allclose(h1, first[:, -1], atol=1e-6)


def test_stacked_check_catches_the_always_bare_mutant():
    _, _, (_, h1, h2) = stacked_run(AlwaysBareESNCell, 1, bare_initial_states=True)
    assert [tuple(bare(h).shape) for h in (h1, h2)] != [(1, 3), (1, 2)]


ZONEOUT_RATE = 0.2


@pytest.mark.parametrize("make_layer, rate", [
    (lambda cell: keras.layers.RNN(cell, return_state=True, return_sequences=True), 0.0),
    (lambda cell: FusedRNN(cell, return_state=True, return_sequences=True), 0.0),
    (lambda cell: keras.layers.RNN(Zoneout(cell, rate=ZONEOUT_RATE), return_state=True,
                                   return_sequences=True), ZONEOUT_RATE),
    (lambda cell: FusedRNN(Zoneout(cell, rate=ZONEOUT_RATE), return_state=True,
                           return_sequences=True), ZONEOUT_RATE),
], ids=["rnn", "fused", "zoneout_rnn", "zoneout_fused"])
@pytest.mark.parametrize("batch", [1, 2])
def test_layers_run_the_bare_state_cell_like_stepping_by_hand(make_layer, rate, batch):
    x = np.random.default_rng(0).normal(size=(batch, 4, 3)).astype("float32")
    cell = built_cell(5, 3, leaky=0.5, connectivity=0.5)
    outputs, state = make_layer(cell)(x)
    (h,) = cell.get_initial_state(batch_size=batch)
    for t in range(4):  # inference: zoneout keeps rate * previous + (1 - rate) * new
        _, new = cell(x[:, t], h)
        h = rate * h + (1 - rate) * new
    np.testing.assert_allclose(state, h, atol=1e-5)
    np.testing.assert_allclose(outputs[:, -1], h, atol=1e-5)


def test_mixed_stack_with_a_two_state_cell():
    x = np.random.default_rng(0).normal(size=(1, 4, 3)).astype("float32")
    layer = keras.layers.RNN([ESNCell(3), LayerNormLSTMCell(2)], return_state=True)
    out, (h_esn,), (h, c) = layer(x)
    assert tuple(h_esn.shape) == (1, 3) and tuple(h.shape) == tuple(c.shape) == (1, 2)
    np.testing.assert_allclose(out, h, atol=1e-6)
