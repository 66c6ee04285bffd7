"""Zoneout (wrapper) and DropConnect on recurrent_kernel (DenseRecurrentCell argument).

Statistical tests use the binomial standard deviation sqrt(p (1 - p) / n) of a fraction of n
Bernoulli(p) draws and allow 4 of them (seeds are fixed by conftest, so they are also
deterministic).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from rnncells.cells.batch_norm import BatchNormGRUCell, BatchNormLSTMCell
from rnncells.cells.esn import ESNCell
from rnncells.cells.layer_norm import LayerNormGRUCell, LayerNormLSTMCell, LayerNormSimpleRNNCell
from rnncells.cells.nas import NASCell
from rnncells.cells.peephole import PeepholeLSTMCell
from rnncells.cells.zoneout import Zoneout
from rnncells.layers.fused_rnn import FusedRNN
from tests.cells.test_peephole import assert_fused_matches_keras, peephole_step
from tests.cells.test_peephole import randomize as randomize_peephole


def binomial_tolerance(p, n, sigmas=4):
    return sigmas * np.sqrt(p * (1 - p) / n)


def sequence(batch=2, steps=5, features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32")


def randomize(cell, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    cell.set_weights([rng.normal(0, scale, w.shape).astype("float32")
                      for w in cell.get_weights()])


# ================================================================== zoneout
def test_zoneout_inference_is_the_expectation_and_deterministic():
    # s_t = rate * s_{t-1} + (1 - rate) * s'_t for h (rate 0.2) and c (rate 0.6).
    x = sequence(2, 5, 3)
    layer = keras.layers.RNN(Zoneout(PeepholeLSTMCell(4), rate=[0.2, 0.6]),
                             return_sequences=True, return_state=True)
    layer.build((None, 5, 3))
    weights = randomize_peephole(layer.cell.cell)
    outputs, h, c = layer(x)
    ref_h, ref_c = np.zeros((2, 4)), np.zeros((2, 4))
    ref_outputs = []
    for t in range(5):
        new_h, new_c = peephole_step(x[:, t], ref_h, ref_c, *weights)
        ref_h = 0.2 * ref_h + 0.8 * new_h
        ref_c = 0.6 * ref_c + 0.4 * new_c
        ref_outputs.append(ref_h)
    np.testing.assert_allclose(outputs, np.stack(ref_outputs, 1), atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)
    again, _, _ = layer(x)
    np.testing.assert_array_equal(again, outputs)


def test_zoneout_training_step_keeps_or_updates_each_unit():
    cell = Zoneout(PeepholeLSTMCell(16), rate=0.5)
    cell.build((None, 3))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype("float32")
    states = [rng.normal(size=(8, 16)).astype("float32") for _ in range(2)]
    _, inner_states = cell.cell(x, states)
    out, zoned = cell(x, states, training=True)
    for prev, new, got in zip(states, inner_states, zoned):
        got, new = np.asarray(got), np.asarray(new)
        kept = got == prev
        np.testing.assert_array_equal(got[~kept], new[~kept])
        assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(out, zoned[0])  # the output is the zoned h


def keep_statistics(layer, x, run):
    """(fraction of units that kept their previous value, fraction kept at 2 steps in a row)."""
    y = np.asarray(run(layer, x))
    kept = y[:, 1:] == y[:, :-1]
    return kept.mean(), (kept[:, 1:] & kept[:, :-1]).mean(), kept[:, 1:].size


def eager(layer, x):
    return layer(x, training=True)


@tf.function
def compiled(layer, x):
    return layer(x, training=True)


class PerSequenceZoneout(Zoneout):
    """Mutant: one zoneout mask per sequence (like dropout), not a new one every step."""

    _cached = None

    def project(self, inputs, training=None):
        projected = super().project(inputs, training=training)
        if not training:
            return projected
        if self._cached is None:
            self._cached = projected[1]
        return [projected[0], self._cached]

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._cached = None


def fresh_mask_every_step(layer, x, run, rate):
    """The property: units keep with prob. `rate`, independently at consecutive steps."""
    kept, kept_twice, n = keep_statistics(layer, x, run)
    return (abs(kept - rate) < binomial_tolerance(rate, n)
            and abs(kept_twice - rate ** 2) < binomial_tolerance(rate ** 2, n))


@pytest.mark.parametrize("run", [eager, compiled], ids=["eager", "tf_function"])
def test_zoneout_training_keeps_units_at_the_stated_rate_with_a_new_mask_every_step(run):
    rate, x = 0.3, sequence(32, 16, 3)
    layer = keras.layers.RNN(Zoneout(ESNCell(16, connectivity=1.0), rate=rate),
                             return_sequences=True)
    layer.build(x.shape)  # variables outside tf.function
    kept, kept_twice, n = keep_statistics(layer, x, run)
    assert abs(kept - rate) < binomial_tolerance(rate, n)
    assert abs(kept_twice - rate ** 2) < binomial_tolerance(rate ** 2, n)
    assert fresh_mask_every_step(layer, x, run, rate)
    assert not np.array_equal(run(layer, x), run(layer, x))  # stochastic


def test_the_per_step_property_catches_a_per_sequence_mask():
    rate, x = 0.3, sequence(32, 16, 3)
    mutant = keras.layers.RNN(PerSequenceZoneout(ESNCell(16, connectivity=1.0), rate=rate),
                              return_sequences=True)
    assert not fresh_mask_every_step(mutant, x, eager, rate)


def test_zoneout_output_follows_the_state_it_equals():
    # NAS's output is its SECOND state m; "auto" zones the output out with it.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3)).astype("float32")
    states = [rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 3)).astype(
        "float32")]
    cell = Zoneout(NASCell(4, projection=3), rate=0.5)
    cell.build((None, 3))
    out, (c, m) = cell(x, states)
    np.testing.assert_array_equal(out, m)
    _, (_, inner_m) = cell.cell(x, states)
    np.testing.assert_allclose(m, 0.5 * states[1] + 0.5 * np.asarray(inner_m), atol=1e-6)
    # output_state_index=None leaves the inner cell's output as it was.
    raw = Zoneout(cell.cell, rate=0.5, output_state_index=None)
    out_raw, _ = raw(x, states)
    np.testing.assert_allclose(out_raw, inner_m, atol=1e-6)


def test_zoneout_masked_steps_leave_the_state_unchanged_in_training():
    x = sequence(3, 6, 2)
    mask = np.array([[1, 1, 1, 0, 0, 0], [0] * 6, [1] * 6], bool)
    layer = keras.layers.RNN(Zoneout(PeepholeLSTMCell(4), rate=0.5), return_sequences=True,
                             return_state=True)
    outputs, h, c = layer(x, mask=mask, training=True)
    np.testing.assert_array_equal(h[0], outputs[0, 2])  # state frozen after step 2
    np.testing.assert_array_equal(h[1], np.zeros(4))    # never updated
    np.testing.assert_array_equal(c[1], np.zeros(4))
    np.testing.assert_array_equal(h[2], outputs[2, -1])


def test_zoneout_runs_under_the_project_recur_protocol():
    # What FusedRNN does: project the whole sequence once, then recur step by step.
    x = sequence(2, 5, 3)
    cell = Zoneout(LayerNormLSTMCell(4), rate=[0.1, 0.4])
    layer = keras.layers.RNN(cell, return_state=True)
    _, h, c = layer(x)
    projected = cell.project(x)
    states = cell.get_initial_state(batch_size=2)
    for t in range(5):
        _, states = cell.recur(projected[:, t], states)
    np.testing.assert_allclose(states[0], h, atol=1e-5)
    np.testing.assert_allclose(states[1], c, atol=1e-5)


def test_zoneout_training_masks_come_from_project_so_recur_is_pure():
    # Training: project draws one mask per step and unit for the whole sequence; recur is a
    # pure function of (projected_t, states), so a backward pass that recomputes a step (as
    # FusedRNN's does) sees the forward's masks.
    rate, x = 0.3, sequence(32, 16, 3)
    cell = Zoneout(ESNCell(16, connectivity=1.0), rate=rate)
    cell.build((None, 3))
    inner, (masks,) = cell.project(x, training=True)
    assert masks.shape == (32, 16, 16)
    kept = np.asarray(masks)
    assert abs(kept.mean() - rate) < binomial_tolerance(rate, kept.size)
    states = cell.get_initial_state(batch_size=32)
    outputs = []
    for t in range(16):
        step = [inner[:, t], [masks[:, t]]]
        out, new_states = cell.recur(step, states, training=True)
        again, _ = cell.recur(step, states, training=True)
        np.testing.assert_array_equal(out, again)
        outputs.append(np.asarray(out))
        states = new_states
    outputs = np.stack(outputs, 1)
    # A unit keeps its previous value exactly where its mask says so (and only there).
    np.testing.assert_array_equal(outputs[:, 1:] == outputs[:, :-1], kept[:, 1:] == 1)


def test_zoneout_and_dropconnect_gradients_are_finite():
    x = sequence(3, 5, 2)
    layer = keras.layers.RNN(Zoneout(PeepholeLSTMCell(4, recurrent_dropconnect=0.3),
                                     rate=0.2))
    layer.build((None, 5, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 6
    for weight, grad in zip(layer.trainable_weights, grads):
        assert np.all(np.isfinite(grad)) and np.any(grad != 0), weight.name


def test_zoneout_config_round_trip_and_keras_save_load(tmp_path):
    cell = Zoneout(PeepholeLSTMCell(4, recurrent_dropconnect=0.2), rate=[0.05, 0.5], seed=3)
    config = cell.get_config()
    restored = Zoneout.from_config(config)
    assert restored.get_config() == config
    assert isinstance(restored.cell, PeepholeLSTMCell) and restored.rates == [0.05, 0.5]
    x = sequence(2, 4, 3)
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(cell)])
    randomize(cell)
    path = str(tmp_path / "zoneout.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[0].cell, Zoneout)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_zoneout_mixed_float16():
    x = sequence(2, 4, 3)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = keras.layers.RNN(Zoneout(LayerNormGRUCell(4, recurrent_dropconnect=0.2),
                                     rate=0.3))
    inference, training = layer(x), layer(x, training=True)
    assert inference.dtype == training.dtype == "float16"
    assert np.all(np.isfinite(np.asarray(training, "float32")))


@pytest.mark.parametrize("kwargs, name", [
    ({"cell": keras.layers.LSTMCell(2)}, "cell"),
    ({"cell": PeepholeLSTMCell(2), "rate": 1.0}, "rate"),
    ({"cell": PeepholeLSTMCell(2), "rate": [0.1, 0.2, 0.3]}, "rate"),
    ({"cell": PeepholeLSTMCell(2), "output_state_index": 2}, "output_state_index"),
])
def test_zoneout_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Zoneout(**kwargs)


# ================================================================== DropConnect
DENSE_CELLS = [
    lambda **kw: PeepholeLSTMCell(4, **kw),
    lambda **kw: LayerNormLSTMCell(4, **kw),
    lambda **kw: LayerNormGRUCell(4, **kw),
    lambda **kw: LayerNormSimpleRNNCell(4, **kw),
    lambda **kw: NASCell(4, projection=3, **kw),
]
CELL_IDS = ["peephole", "ln_lstm", "ln_gru", "ln_simple_rnn", "nas"]


@pytest.mark.parametrize("make", DENSE_CELLS, ids=CELL_IDS)
def test_dropconnect_inference_is_the_plain_cell_and_training_differs(make):
    x = sequence(2, 5, 3)
    plain = keras.layers.RNN(make())
    plain.build((None, 5, 3))
    layer = keras.layers.RNN(make(recurrent_dropconnect=0.5))
    layer.build((None, 5, 3))
    layer.set_weights(plain.get_weights())
    np.testing.assert_allclose(layer(x), plain(x), atol=1e-6)
    np.testing.assert_array_equal(layer(x), layer(x))
    assert not np.allclose(layer(x, training=True), plain(x), atol=1e-4)
    config = layer.cell.get_config()
    assert config["recurrent_dropconnect"] == 0.5
    assert type(layer.cell).from_config(config).get_config() == config


class SpyPeephole(PeepholeLSTMCell):
    """Records each DropConnect mask it draws."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.masks = []

    def get_recurrent_dropconnect_mask(self):
        mask = super().get_recurrent_dropconnect_mask()
        if mask is not None and not any(mask is m for m in self.masks):
            self.masks.append(mask)
        return mask


