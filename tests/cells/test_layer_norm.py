"""Layer-norm cells: NumPy references, the Keras contract, and properties on random shapes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells import LayerNormGRUCell, LayerNormLSTMCell, LayerNormSimpleRNNCell
from tests.cells import reference as ref

# name -> (factory, reference step builder, number of states)
KINDS = {
    "lstm_tfa": (lambda u, **kw: LayerNormLSTMCell(u, **kw), 2),
    "lstm_ba2016": (lambda u, **kw: LayerNormLSTMCell(u, formulation="ba2016", **kw), 2),
    "gru": (lambda u, **kw: LayerNormGRUCell(u, **kw), 1),
    "simple": (lambda u, **kw: LayerNormSimpleRNNCell(u, **kw), 1),
}


def reference_step(kind, weights):
    if kind.startswith("lstm"):
        formulation = kind.split("_")[1]
        return lambda x, h, c: ref.ln_lstm_step(x, h, c, weights, formulation)
    if kind == "gru":
        return lambda x, h: (ref.ln_gru_step(x, h, weights),)
    return lambda x, h: (ref.ln_simple_rnn_step(x, h, weights),)


def weight_key(cell, variable):
    """A weight's path below the cell with "_" for "/": "kernel", "kernel_norm_gamma", ..."""
    return variable.path.rsplit(cell.name + "/", 1)[-1].replace("/", "_")


def randomize(cell, seed=0):
    """Give every weight random values (gammas near 1) so no term is trivially identity."""
    rng = np.random.default_rng(seed)
    values = {}
    for w in cell.weights:
        v = rng.normal(0.0, 0.5, size=w.shape)
        if "gamma" in w.name:
            v = 1.0 + 0.3 * v
        w.assign(v.astype("float32"))
        values[weight_key(cell, w)] = v
    return values


def build(kind, units=3, features=4, **kwargs):
    factory, n_states = KINDS[kind]
    cell = factory(units, **kwargs)
    cell.build((None, features))
    return cell, n_states


