"""Batch-norm cells: NumPy reference, the Keras contract, per-step statistics, masks, steps."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells import BatchNormGRUCell, BatchNormLSTMCell
from tests.cells.batch_norm_reference import NORMS, BatchNormReference

FACTORIES = {"lstm": BatchNormLSTMCell, "gru": BatchNormGRUCell}


class BatchStatisticsAtInference(BatchNormLSTMCell):
    """Mutant: normalizes with batch statistics at inference too.

    (Accurate on training-size batches, poor one sample at a time.)
    """

    def call(self, inputs, states, training=None, mask=None):
        return super().call(inputs, states, training=True, mask=mask)


def make_cell(kind, units=3, **kwargs):
    kwargs.setdefault("momentum", 0.8)
    return FACTORIES[kind](units, **kwargs)


def randomize(cell, seed=0):
    """Random weights (gammas ~ 1, moving variances > 0) so no term is trivially identity;
    update counts 0-20, so the warm-up momentum min(momentum, (1 + n) / (10 + n)) varies."""
    rng = np.random.default_rng(seed)
    for w in cell.weights:
        v = rng.normal(0.0, 0.5, size=w.shape)
        if "gamma" in w.name or "variance" in w.name:
            v = 1.0 + 0.3 * np.abs(v)
        if "count" in w.name:
            v = rng.integers(0, 21, size=w.shape)
        w.assign(v.astype("float32"))


def weights_of(cell):
    return {w.name: w.numpy() for w in cell.weights}


def reference_for(kind, cell):
    return BatchNormReference(kind, weights_of(cell), cell.momentum, cell.norm_epsilon,
                              cell.max_steps)


def sequences(batch=4, timesteps=5, features=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, timesteps, features)).astype(
        "float32")


# ------------------------------------------------------------------ NumPy reference
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("training", [True, False])
def test_matches_numpy_reference_with_moving_statistics(kind, training):
    """RNN(cell) == the NumPy reference (1e-5), T=5 > max_steps=3 (steps 3, 4 reuse row 2),
    outputs and every moving statistic after the pass (training updates them)."""
    cell = make_cell(kind, max_steps=3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = sequences()
    layer.build(x.shape)
    randomize(cell)
    reference = reference_for(kind, cell)
    expected, _ = reference.run(x, training=training)
    got = layer(x, training=training)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for prefix in NORMS[kind]:
        for stat in ("moving_mean", "moving_variance"):
            name = f"{prefix}_{stat}"
            np.testing.assert_allclose(getattr(cell, name).numpy(), reference.w[name],
                                       atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequence_project_equals_stepping(kind):
    """project(sequence, start_step=s) == project of each step at step s + t: normalized
    values and the moving statistics it leaves (the last row is shared, EMA in order)."""
    cell = make_cell(kind, max_steps=3)
    x = sequences(timesteps=6)
    cell.build((None, 2))
    randomize(cell)
    start = cell.non_trainable_weights
    initial = [v.numpy() for v in start]
    changed = []
    for training in (True, False):
        whole = cell.project(x, training=training, start_step=1).numpy()
        after_whole = [v.numpy() for v in start]
        for v, value in zip(start, initial):
            v.assign(value)
        steps = np.stack([cell.project(x[:, t], training=training, start_step=1 + t)
                          for t in range(6)], axis=1)
        after_steps = [v.numpy() for v in start]
        np.testing.assert_allclose(whole, steps, atol=1e-5)
        for a, b in zip(after_whole, after_steps):
            np.testing.assert_allclose(a, b, atol=1e-6)
        changed.append(any(np.abs(a - b).max() > 1e-3 for a, b in zip(after_whole, initial)))
        for v, value in zip(start, initial):
            v.assign(value)
    assert changed == [True, False]  # training updates the statistics, inference does not


# ------------------------------------------------------------------ training flag, steps
def test_inference_leaves_moving_statistics_and_training_updates_them():
    cell = make_cell("lstm")
    layer = keras.layers.RNN(cell)
    x = sequences()
    layer(x)
    before = [v.numpy() for v in cell.non_trainable_weights]
    layer(x, training=False)
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(cell.non_trainable_weights, before))
    layer(x, training=True)
    changed = [not np.array_equal(v.numpy(), b)
               for v, b in zip(cell.non_trainable_weights, before)]
    assert all(changed)
    # rows >= T (never visited) keep their initial values
    assert np.array_equal(cell.kernel_norm_moving_mean.numpy()[5:], before[0][5:])


def test_stateful_rnn_continues_counting():
    """Two stateful calls of 3 steps == one call of 6 (steps 3..5 use their own statistics)."""
    x = sequences(batch=2, timesteps=6)
    cell = make_cell("lstm", max_steps=8)
    whole = keras.layers.RNN(cell, return_sequences=True)
    whole.build(x.shape)
    randomize(cell)
    expected = whole(x)
    twin = make_cell("lstm", max_steps=8)
    stateful = keras.layers.RNN(twin, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    twin.set_weights(cell.get_weights())
    got = np.concatenate([stateful(x[:, :3]), stateful(x[:, 3:])], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_array_equal(stateful.states[-1].numpy(), np.full((2, 1), 6.0))
    stateful.reset_state()
    np.testing.assert_allclose(stateful(x[:, :3]), expected[:, :3], atol=1e-6)


def test_step_counter_saturates_at_last_statistics_row():
    cell = make_cell("gru", max_steps=4)
    layer = keras.layers.RNN(cell, return_state=True)
    _, _, step = layer(sequences(timesteps=9))
    np.testing.assert_array_equal(step.numpy(), np.full((4, 1), 3.0))


@settings(max_examples=4)
@given(batch=st.integers(1, 3), timesteps=st.integers(1, 6), kind=st.sampled_from(["lstm", "gru"]),
       training=st.booleans())
def test_go_backwards_equals_reversed_input(batch, timesteps, kind, training):
    """go_backwards: the first processed input (the last of x) is step 0."""
    x = sequences(batch, timesteps, seed=timesteps)
    cell = make_cell(kind, max_steps=4)
    backwards = keras.layers.RNN(cell, go_backwards=True, return_sequences=True)
    backwards.build(x.shape)
    randomize(cell)
    twin = make_cell(kind, max_steps=4)
    forwards = keras.layers.RNN(twin, return_sequences=True)
    forwards.build(x.shape)
    twin.set_weights(cell.get_weights())
    np.testing.assert_allclose(backwards(x, training=training),
                               forwards(x[:, ::-1], training=training), atol=1e-6)
    for a, b in zip(cell.non_trainable_weights, twin.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("graph", [False, True])
def test_each_training_step_updates_the_statistics_once(unroll, graph):
    """keras.layers.RNN calls the cell on the first step before its loop (shape probe; and a
    StackedRNNCells calls it once more for the dropout masks): those calls must not update
    the moving statistics. A BN cell alone and first in a stack, eager and in tf.function,
    rolled and unrolled, ends with the NumPy reference's statistics (one update per step)."""
    x = sequences(batch=3, timesteps=3, seed=11)
    cell = make_cell("lstm", max_steps=4)
    cell.build((None, 2))
    randomize(cell)
    reference = reference_for("lstm", cell)
    reference.run(x, training=True)
    reference.run(x, training=True)
    twin = make_cell("lstm", max_steps=4)
    twin.build((None, 2))
    twin.set_weights(cell.get_weights())
    alone = keras.layers.RNN(cell, unroll=unroll)
    stacked = keras.layers.RNN([twin, rnncells.LayerNormGRUCell(2)], unroll=unroll)
    for layer in (alone, stacked):
        run = tf.function(lambda v, layer=layer: layer(v, training=True)) if graph else (
            lambda v, layer=layer: layer(v, training=True))
        run(x)
        run(x)
    for bn in (cell, twin):
        for name in ("kernel_norm_moving_mean", "state_norm_moving_variance"):
            np.testing.assert_allclose(getattr(bn, name).numpy(), reference.w[name], atol=1e-5,
                                       err_msg=name)


