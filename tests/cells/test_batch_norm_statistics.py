"""Batch-norm statistics: the fused kernel (applied once, masks), non-finite batches, warm-up,
files written before the update counts existed."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnncells import BatchNormGRUCell, BatchNormLSTMCell, FusedRNN
from rnncells.cells.batch_norm import (
    LEGACY_COUNT,
    NonFiniteStatisticsWarning,
    PaddingInStatisticsWarning,
)
from rnncells.kernels import statistics as statistics_kernels
from tests.cells.batch_norm_reference import NORMS
from tests.cells.test_batch_norm import FACTORIES, make_cell, randomize, reference_for, sequences

LAYERS = {"rnn": keras.layers.RNN, "fused": FusedRNN}


def moving(cell):
    return {w.name: w.numpy().copy() for w in cell.non_trainable_weights}


def build(kind, layer_cls, x, **kwargs):
    cell = make_cell(kind, **kwargs)
    layer = layer_cls(cell, return_sequences=True)
    layer.build(x.shape)
    randomize(cell)
    return cell, layer


# ------------------------------------------------------------------ the fused kernel
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("training", [True, False])
def test_fused_matches_reference_and_applies_statistics_once(kind, training, monkeypatch):
    """FusedRNN == the NumPy reference (outputs, moving statistics, counts), T=5 >
    max_steps=3; the statistics are applied ONCE per call (all normalizations, not per
    step)."""
    x = sequences(batch=4, timesteps=5, seed=1)
    cell, layer = build(kind, FusedRNN, x, max_steps=3)
    reference = reference_for(kind, cell)
    expected, _ = reference.run(x, training=training)
    applied = []
    original = cell.apply_statistics
    monkeypatch.setattr(cell, "apply_statistics", lambda records: (
        applied.append(sorted(prefix for prefix, _ in records)), original(records)))
    kernel_calls = []
    original_kernel = statistics_kernels.run_sequence
    monkeypatch.setattr(statistics_kernels, "run_sequence",
                        lambda *a, **k: (kernel_calls.append(1), original_kernel(*a, **k))[1])
    got = layer(x, training=training)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for name, value in moving(cell).items():
        np.testing.assert_allclose(value, reference.w[name], atol=1e-5, err_msg=name)
    assert kernel_calls == [1]
    assert applied == ([sorted(NORMS[kind])] if training else [])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_masked_training_leaves_padded_entries_out(kind, go_backwards):
    """A random mask (padding anywhere: rows' step counters diverge): FusedRNN == the NumPy
    reference that weighs padded entries 0 and counts each row's own steps, outputs and
    moving statistics. Counting the padded entries gives other numbers (the test can tell)."""
    x = sequences(batch=5, timesteps=6, seed=2)
    mask = np.random.default_rng(3).random((5, 6)) > 0.35
    mask[:, 0] = True
    cell, layer = build(kind, FusedRNN, x, max_steps=4)
    layer.go_backwards = go_backwards
    reference = reference_for(kind, cell)
    order = slice(None, None, -1) if go_backwards else slice(None)
    expected, _ = reference.run(x[:, order], training=True, mask=mask[:, order])
    got = layer(x, mask=mask, training=True).numpy()
    # keras.layers.RNN semantics: a masked step repeats the previous output
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for name, value in moving(cell).items():
        np.testing.assert_allclose(value, reference.w[name], atol=1e-5, err_msg=name)
    counted, _ = reference_for(kind, cell).run(x[:, order], training=True)
    assert not np.allclose(counted, expected, atol=1e-3)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_masking_layer_in_front_of_fused_rnn_keeps_padding_out_of_the_statistics(kind):
    """Masking(0.0) -> FusedRNN(cell) with no extra argument: padded steps (right padding)
    never enter the batch or moving statistics; keras.layers.RNN(cell) without mask_value
    counts them (it cannot see the mask), RNN(cell(mask_value=0.0)) does not, and
    FusedRNN(cell(mask_value=0.0)) alone treats the value-padded steps as masked."""
    x = sequences(batch=4, timesteps=5, seed=4)
    lengths = np.array([5, 2, 3, 5])
    mask = np.arange(5)[None, :] < lengths[:, None]
    x = x * mask[:, :, None]
    results = {}
    for name, layer_cls, kwargs, masking in (
            ("fused", FusedRNN, {}, True), ("rnn", keras.layers.RNN, {}, True),
            ("rnn_mask_value", keras.layers.RNN, {"mask_value": 0.0}, True),
            ("fused_mask_value_alone", FusedRNN, {"mask_value": 0.0}, False)):
        cell = make_cell(kind, max_steps=4, **kwargs)
        model = keras.Sequential([keras.Input((5, 2))]
                                 + ([keras.layers.Masking(0.0)] if masking else [])
                                 + [layer_cls(cell, return_sequences=True)])
        randomize(cell)
        reference = reference_for(kind, cell)
        expected, _ = reference.run(x, training=True, mask=mask)
        if name == "rnn":  # keras.layers.RNN hides the mask: the cell warns about padding
            with pytest.warns(PaddingInStatisticsWarning, match="Masking"):
                got = model(x, training=True).numpy()
        else:
            got = model(x, training=True).numpy()
        results[name] = (np.allclose(got, expected, atol=1e-5) and all(
            np.allclose(v, reference.w[k], atol=1e-5) for k, v in moving(cell).items()))
    assert results == {"fused": True, "rnn": False, "rnn_mask_value": True,
                       "fused_mask_value_alone": True}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_training_gradients_match_keras_rnn(kind):
    """Same weights: FusedRNN and keras.layers.RNN give the same loss gradients (tf.function)
    and leave the same moving statistics."""
    x = tf.constant(sequences(batch=3, timesteps=4, features=3, seed=5))
    results = []
    for layer_cls in (FusedRNN, keras.layers.RNN):
        cell, layer = build(kind, layer_cls, x, max_steps=3)

        @tf.function
        def grads(layer=layer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
            return tape.gradient(loss, layer.trainable_weights)

        results.append(([g.numpy() for g in grads()], moving(cell)))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for name in results[0][1]:
        np.testing.assert_allclose(results[0][1][name], results[1][1][name], atol=1e-5)


# ------------------------------------------------------------------ non-finite batches
class PoisonedByNaN(BatchNormLSTMCell):
    """Mutant: every recorded statistic counts, NaN included (the old behaviour)."""

    def statistics_usable(self, mean, variance):
        return tf.ones(tf.shape(mean)[:-1], tf.bool)


def survives_a_nan_batch(cell, layer_cls):
    """Train on a clean batch, then on one with a NaN (graph mode): True when the moving
    statistics and the inference outputs on clean data are exactly as before the NaN batch
    and the update counts did not move. Returns (verdict, warnings recorded)."""
    x = sequences(batch=4, timesteps=3, seed=6)
    layer = layer_cls(cell, return_sequences=True)
    train = tf.function(lambda v: layer(v, training=True))
    infer = tf.function(lambda v: layer(v, training=False))
    train(x)
    before, predicted = moving(cell), infer(x).numpy()
    poisoned = x.copy()
    poisoned[1, 0, 0] = np.nan  # step 0, so (through the state) every step is non-finite
    train(poisoned)
    train(poisoned)  # warned once only
    after = moving(cell)
    same = all(np.array_equal(before[k], after[k]) for k in before)
    return same and np.array_equal(infer(x).numpy(), predicted)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("layer", ["rnn", "fused"])
def test_non_finite_batch_skips_the_update_and_warns_once(kind, layer):
    with pytest.warns(NonFiniteStatisticsWarning, match="not updated") as record:
        assert survives_a_nan_batch(make_cell(kind, max_steps=4), LAYERS[layer])
    assert len([w for w in record if w.category is NonFiniteStatisticsWarning]) == 1


@pytest.mark.parametrize("layer", ["rnn", "fused"])
def test_non_finite_check_catches_the_mutant_that_counts_nan(layer):
    assert not survives_a_nan_batch(PoisonedByNaN(3, momentum=0.8, max_steps=4),
                                    LAYERS[layer])


def test_non_finite_batch_eager_call_warns_and_skips():
    cell = BatchNormGRUCell(3, max_steps=4)
    layer = keras.layers.RNN(cell)
    x = sequences(batch=3, timesteps=2)
    layer(x, training=True)
    before = moving(cell)
    x[0, 0, 0] = np.inf
    with pytest.warns(NonFiniteStatisticsWarning):
        layer(x, training=True)
    assert all(np.array_equal(before[k], v) for k, v in moving(cell).items())


# ------------------------------------------------------------------ warm-up, old files
def test_update_counts_and_warm_up_momentum():
    """Counts follow the updates each step received; the first update of a step takes
    (1 - 0.1) of the batch statistics, not 1 - momentum (reference: the same rule)."""
    x = sequences(batch=4, timesteps=3, seed=7)
    cell = BatchNormLSTMCell(3, max_steps=5)  # default momentum 0.99
    layer = keras.layers.RNN(cell)
    layer(x, training=True)
    layer(x, training=True)
    np.testing.assert_array_equal(cell.kernel_norm_moving_count.numpy(), [2, 2, 2, 0, 0])
    # after one update from (0, 1): 0.1 * 0 + 0.9 * batch mean; the second: n=1 -> 2/11
    projected = x[:, 0] @ cell.kernel.numpy()
    mean = projected.mean(0)
    np.testing.assert_allclose(cell.kernel_norm_moving_mean.numpy()[0],
                               (2 / 11) * 0.9 * mean + (9 / 11) * mean, rtol=1e-4, atol=1e-6)


LEGACY = pathlib.Path(__file__).parent.parent / "data" / "legacy_0_1_0"


@pytest.mark.parametrize("name", ["bn_lstm_rnn", "bn_gru_fused"])
def test_legacy_file_has_fully_warmed_counts_and_trains_as_before(name):
    """A file written before the update counts existed loads with count LEGACY_COUNT: the
    effective momentum is the configured one, as when it was saved."""
    model = keras.saving.load_model(LEGACY / f"{name}.keras")
    cell = next(layer.cell for layer in model.layers if hasattr(layer, "cell"))
    for prefix in cell._norm_prefixes:
        np.testing.assert_array_equal(getattr(cell, f"{prefix}_moving_count").numpy(),
                                      LEGACY_COUNT)
    momentum = cell.effective_momentum(tf.constant(LEGACY_COUNT)).numpy()
    assert momentum == np.float32(cell.momentum)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_new_files_keep_their_counts(kind, tmp_path):
    model = keras.Sequential([keras.Input((3, 2)), FusedRNN(FACTORIES[kind](3, max_steps=4))])
    model(sequences(batch=4, timesteps=3), training=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.layers[0].cell.kernel_norm_moving_count.numpy(),
                                  [1, 1, 1, 0])