class PerStepDropConnect(SpyPeephole):
    """Mutant: a new DropConnect mask at every step."""

    def recurrent_projection(self, h, training):
        self.reset_recurrent_dropout_mask()
        return super().recurrent_projection(h, training)


def dropconnect_matches_one_mask_per_sequence(cell, x):
    """The property: the training output is the reference run with ONE recorded mask."""
    layer = keras.layers.RNN(cell, return_state=True)
    layer.build((None,) + x.shape[1:])
    weights = randomize_peephole(cell)
    _, h, c = layer(x, training=True)
    mask = np.asarray(cell.masks[0], "float64")
    masked = [w * mask if i == 1 else w for i, w in enumerate(weights)]
    ref_h, ref_c = np.zeros(h.shape), np.zeros(c.shape)
    for t in range(x.shape[1]):
        ref_h, ref_c = peephole_step(x[:, t], ref_h, ref_c, *masked)
    return len(cell.masks) == 1 and np.allclose(h, ref_h, atol=1e-5) and np.allclose(
        c, ref_c, atol=1e-5)


def test_dropconnect_uses_one_scaled_mask_per_sequence_in_keras_rnn():
    rate, x = 0.4, sequence(2, 5, 3)
    cell = SpyPeephole(16, recurrent_dropconnect=rate)
    assert dropconnect_matches_one_mask_per_sequence(cell, x)
    mask = np.asarray(cell.masks[0])
    assert mask.shape == (16, 64)
    dropped = np.mean(mask == 0)
    assert abs(dropped - rate) < binomial_tolerance(rate, mask.size)
    np.testing.assert_allclose(mask[mask != 0], 1 / (1 - rate), rtol=1e-6)
    # keras.layers.RNN resets it after the sequence: the next call draws a new one.
    keras.layers.RNN(cell)(x, training=True)
    assert len(cell.masks) == 2 and not np.array_equal(cell.masks[0], cell.masks[1])