# ------------------------------------------------------------------ batch independence
def inference_rows_independent(cell_factory, x, seed=0):
    """True when each row's inference output equals that row run alone (atol 1e-5)."""
    cell = cell_factory()
    layer = keras.layers.RNN(cell)
    layer.build(x.shape)
    randomize(cell, seed)
    together = layer(x).numpy()
    alone = np.concatenate([layer(x[i:i + 1]).numpy() for i in range(len(x))])
    return np.allclose(together, alone, atol=1e-5)


@settings(max_examples=5)
@given(batch=st.integers(2, 4), timesteps=st.integers(1, 6), units=st.integers(1, 4),
       seed=st.integers(0, 100))
def test_inference_row_does_not_depend_on_other_rows(batch, timesteps, units, seed):
    x = sequences(batch, timesteps, seed=seed)
    assert inference_rows_independent(lambda: BatchNormLSTMCell(units), x, seed)
    assert inference_rows_independent(lambda: BatchNormGRUCell(units), x, seed)


def test_row_independence_property_catches_the_batch_statistics_mutant():
    x = sequences(batch=3, timesteps=4, seed=7)
    assert not inference_rows_independent(lambda: BatchStatisticsAtInference(3), x)


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_padded_steps_are_left_out_of_the_statistics(kind):
    """Masking(0) + RNN(cell(mask_value=0)): right-padded rows are excluded from the batch
    statistics and the moving-statistics update (reference: weight 0 for padded rows)."""
    x = sequences(batch=4, timesteps=5, seed=3)
    lengths = np.array([5, 3, 2, 5])
    mask = (np.arange(5)[None, :] < lengths[:, None]).astype("float32")
    x = x * mask[:, :, None]
    cell = make_cell(kind, max_steps=4, mask_value=0.0)
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build(x.shape)
    randomize(cell)
    reference = reference_for(kind, cell)
    expected, _ = reference.run(x, training=True, mask=mask)
    got = layer(x, mask=mask > 0, training=True).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for name in reference.w:
        if "moving" in name:
            np.testing.assert_allclose(getattr(cell, name).numpy(), reference.w[name],
                                       atol=1e-5, err_msg=name)
    # counting the padded rows would have given other numbers: the test can tell
    counted, _ = reference_for(kind, cell).run(x, training=True)
    assert not np.allclose(counted, expected, atol=1e-3)


