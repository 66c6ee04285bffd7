"""CompiledPointwise: LayerNormLSTMCell's per-step pointwise function as one XLA call.

The compiled call must give the plain function's numbers (outputs and gradients, every
backward of the fused loop, mixed precision), run where the fused loops ask for it (a spy on
`lstm_pointwise.compiled` proves it), and stay out where it cannot or should not run:
eager calls, `keras.layers.RNN`, TensorFlow's own differentiation of the loop, and inside an
outer XLA computation (where a nested XLA call's gradient does not compile).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnncells
from rnncells.cells.layer_norm import lstm_pointwise
from rnncells.kernels import loop

ATOL = RTOL = 1e-5


@pytest.fixture
def spy(monkeypatch):
    """Counts the (trace-time) calls of the compiled function."""
    calls = []
    compiled = lstm_pointwise.compiled

    def counting(*args, **kwargs):
        calls.append(1)
        return compiled(*args, **kwargs)

    monkeypatch.setattr(lstm_pointwise, "compiled", counting)
    return calls


def _data(batch=2, steps=4, features=3):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(batch, steps, features)).astype("float32"))
    mask = tf.constant([[True, True, False, True], [True, True, True, False]][:batch])
    return x, mask


def _fused_step(cell, x, mask, backward, jit=False):
    """outputs, final states and gradients (x and every weight) of run_sequence."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, outputs, states = loop.run_sequence(cell, x, cell.get_initial_state(x.shape[0]),
                                               mask=mask, training=True, backward=backward,
                                               jit=jit)
        loss = tf.reduce_sum(outputs ** 2) + tf.reduce_sum(states[1] * states[0])
    return [outputs, *states] + tape.gradient(loss, [x] + cell.trainable_weights)


def _cell(formulation="tfa", units=3, features=3, **kwargs):
    cell = rnncells.LayerNormLSTMCell(units, formulation=formulation, **kwargs)
    cell.build((None, features))
    # Non-trivial norm weights, so every argument of the pointwise function matters.
    rng = np.random.default_rng(1)
    for w in cell.weights:
        w.assign(w.numpy() + 0.3 * rng.normal(size=w.shape).astype("float32"))
    return cell


@pytest.mark.parametrize("backward,formulation", [("per_step", "tfa"), ("batched", "ba2016"),
                                                  ("autodiff", "tfa")])
def test_compiled_equals_plain_in_every_backward_and_runs_where_requested(
        spy, monkeypatch, backward, formulation):
    cell = _cell(formulation)
    x, mask = _data()
    compiled = tf.function(lambda: _fused_step(cell, x, mask, backward))()
    used = len(spy)
    monkeypatch.setattr(lstm_pointwise, "enabled", False)
    plain = tf.function(lambda: _fused_step(cell, x, mask, backward))()
    assert len(spy) == used  # disabled: the plain function ran
    for a, b in zip(compiled, plain):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
    if backward == "autodiff":
        assert used == 0  # TensorFlow differentiates the loop: the plain function runs
    else:
        assert used >= 2  # the forward loop and the hand-written backward loop


def test_fused_rnn_layer_uses_it_in_a_tf_function_not_eagerly_nor_in_keras_rnn(spy):
    x, _ = _data()
    cell = _cell()
    # jit=False: at this tiny size "auto" would compile the whole loop with XLA (see below).
    layer = rnncells.FusedRNN(cell, return_sequences=True, jit=False)
    eager = layer(x)
    assert not spy  # eager: no compilation per call
    traced = tf.function(lambda: layer(x))()
    assert spy
    np.testing.assert_allclose(traced, eager, atol=ATOL, rtol=RTOL)
    spy.clear()
    rnn = keras.layers.RNN(cell, return_sequences=True)
    np.testing.assert_allclose(tf.function(lambda: rnn(x))(), eager, atol=ATOL, rtol=RTOL)
    assert not spy  # keras.layers.RNN: the plain function


def test_plain_inside_an_outer_xla_computation(spy):
    """The whole-loop XLA path traces recur inside XLA: the nested call would not compile
    (its gradient needs compile-time constants); the plain function runs and is compiled
    with the loop."""
    cell = _cell()
    x, mask = _data()
    xla = tf.function(lambda: _fused_step(cell, x, mask, "per_step", jit=True))()
    assert not spy
    plain = tf.function(lambda: _fused_step(cell, x, mask, "per_step", jit=False))()
    assert spy
    for a, b in zip(xla, plain):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)


def test_mixed_float16_training_step_runs_compiled(spy):
    keras.mixed_precision.set_global_policy("mixed_float16")  # reset by the autouse fixture
    x, _ = _data()
    layer = rnncells.FusedRNN(rnncells.LayerNormLSTMCell(3), jit=False)
    layer.build(x.shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(out, "float32") ** 2)
        return out, tape.gradient(loss, layer.trainable_weights)

    out, grads = step()
    assert spy and out.dtype == tf.float16
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_runs_compiled_only_inside_a_requesting_kernel():
    @tf.function
    def probe():
        outside = lstm_pointwise.runs_compiled()
        with loop.pointwise_compilation():
            inside = lstm_pointwise.runs_compiled()
        return outside, inside

    assert probe() == (False, True)
    with loop.pointwise_compilation():
        assert not lstm_pointwise.runs_compiled()  # eager
