"""IndRNNCell and MagnitudeBound: NumPy reference, the Jacobian bound, Keras contract.

The bound: h_t = act(p_t + u * h_{t-1}) with p_t = x_t @ W + b, so
dh_t/dh_{t-1} = diag(u * act'(pre_t)) and dh_T/dh_t = diag(prod_{k=t+1..T} u * act'(pre_k)).
With |u| <= 2**(1/T) and |act'| <= 1 every element is at most 2**((T - t)/T) <= 2. The test
computes that product from the recorded pre-activations (pre_k = p_k + u * h_{k-1}, both
read back from the layer) in float64, after the formula is checked against autodiff once on a
short sequence. A mutant that drops the constraint (|u| = 1.1) must fail the same check.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells.cells.indrnn import IndRNNCell, MagnitudeBound

# ---------------------------------------------------------------------- NumPy reference


def np_indrnn(x, w, activation, layer_norm=False, eps=1e-3):
    """h' = act(LN(x @ W) * gamma + u * h + b), LN over the units (biased variance)."""
    h = np.zeros((x.shape[0], w["kernel"].shape[1]))
    outputs = []
    for t in range(x.shape[1]):
        p = x[:, t] @ w["kernel"]
        if layer_norm:
            p = (p - p.mean(-1, keepdims=True)) / np.sqrt(p.var(-1, keepdims=True) + eps)
            p = p * w["kernel_norm_gamma"]
        h = activation(p + w["recurrent_kernel"] * h + w["bias"])
        outputs.append(h)
    return np.stack(outputs, axis=1)


NP_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),  # Keras's default slope
    "leaky_0.05": lambda z: np.where(z >= 0, z, 0.05 * z),
}


def _activation(name):
    return rnncells.activations.LeakyReLU(0.05) if name == "leaky_0.05" else name


def randomize(layer, rng):
    for v in layer.weights:
        value = rng.normal(size=v.shape) * 0.5
        if "gamma" in v.path:
            value = 1.0 + value
        v.assign(value.astype("float32"))
    return {v.name: v.numpy().astype("float64") for v in layer.weights}


@pytest.mark.parametrize("activation", sorted(NP_ACTIVATIONS))
@pytest.mark.parametrize("layer_norm", [False, True])
def test_matches_numpy_reference(activation, layer_norm):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    layer = keras.layers.RNN(IndRNNCell(6, activation=_activation(activation),
                                        normalization="layer" if layer_norm else None),
                             return_sequences=True)
    layer.build(x.shape)
    w = randomize(layer, rng)
    expected = np_indrnn(x.astype("float64"), w, NP_ACTIVATIONS[activation], layer_norm)
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)


# ---------------------------------------------------------------------- the Jacobian


def activation_derivative(cell, pre):
    """act'(pre) elementwise, by autodiff of the cell's own activation."""
    pre = tf.constant(np.clip(pre, -1e30, 1e30), tf.float32)  # a diverging mutant overflows
    with tf.GradientTape() as tape:
        tape.watch(pre)
        y = cell.activation(pre)
    return tape.gradient(y, pre).numpy().astype("float64")


def jacobian_from_pre_activations(cell, projected, outputs):
    """J[:, t] = diag of dh_T/dh_t for t = 0..T-1 (h_0 the initial state), float64.

    pre_k = p_k + u * h_{k-1};  J[:, t] = prod_{k=t+1..T} u * act'(pre_k).
    """
    u = cell.recurrent_kernel.numpy().astype("float64")
    outputs = np.asarray(outputs, "float64")
    previous = np.concatenate([np.zeros_like(outputs[:, :1]), outputs[:, :-1]], axis=1)
    pre = np.asarray(projected, "float64") + u * previous
    factors = u * activation_derivative(cell, pre)
    return np.cumprod(factors[:, ::-1], axis=1)[:, ::-1]


def autodiff_jacobians(cell, x, h0):
    """[dh_T/dh_t for t = 0..T] by autodiff of the cell stepped by hand, each (B, U, U).

    Row j of every dh_T/dh_t comes from one gradient of h_T[:, j] (summed over the batch,
    whose rows are independent) with respect to all the intermediate states at once.
    """
    units = cell.units
    with tf.GradientTape(persistent=True) as tape:
        h = tf.constant(h0, tf.float32)
        tape.watch(h)
        states = [h]
        for t in range(x.shape[1]):
            h, _ = cell(x[:, t], [h])
            states.append(h)
        rows = [tf.reduce_sum(states[-1][:, j]) for j in range(units)]
    per_row = [tape.gradient(row, states[:-1]) for row in rows]  # [j][t] -> (B, U)
    return np.stack([np.stack([per_row[j][t].numpy() for j in range(units)], axis=1)
                     for t in range(x.shape[1])], axis=1)  # (B, T, U_out, U_in)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_0.05"])
