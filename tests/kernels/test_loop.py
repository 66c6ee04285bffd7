"""run_loop: Keras masking semantics against a NumPy reference, and the
hand-written backwards ("batched", "per_step") against TensorFlow's own differentiation of
the same loop ("autodiff"). `_ImpureCell`, a mutant whose `recur` is not a pure function of
its arguments, shows the gradient property catches a broken recomputation.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncells
from rnncells.kernels import loop

ATOL = RTOL = 1e-5


class _TwoStateCell(keras.layers.Layer):
    """A tiny cell with two states and an output that differs from both::

        a' = tanh(w * a + p)          b' = 0.5 * b + p * a
        output = a' + 2 * b'

    `w` (units,) is its one trainable weight."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.output_size = units
        self.w = self.add_weight(shape=(units,), name="w",
                                 initializer=keras.initializers.RandomNormal(seed=0))

    def recur(self, projected, states, training=None):
        a, b = states
        a_new = tf.tanh(self.w * a + projected)
        b_new = 0.5 * b + projected * a
        return a_new + 2.0 * b_new, [a_new, b_new]


class _ImpureCell(_TwoStateCell):
    """MUTANT: `recur` depends on how often it was called (a hidden Python counter), so a
    backward pass that recomputes it sees different numbers than the forward did."""

    calls = 0

    def recur(self, projected, states, training=None):
        self.calls += 1
        return super().recur(projected + 0.3 * self.calls, states, training)


def numpy_reference(w, projected, initial, mask, return_sequences, zero_output_for_mask):
    """keras.layers.RNN's loop semantics for _TwoStateCell, written out in NumPy (time in
    processing order: the caller reverses it for go_backwards, tests/kernels/test_fused.py)."""
    batch, steps, units = projected.shape
    order = range(steps)
    a, b = initial
    previous = np.zeros((batch, units), "float32")
    outputs = []
    for t in order:
        p = projected[:, t]
        a_new = np.tanh(w * a + p)
        b_new = 0.5 * b + p * a
        out = a_new + 2.0 * b_new
        if mask is not None:
            m = mask[:, t][:, None]
            out = np.where(m, out, 0.0 if zero_output_for_mask else previous)
            a_new, b_new = np.where(m, a_new, a), np.where(m, b_new, b)
        a, b, previous = a_new, b_new, out
        outputs.append(out)
    outputs = np.stack(outputs, 1)
    last = outputs[:, -1]
    return last, (outputs if return_sequences else last[:, None]), [a, b]


def _case(data):
    return dict(
        batch=data.draw(st.integers(1, 3)), steps=data.draw(st.integers(1, 6)),
        units=data.draw(st.integers(1, 4)), seed=data.draw(st.integers(0, 2**16)),
        masked=data.draw(st.booleans()),
        return_sequences=data.draw(st.booleans()),
        zero_output_for_mask=data.draw(st.booleans()))


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    shape = (case["batch"], case["steps"], case["units"])
    projected = rng.normal(size=shape).astype("float32")
    initial = [rng.normal(size=shape[::2]).astype("float32") for _ in range(2)]
    mask = rng.random(shape[:2]) > 0.4 if case["masked"] else None
    return projected, initial, mask


def _loop_with_gradients(cell, projected, initial, mask, case, backward):
    projected = tf.constant(projected)
    initial = [tf.constant(s) for s in initial]
    with tf.GradientTape() as tape:
        tape.watch([projected] + initial)
        last, outputs, states = loop.run_loop(
            cell, projected, initial, mask=mask,
            return_sequences=case["return_sequences"],
            zero_output_for_mask=case["zero_output_for_mask"], jit=False, backward=backward)
        rng = np.random.default_rng(case["seed"] + 1)
        loss = tf.reduce_sum(outputs * rng.normal(size=outputs.shape).astype("float32"))
        loss += tf.reduce_sum(last * 0.7) + tf.reduce_sum(states[0] * states[1])
    grads = tape.gradient(loss, [projected] + initial + [cell.w])
    return [last, outputs, *states], grads


@settings(max_examples=12)
@given(data=st.data())
def test_run_loop_follows_keras_masking_semantics(data):
    case = _case(data)
    cell = _TwoStateCell(case["units"])
    projected, initial, mask = _inputs(case)
    results, _ = _loop_with_gradients(cell, projected, initial, mask, case, "batched")
    last, outputs, states = numpy_reference(
        np.asarray(cell.w), projected, initial, mask, case["return_sequences"],
        case["zero_output_for_mask"])
    for got, expected in zip(results, [last, outputs, *states]):
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)


