"""train_inference_gap: names the layer whose training and inference modes disagree, changes
nothing; GradientHealth logs it and warns."""

import keras
import numpy as np
import pytest

import rnncells
from rnncells.diagnostics import (
    GradientHealth,
    GradientHealthWarning,
    TrainInferenceGap,
    train_inference_gap,
)


class NeverUpdated(rnncells.BatchNormLSTMCell):
    """Mutant: the moving statistics are never updated (an update wired wrong)."""

    def apply_statistics(self, records):
        return None


def _data(rows=48, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, steps, 3)).astype("float32") * 2.0 + 1.0
    return x, x[:, :, :1].sum(1)


def _model(cell):
    model = keras.Sequential([keras.Input((6, 3)), rnncells.FusedRNN(cell, name="bn_rnn"),
                              keras.layers.Dense(1, name="head")])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def _trained(cell, epochs=20):
    """20 updates on the whole probe data (batch statistics without sampling noise)."""
    x, y = _data()
    keras.utils.set_random_seed(1)
    model = _model(cell)
    model.fit(x, y, batch_size=48, epochs=epochs, verbose=0)
    return model, x


@pytest.fixture(scope="module")
def trained_pair():
    return _trained(rnncells.BatchNormLSTMCell(4)), _trained(NeverUpdated(4))


def test_trained_model_agrees_and_the_never_updated_mutant_is_named(trained_pair):
    (good, x), (mutant, _) = trained_pair
    ok = train_inference_gap(good, x)
    assert isinstance(ok, TrainInferenceGap)
    assert ok.passed and ok.statistics_gap <= 0.15, ok  # measured 0.03-0.06, seeds 0-3
    bad = train_inference_gap(mutant, x)
    assert not bad.passed
    assert bad.worst_layer == "bn_rnn" and bad.statistics_layer == "bn_rnn"
    assert bad.layers["head"] == 0.0  # a Dense layer computes the same in both modes
    assert bad.statistics_gap > 0.5 and "DISAGREE" in str(bad)  # measured 3.0-4.7


def test_measuring_leaves_the_moving_statistics_unchanged():
    x, _ = _data(rows=8)
    model = _model(rnncells.BatchNormGRUCell(3))
    model(x)
    before = [w.numpy().copy() for w in model.non_trainable_weights]
    gap = train_inference_gap(model, x)
    assert gap.output_gap > 0  # fresh statistics (0, 1) do not describe this data
    for b, w in zip(before, model.non_trainable_weights):
        np.testing.assert_array_equal(b, w.numpy())


def test_model_without_statistics_has_no_gap_and_bad_threshold_is_named():
    x, _ = _data(rows=4)
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(3), keras.layers.Dense(1)])
    gap = train_inference_gap(model, x)
    assert gap.passed and gap.output_gap == 0.0 and gap.statistics_layer is None
    with pytest.raises(ValueError, match=r"`threshold`.*threshold=-1"):
        train_inference_gap(model, x, threshold=-1)


def test_gradient_health_logs_the_gap_and_warns_only_for_the_mutant(trained_pair):
    (good, x), (mutant, _) = trained_pair
    logs = {}
    health = GradientHealth(x, warn=True)  # the data the statistics describe
    health.set_model(good)
    health.on_epoch_end(0, logs)
    assert 0.0 <= logs["train_inference_gap"] <= 0.25
    health = GradientHealth(x)
    health.set_model(mutant)
    logs = {}
    with pytest.warns(GradientHealthWarning, match=r"\[train_inference_gap\].*'bn_rnn'"):
        health.on_epoch_end(0, logs)
    assert logs["train_inference_gap"] > 0.25
    assert health.history[-1]["train_inference_gap"] == logs["train_inference_gap"]