def test_explicit_mask_argument_when_stepping_by_hand():
    """call(x_t, states, training=True, mask=m_t) excludes rows with m_t == 0 (custom loop)."""
    x = sequences(batch=5, timesteps=3, seed=4)
    mask = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]], "float32")
    cell = make_cell("lstm", max_steps=3)
    cell.build((None, 2))
    randomize(cell)
    reference = reference_for("lstm", cell)
    expected, _ = reference.run(x, training=True, mask=mask)
    states = cell.get_initial_state(5)
    for t in range(3):
        out, new = cell(x[:, t], states, training=True, mask=mask[:, t])
        keep = mask[:, t:t + 1] > 0  # the caller keeps padded rows' states, as RNN does
        states = [np.where(keep, n, s) for n, s in zip(new, states)]
        np.testing.assert_allclose(np.where(keep, out, expected[:, t]), expected[:, t],
                                   atol=1e-5)
    np.testing.assert_allclose(cell.state_norm_moving_variance.numpy(),
                               reference.w["state_norm_moving_variance"], atol=1e-5)


# ------------------------------------------------------------------ long sequences
@pytest.mark.slow
def test_outputs_and_gradients_finite_for_1000_steps():
    """T = 1000, 10x max_steps = 100: steps >= 99 share the last statistics row."""
    cell = BatchNormLSTMCell(4)
    layer = keras.layers.RNN(cell)
    x = tf.constant(sequences(batch=3, timesteps=1000, features=2, seed=5))

    @tf.function
    def loss_and_grads(training):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x, training=training)))
        return loss, tape.gradient(loss, layer.trainable_weights)

    loss, grads = loss_and_grads(True)
    assert np.isfinite(loss.numpy())
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert any(np.abs(g.numpy()).max() > 0 for g in grads)
    assert np.all(np.isfinite(cell.state_norm_moving_variance.numpy()))
    infer = tf.function(lambda v: layer(v, training=False))  # moving statistics
    assert np.all(np.isfinite(infer(x[:1]).numpy()))


# ------------------------------------------------------------------ Keras contract
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_weights_shapes_and_state(kind):
    cell = make_cell(kind, units=3, max_steps=7)
    layer = keras.layers.RNN(cell, return_state=True)
    out, *states = layer(sequences(batch=2, features=5))
    gates = 4 if kind == "lstm" else 3
    assert out.shape == (2, 3)
    assert [s.shape[-1] for s in states] == ([3, 3, 1] if kind == "lstm" else [3, 1])
    shapes = {w.name: tuple(w.shape) for w in cell.weights}
    assert shapes["kernel"] == (5, gates * 3)
    assert shapes["kernel_norm_moving_mean"] == (7, gates * 3)
    assert shapes["recurrent_norm_moving_variance"] == (7, gates * 3)
    assert len(cell.non_trainable_weights) == 3 * len(NORMS[kind])  # mean, variance, count
    np.testing.assert_allclose(cell.kernel_norm_gamma.numpy(), 0.1)  # the paper's init
    assert ("state_norm_beta" in shapes) == (kind == "lstm")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_config_round_trip(kind):
    cell = make_cell(kind, units=5, momentum=0.9, norm_epsilon=1e-4, max_steps=12,
                     synchronized=True, mask_value=-1.0, norm_gamma_initializer=0.2, dropout=0.1)
    clone = type(cell).from_config(cell.get_config())
    for key in ("units", "momentum", "norm_epsilon", "max_steps", "synchronized", "mask_value",
                "dropout"):
        assert getattr(clone, key) == getattr(cell, key), key
    clone.build((None, 2))
    np.testing.assert_allclose(clone.kernel_norm_gamma.numpy(), 0.2)
    assert ("beta_initializer" in cell.get_config()) == (kind == "lstm")