def test_the_one_mask_property_catches_a_per_step_mask():
    assert not dropconnect_matches_one_mask_per_sequence(
        PerStepDropConnect(16, recurrent_dropconnect=0.4), sequence(2, 5, 3))


def test_dropconnect_in_tf_function_training_is_stochastic():
    x = sequence(2, 5, 3)
    layer = keras.layers.RNN(LayerNormLSTMCell(4, recurrent_dropconnect=0.5))
    layer.build(x.shape)
    first, second = compiled(layer, x), compiled(layer, x)
    assert np.all(np.isfinite(first)) and not np.allclose(first, second)
    np.testing.assert_array_equal(layer(x), layer(x))


def test_dropout_masks_snapshot_restores_the_forward_masks_after_a_reset():
    # A kernel whose backward recomputes `recur` after the layer reset the masks (FusedRNN's
    # custom gradient) re-installs them with set_dropout_masks: the step is then identical.
    cell = Zoneout(PeepholeLSTMCell(4, recurrent_dropout=0.3, recurrent_dropconnect=0.5),
                   rate=0.2)
    cell.build((None, 3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3)).astype("float32")
    states = [rng.normal(size=(2, 4)).astype("float32") for _ in range(2)]
    cell.get_recurrent_dropout_mask(states[0])
    projected = cell.project(x, training=True)
    forward, _ = cell.recur(projected, states, training=True)
    masks = cell.get_dropout_masks()
    assert masks["recurrent_dropconnect"] is not None and masks["recurrent_dropout"] is not None
    cell.reset_recurrent_dropout_mask()
    assert cell.get_dropout_masks()["recurrent_dropconnect"] is None
    cell.set_dropout_masks(masks)
    recomputed, _ = cell.recur(projected, states, training=True)
    np.testing.assert_array_equal(recomputed, forward)