def test_jacobian_formula_matches_autodiff_on_a_short_sequence(activation):
    rng = np.random.default_rng(1)
    batch, steps, units = 2, 6, 3
    cell = IndRNNCell(units, activation=_activation(activation), max_steps=steps)
    x = rng.normal(size=(batch, steps, 2)).astype("float32")
    cell.build((None, 2))
    cell.bias.assign(np.full(units, 0.3, "float32"))  # keep most relu units active
    projected = cell.project(x)
    u = cell.recurrent_kernel.numpy().astype("float64")
    eye = np.eye(units)
    # From a given h_0: pre_k = p_k + u * h_{k-1} with the states stepped by hand.
    h0 = (rng.normal(size=(batch, units)) ** 2).astype("float32")
    autodiff = autodiff_jacobians(cell, x, h0)
    np.testing.assert_array_equal(autodiff * (1 - eye), 0.0)  # diagonal
    hs = [h0]
    for t in range(steps):
        hs.append(np.asarray(cell(x[:, t], [hs[-1]])[0]))
    pre = np.asarray(projected, "float64") + u * np.stack(hs[:-1], axis=1)
    factors = u * activation_derivative(cell, pre)
    formula = np.cumprod(factors[:, ::-1], axis=1)[:, ::-1]
    np.testing.assert_allclose(np.diagonal(autodiff, axis1=2, axis2=3), formula,
                               rtol=1e-5, atol=1e-7)
    # The helper used at T = 1000 reads the pre-activations back from the layer's outputs
    # (h_0 = 0): the same numbers as autodiff.
    outputs = keras.layers.RNN(cell, return_sequences=True)(x)
    autodiff = autodiff_jacobians(cell, x, np.zeros((batch, units), "float32"))
    np.testing.assert_allclose(np.diagonal(autodiff, axis1=2, axis2=3),
                               jacobian_from_pre_activations(cell, projected, outputs),
                               rtol=1e-5, atol=1e-7)


T, BATCH, FEATURES, UNITS = 1000, 2, 3, 4


