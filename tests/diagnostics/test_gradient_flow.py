"""gradient_flow: exact per-step gradients (checked against an eager tape), decay, verdicts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnncells
from rnncells.diagnostics import SequenceProbe, gradient_flow
from rnncells.diagnostics.gradient_flow import decay_rate


def _eager_reference(cell, x):
    """Step the cell by hand in an eager tape, L = sum of the last output.

    dL/dh_t is the gradient w.r.t. a zero perturbation added to each state entering step t:
    the partial derivative w.r.t. the state vector (h_t, c_t). (Watching the state tensors
    themselves would not do for an LSTM: h_t is computed from c_t, so the tape's gradient
    w.r.t. the tensor c_t also counts the path c_t -> h_t inside the same step.)
    """
    xs = [tf.constant(x[:, t]) for t in range(x.shape[1])]
    sizes = cell.state_size if isinstance(cell.state_size, list) else [cell.state_size]
    states = [tf.zeros((x.shape[0], s)) for s in sizes]
    deltas = [[tf.zeros((x.shape[0], s)) for s in sizes] for _ in xs]
    with tf.GradientTape(persistent=True) as tape:
        for xt, delta in zip(xs, deltas):
            tape.watch(xt)
            tape.watch(delta)
        for xt, delta in zip(xs, deltas):
            out, states = cell(xt, [s + d for s, d in zip(states, delta)])
            states = list(states) if isinstance(states, (list, tuple)) else [states]
        loss = tf.reduce_sum(out)
    gh = [np.sqrt(sum(np.sum(tape.gradient(loss, d).numpy() ** 2) for d in delta))
          for delta in deltas]
    gx = [np.linalg.norm(tape.gradient(loss, xt).numpy()) for xt in xs]
    return np.array(gx), np.array(gh)


@pytest.mark.parametrize("make", [lambda: keras.layers.SimpleRNNCell(4),
                                  lambda: rnncells.LayerNormLSTMCell(3)])
def test_per_step_norms_equal_an_eager_tape(make):
    cell = make()
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype("float32")
    flow = gradient_flow(cell, x)
    gx, gh = _eager_reference(cell, x)
    np.testing.assert_allclose(flow.input_grad_norms, gx, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(flow.state_grad_norms, gh, rtol=1e-4, atol=1e-7)


def test_decay_rate_of_a_linear_rnn_is_minus_log_of_its_gain():
    # h_t = x_t W + h_{t-1} (a I): dL/dh_t = a^(T-1-t) dL/dh_{T-1} exactly, so the fitted decay
    # rate is -ln(a) and the ratio a^(T-1).
    a, steps = 0.5, 12
    cell = keras.layers.SimpleRNNCell(3, activation=None, use_bias=False,
                                      recurrent_initializer=keras.initializers.Identity(a))
    x = np.random.default_rng(1).normal(size=(2, steps, 2)).astype("float32")
    flow = gradient_flow(cell, x)
    assert flow.decay_rate == pytest.approx(-np.log(a), rel=1e-5)
    assert flow.ratio == pytest.approx(a ** (steps - 1), rel=1e-5)
    assert flow.verdict == "healthy"  # 0.5^11 = 4.9e-4 > 1e-4
    assert gradient_flow(cell, x, vanishing_ratio=1e-3, exploding_ratio=10).verdict == (
        "vanishing")


def test_verdicts_for_exploding_vanishing_and_nan():
    x = np.random.default_rng(2).normal(size=(2, 30, 2)).astype("float32")
    grow = keras.layers.SimpleRNNCell(3, activation=None, use_bias=False,
                                      recurrent_initializer=keras.initializers.Identity(2.0))
    flow = gradient_flow(grow, x)  # ratio 2^29 > 1e4
    assert flow.verdict == "exploding" and flow.decay_rate == pytest.approx(-np.log(2), 1e-5)
    shrink = keras.layers.SimpleRNNCell(3, recurrent_initializer=keras.initializers.Orthogonal(0.1))
    assert gradient_flow(shrink, x).verdict == "vanishing"
    x_nan = x.copy()
    x_nan[0, 3, 0] = np.nan
    assert gradient_flow(shrink, x_nan).verdict == "nan"


def test_model_with_layers_before_the_rnn_and_a_custom_loss():
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.Dense(3),
                              keras.layers.LSTM(4, return_sequences=True)])
    x = np.random.default_rng(3).normal(size=(2, 6, 2)).astype("float32")
    flow = gradient_flow(model, x, loss=lambda outputs: keras.ops.sum(outputs ** 2))
    assert flow.state_grad_norms.shape == (6,) and flow.input_grad_norms.shape == (6,)
    # The RNN layer's inputs are the Dense outputs: same as calling gradient_flow on the layer.
    direct = gradient_flow(model.layers[1], model.layers[0](x),
                           loss=lambda outputs: keras.ops.sum(outputs ** 2))
    np.testing.assert_allclose(flow.state_grad_norms, direct.state_grad_norms, rtol=1e-5)


def test_jacobian_norms_match_the_full_jacobian():
    cell = rnncells.LayerNormGRUCell(3)
    x = np.random.default_rng(4).normal(size=(2, 5, 2)).astype("float32")
    result = SequenceProbe(cell, (2,)).run(x, jacobian=True)
    for b in range(2):
        xs = [tf.constant(x[b:b + 1, t]) for t in range(5)]
        h = tf.zeros((1, 3))
        deltas = [tf.zeros((1, 3)) for _ in xs]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(deltas)
            for xt, delta in zip(xs, deltas):
                out, (h,) = cell(xt, [h + delta])
            rows = [out[0, k] for k in range(3)]
        for t in range(5):
            full = np.stack([tape.gradient(row, deltas[t]).numpy()[0] for row in rows])
            assert result["state_jacobian"][b, t] == pytest.approx(np.linalg.norm(full), 1e-4)


def test_decay_rate_edge_cases_and_bad_arguments():
    assert decay_rate([0.0, 0.0, 1.0]) == float("inf")
    assert decay_rate([1.0]) == 0.0
    x = np.zeros((2, 3, 2), "float32")
    cell = keras.layers.SimpleRNNCell(2)
    with pytest.raises(ValueError, match="vanishing_ratio"):
        gradient_flow(cell, x, vanishing_ratio=0)
    with pytest.raises(ValueError, match="exploding_ratio"):
        gradient_flow(cell, x, vanishing_ratio=10, exploding_ratio=1)
    with pytest.raises(ValueError, match="inputs"):
        gradient_flow(cell, np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="layer_or_model"):
        gradient_flow(keras.Sequential([keras.layers.Dense(2)]), x)
    with pytest.raises(ValueError, match="loss"):
        gradient_flow(cell, x, loss="mean")


def test_a_bidirectional_model_names_the_layer_and_what_to_pass():
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.Bidirectional(
        rnncells.FusedRNN(rnncells.LayerNormGRUCell(4)), name="both"), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Bidirectional layer 'both'.*forward_layer"):
        gradient_flow(model, np.zeros((2, 5, 3), "float32"))
    forward = model.get_layer("both").forward_layer
    assert gradient_flow(forward, np.ones((2, 5, 3), "float32")).verdict == "healthy"