def assert_backwards_match_autodiff(make_cell, case):
    projected, initial, mask = _inputs(case)
    expected, expected_grads = _loop_with_gradients(make_cell(case["units"]), projected,
                                                    initial, mask, case, "autodiff")
    for backward in ("batched", "per_step"):
        got, grads = _loop_with_gradients(make_cell(case["units"]), projected, initial, mask,
                                          case, backward)
        for a, b in zip(got + grads, expected + expected_grads):
            np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL, err_msg=backward)


@settings(max_examples=10)
@given(data=st.data())
def test_hand_written_backwards_equal_tensorflow_autodiff(data):
    assert_backwards_match_autodiff(_TwoStateCell, _case(data))


def test_the_gradient_property_catches_an_impure_recur_mutant():
    case = dict(batch=2, steps=4, units=3, seed=0, masked=False,
                return_sequences=True, zero_output_for_mask=False)
    with pytest.raises(AssertionError):
        assert_backwards_match_autodiff(_ImpureCell, case)
    assert_backwards_match_autodiff(_TwoStateCell, case)


@pytest.mark.slow  # ~20 s: XLA compilations
@pytest.mark.parametrize("backward", ["per_step", "batched"])
def test_xla_loops_equal_plain_loops_in_a_tf_function(backward):
    cell = rnncells.LayerNormLSTMCell(3)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32"))
    cell.build((2, 4))
    mask = tf.constant([[True, True, False, True, True], [True, True, True, True, False]])

    def step(jit):
        with tf.GradientTape() as tape:
            tape.watch(x)
            _, outputs, states = loop.run_sequence(cell, x, cell.get_initial_state(2),
                                                   mask=mask, jit=jit, backward=backward)
            loss = tf.reduce_sum(outputs ** 2) + tf.reduce_sum(states[1])
        return [outputs] + tape.gradient(loss, [x] + cell.trainable_weights)

    plain = tf.function(lambda: step(False))()
    xla = tf.function(lambda: step(True))()
    for a, b in zip(xla, plain):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)


class _BatchedGRUCell(rnncells.LayerNormGRUCell):
    def fused_spec(self):  # a cell chooses its kernels' backward in its spec
        return dataclasses.replace(super().fused_spec(), backward="batched")


def test_backward_mode_comes_from_the_cells_fused_spec():
    assert loop.backward_mode(rnncells.LayerNormLSTMCell(2)) == "per_step"
    assert loop.backward_mode(_TwoStateCell(2)) == "per_step"  # any recur: the default spec
    assert loop.backward_mode(_BatchedGRUCell(2)) == "batched"
    # Non-trainable weights (running statistics): TensorFlow differentiates the loop.
    esn = rnncells.ESNCell(3)
    esn.build((1, 2))
    assert esn.non_trainable_weights and loop.backward_mode(esn) == "autodiff"
    with pytest.raises(ValueError, match=r"`backward` must be one of .*backward='fast'"):
        rnncells.cells.base.FusedSpec(backward="fast")


def test_resolve_options_is_where_auto_is_decided():
    cell = _BatchedGRUCell(2)
    states = [tf.zeros((4, 2))]
    args = (4, 5, states, (4, 5, 3))  # batch, timesteps, initial states, shape
    with tf.Graph().as_default():  # traced code: XLA may apply
        assert loop.resolve_options(cell, "auto", "auto", *args) == (True, "batched")
        assert loop.resolve_options(cell, False, "per_step", *args) == (False, "per_step")
        # Never XLA under autodiff; "batched" where the spec forbids it: "per_step".
        assert loop.resolve_options(cell, True, "autodiff", *args) == (False, "autodiff")
        zoneout = rnncells.Zoneout(rnncells.LayerNormGRUCell(2))
        assert loop.resolve_options(zoneout, False, "batched", *args) == (False, "per_step")
    assert loop.resolve_options(cell, True, "auto", *args) == (False, "batched")  # eager


def test_bad_arguments_name_the_argument_and_allowed_values():
    cell = _TwoStateCell(2)
    projected = tf.zeros((1, 3, 2))
    states = [tf.zeros((1, 2)), tf.zeros((1, 2))]
    with pytest.raises(ValueError, match=r"`backward` must be one of .*backward='fast'"):
        loop.run_loop(cell, projected, states, backward="fast")

    @tf.function(input_signature=[tf.TensorSpec((1, None, 2))])
    def unknown_length(p):
        return loop.run_loop(cell, p, states, jit=True)[0]

    with pytest.raises(ValueError, match="needs a static number of timesteps"):
        unknown_length.get_concrete_function()


def test_prefers_xla_is_a_per_device_and_per_shape_choice():
    assert loop.prefers_xla(32, 256, device_type="GPU")
    assert loop.prefers_xla(1, 64, device_type="CPU")
    assert not loop.prefers_xla(32, 256, device_type="CPU")
    assert not loop.prefers_xla(None, 64, device_type="CPU")
