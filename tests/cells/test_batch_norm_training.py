"""Batch-norm cells trained end to end: the user's scenario (inference independent of the
batch), moving statistics vs the population, and MirroredStrategy (in a subprocess)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import rnncells
from rnncells import BatchNormLSTMCell, FusedRNN
from tests.cells.batch_norm_reference import NORMS, BatchNormReference
from tests.cells.test_batch_norm import BatchStatisticsAtInference

CLASSES, TIMESTEPS, FEATURES = 6, 12, 2


def six_class_sequences(per_class, seed):
    """Class c: channel 0 a sine of frequency 1 + c % 3 (phase jitter up to 0.5 rad),
    channel 1 the level +-0.5 by c // 3; noise 0.3 on both. Ordered so every 6 consecutive
    samples are one of each class."""
    rng = np.random.default_rng(seed)
    t = np.arange(TIMESTEPS) / TIMESTEPS
    labels = np.tile(np.arange(CLASSES), per_class)
    phase = rng.uniform(0, 0.5, size=(len(labels), 1))
    wave = np.sin(2 * np.pi * (1 + labels[:, None] % 3) * t + phase)
    level = np.broadcast_to(np.where(labels // 3 == 0, 0.5, -0.5)[:, None], wave.shape)
    x = np.stack([wave, level], axis=-1)
    x = x + 0.3 * rng.normal(size=x.shape)
    return x.astype("float32"), labels


def classifier(cell, layer=keras.layers.RNN):
    model = keras.Sequential([keras.Input((TIMESTEPS, FEATURES)), layer(cell),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def trained():
    """The user's set-up: batches of 6, one sample of each class, trained with model.fit.

    Momentum 0.9: 240 updates in 4 epochs are too few for 0.99 to forget the early weights'
    statistics (0.99^240 ~ 0.09 of the initial ones remain; test accuracy 0.72 vs 0.96)."""
    keras.utils.set_random_seed(0)
    x_train, y_train = six_class_sequences(60, seed=1)
    x_test, y_test = six_class_sequences(30, seed=2)
    model = classifier(BatchNormLSTMCell(8, momentum=0.9))
    model.fit(x_train, y_train, batch_size=6, epochs=4, shuffle=False, verbose=0)
    return model, x_test, y_test


def batch_size_spread(model, x):
    """Largest difference between predictions fed 1, 6 and 64 samples at a time."""
    preds = [model.predict(x, batch_size=b, verbose=0) for b in (1, 6, 64)]
    return max(np.abs(p - preds[0]).max() for p in preds[1:]), preds[0]


def test_user_scenario_predictions_do_not_depend_on_the_batch(trained):
    model, x_test, y_test = trained
    spread, probs = batch_size_spread(model, x_test)
    assert spread <= 1e-5
    assert np.mean(np.argmax(probs, -1) == y_test) >= 0.9  # it learned (chance: 1/6)


def test_user_scenario_fails_with_batch_statistics_at_inference(trained):
    """The same check on a cell that normalizes with batch statistics at inference (same
    weights) fails: the test can tell the pathology apart."""
    model, x_test, _ = trained
    mutant = classifier(BatchStatisticsAtInference(8, momentum=0.9))
    mutant.set_weights(model.get_weights())
    spread, _ = batch_size_spread(mutant, x_test)
    assert spread > 1e-3


def test_moving_statistics_match_population_after_training():
    """Train with model.fit (3 epochs), then fit 25 more epochs at learning rate 0 (weights
    fixed, as at the end of a decayed schedule, so the population is well defined; momentum
    0.95 so 150 updates forget the training phase: 0.95^150 < 1e-3). The population statistics
    of each step are those of the whole training set at that step in training mode (the NumPy
    reference run on all 360 sequences as one batch, unbiased variance). Each step's moving
    mean is within 5% of the population standard deviation of the population mean, and its
    moving variance within 5% of the population variance (relative L2 norms over the units).
    Step 0 of the recurrent term sees h = 0 (variance 0): its moving variance has decayed
    to ~0 instead."""
    keras.utils.set_random_seed(4)
    x_train, y_train = six_class_sequences(60, seed=5)
    cell = BatchNormLSTMCell(4, momentum=0.95, max_steps=TIMESTEPS + 2)
    model = classifier(cell)
    model.fit(x_train, y_train, batch_size=30, epochs=3, shuffle=False, verbose=0)
    model.optimizer.learning_rate.assign(0.0)
    repeats = 25  # 25 epochs of 6 batches of 60, as one call (less per-epoch overhead)
    model.fit(np.tile(x_train, (repeats, 1, 1)), np.tile(y_train, repeats), batch_size=60,
              epochs=1, shuffle=False, verbose=0)
    weights = {w.name: w.numpy() for w in cell.weights}
    reference = BatchNormReference("lstm", weights, cell.momentum, cell.norm_epsilon,
                                   cell.max_steps)
    reference.run(x_train, training=True)
    for prefix in NORMS["lstm"]:
        moving_mean = getattr(cell, f"{prefix}_moving_mean").numpy()
        moving_variance = getattr(cell, f"{prefix}_moving_variance").numpy()
        for t, values in enumerate(reference.records[prefix]):
            mean, variance = values.mean(0), values.var(0, ddof=1)
            if np.linalg.norm(variance) < 1e-12:  # recurrent term at step 0: h = 0
                assert np.abs(moving_mean[t]).max() < 1e-6 and moving_variance[t].max() < 1e-3
                continue
            mean_error = np.linalg.norm(moving_mean[t] - mean) / np.linalg.norm(np.sqrt(variance))
            var_error = np.linalg.norm(moving_variance[t] - variance) / np.linalg.norm(variance)
            assert mean_error <= 0.05, (prefix, t, mean_error)
            assert var_error <= 0.05, (prefix, t, var_error)
    # steps never reached keep their initial values
    np.testing.assert_array_equal(cell.kernel_norm_moving_variance.numpy()[TIMESTEPS:], 1.0)


@pytest.mark.slow
def test_mirrored_strategy_synchronized_matches_single_device():
    """2 logical CPUs, synchronized=True (unrolled): one epoch == one device on the same global
    batches (weights and moving statistics, 1e-4; LSTM, and GRU with pre-padded rows at
    different steps); synchronized=False in the rolled loop also updates the statistics.
    Runs in a fresh process: the logical devices must be configured before TensorFlow runs
    any op."""
    script = os.path.join(os.path.dirname(__file__), "batch_norm_mirrored.py")
    # the subprocess imports the rnncells under test (not whichever checkout is installed)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(rnncells.__file__)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                       os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(
                              os.path.dirname(__file__))))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_weight_difference"] <= 1e-4
    assert result["max_moving_statistics_difference"] <= 1e-4
    # rows at different steps (a replica without rows at some step): still the same numbers
    assert result["gru_masked_max_weight_difference"] <= 1e-4
    assert result["gru_masked_max_moving_statistics_difference"] <= 1e-4
    assert result["moving_statistics_changed"]
    assert result["loop_error_mentions_unroll"]
    # the default (synchronized=False, rolled) also updates the statistics under the strategy
    assert result["unsynchronized_loop_updates_statistics"]
    assert result["unsynchronized_read_is_replica_mean"]


def test_demo_table_has_the_batch_norm_row_fed_one_at_a_time_and_in_batches():
    from rnncells import demo

    rows = {m.name: m for m in demo.default_models()}
    spec = rows["FusedRNN(BatchNormLSTMCell)"]
    assert spec.check_batch_invariance
    assert isinstance(spec.make_layer().cell, BatchNormLSTMCell)
    table = demo.format_table([{"model": spec.name, "test_acc": 0.5, "train_s": 1.0,
                                "params": 10, "same_class_1_at_a_time": 0.75}])
    assert "same 1 at a time" in table
    row = next(line for line in table.splitlines() if line.startswith(spec.name))
    assert "0.750" in row


class ConstantMomentum(BatchNormLSTMCell):
    """Mutant: the moving averages use the momentum from the first update on (no warm-up),
    so they start biased towards (0, 1) and average the statistics of early weights."""

    def effective_momentum(self, updates):
        return self.momentum + 0.0 * updates


def accuracy_in_both_modes(cell, x, y, batch_size=36):
    """A short default fit (momentum 0.99, 50 updates of 36), then the accuracy on the
    TRAINING data in training mode (batch statistics; moving statistics put back after) and
    at inference (moving statistics)."""
    keras.utils.set_random_seed(0)
    model = classifier(cell, FusedRNN)
    model.fit(x, y, batch_size=batch_size, epochs=5, verbose=0)
    frozen = [(w, w.numpy()) for w in model.non_trainable_weights]
    training = np.concatenate([model(x[i:i + batch_size], training=True).numpy()
                               for i in range(0, len(x), batch_size)])
    for w, value in frozen:
        w.assign(value)
    inference = model.predict(x, verbose=0)
    return np.mean(training.argmax(-1) == y), np.mean(inference.argmax(-1) == y)


@pytest.mark.parametrize("cell_cls, agrees", [(BatchNormLSTMCell, True),
                                              (ConstantMomentum, False)])
def test_short_default_fit_inference_agrees_with_training_mode(cell_cls, agrees):
    """After 50 updates with the default momentum, inference is as accurate on the training
    data as training mode (within 0.05); the constant-momentum mutant (the previous
    behaviour) is near chance at inference (measured: 0.89 vs 0.17)."""
    x, y = six_class_sequences(60, seed=1)
    training, inference = accuracy_in_both_modes(cell_cls(8), x, y)
    assert training >= 0.7
    assert (inference >= training - 0.05) == agrees, (training, inference)