# ---------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("from_zero", [True, False])
def test_sequence_matches_numpy_reference(kind, from_zero):
    b, t, d, u = 3, 6, 4, 5
    cell, n_states = build(kind, units=u, features=d)
    weights = randomize(cell)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(b, t, d)).astype("float32")
    states = [np.zeros((b, u)) if from_zero else rng.normal(size=(b, u)) for _ in range(n_states)]
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    out = layer(x, initial_state=[s.astype("float32") for s in states])
    expected_seq, expected_states = ref.run_sequence(reference_step(kind, weights), x, states)
    np.testing.assert_allclose(out[0], expected_seq, atol=1e-5)
    for got, want in zip(out[1:], expected_states):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_one_step_matches_numpy_reference(kind):
    b, d, u = 2, 3, 4
    cell, n_states = build(kind, units=u, features=d)
    weights = randomize(cell, seed=3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(b, d))
    states = [rng.normal(size=(b, u)) for _ in range(n_states)]
    out, new_states = cell(x.astype("float32"), [s.astype("float32") for s in states])
    expected = reference_step(kind, weights)(x, *states)
    np.testing.assert_allclose(out, expected[0], atol=1e-5)
    for got, want in zip(new_states, expected):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_lstm_defaults_are_tensorflow_addons_defaults():
    cell, _ = build("lstm_tfa", units=3)
    assert cell.norm_epsilon == 1e-3 and cell.formulation == "tfa"
    bias = keras.ops.convert_to_numpy(cell.bias)
    # unit_forget_bias=True: forget block (second of i, f, c, o) is 1, the rest bias_init=0.
    np.testing.assert_array_equal(bias, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    for w in cell.weights:
        if "gamma" in w.name:
            np.testing.assert_array_equal(w.numpy(), 1.0)
        if "beta" in w.name:
            np.testing.assert_array_equal(w.numpy(), 0.0)
    simple, _ = build("simple")
    assert simple.layernorm_epsilon == 1e-5


WEIGHT_ORDER = {
    # tensorflow-addons order and paths: Keras LSTMCell weights, then the LayerNorm sublayers
    # kernel_norm, recurrent_norm, state_norm (gamma, beta each).
    "lstm_tfa": [("kernel", (4, 12)), ("recurrent_kernel", (3, 12)), ("bias", (12,)),
                 ("kernel_norm/gamma", (12,)), ("kernel_norm/beta", (12,)),
                 ("recurrent_norm/gamma", (12,)), ("recurrent_norm/beta", (12,)),
                 ("state_norm/gamma", (3,)), ("state_norm/beta", (3,))],
    "lstm_ba2016": [("kernel", (4, 12)), ("recurrent_kernel", (3, 12)), ("bias", (12,)),
                    ("kernel_norm/gamma", (12,)), ("recurrent_norm/gamma", (12,)),
                    ("state_norm/gamma", (3,)), ("state_norm/beta", (3,))],
    "gru": [("kernel", (4, 9)), ("recurrent_kernel", (3, 9)), ("bias", (2, 9)),
            ("kernel_norm/gamma", (9,)), ("recurrent_norm/gamma", (9,))],
    "simple": [("kernel", (4, 3)), ("recurrent_kernel", (3, 3)), ("bias", (3,)),
               ("layernorm/gamma", (3,))],
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_weight_paths_shapes_and_order(kind):
    cell, _ = build(kind, units=3, features=4, name="cell")
    assert [(w.path, tuple(w.shape)) for w in cell.weights] == [
        (f"cell/{path}", shape) for path, shape in WEIGHT_ORDER[kind]]
    # Inside a layer the paths keep the sublayer: what h5-by-name loading and the regexes
    # that exclude norms from weight decay see.
    layer = keras.layers.RNN(KINDS[kind][0](3, name="cell"), name="rnn")
    layer.build((None, 5, 4))
    assert [w.path for w in layer.weights] == [f"rnn/cell/{p}" for p, _ in WEIGHT_ORDER[kind]]
    # set_weights with a list in that order (how weights move over from tensorflow-addons)
    values = [np.full(shape, i, "float32") for i, (_, shape) in enumerate(WEIGHT_ORDER[kind])]
    cell.set_weights(values)
    for w, v in zip(cell.weights, values):
        np.testing.assert_array_equal(w.numpy(), v)


def test_use_bias_false_has_no_bias():
    cell, _ = build("lstm_tfa", use_bias=False)
    assert "bias" not in [w.name for w in cell.weights]
    out = keras.layers.RNN(cell)(np.ones((2, 3, 4), "float32"))
    assert out.shape == (2, 3)


# ---------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("kind", list(KINDS))
def test_config_round_trip_and_keras_save_load(kind, tmp_path):
    cell, _ = build(kind, units=3, features=4, dropout=0.1, recurrent_dropout=0.2, seed=7,
                    activation=rnncells.activations.LeakyReLU(0.05))
    clone = type(cell).from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    inputs = keras.Input((5, 4))
    model = keras.Model(inputs, keras.layers.RNN(type(cell).from_config(cell.get_config()))(
        inputs))
    randomize(model.layers[1].cell)
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    loaded_cell = loaded.layers[1].cell
    assert type(loaded_cell) is type(cell)
    assert loaded_cell.activation == rnncells.activations.LeakyReLU(0.05)


@pytest.mark.parametrize("kind", list(KINDS))
def test_training_step_reduces_loss(kind):
    factory, _ = KINDS[kind]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(factory(8)),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(after) and after < 0.7 * before


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_mixed_precision(kind, policy):
    keras.mixed_precision.set_global_policy(policy)
    factory, _ = KINDS[kind]
    cell = factory(4)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32") * 100.0
    out = layer(x)
    assert out.dtype == policy.split("_")[1]
    assert all(w.dtype == "float32" for w in cell.weights)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))))
    # The same weights in float32 give the same answer to within the half-precision rounding.
    keras.mixed_precision.set_global_policy("float32")
    cell32 = factory(4)
    layer32 = keras.layers.RNN(cell32, return_sequences=True)
    layer32(x)
    cell32.set_weights(cell.get_weights())
    tol = 2e-2 if policy == "mixed_float16" else 8e-2
    np.testing.assert_allclose(keras.ops.cast(out, "float32"), layer32(x), atol=tol)