def test_keras_save_load_identical_inference(tmp_path):
    """`.keras` round trip after training: identical inference, moving statistics included."""
    x = sequences(batch=8, timesteps=6, features=3, seed=9)
    y = np.random.default_rng(0).integers(0, 2, size=8)
    model = keras.Sequential([keras.Input((6, 3)),
                              keras.layers.RNN(BatchNormLSTMCell(4, momentum=0.5)),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.layers[0].cell.kernel_norm_moving_mean.numpy()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.layers[0].cell.non_trainable_weights,
                    loaded.layers[0].cell.non_trainable_weights):
        assert a.name == b.name
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(model.layers[0].cell.kernel_norm_moving_mean.numpy(), before)


def test_mixed_precision_keeps_statistics_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    cell = BatchNormLSTMCell(4)
    layer = keras.layers.RNN(cell)
    out = layer(sequences(), training=True)
    assert out.dtype == "float16"
    assert cell.kernel_norm_moving_mean.dtype == "float32"
    assert np.all(np.isfinite(cell.kernel_norm_moving_variance.numpy()))
    with pytest.raises(ValueError, match="max_steps"):
        keras.layers.RNN(BatchNormGRUCell(2, max_steps=5000))(sequences())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_custom_gradient_tape_loop_updates_moving_statistics(kind):
    model = keras.Sequential([keras.Input((5, 2)), keras.layers.RNN(make_cell(kind)),
                              keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.1)
    before = [v.numpy() for v in model.non_trainable_weights]
    x = sequences()

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    train_step()
    assert all(not np.array_equal(v.numpy(), b)
               for v, b in zip(model.non_trainable_weights, before))


def test_model_fit_with_xla_updates_moving_statistics():
    """model.fit with XLA (what jit_compile="auto" picks on a GPU; on this CPU "auto" means no
    XLA, which the save/load test fits with) gives the same moving statistics as the same
    training passes run eagerly (learning rate 0)."""
    x, y = sequences(batch=8), np.zeros((8, 1), "float32")

    def make():
        keras.utils.set_random_seed(3)
        return keras.Sequential([keras.Input((5, 2)),
                                 keras.layers.RNN(BatchNormLSTMCell(3, momentum=0.7,
                                                                    max_steps=4)),
                                 keras.layers.Dense(1)])

    fitted = make()
    fitted.compile(keras.optimizers.SGD(0.0), "mse", jit_compile=True)
    fitted.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    eager = make()
    for i in (0, 4):
        eager(x[i:i + 4], training=True)
    for a, b in zip(fitted.non_trainable_weights, eager.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert np.abs(fitted.layers[0].cell.recurrent_norm_moving_mean.numpy()).max() > 0


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("argument, value, allowed", [
    ("max_steps", 0, "positive integer"),
    ("max_steps", 2.5, "positive integer"),
    ("momentum", 1.0, r"\[0, 1\)"),
    ("momentum", -0.1, r"\[0, 1\)"),
    ("norm_epsilon", 0.0, "> 0"),
    ("norm_epsilon", -1e-3, "> 0"),
    ("mask_value", "pad", "a number"),
])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bad_arguments_name_argument_value_and_allowed(kind, argument, value, allowed):
    with pytest.raises(ValueError, match=rf"`{argument}`.*{allowed}.*{argument}="):
        FACTORIES[kind](2, **{argument: value})


def test_exported_from_the_package():
    assert rnncells.BatchNormLSTMCell is BatchNormLSTMCell
    assert {"BatchNormLSTMCell", "BatchNormGRUCell"} <= set(rnncells.__all__)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_previous_argument_names_still_work(kind):
    """`epsilon` / `gamma_initializer` (0.1.0) are now `norm_epsilon` / `norm_gamma_initializer`,
    as in every other cell: the old names warn, old configs load silently."""
    with pytest.warns(DeprecationWarning, match="Argument `epsilon` .* Use `norm_epsilon`"):
        cell = make_cell(kind, units=3, epsilon=1e-4)
    assert cell.norm_epsilon == 1e-4
    with pytest.warns(DeprecationWarning, match="Use `norm_gamma_initializer`"):
        cell = make_cell(kind, units=3, gamma_initializer=0.3)
    cell.build((None, 2))
    np.testing.assert_allclose(cell.kernel_norm_gamma.numpy(), 0.3)
    with pytest.raises(ValueError, match="pass only `norm_epsilon`"):
        make_cell(kind, units=3, epsilon=1e-4, norm_epsilon=1e-2)
    old_config = make_cell(kind, units=3).get_config()
    old_config["epsilon"] = old_config.pop("norm_epsilon") * 2
    old_config["gamma_initializer"] = old_config.pop("norm_gamma_initializer")
    clone = type(cell).from_config(old_config)  # no warning: pytest turns ours into errors
    assert clone.norm_epsilon == 2e-3
