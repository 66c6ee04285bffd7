"""ConvLSTMCell / ConvGRUCell (rank 1, 2, 3) and the ConvRNN / ConvGRU*D / ConvLSTM*D layers.

- ConvLSTMCell in keras.layers.RNN == keras.layers.ConvLSTM1D/2D/3D with the same weights
  (both ways), 1e-5.
- ConvGRUCell (and both cells with layer/group normalization) == a NumPy reference written
  from the equations below, float64, 1e-5.
- Keras contract: shapes, weight counts, config round trip, .keras save/load, a training step,
  mixed_float16, masking, go_backwards, stateful, bad-input errors.
"""

import itertools

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells.cells.conv import ConvGRUCell, ConvLSTMCell

# ---------------------------------------------------------------------- NumPy reference


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_conv(x, w, strides=1, padding="valid", dilation=1):
    """N-d convolution, channels last: x (N, *S, C), w (*K, C, O) -> (N, *S', O).

    y[n, p, o] = sum_{tap, c} x[n, p * stride + tap * dilation - pad_before, c] w[tap, c, o].
    "same": out = ceil(S / stride), total padding max((out - 1) * stride + (K - 1) * dilation
    + 1 - S, 0), split floor(total / 2) before and the rest after (TensorFlow's rule).
    """
    rank = x.ndim - 2
    ks = w.shape[:rank]
    strides = (strides,) * rank if np.isscalar(strides) else tuple(strides)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    sizes = x.shape[1:-1]
    if padding == "same":
        out = [-(-n // s) for n, s in zip(sizes, strides)]
        pads = []
        for n, k, s, d, o in zip(sizes, ks, strides, dilation, out):
            total = max((o - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    else:
        out = [(n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(sizes, ks, strides, dilation)]
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for tap in itertools.product(*[range(k) for k in ks]):
        window = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                       for t, d, o, s in zip(tap, dilation, out, strides))
        y += np.einsum("...c,co->...o", x[(slice(None), *window, slice(None))], w[tap])
    return y


def np_group_norm(z, gamma, gates, groups, eps):
    """Each gate block of z (N, *S, gates*F) split into `groups` groups of F/groups channels,
    each group standardized over its channels and all spatial positions; times gamma."""
    n, spatial, width = z.shape[0], z.shape[1:-1], z.shape[-1]
    per_group = width // (gates * groups)
    grouped = z.reshape(n, *spatial, gates * groups, per_group)
    axes = (*range(1, len(spatial) + 1), len(spatial) + 2)
    mean = grouped.mean(axis=axes, keepdims=True)
    var = grouped.var(axis=axes, keepdims=True)
    return ((grouped - mean) / np.sqrt(var + eps)).reshape(z.shape) * gamma


def np_conv_rnn(kind, x, w, strides=1, padding="valid", dilation=1, normalization=None,
                groups=1, eps=1e-3):
    """ConvLSTM / ConvGRU over x (B, T, *S, C), channels last, float64. Returns all h.

    gx = N_x(conv(x_t, W)) + b ;  gh = N_h(conv(h, U, "same", stride 1))
    LSTM (blocks i, f, c, o): c' = s(f) c + s(i) tanh(g), h' = s(o) tanh(c')
    GRU (blocks z, r, h):     z = s(gx_z + gh_z), r = s(gx_r + gh_r),
                              n = tanh(gx_h + r gh_h), h' = z h + (1 - z) n
    """
    gates = 4 if kind == "lstm" else 3

    def norm(z, gamma):
        return z if normalization is None else np_group_norm(z, gamma, gates, groups, eps)

    h = c = None
    outputs = []
    for t in range(x.shape[1]):
        gx = norm(np_conv(x[:, t], w["kernel"], strides, padding, dilation),
                  w.get("kernel_norm_gamma")) + w["bias"]
        if h is None:
            h = np.zeros(gx.shape[:-1] + (gx.shape[-1] // gates,))
            c = np.zeros_like(h)
        gh = norm(np_conv(h, w["recurrent_kernel"], 1, "same", 1), w.get("recurrent_norm_gamma"))
        if kind == "lstm":
            zi, zf, zg, zo = np.split(gx + gh, 4, axis=-1)
            c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
            h = sigmoid(zo) * np.tanh(c)
        else:
            x_z, x_r, x_h = np.split(gx, 3, axis=-1)
            h_z, h_r, h_h = np.split(gh, 3, axis=-1)
            z = sigmoid(x_z + h_z)
            r = sigmoid(x_r + h_r)
            h = z * h + (1 - z) * np.tanh(x_h + r * h_h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


# ---------------------------------------------------------------------- helpers


def randomize(layer, rng, scale=0.4):
    """Random weights (gammas around 1), so every weight matters in a comparison."""
    for v in layer.weights:
        value = rng.normal(size=v.shape) * scale
        if "gamma" in v.path:
            value = 1.0 + value
        v.assign(value.astype("float32"))
    return {v.name: v.numpy().astype("float64") for v in layer.weights}


def sequence(rng, batch, steps, spatial, channels):
    return rng.normal(size=(batch, steps, *spatial, channels)).astype("float32")


def to_channels_first(x):
    """(B, T, *S, C) -> (B, T, C, *S)."""
    return np.moveaxis(x, -1, 2)


# ---------------------------------------------------------------------- Keras parity

KERAS_CASES = [
    (1, {"kernel_size": 3}),
    (1, {"kernel_size": 2, "padding": "same", "dilation_rate": 2}),
    (2, {"kernel_size": 3, "padding": "same"}),
    (2, {"kernel_size": (3, 2), "strides": 2}),
    (2, {"kernel_size": 3, "data_format": "channels_first"}),
    (3, {"kernel_size": 2, "padding": "same"}),
]
KERAS_LAYERS = {1: keras.layers.ConvLSTM1D, 2: keras.layers.ConvLSTM2D,
                3: keras.layers.ConvLSTM3D}


@pytest.mark.parametrize("rank,kwargs", KERAS_CASES)
def test_conv_lstm_cell_reproduces_keras_conv_lstm(rank, kwargs):
    rng = np.random.default_rng(rank)
    spatial = {1: (7,), 2: (6, 5), 3: (4, 4, 3)}[rank]
    x = sequence(rng, 2, 3, spatial, 3)
    if kwargs.get("data_format") == "channels_first":
        x = to_channels_first(x)
    reference = KERAS_LAYERS[rank](4, return_sequences=True, **kwargs)
    reference.build(x.shape)
    randomize(reference, rng)
    ours = keras.layers.RNN(ConvLSTMCell(rank, 4, **kwargs), return_sequences=True)
    ours.build(x.shape)
    assert [(v.name, tuple(v.shape)) for v in ours.weights] == [
        (v.name, tuple(v.shape)) for v in reference.weights]
    ours.set_weights(reference.get_weights())  # Keras -> rnncells
    np.testing.assert_allclose(ours(x), keras_conv_lstm(reference, x), atol=1e-5)
    randomize(ours, rng)
    reference.set_weights(ours.get_weights())  # rnncells -> Keras
    np.testing.assert_allclose(ours(x), keras_conv_lstm(reference, x), atol=1e-5)


def keras_conv_lstm(layer, x):
    """Keras's ConvLSTM*D output. TensorFlow's CPU kernels have no 2-D channels_first
    convolution and Keras 3.15 does not route it to XLA, so there the same weights run in a
    channels_last twin of the layer on the transposed input (the weights' layout does not
    depend on the data format)."""
    if layer.data_format == "channels_last" or keras.backend.backend() != "tensorflow":
        return keras.ops.convert_to_numpy(layer(x))
    config = {**layer.get_config(), "data_format": "channels_last"}
    twin = type(layer).from_config(config)
    moved = np.moveaxis(x, 2, -1)
    twin.build(moved.shape)
    twin.set_weights(layer.get_weights())
    return np.moveaxis(keras.ops.convert_to_numpy(twin(moved)), -1, 2)


def test_rnncells_conv_lstm2d_layer_shares_keras_weights():
    rng = np.random.default_rng(0)
    x = sequence(rng, 2, 3, (5, 5), 2)
    reference = keras.layers.ConvLSTM2D(3, 3, padding="same", return_state=True)
    ours = rnncells.ConvLSTM2D(3, 3, padding="same", return_state=True)
    reference.build(x.shape)
    ours.build(x.shape)
    randomize(reference, rng)
    ours.set_weights(reference.get_weights())
    for a, b in zip(ours(x), reference(x)):
        np.testing.assert_allclose(a, b, atol=1e-5)


# ---------------------------------------------------------------------- NumPy parity

NUMPY_CASES = [
    ("gru", 1, {"kernel_size": 3}, None),
    ("gru", 1, {"kernel_size": 3, "strides": 2, "padding": "same"}, None),
    ("gru", 2, {"kernel_size": (3, 2), "dilation_rate": (1, 2)}, None),
    ("gru", 2, {"kernel_size": 3, "padding": "same"}, "layer"),
    ("gru", 3, {"kernel_size": 2}, None),
    ("gru", 3, {"kernel_size": 2, "padding": "same"}, "group"),
    ("lstm", 2, {"kernel_size": 3, "padding": "same"}, "group"),
    ("lstm", 1, {"kernel_size": 3}, "layer"),
]


@pytest.mark.parametrize("kind,rank,kwargs,normalization", NUMPY_CASES)
def test_conv_cells_match_numpy_reference(kind, rank, kwargs, normalization):
    rng = np.random.default_rng(7)
    spatial = {1: (8,), 2: (6, 5), 3: (4, 4, 3)}[rank]
    x = sequence(rng, 2, 3, spatial, 2)
    groups = 2 if normalization == "group" else None
    cls = ConvLSTMCell if kind == "lstm" else ConvGRUCell
    cell = cls(rank, 4, normalization=normalization, groups=groups, **kwargs)
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build(x.shape)
    w = randomize(layer, rng)
    expected = np_conv_rnn(kind, x.astype("float64"), w, kwargs.get("strides", 1),
                           kwargs.get("padding", "valid"), kwargs.get("dilation_rate", 1),
                           normalization, groups or 1)
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize("cls", [ConvGRUCell, ConvLSTMCell])
def test_channels_first_equals_channels_last_with_the_same_weights(cls):
    rng = np.random.default_rng(3)
    x = sequence(rng, 2, 3, (5, 6), 2)
    last = keras.layers.RNN(cls(2, 4, 3, padding="same", normalization="group", groups=2),
                            return_sequences=True)
    first = keras.layers.RNN(cls(2, 4, 3, padding="same", normalization="group", groups=2,
                                 data_format="channels_first"), return_sequences=True)
    last.build(x.shape)
    first.build(to_channels_first(x).shape)
    randomize(last, rng)
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(to_channels_first(x)), to_channels_first(last(x)),
                               atol=1e-5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_project_of_a_sequence_equals_project_of_each_step(data_format):
    """The sequence path folds time into the batch for one convolution: same numbers."""
    rng = np.random.default_rng(4)
    cell = ConvLSTMCell(2, 3, 3, strides=(2, 1), data_format=data_format,
                        normalization="layer")
    x = sequence(rng, 2, 4, (7, 5), 2)
    if data_format == "channels_first":
        x = to_channels_first(x)
    cell.build((None, *x.shape[2:]))
    randomize(cell, rng)
    whole = np.asarray(cell.project(x))
    steps = np.stack([cell.project(x[:, t]) for t in range(x.shape[1])], axis=1)
    np.testing.assert_allclose(whole, steps, atol=1e-6)
    state_shape = cell.compute_output_shape((2, *x.shape[2:]))[0]
    h, _ = cell.recur(whole[:, 0], cell.get_initial_state(2))
    assert tuple(h.shape) == state_shape


@pytest.mark.parametrize("normalization,groups", [("layer", None), ("group", 2)])
def test_normalization_is_per_gate_block_and_scale_invariant(normalization, groups):
    """Each gate block (or group) is standardized on its own: scaling the input, or the
    kernel of one gate block, leaves the normalized projection unchanged."""
    rng = np.random.default_rng(11)
    # epsilon ~ 0 so that the scale invariance is exact (up to float32 rounding)
    cell = ConvGRUCell(2, 4, 3, normalization=normalization, groups=groups, norm_epsilon=1e-9)
    x = sequence(rng, 2, 2, (5, 5), 2)
    cell.build((None, 5, 5, 2))
    randomize(cell, rng)
    reference = np.asarray(cell.project(x))
    np.testing.assert_allclose(cell.project(3.0 * x), reference, atol=1e-4)
    kernel = cell.kernel.numpy()
    kernel[..., 4:8] *= 5.0  # the r block only
    cell.kernel.assign(kernel)
    np.testing.assert_allclose(cell.project(x), reference, atol=1e-4)
    plain = ConvGRUCell(2, 4, 3)
    plain.build((None, 5, 5, 2))
    assert not np.allclose(plain.project(3.0 * x), plain.project(x), atol=1e-3)


# ---------------------------------------------------------------------- Keras contract

CONTRACT_CELLS = [
    (ConvLSTMCell, 2, {}, 3),
    (ConvLSTMCell, 1, {"normalization": "layer"}, 5),
    (ConvGRUCell, 3, {"padding": "same"}, 3),
    (ConvGRUCell, 2, {"normalization": "group", "groups": 2, "use_bias": False}, 4),
]


@pytest.mark.parametrize("cls,rank,kwargs,count", CONTRACT_CELLS)
def test_shapes_weight_counts_and_config_round_trip(cls, rank, kwargs, count):
    spatial = {1: (6,), 2: (5, 5), 3: (4, 4, 4)}[rank]
    cell = cls(rank, 4, 3, **kwargs)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = sequence(np.random.default_rng(0), 2, 3, spatial, 2)
    outputs = layer(x)
    state_shape = cell.compute_output_shape((2, *spatial, 2))[0]
    assert outputs[0].shape == (2, 3, *state_shape[1:])
    assert len(outputs) == 1 + cell.num_states
    assert all(s.shape == state_shape for s in outputs[1:])
    assert cell.state_size == [state_shape[1:]] * cell.num_states
    gates = 4 if cls is ConvLSTMCell else 3
    assert len(cell.weights) == count
    assert cell.kernel.shape == (*cell.kernel_size, 2, gates * 4)
    assert cell.recurrent_kernel.shape == (*cell.kernel_size, 4, gates * 4)
    clone = cls.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    layer2 = keras.layers.RNN(clone, return_sequences=True, return_state=True)
    layer2.build(x.shape)
    layer2.set_weights(layer.get_weights())
    for a, b in zip(layer2(x), outputs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_unit_forget_bias_matches_keras():
    cell = ConvLSTMCell(2, 3, 3, bias_initializer="ones")
    cell.build((None, 5, 5, 2))
    np.testing.assert_array_equal(cell.bias.numpy(), np.ones(12))
    cell = ConvLSTMCell(2, 3, 3)
    cell.build((None, 5, 5, 2))
    np.testing.assert_array_equal(cell.bias.numpy(), np.repeat([0.0, 1.0, 0.0, 0.0], 3))
    gru = ConvGRUCell(2, 3, 3)
    gru.build((None, 5, 5, 2))
    np.testing.assert_array_equal(gru.bias.numpy(), np.zeros(9))


def _model(layer, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


def test_keras_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x = sequence(rng, 2, 3, (5, 5), 2)
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        rnncells.ConvGRU2D(3, 3, padding="same", return_sequences=True,
                           normalization="group", groups=3,
                           activation=rnncells.activations.LeakyReLU(0.1)),
        rnncells.ConvRNN(ConvLSTMCell(2, 2, 3, normalization="layer")),
    ])
    randomize(model, rng, scale=0.2)
    path = tmp_path / "conv.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    gru = loaded.layers[0]
    assert isinstance(gru, rnncells.ConvGRU2D) and gru.groups == 3
    assert gru.activation == rnncells.activations.LeakyReLU(0.1)
    assert loaded.layers[1].cell.normalization == "layer"


@pytest.mark.parametrize("layer_cls,rank", [(rnncells.ConvGRU1D, 1), (rnncells.ConvGRU2D, 2),
                                            (rnncells.ConvGRU3D, 3), (rnncells.ConvLSTM1D, 1),
                                            (rnncells.ConvLSTM3D, 3)])
def test_sequence_layers_symbolic_shapes_and_flat_config(layer_cls, rank):
    spatial = {1: (6,), 2: (5, 5), 3: (4, 4, 4)}[rank]
    layer = layer_cls(4, 3, strides=1, return_sequences=True, return_state=True)
    symbolic = layer(keras.Input((3, *spatial, 2)))
    eager = layer(sequence(np.random.default_rng(0), 2, 3, spatial, 2))
    assert [tuple(s.shape[1:]) for s in symbolic] == [tuple(e.shape[1:]) for e in eager]
    assert symbolic[0].shape == (None, 3, *(n - 2 for n in spatial), 4)
    config = layer.get_config()
    assert config["filters"] == 4 and config["kernel_size"] == (3,) * rank
    assert "cell" not in config
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    assert clone.filters == 4 and clone.cell.rank == rank


def test_training_step_updates_every_weight():
    rng = np.random.default_rng(2)
    x = sequence(rng, 4, 3, (5, 5), 2)
    y = rng.normal(size=(4, 5, 5, 3)).astype("float32")
    model = _model(rnncells.ConvRNN(ConvGRUCell(2, 3, 3, padding="same",
                                                normalization="group", groups=3)), x.shape[1:])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = [w.numpy().copy() for w in model.weights]
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][1] < history.history["loss"][0]
    for b, w in zip(before, model.weights):
        assert not np.allclose(b, w.numpy()), w.path


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_mixed_float16(cls):
    rng = np.random.default_rng(5)
    x = sequence(rng, 2, 3, (5, 5), 2)
    reference = keras.layers.RNN(cls(2, 3, 3, normalization="layer"))
    expected = reference(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(cls(2, 3, 3, normalization="layer"))
    layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    out = layer(x)
    assert out.dtype == "float16"
    assert all(w.dtype == "float32" for w in layer.weights)
    np.testing.assert_allclose(np.asarray(out, "float32"), expected, atol=2e-2)


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_masked_steps_leave_the_state_unchanged(cls):
    rng = np.random.default_rng(6)
    x = sequence(rng, 2, 4, (5,), 2)
    mask = np.array([[True, False, True, True], [True, True, True, False]])
    layer = keras.layers.RNN(cls(1, 3, 3, padding="same"), return_sequences=True,
                             return_state=True)
    outputs, *states = layer(x, mask=mask)
    outputs = np.asarray(outputs)
    # A masked step repeats the previous output; the final state is that of the kept steps.
    np.testing.assert_allclose(outputs[0, 1], outputs[0, 0])
    np.testing.assert_allclose(outputs[1, 3], outputs[1, 2])
    kept = keras.layers.RNN(layer.cell, return_state=True)
    for row, steps in ((0, [0, 2, 3]), (1, [0, 1, 2])):
        _, *row_states = kept(x[row:row + 1, steps])
        for s, r in zip(states, row_states):
            np.testing.assert_allclose(s[row:row + 1], r, atol=1e-6)


@settings(max_examples=5)
@given(batch=st.integers(1, 3), steps=st.integers(1, 4), width=st.integers(3, 6),
       filters=st.integers(1, 4), gru=st.booleans())
def test_go_backwards_equals_reversed_input_and_rows_are_independent(batch, steps, width,
                                                                     filters, gru):
    rng = np.random.default_rng(batch * 100 + steps * 10 + width)
    x = sequence(rng, batch, steps, (width,), 2)
    cell = (ConvGRUCell if gru else ConvLSTMCell)(1, filters, 3, padding="same")
    backwards = keras.layers.RNN(cell, go_backwards=True)
    forwards = keras.layers.RNN(cell)
    out = np.asarray(backwards(x))
    np.testing.assert_allclose(out, forwards(x[:, ::-1]), atol=1e-6)
    np.testing.assert_allclose(out[:1], backwards(x[:1]), atol=1e-6)


def test_stateful_layer_carries_the_state_across_batches():
    rng = np.random.default_rng(8)
    x = sequence(rng, 2, 4, (5,), 2)
    stateful = rnncells.ConvGRU1D(3, 3, padding="same", stateful=True)
    stateful.build(x.shape)
    whole = rnncells.ConvGRU1D(3, 3, padding="same")
    whole.build(x.shape)
    whole.set_weights(stateful.get_weights())
    stateful(x[:, :2])
    np.testing.assert_allclose(stateful(x[:, 2:]), whole(x), atol=1e-6)


def test_dropout_only_when_training():
    x = sequence(np.random.default_rng(9), 2, 3, (6,), 2)
    layer = keras.layers.RNN(ConvLSTMCell(1, 3, 3, dropout=0.5, recurrent_dropout=0.5,
                                          seed=1))
    inference = np.asarray(layer(x))
    np.testing.assert_allclose(layer(x, training=False), inference)
    assert not np.allclose(layer(x, training=True), inference)


def test_activations_and_leaky_slope_serialize():
    for activation in ("relu", "leaky_relu", "tanh", "elu", "softplus",
                       rnncells.activations.LeakyReLU(0.05)):
        cell = ConvGRUCell(1, 2, 3, activation=activation)
        clone = ConvGRUCell.from_config(cell.get_config())
        assert clone.activation == cell.activation or (
            keras.activations.serialize(clone.activation)
            == keras.activations.serialize(cell.activation))
    assert clone.activation.negative_slope == 0.05


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs,match", [
    ({"rank": 4}, r"Rank 4 convolutions are not currently implemented.*rank=4.*1, 2, 3"),
    ({"rank": 0}, r"rank=0"),
    ({"filters": 0}, r"`filters`.*filters=0"),
    ({"filters": -3}, r"`filters`.*filters=-3"),
    ({"kernel_size": (3, 3, 3)}, r"`kernel_size`.*tuple of 2 integers.*\(3, 3, 3\)"),
    ({"kernel_size": (3,)}, r"`kernel_size`.*kernel_size=\(3,\)"),
    ({"kernel_size": 0}, r"`kernel_size`.*kernel_size=0"),
    ({"strides": (1, 0)}, r"`strides`.*strides=\(1, 0\)"),
    ({"strides": 2, "dilation_rate": 2},
     r"Specifying `strides > 1` is not compatible with `dilation_rate > 1`.*strides=\(2, 2\)"),
    ({"padding": "causal"}, r"`padding`.*'valid', 'same'.*'causal'"),
    ({"data_format": "NHWC"}, r"`data_format`.*'channels_last'.*'NHWC'"),
    ({"normalization": "batch"}, r"`normalization`.*None, 'layer', 'group'.*'batch'"),
    ({"normalization": "group"}, r"`groups`.*groups=None"),
    ({"normalization": "group", "groups": 3}, r"`groups`.*divisor of filters=4.*groups=3"),
    ({"groups": 2}, r"`groups`.*expected None.*groups=2"),
    ({"dropout": 1.0}, r"`dropout`.*dropout=1.0"),
    ({"norm_epsilon": 0}, r"`norm_epsilon`.*norm_epsilon=0"),
])
@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_bad_arguments_raise_value_errors_naming_them(cls, kwargs, match):
    arguments = {"rank": 2, "filters": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        cls(**arguments)


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_input_rank_must_match_the_cell_rank(cls):
    x = np.zeros((2, 3, 6, 2), "float32")  # 1-D steps
    with pytest.raises(ValueError, match=r"rank 4 per step.*rank 5 sequences.*\(2, 6, 2\)"):
        keras.layers.RNN(cls(2, 4, 3))(x)
    with pytest.raises(ValueError, match=r"rank 3 per step.*\(2, 5, 5, 2\)"):
        keras.layers.RNN(cls(1, 4, 3))(np.zeros((2, 3, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r"ndim=4"):
        rnncells.ConvGRU1D(4, 3)(np.zeros((2, 3, 5, 5, 2), "float32"))


def test_input_too_small_for_the_kernel_and_wrong_feature_shape():
    with pytest.raises(ValueError, match=r"too small for kernel_size=\(5,\)"):
        keras.layers.RNN(ConvGRUCell(1, 4, 5))(np.zeros((2, 3, 4, 2), "float32"))
    cell = ConvGRUCell(2, 4, 3)
    cell.build((None, 6, 6, 2))
    with pytest.raises(ValueError, match=r"built for input steps of shape \(batch, 6, 6, 2\)"):
        cell.project(np.zeros((2, 6, 6, 3), "float32"))
    with pytest.raises(ValueError, match=r"only supports static input shapes for the spatial"):
        ConvGRUCell(2, 4, 3).build((None, None, 6, 2))
    with pytest.raises(ValueError, match=r"channel dimension of the inputs should be defined"):
        ConvGRUCell(2, 4, 3, data_format="channels_first").build((None, None, 6, 6))


# ---------------------------------------------------------------------- FusedRNN


@pytest.mark.parametrize("cls,kwargs", [
    (ConvGRUCell, {"normalization": "group", "groups": 3}),
    (ConvLSTMCell, {"data_format": "channels_first"}),
])
def test_fused_rnn_equals_keras_rnn_outputs_and_gradients(monkeypatch, cls, kwargs):
    """FusedRNN projects the whole sequence (one conv) and loops over `recur` only."""
    import tensorflow as tf

    from rnncells.layers.fused_rnn import FusedRNN

    calls = []  # spy: the shapes `project` is called with
    project = cls.project
    monkeypatch.setattr(cls, "project", lambda self, inputs, training=None: calls.append(
        tuple(inputs.shape)) or project(self, inputs, training=training))
    rng = np.random.default_rng(10)
    x = sequence(rng, 2, 4, (5, 5), 2)
    if kwargs.get("data_format") == "channels_first":
        x = to_channels_first(x)
    mask = np.array([[True, True, False, True], [True, True, True, True]])
    cell = cls(2, 3, 3, padding="same", **kwargs)
    fused = FusedRNN(cell, return_sequences=True)
    plain = keras.layers.RNN(cell, return_sequences=True)
    x = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        a, b = fused(x, mask=mask), plain(x, mask=mask)
        loss_a, loss_b = tf.reduce_sum(a ** 2), tf.reduce_sum(b ** 2)
    assert fused.fused_path == "loop" and (2, 4, *x.shape[2:]) in calls  # the whole sequence
    np.testing.assert_allclose(a, b, atol=1e-5)
    for ga, gb in zip(tape.gradient(loss_a, cell.trainable_variables),
                      tape.gradient(loss_b, cell.trainable_variables)):
        np.testing.assert_allclose(ga, gb, rtol=1e-4, atol=1e-4)


def test_norm_weights_are_named_like_the_dense_cells():
    cell = ConvLSTMCell(1, filters=2, kernel_size=3, normalization="layer")
    cell.build((None, 6, 3))
    assert [v.name for v in cell.weights][3:] == ["kernel_norm_gamma", "recurrent_norm_gamma"]