def test_layer_norm_statistics_in_float32_survive_large_inputs():
    """x @ W of size ~1e3 squared overflows float16 (max 65504) unless moments are float32."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    cell = LayerNormSimpleRNNCell(4)
    out = keras.layers.RNN(cell)(np.full((1, 3, 2), 300.0, "float32")
                                 * np.array([1.0, -1.0], "float32"))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))))


# ----------------------------------------------------------------- RNN == stepping the cell
@pytest.mark.parametrize("kind", list(KINDS))
def test_rnn_equals_cell_stepped_by_hand_outputs_and_gradients(kind):
    cell, n_states = build(kind, units=3, features=2)
    randomize(cell, seed=5)
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 4, 2)), tf.float32)
    layer = keras.layers.RNN(cell, return_sequences=True)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        rnn_out = layer(x)
        rnn_loss = tf.reduce_sum(rnn_out ** 2)
        states = cell.get_initial_state(2)
        outs = []
        for t in range(4):
            o, states = cell(x[:, t], states)
            outs.append(o)
        manual = tf.stack(outs, axis=1)
        manual_loss = tf.reduce_sum(manual ** 2)
    np.testing.assert_allclose(rnn_out, manual, atol=1e-6)
    sources = [x] + cell.trainable_weights
    for g_rnn, g_manual in zip(tape.gradient(rnn_loss, sources),
                               tape.gradient(manual_loss, sources)):
        np.testing.assert_allclose(g_rnn, g_manual, atol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_project_on_a_sequence_equals_project_per_step(kind):
    cell, _ = build(kind, units=3, features=2)
    randomize(cell)
    x = np.random.default_rng(0).normal(size=(2, 5, 2)).astype("float32")
    whole = cell.project(x)
    per_step = np.stack([cell.project(x[:, t]) for t in range(5)], axis=1)
    np.testing.assert_allclose(whole, per_step, atol=1e-6)


# ---------------------------------------------------------------------------------- features
@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu", "elu", "softplus"])
def test_activations_accepted(name):
    for kind in KINDS:
        cell, _ = build(kind, activation=name)
        out = keras.layers.RNN(cell)(np.ones((1, 2, 4), "float32"))
        assert np.all(np.isfinite(out))
        assert type(cell).from_config(cell.get_config()).activation is cell.activation


def test_input_dropout_mask_is_shared_by_all_steps():
    """Keras semantics: one input mask per sequence. With U = 0 and the same x at every step,
    h_t = tanh(LN(mask*x @ W)) is the same at every step iff the mask does not change."""
    cell = LayerNormSimpleRNNCell(6, dropout=0.5, recurrent_initializer="zeros", seed=3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((4, 7, 8), "float32")
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 7, axis=1), atol=1e-6)
    full = keras.ops.convert_to_numpy(layer(x, training=False))
    assert not np.allclose(out, full, atol=1e-3)  # the mask did drop something
    # a new sequence gets a new mask (so masks are not frozen forever)
    again = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(again, out, atol=1e-4)
    assert cell._dropout_mask is None  # reset after the call  # noqa: SLF001


@pytest.mark.parametrize("kind", list(KINDS))
def test_dropout_inactive_at_inference(kind):
    cell, _ = build(kind, dropout=0.5, recurrent_dropout=0.5)
    layer = keras.layers.RNN(cell)
    x = np.random.default_rng(0).normal(size=(2, 4, 4)).astype("float32")
    np.testing.assert_array_equal(layer(x, training=False), layer(x, training=False))
    assert not np.allclose(layer(x, training=True), layer(x, training=False))


@pytest.mark.parametrize("kind", ["lstm_tfa", "gru"])
def test_stateful_continues_where_it_stopped(kind):
    factory, _ = KINDS[kind]
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    whole = keras.layers.RNN(factory(4), return_sequences=True)
    whole(x)
    stateful = keras.layers.RNN(factory(4), return_sequences=True, stateful=True)
    stateful(x[:, :3])
    stateful.cell.set_weights(whole.cell.get_weights())
    stateful.reset_state()
    halves = np.concatenate([stateful(x[:, :3]), stateful(x[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole(x), atol=1e-6)


def test_return_state_bidirectional_and_stacked():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    out, h, c = keras.layers.RNN(LayerNormLSTMCell(4), return_state=True)(x)
    np.testing.assert_allclose(out, h)
    assert c.shape == (2, 4)
    bi = keras.layers.Bidirectional(keras.layers.RNN(LayerNormGRUCell(4),
                                                     return_sequences=True))
    assert bi(x).shape == (2, 5, 8)
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells(
        [LayerNormLSTMCell(4, dropout=0.2), LayerNormSimpleRNNCell(2)]))
    assert stacked(x, training=True).shape == (2, 2)
    model = keras.Sequential([keras.Input((5, 3)), bi])
    clone = keras.Sequential.from_config(model.get_config())
    assert clone(x).shape == (2, 5, 8)


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, argument", [
    (lambda: LayerNormLSTMCell(0), "units"),
    (lambda: LayerNormGRUCell(-2), "units"),
    (lambda: LayerNormSimpleRNNCell(2.5), "units"),
    (lambda: LayerNormLSTMCell(2, norm_epsilon=0.0), "norm_epsilon"),
    (lambda: LayerNormGRUCell(2, norm_epsilon=-1e-3), "norm_epsilon"),
    (lambda: LayerNormSimpleRNNCell(2, layernorm_epsilon=0), "layernorm_epsilon"),
    (lambda: LayerNormLSTMCell(2, formulation="haste"), "formulation"),
    (lambda: LayerNormLSTMCell(2, dropout=1.0), "dropout"),
    (lambda: LayerNormGRUCell(2, recurrent_dropout=-0.1), "recurrent_dropout"),
    (lambda: LayerNormLSTMCell(2, activation="no_such_activation"), "activation"),
])
def test_bad_arguments_are_named(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_allowed_formulations_listed_in_error():
    with pytest.raises(ValueError, match="'tfa', 'ba2016'"):
        LayerNormLSTMCell(2, formulation="ba")


def test_wrong_input_rank_is_an_error():
    with pytest.raises(ValueError, match="rank 2 per step"):
        keras.layers.RNN(LayerNormGRUCell(2))(np.zeros((2, 3, 4, 5), "float32"))


def test_feature_dimension_mismatch_is_an_error():
    cell, _ = build("lstm_tfa", features=4)
    with pytest.raises(ValueError, match="feature dimensions must match"):
        cell(np.zeros((2, 5), "float32"), cell.get_initial_state(2))
    with pytest.raises(ValueError, match="feature dimensions must match"):
        cell.project(np.zeros((2, 3, 5), "float32"))


# ---------------------------------------------------------------------------------- properties
small = st.integers(1, 4)


@settings(max_examples=8)
@given(kind=st.sampled_from(list(KINDS)), batch=small, steps=st.integers(1, 8),
       features=st.integers(1, 8), units=st.integers(1, 8), data=st.data())
def test_property_masked_steps_leave_states_unchanged(kind, batch, steps, features, units, data):
    cell, n_states = build(kind, units=units, features=features)
    randomize(cell)
    mask = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=steps, max_size=steps),
                                       min_size=batch, max_size=batch)))
    x = np.random.default_rng(0).normal(size=(batch, steps, features)).astype("float32")
    out = keras.layers.RNN(cell, return_sequences=True, return_state=True)(x, mask=mask)
    # reference: drop the masked steps of each row and run the remaining ones
    for row in range(batch):
        kept = x[row:row + 1, mask[row]]
        states = cell.get_initial_state(1)
        last = np.zeros((1, units), "float32")
        for t in range(kept.shape[1]):
            last, states = cell(kept[:, t], states)
        for got, want in zip(out[1:], states):
            np.testing.assert_allclose(got[row:row + 1], want, atol=1e-5)
        if mask[row].any():
            np.testing.assert_allclose(out[0][row, -1], np.asarray(last)[0], atol=1e-5)


@settings(max_examples=8)
@given(kind=st.sampled_from(list(KINDS)), batch=small, steps=st.integers(1, 8),
       features=st.integers(1, 8), units=st.integers(1, 8))
def test_property_go_backwards_equals_reversed_input(kind, batch, steps, features, units):
    cell, _ = build(kind, units=units, features=features)
    randomize(cell)
    x = np.random.default_rng(1).normal(size=(batch, steps, features)).astype("float32")
    backwards = keras.layers.RNN(cell, return_sequences=True, go_backwards=True)(x)
    forwards = keras.layers.RNN(cell, return_sequences=True)(x[:, ::-1])
    np.testing.assert_allclose(backwards, forwards, atol=1e-5)


@settings(max_examples=8)
@given(kind=st.sampled_from(list(KINDS)), batch=st.integers(2, 4), steps=st.integers(1, 8),
       features=st.integers(1, 8), units=st.integers(1, 8))
def test_property_inference_row_independent_of_other_rows(kind, batch, steps, features, units):
    cell, _ = build(kind, units=units, features=features)
    randomize(cell)
    layer = keras.layers.RNN(cell)
    x = np.random.default_rng(2).normal(size=(batch, steps, features)).astype("float32")
    whole = layer(x, training=False)
    for row in range(batch):
        np.testing.assert_allclose(layer(x[row:row + 1], training=False)[0], whole[row],
                                   atol=1e-5)


# ------------------------------------------------------------- norm sublayers (tfa's layout)
def test_simple_rnn_gamma_arguments_reach_the_layernorm_sublayer():
    constraint = keras.constraints.MaxNorm(0.01)
    cell = LayerNormSimpleRNNCell(5, gamma_constraint=constraint, gamma_regularizer="l2",
                                  gamma_initializer=keras.initializers.Constant(0.7),
                                  kernel_regularizer="l1", layernorm_epsilon=1e-4)
    layer = keras.layers.RNN(cell)
    layer.build((None, None, 4))
    assert cell.layernorm.gamma is cell.gamma and cell.layernorm.beta is None
    assert cell.layernorm.gamma.constraint is constraint
    assert cell.layernorm.epsilon == 1e-4
    np.testing.assert_array_equal(cell.layernorm.gamma.numpy(), np.float32(0.7))
    # Keras's "l1" and "l2" have factor 0.01: 0.01 * sum|kernel| + 0.01 * sum(gamma^2).
    assert len(layer.losses) == 2
    expected = 0.01 * np.abs(cell.kernel.numpy()).sum() + 0.01 * 5 * np.float32(0.7) ** 2
    assert np.isclose(sum(float(loss) for loss in layer.losses), expected, rtol=1e-5)


@pytest.mark.parametrize("kind", list(KINDS))
def test_norm_sublayer_computes_what_the_cell_uses(kind):
    cell, _ = build(kind, units=3)
    randomize(cell)
    x = np.random.default_rng(0).normal(size=(2, 3 * cell.gates)).astype("float32")
    norm = cell.layernorm if kind == "simple" else cell.kernel_norm
    expected = ref.ln(x[:, :norm.gamma.shape[0]], norm.gamma.numpy(),
                      None if norm.beta is None else norm.beta.numpy(), norm.epsilon)
    np.testing.assert_allclose(norm(x[:, :norm.gamma.shape[0]]), expected, atol=1e-5)


def test_norm_weights_can_be_frozen_or_decayed_by_path():
    # What users of tfa did: exclude the norms from weight decay by a regex on the path.
    layer = keras.layers.RNN(LayerNormLSTMCell(3), name="rnn")
    layer.build((None, 2, 4))
    norms = [w.path for w in layer.weights if "_norm/" in w.path]
    assert len(norms) == 6 and all(p.endswith(("/gamma", "/beta")) for p in norms)
    layer.cell.state_norm.trainable = False
    assert len(layer.trainable_weights) == 7


def flat_store(cell):
    """What rnncells 0.1.0 saved for a cell: every weight under the cell, "0", "1", ..."""
    return {str(i): w.numpy() for i, w in enumerate(cell.weights)}


@pytest.mark.parametrize("kind", list(KINDS))
def test_flat_layout_of_0_1_0_loads_in_order(kind):
    source, _ = build(kind, units=3)
    randomize(source, seed=5)
    target, _ = build(kind, units=3)
    store = flat_store(source)
    target.load_own_variables(store)
    for norm_name in target.norm_layers:  # their stores are empty in such a file
        getattr(target, norm_name).load_own_variables({})
    for got, want in zip(target.weights, source.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_norm_sublayer_still_rejects_an_empty_store_of_its_own():
    cell, _ = build("lstm_tfa", units=3)
    with pytest.raises(ValueError, match="kernel_norm"):
        cell.kernel_norm.load_own_variables({})
    with pytest.raises(ValueError):  # a store that is neither layout
        cell.load_own_variables({"0": np.zeros((4, 12), "float32")})


def test_weights_save_and_load_by_path(tmp_path):
    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, keras.layers.RNN(LayerNormGRUCell(3))(inputs))
    randomize(model.layers[1].cell, seed=2)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    clone = keras.Model(inputs, keras.layers.RNN(LayerNormGRUCell(3))(inputs))
    clone.load_weights(path)
    for got, want in zip(clone.weights, model.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