def test_zoneout_asks_fused_kernels_not_to_recompute_project():
    # Its training masks are drawn in `project`: a backward that recomputed `project` (the
    # "batched" one) would draw new ones; "per_step" projects once and recomputes `recur`.
    spec = Zoneout(PeepholeLSTMCell(3, recurrent_dropconnect=0.2)).fused_spec()
    assert spec.backward == "per_step" and not spec.batchable
    esn = Zoneout(ESNCell(3))
    esn.build((None, 2))
    assert esn.fused_spec().backward == "autodiff"  # non-trainable weights: the kernels' rule


@keras.saving.register_keras_serializable(package="rnncells_tests")
class CountingCell(PeepholeLSTMCell):
    """A cell with a bookkeeping state it exempts from zoneout (like a step counter)."""

    zoneout_exempt_states = (1,)


def test_zoneout_leaves_exempt_bookkeeping_states_alone():
    cell = Zoneout(CountingCell(3), rate=0.4)
    assert cell.rates == [0.4, 0.0]
    assert Zoneout.from_config(cell.get_config()).rates == [0.4, 0.0]
    with pytest.raises(ValueError, match="rate"):
        Zoneout(CountingCell(3), rate=[0.4, 0.1])


# ================================================================== FusedRNN
def test_fused_rnn_matches_keras_rnn_with_zoneout_at_inference():
    assert_fused_matches_keras(lambda: Zoneout(PeepholeLSTMCell(4), rate=[0.2, 0.5]))
    assert_fused_matches_keras(lambda: Zoneout(NASCell(4, projection=3), rate=0.3))


def test_fused_rnn_zoneout_training_keeps_units_at_the_rate_with_a_new_mask_every_step():
    rate, x = 0.3, sequence(32, 16, 3)
    layer = FusedRNN(Zoneout(ESNCell(16, connectivity=1.0), rate=rate), return_sequences=True)
    layer.build(x.shape)
    assert layer.fused_path == "loop"
    kept, kept_twice, n = keep_statistics(layer, x, eager)
    assert abs(kept - rate) < binomial_tolerance(rate, n)
    assert abs(kept_twice - rate ** 2) < binomial_tolerance(rate ** 2, n)


