"""GradientHealth: stops a diverging run at the first NaN, logs health values, warns."""

import math

import keras
import numpy as np
import pytest

import rnncells
from rnncells.diagnostics import GradientHealth, GradientHealthWarning


class LossRecorder(keras.callbacks.Callback):
    """Records the loss Keras reports after every training batch (the running epoch mean,
    which is non-finite from the first non-finite batch loss on)."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def _data(rows=64, steps=10, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(rows, steps, 3)).astype("float32"),
            rng.normal(size=(rows, 1)).astype("float32"))


def _model(cell, lr=0.01, steps=10):
    model = keras.Sequential([keras.Input((steps, 3)), keras.layers.RNN(cell),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), "mse", jit_compile=False)
    return model


def test_stops_a_diverging_run_at_the_first_non_finite_loss():
    x, y = _data()
    model = _model(keras.layers.SimpleRNNCell(8), lr=10.0)  # lr=10 on large targets diverges
    recorder, health = LossRecorder(), GradientHealth()
    with pytest.warns(GradientHealthWarning, match=r"\[nan\]"):
        model.fit(x, 100 * y, batch_size=4, epochs=3, callbacks=[recorder, health], verbose=0)
    first_bad = next(i for i, v in enumerate(recorder.losses) if not math.isfinite(v))
    assert health.stopped_reason == "nan"
    assert health.stopped_at == (0, first_bad)
    # training ended at that very batch: no further batch, no further epoch (48 planned)
    assert len(recorder.losses) == first_bad + 1 < 3 * 16


def test_stops_at_a_forced_nan_and_only_warns_when_not_asked_to_stop():
    x, y = _data()
    x[12:16] = np.nan  # the rows of batch 3 (batch size 4, no shuffling)
    recorder, health = LossRecorder(), GradientHealth(stop_on=("nan",))
    model = _model(keras.layers.SimpleRNNCell(4))
    with pytest.warns(GradientHealthWarning):
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False,
                  callbacks=[recorder, health], verbose=0)
    assert health.stopped_at == (0, 3) and len(recorder.losses) == 4
    recorder, watcher = LossRecorder(), GradientHealth(stop_on=())
    with pytest.warns(GradientHealthWarning):
        _model(keras.layers.SimpleRNNCell(4)).fit(
            x, y, batch_size=4, epochs=1, shuffle=False, callbacks=[recorder, watcher],
            verbose=0)
    assert watcher.stopped_reason is None and len(recorder.losses) == 16


def test_logs_health_values_into_history_every_epoch():
    x, y = _data(rows=16)
    health = GradientHealth(x[:4], y[:4])
    model = _model(rnncells.IndRNNCell(4))
    history = model.fit(x, y, batch_size=8, epochs=2, callbacks=[health], verbose=0)
    for key in ("grad_ratio", "grad_decay_rate", "dead_fraction",
                "weight_grad_norm", "zero_grad_fraction"):
        assert len(history.history[key]) == 2 and all(np.isfinite(history.history[key]))
    # IndRNN's only nonlinearity is its ReLU: saturation is not measured, so not logged as 0
    assert "saturated_fraction" not in history.history
    assert history.history["weight_grad_norm"][0] > 0
    assert [h["epoch"] for h in health.history] == [0, 1]


def test_warns_and_stops_on_vanishing_gradients():
    x, y = _data(rows=8, steps=40)
    cell = keras.layers.SimpleRNNCell(
        4, recurrent_initializer=keras.initializers.Orthogonal(gain=0.1))
    health = GradientHealth(x[:2], stop_on=("nan", "vanishing"))
    with pytest.warns(GradientHealthWarning, match=r"\[vanishing\]"):
        history = _model(cell, steps=40).fit(x, y, batch_size=4, epochs=3,
                                             callbacks=[health], verbose=0)
    assert health.stopped_reason == "vanishing" and len(history.history["loss"]) == 1
    assert health.history[0]["grad_ratio"] < 1e-4


def test_warns_on_dead_relu_units():
    x, y = _data(rows=8)
    cell = rnncells.IndRNNCell(4, bias_initializer=keras.initializers.Constant(-100.0))
    health = GradientHealth(x[:4], every=1, stop_on="dead")
    with pytest.warns(GradientHealthWarning) as record:
        _model(cell).fit(x, y, batch_size=4, epochs=2, callbacks=[health], verbose=0)
    # all units dead: no gradient at all flows back, which is also reported as vanishing
    assert {str(w.message).split("]")[0] for w in record} == {"GradientHealth [dead",
                                                              "GradientHealth [vanishing"}
    assert health.stopped_at == (0, 0) and health.history[0]["dead_fraction"] == 1.0


def test_rejects_unknown_events_and_models_without_a_recurrent_layer():
    with pytest.raises(ValueError, match="stop_on"):
        GradientHealth(stop_on=("nan", "slow"))
    x, y = _data(rows=4)
    model = keras.Sequential([keras.Input((10, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="has none"):
        model.fit(x, y, callbacks=[GradientHealth(x[:2])], verbose=0)


def test_watching_does_not_change_batch_norm_moving_statistics():
    x, y = _data(rows=4)
    model = _model(rnncells.BatchNormLSTMCell(3))
    health = GradientHealth(x, y)
    health.set_model(model)
    before = [w.numpy().copy() for w in model.non_trainable_weights]
    logs = {}
    # runs every check, incl. a training-mode gradient and the train/inference gap (large:
    # the fresh moving statistics (0, 1) do not describe the data)
    with pytest.warns(GradientHealthWarning, match="train_inference_gap"):
        health.on_epoch_end(0, logs)
    assert logs["weight_grad_norm"] > 0
    for b, w in zip(before, model.non_trainable_weights):
        np.testing.assert_array_equal(b, w.numpy())


@keras.saving.register_keras_serializable(package="rnncells_tests")
class _PlainCell(keras.layers.Layer):
    """A plain Keras cell: `state_size` and `call`, no `get_initial_state`, no activation
    attributes (nothing for unit_health to measure)."""

    state_size = 4

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1] + 4, 4), name="kernel")

    def call(self, inputs, states):
        h = keras.ops.tanh(keras.ops.concatenate([inputs, states[0]], -1) @ self.kernel)
        return h, [h]


def test_runs_on_a_plain_keras_cell_and_logs_only_what_it_measured():
    x, y = _data(rows=16)
    health = GradientHealth(x[:4], y[:4])
    history = _model(_PlainCell()).fit(x, y, batch_size=8, epochs=1, callbacks=[health],
                                       verbose=0)
    assert np.isfinite(history.history["grad_ratio"][0])
    assert "dead_fraction" not in history.history
    assert "saturated_fraction" not in history.history