class MutantIndRNNCell(IndRNNCell):
    """Deliberately broken: accepts max_steps but never applies the bound to u."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recurrent_constraint = None


class BoundHarness:
    """One compiled forward/backward over T = 1000 steps, reused by every example."""

    def __init__(self, cell):
        self.cell = cell
        self.layer = keras.layers.RNN(cell, return_sequences=True)
        self.layer.build((BATCH, T, FEATURES))
        self.optimizer = keras.optimizers.SGD(0.1)
        self.optimizer.build(self.layer.trainable_variables)
        self.run = tf.function(self._run)

    def _run(self, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = self.layer(x)
            loss = tf.reduce_sum(outputs[:, -1])
        variables = self.layer.trainable_variables
        grads = tape.gradient(loss, [*variables, x])
        return outputs, self.cell.project(x), grads

    def check(self, u_raw, seed, learning_rate, scale):
        """Assign u, apply one SGD step (Keras then applies the constraint), measure.

        Returns (max |dh_T/dh_t| over all t and units, whether every gradient is finite).
        """
        rng = np.random.default_rng(seed)
        variables = self.layer.trainable_variables
        self.cell.recurrent_kernel.assign(np.asarray(u_raw, "float32"))
        self.cell.bias.assign(np.abs(rng.normal(size=UNITS)).astype("float32"))
        x = tf.constant(rng.normal(size=(BATCH, T, FEATURES)) * scale, tf.float32)
        _, _, grads = self.run(x)
        grads = [tf.where(tf.math.is_finite(g), g, 0.0) for g in grads[:-1]]
        self.optimizer.learning_rate = learning_rate
        self.optimizer.apply(grads, variables)
        x = tf.constant(rng.normal(size=(BATCH, T, FEATURES)) * scale, tf.float32)
        outputs, projected, grads = self.run(x)
        jacobian = jacobian_from_pre_activations(self.cell, projected, outputs)
        finite = all(np.all(np.isfinite(g.numpy())) for g in grads)
        return float(np.max(np.abs(jacobian))), finite


# MagnitudeBound rounds 2**(1/T) down to float32, so prod |u| <= 2 holds for the stored
# weights; the products are taken in float64 (1000 roundings of 1.1e-16 each): slack 1e-12.
JACOBIAN_BOUND = 2.0 * (1 + 1e-12)


@pytest.fixture(scope="module")
def bounded_harness():
    keras.utils.set_random_seed(0)
    return BoundHarness(IndRNNCell(UNITS, max_steps=T))


@settings(max_examples=6)
@given(u_raw=st.lists(st.floats(-3.0, 3.0), min_size=UNITS, max_size=UNITS),
       seed=st.integers(0, 2**16), learning_rate=st.sampled_from([0.01, 0.1, 1.0]),
       scale=st.sampled_from([0.1, 1.0, 3.0]))
def test_bound_keeps_the_jacobian_at_most_two_over_max_steps(bounded_harness, u_raw, seed,
                                                                 learning_rate, scale):
    largest, finite = bounded_harness.check(u_raw, seed, learning_rate, scale)
    u = bounded_harness.cell.recurrent_kernel.numpy().astype("float64")
    assert np.all(np.abs(u) <= 2 ** (1 / T))
    assert largest <= JACOBIAN_BOUND
    assert finite


def test_the_bound_check_fails_for_an_unconstrained_mutant():
    keras.utils.set_random_seed(0)
    mutant = BoundHarness(MutantIndRNNCell(UNITS, max_steps=T))
    largest, finite = mutant.check([1.1] * UNITS, seed=3, learning_rate=0.1, scale=1.0)
    assert not (largest <= JACOBIAN_BOUND and finite)
    assert largest > JACOBIAN_BOUND


# ---------------------------------------------------------------------- MagnitudeBound


def test_magnitude_bound_clips_magnitudes_and_keeps_signs():
    bound = MagnitudeBound(max_abs=1.5, min_abs=0.5)
    w = np.array([-3.0, -1.0, -0.1, 0.0, 0.2, 1.0, 2.0], "float32")
    expected = np.sign(w + (w == 0)) * np.clip(np.abs(w), 0.5, 1.5)
    np.testing.assert_allclose(bound(w), expected)
    assert MagnitudeBound.for_steps(1000).max_abs == 2 ** (1 / 1000)
    # Bounds rounded inward to the weight's dtype: float32(2**(1/1000)) is above the bound.
    assert float(np.float32(2 ** (1 / 1000))) > 2 ** (1 / 1000)
    clipped = MagnitudeBound.for_steps(1000)(np.array([5.0, -5.0], "float32"))
    assert np.all(np.abs(np.asarray(clipped, "float64")) <= 2 ** (1 / 1000))
    assert np.all(np.abs(np.asarray(clipped, "float64")) ** 1000 <= 2.0)
    restored = keras.constraints.deserialize(keras.constraints.serialize(bound))
    assert isinstance(restored, MagnitudeBound) and restored.get_config() == bound.get_config()
    np.testing.assert_allclose(MagnitudeBound()(w), w)  # no bounds: identity


@pytest.mark.parametrize("kwargs,match", [
    ({"max_abs": 0}, r"`max_abs`.*max_abs=0"),
    ({"min_abs": -1}, r"`min_abs`.*min_abs=-1"),
    ({"max_abs": 1.0, "min_abs": 2.0}, r"`min_abs`.*\[0, max_abs=1.0\].*min_abs=2.0"),
])
def test_magnitude_bound_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MagnitudeBound(**kwargs)


def test_constraint_is_applied_after_an_optimizer_step_and_at_initialization():
    cell = IndRNNCell(64, max_steps=10, recurrent_min_abs=0.5,
                      recurrent_initializer=keras.initializers.RandomUniform(-3.0, 3.0))
    cell.build((None, 2))
    u = cell.recurrent_kernel.numpy()
    high = np.float32(2 ** (1 / 10))
    assert np.all((np.abs(u) >= 0.5) & (np.abs(u) <= high))
    assert np.any(u < 0) and np.any(np.isclose(np.abs(u), high))  # clipped, sign kept
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.apply([np.full(64, -5.0, "float32")], [cell.recurrent_kernel])
    u = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(np.abs(u), high)  # every |u| pushed past the bound, clipped


def test_paper_initialization_of_the_recurrent_weights():
    cell = IndRNNCell(2000, max_steps=100)
    cell.build((None, 3))
    u = cell.recurrent_kernel.numpy()
    high = 2 ** (1 / 100)
    # Uniform in [0, 2**(1/T)]: the range is covered and the mean is half the bound.
    assert u.min() >= 0 and u.max() <= np.float32(high)
    assert u.min() < 0.01 * high and u.max() > 0.99 * high
    assert abs(u.mean() - high / 2) < 0.05 * high
    last_layer = IndRNNCell(2000, max_steps=100, recurrent_min_abs=0.5 ** (1 / 100))
    last_layer.build((None, 3))
    u = last_layer.recurrent_kernel.numpy()
    assert u.min() >= np.float32(0.5 ** (1 / 100)) and u.max() <= np.float32(high)
    unbounded = IndRNNCell(500)
    unbounded.build((None, 3))
    assert unbounded.recurrent_constraint is None
    assert 0 <= unbounded.recurrent_kernel.numpy().min() <= unbounded.recurrent_kernel.numpy(
    ).max() <= 1


# ---------------------------------------------------------------------- Keras contract


def test_weights_shapes_and_config_round_trip():
    cell = IndRNNCell(5, activation=rnncells.activations.LeakyReLU(0.05), max_steps=50,
                      recurrent_min_abs=0.1, normalization="layer")
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    outputs, state = layer(x)
    assert outputs.shape == (2, 4, 5) and state.shape == (2, 5)
    assert [(v.name, tuple(v.shape)) for v in cell.weights] == [
        ("kernel", (3, 5)), ("recurrent_kernel", (5,)), ("bias", (5,)),
        ("kernel_norm_gamma", (5,))]
    config = cell.get_config()
    assert config["recurrent_constraint"] is None  # the bound is rebuilt from max_steps
    clone = IndRNNCell.from_config(config)
    assert clone.get_config() == config
    assert clone.recurrent_constraint.get_config() == cell.recurrent_constraint.get_config()
    assert clone.activation == rnncells.activations.LeakyReLU(0.05)
    layer2 = keras.layers.RNN(clone, return_sequences=True, return_state=True)
    layer2.build(x.shape)
    layer2.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer2(x)[0], outputs, atol=1e-6)
    plain = IndRNNCell(3, use_bias=False)
    plain.build((None, 2))
    assert len(plain.weights) == 2


def test_keras_save_load_and_training_step(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((6, 3)),
        keras.layers.RNN(IndRNNCell(8, max_steps=6, normalization="layer")),
        keras.layers.Dense(1),
    ])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    before = [w.numpy().copy() for w in model.weights]
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(not np.allclose(b, w.numpy()) for b, w in zip(before, model.weights))
    u = model.layers[0].cell.recurrent_kernel.numpy()
    assert np.all(np.abs(u) <= np.float32(2 ** (1 / 6)))
    path = tmp_path / "indrnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert loaded.layers[0].cell.max_steps == 6


def test_mixed_float16():
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    reference = keras.layers.RNN(IndRNNCell(4, normalization="layer", activation="tanh"))
    expected = reference(x)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(IndRNNCell(4, normalization="layer", activation="tanh"))
    layer.build(x.shape)
    layer.set_weights(reference.get_weights())
    out = layer(x)
    assert out.dtype == "float16" and all(w.dtype == "float32" for w in layer.weights)
    np.testing.assert_allclose(np.asarray(out, "float32"), expected, atol=1e-2)


def test_masked_steps_leave_the_state_unchanged():
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True, False, True, False, True], [True, True, True, True, False]])
    cell = IndRNNCell(4, activation="tanh")
    _, state = keras.layers.RNN(cell, return_state=True)(x, mask=mask)
    kept = keras.layers.RNN(cell)
    np.testing.assert_allclose(state[:1], kept(x[:1, [0, 2, 4]]), atol=1e-6)
    np.testing.assert_allclose(state[1:], kept(x[1:, :4]), atol=1e-6)


def test_dropout_only_when_training():
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    layer = keras.layers.RNN(IndRNNCell(4, dropout=0.5, recurrent_dropout=0.5, seed=1))
    inference = np.asarray(layer(x))
    np.testing.assert_allclose(layer(x, training=False), inference)
    assert not np.allclose(layer(x, training=True), inference)


@pytest.mark.parametrize("kwargs,match", [
    ({"units": 0}, r"`units`.*units=0"),
    ({"max_steps": 0}, r"`max_steps`.*max_steps=0"),
    ({"max_steps": 1.5}, r"`max_steps`.*max_steps=1.5"),
    ({"recurrent_min_abs": -0.1}, r"`recurrent_min_abs`.*recurrent_min_abs=-0.1"),
    ({"recurrent_min_abs": 1.5}, r"`recurrent_min_abs`.*recurrent_min_abs=1.5"),
    ({"max_steps": 10, "recurrent_constraint": "non_neg"},
     r"`recurrent_constraint`.*expected None.*max_steps=10"),
    ({"activation": "no_such_activation"}, r"Unknown activation 'no_such_activation'"),
    ({"dropout": -0.1}, r"`dropout`.*dropout=-0.1"),
])
def test_bad_arguments_raise_value_errors_naming_them(kwargs, match):
    arguments = {"units": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        IndRNNCell(**arguments)


def test_bad_input_rank():
    with pytest.raises(ValueError, match=r"rank 2 per step.*\(2, 4, 3\)"):
        keras.layers.RNN(IndRNNCell(4))(np.zeros((2, 5, 4, 3), "float32"))


def test_fused_rnn_equals_keras_rnn_outputs_and_gradients(monkeypatch):
    from rnncells.layers.fused_rnn import FusedRNN

    calls = []  # spy: the shapes `project` is called with
    project = IndRNNCell.project
    monkeypatch.setattr(IndRNNCell, "project", lambda self, inputs, training=None: calls.append(
        tuple(inputs.shape)) or project(self, inputs, training=training))
    x = tf.constant(np.random.default_rng(5).normal(size=(3, 7, 2)).astype("float32"))
    cell = IndRNNCell(4, max_steps=7, normalization="layer")
    fused = FusedRNN(cell, return_sequences=True)
    plain = keras.layers.RNN(cell, return_sequences=True)
    with tf.GradientTape(persistent=True) as tape:
        a, b = fused(x), plain(x)
        loss_a, loss_b = tf.reduce_sum(a ** 2), tf.reduce_sum(b ** 2)
    assert fused.fused_path == "loop" and (3, 7, 2) in calls  # projected as a whole sequence
    np.testing.assert_allclose(a, b, atol=1e-5)
    for ga, gb in zip(tape.gradient(loss_a, cell.trainable_variables),
                      tape.gradient(loss_b, cell.trainable_variables)):
        np.testing.assert_allclose(ga, gb, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- renamed arguments
OLD_ARGUMENTS = {"max_timesteps": 7, "layer_norm": True}
NEW_ARGUMENTS = {"max_steps": 7, "normalization": "layer"}


def _without_name(config):
    return {k: v for k, v in config.items() if k != "name"}


def test_renamed_arguments_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning) as record:
        old = IndRNNCell(4, **OLD_ARGUMENTS)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "Argument `layer_norm` of IndRNNCell is deprecated. Use `normalization`" in messages[0]
    assert "Argument `max_timesteps` of IndRNNCell is deprecated. Use `max_steps`" in messages[1]
    new = IndRNNCell(4, **NEW_ARGUMENTS)
    assert _without_name(old.get_config()) == _without_name(new.get_config())
    assert old.max_steps == 7 and old.normalization == "layer"
    with pytest.warns(DeprecationWarning):
        assert IndRNNCell(4, layer_norm=False).normalization is None


def test_an_old_config_loads_silently_and_builds_the_same_cell():
    new = IndRNNCell(4, **NEW_ARGUMENTS)
    config = new.get_config()
    for key in NEW_ARGUMENTS:
        del config[key]
    config.update(OLD_ARGUMENTS)  # what the previous version wrote
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = IndRNNCell.from_config(config)
    assert _without_name(loaded.get_config()) == _without_name(new.get_config())
    loaded.build((None, 3))
    assert [v.name for v in loaded.weights][-1] == "kernel_norm_gamma"
    assert loaded.recurrent_constraint.max_abs == 2 ** (1 / 7)


def test_old_and_new_names_together_raise():
    with pytest.raises(ValueError, match=r"`max_timesteps` is the deprecated name of "
                                         r"`max_steps`.*max_timesteps=5 and max_steps=6"):
        IndRNNCell(4, max_steps=6, max_timesteps=5)


def test_magnitude_bound_for_timesteps_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="Use `MagnitudeBound.for_steps`"):
        old = MagnitudeBound.for_timesteps(50, min_abs=0.1)
    assert old.get_config() == MagnitudeBound.for_steps(50, min_abs=0.1).get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"recurrent_activation": "relu"}, r"`recurrent_activation` for IndRNNCell.*"
                                       r"recurrent_activation='relu'"),
    ({"normalization": "group"}, r"`normalization`.*'group'"),
])
def test_arguments_the_cell_does_not_take_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IndRNNCell(4, **kwargs)
    assert "recurrent_activation" not in IndRNNCell(4).get_config()