def test_fused_rnn_dropconnect_training_uses_one_mask_in_forward_and_backward():
    # The fused output and gradients equal keras.layers.RNN's on a plain cell whose recurrent
    # kernel is U * mask: d loss / d U = mask * (d loss / d (U * mask)).
    x = sequence(2, 5, 3)
    cell = SpyPeephole(4, recurrent_dropconnect=0.5)
    layer = FusedRNN(cell, return_sequences=True)
    layer.build(x.shape)
    assert layer.fused_path == "loop"
    weights = randomize_peephole(cell)
    with tf.GradientTape() as tape:
        out = layer(x, training=True)
        loss = tf.reduce_sum(out ** 2)
    grads = tape.gradient(loss, cell.trainable_weights)
    assert len(cell.masks) == 1
    mask = np.asarray(cell.masks[0])
    plain = PeepholeLSTMCell(4)
    reference = keras.layers.RNN(plain, return_sequences=True)
    reference.build(x.shape)
    plain.set_weights([(w * mask if i == 1 else w).astype("float32")
                       for i, w in enumerate(weights)])
    with tf.GradientTape() as tape:
        ref_out = reference(x)
        ref_loss = tf.reduce_sum(ref_out ** 2)
    ref_grads = tape.gradient(ref_loss, plain.trainable_weights)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    for i, (got, ref) in enumerate(zip(grads, ref_grads)):
        np.testing.assert_allclose(got, np.asarray(ref) * (mask if i == 1 else 1), atol=1e-5)


class ProjectSpyZoneout(Zoneout):
    """Records the zoneout masks each training `project` call draws."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drawn = []

    def project(self, inputs, training=None):
        projected = super().project(inputs, training=training)
        if training:
            self.drawn.append(projected[1])
        return projected


class RecurDrawsZoneout(ProjectSpyZoneout):
    """Mutant: draws new masks in every `recur` call (a random op in the step) instead of
    using those `project` drew, so a recomputing backward would see other masks too."""

    def recur(self, projected, states, training=None):
        if training:
            inner, masks = projected
            projected = [inner, [ops.cast(keras.random.uniform(ops.shape(m),
                                                               seed=self.seed_generator)
                                          < 0.4, m.dtype) for m in masks]]
        return super().recur(projected, states, training)


def fused_zoneout_training_is_consistent(cell_class):
    """FusedRNN's training output and gradients equal plain autodiff through Zoneout.recur
    stepped by hand with the masks FusedRNN's one `project` call drew."""
    x = tf.constant(sequence(2, 5, 3))
    cell = cell_class(PeepholeLSTMCell(4), rate=[0.3, 0.5])
    layer = FusedRNN(cell, return_sequences=True)
    layer.build(x.shape)
    randomize_peephole(cell.cell)
    with tf.GradientTape() as tape:
        out = layer(x, training=True)
        loss = tf.reduce_sum(out ** 2)
    grads = tape.gradient(loss, cell.trainable_weights)
    if len(cell.drawn) != 1:
        return False
    masks = cell.drawn[0]
    with tf.GradientTape() as tape:
        states, outputs = cell.get_initial_state(batch_size=2), []
        for t in range(5):
            step = [cell.cell.project(x[:, t]), [m[:, t] for m in masks]]
            output, states = cell.recur(step, states, training=True)
            outputs.append(output)
        ref_out = tf.stack(outputs, 1)
        ref_loss = tf.reduce_sum(ref_out ** 2)
    ref_grads = tape.gradient(ref_loss, cell.trainable_weights)
    return np.allclose(out, ref_out, atol=1e-5) and all(
        np.allclose(g, r, atol=1e-5) for g, r in zip(grads, ref_grads))


def test_fused_rnn_zoneout_training_gradients_use_the_forward_masks():
    assert fused_zoneout_training_is_consistent(ProjectSpyZoneout)


def test_the_consistency_check_catches_masks_redrawn_in_recur():
    assert not fused_zoneout_training_is_consistent(RecurDrawsZoneout)


@pytest.mark.parametrize("cell_cls", [BatchNormLSTMCell, BatchNormGRUCell])
def test_zoneout_refuses_cells_whose_projection_reads_the_step_state(cell_cls):
    # Zoneout calls project() itself and cannot pass the step counter the per-step batch
    # norm needs; wrapping such a cell would normalize every step with step 0's statistics.
    with pytest.raises(ValueError, match="cell=" + cell_cls.__name__):
        Zoneout(cell_cls(3), rate=0.1)
