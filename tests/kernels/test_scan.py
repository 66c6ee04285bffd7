"""linear_scan: the parallel scan equals the sequential recurrence h_t = a_t * h_{t-1} + b_t.

The reference is a NumPy loop in float64 with the recurrence written out; the gradient
reference is its hand-derived adjoint (below).
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from rnncells.kernels.scan import linear_scan, sequential_scan


def numpy_scan(a, b, h0, reverse=False):
    """h_t = a_t * h_{t-1} + b_t (reverse: h_t = a_t * h_{t+1} + b_t), float64."""
    a, b, h = np.float64(a), np.float64(b), np.float64(h0)
    out = np.zeros_like(b)
    steps = range(a.shape[1] - 1, -1, -1) if reverse else range(a.shape[1])
    for t in steps:
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def numpy_scan_grads(a, b, h0, upstream):
    """Adjoint of the forward recurrence for L = sum(upstream * h):
    G_t = upstream_t + a_{t+1} * G_{t+1} (G_{T+1} = 0) is dL/dh_t through all paths;
    dL/da_t = G_t * h_{t-1}, dL/db_t = G_t, dL/dh0 = a_1 * G_1."""
    a, b, h0, g = (np.float64(v) for v in (a, b, h0, upstream))
    h = numpy_scan(a, b, h0)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    grad_h = np.zeros_like(b)
    carry = np.zeros_like(h0)
    for t in range(a.shape[1] - 1, -1, -1):
        carry = g[:, t] + (a[:, t + 1] * carry if t + 1 < a.shape[1] else 0.0)
        grad_h[:, t] = carry
    return grad_h * h_prev, grad_h, a[:, 0] * grad_h[:, 0]


def mutant_scan(a, b, h0, reverse=False, algorithm="auto"):
    """A deliberately broken scan: composes the affine maps in the wrong order
    ((a1, b1) . (a2, b2) = (a1 a2, a1 b2 + b1)), the classic mistake."""
    a, b, h0 = (tf.cast(v, tf.float32) for v in (a, b, h0))
    if reverse:
        a, b = tf.reverse(a, [1]), tf.reverse(b, [1])
    b = tf.concat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], axis=1)
    steps, offset = a.shape[1], 1
    while offset < steps:
        pad = [[0, 0], [offset, 0]] + [[0, 0]] * (a.shape.rank - 2)
        a_prev = tf.pad(a[:, : steps - offset], pad, constant_values=1)
        b_prev = tf.pad(b[:, : steps - offset], pad)
        b = a_prev * b + b_prev
        a = a * a_prev
        offset *= 2
    return tf.reverse(b, [1]) if reverse else b


def scan_matches_reference(scan, a, b, h0, reverse, algorithm):
    got = np.asarray(scan(a, b, h0, reverse=reverse, algorithm=algorithm))
    return np.allclose(got, numpy_scan(a, b, h0, reverse), rtol=1e-5, atol=1e-5)


@st.composite
def scan_problems(draw, max_t=9):
    batch = draw(st.integers(1, 3))
    steps = draw(st.integers(1, max_t))
    state = draw(st.sampled_from([(1,), (3,), (2, 2)]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.2, 1.2, (batch, steps, *state)).astype("float32")
    b = rng.normal(size=(batch, steps, *state)).astype("float32")
    h0 = rng.normal(size=(batch, *state)).astype("float32")
    return a, b, h0


@given(problem=scan_problems(), reverse=st.booleans(),
       algorithm=st.sampled_from(["auto", "blelloch", "hillis_steele"]))
def test_scan_equals_sequential_reference(problem, reverse, algorithm):
    a, b, h0 = problem
    assert scan_matches_reference(linear_scan, a, b, h0, reverse, algorithm)


def test_property_catches_the_mutant_scan():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 0.9, (2, 5, 3)).astype("float32")
    b = rng.normal(size=(2, 5, 3)).astype("float32")
    h0 = rng.normal(size=(2, 3)).astype("float32")
    assert not scan_matches_reference(mutant_scan, a, b, h0, False, "auto")
    assert scan_matches_reference(linear_scan, a, b, h0, False, "auto")
    assert not gradients_match_adjoint(mutant_scan, a, b, h0)
    assert gradients_match_adjoint(linear_scan, a, b, h0)


def gradients_match_adjoint(scan, a, b, h0):
    a_t, b_t, h0_t = (tf.constant(v) for v in (a, b, h0))
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t, h0_t])
        loss = tf.reduce_sum(scan(a_t, b_t, h0_t))
    grads = tape.gradient(loss, [a_t, b_t, h0_t])
    want = numpy_scan_grads(a, b, h0, np.ones_like(b))
    return all(np.allclose(g.numpy(), w, rtol=1e-4, atol=1e-4) for g, w in zip(grads, want))


def test_reverse_is_flip_scan_flip():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (2, 7, 3)).astype("float32")
    b = rng.normal(size=(2, 7, 3)).astype("float32")
    h0 = rng.normal(size=(2, 3)).astype("float32")
    flipped = linear_scan(a[:, ::-1], b[:, ::-1], h0).numpy()[:, ::-1]
    np.testing.assert_allclose(linear_scan(a, b, h0, reverse=True).numpy(), flipped, rtol=1e-6)


@given(problem=scan_problems(max_t=7))
def test_dynamic_time_steps_in_tf_function(problem):
    """With T unknown when tracing, "auto" runs the Hillis-Steele while_loop."""
    a, b, h0 = problem
    spec = tf.TensorSpec([None, None, *a.shape[2:]], tf.float32)
    fn = tf.function(lambda a, b, h0: linear_scan(a, b, h0),
                     input_signature=[spec, spec, tf.TensorSpec([None, *a.shape[2:]])])
    np.testing.assert_allclose(fn(a, b, h0).numpy(), numpy_scan(a, b, h0), rtol=1e-5,
                               atol=1e-5)


@given(problem=scan_problems(), algorithm=st.sampled_from(["blelloch", "hillis_steele"]),
       reverse=st.booleans())
def test_gradients_equal_adjoint_reference(problem, algorithm, reverse):
    a, b, h0 = problem
    upstream = np.random.default_rng(a.size).normal(size=b.shape).astype("float32")
    a_t, b_t, h0_t = (tf.constant(v) for v in (a, b, h0))
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t, h0_t])
        h = linear_scan(a_t, b_t, h0_t, reverse=reverse, algorithm=algorithm)
        loss = tf.reduce_sum(h * upstream)
    grads = tape.gradient(loss, [a_t, b_t, h0_t])
    if reverse:  # the reverse scan is the forward scan of the time-flipped sequences
        grad_a, grad_b, grad_h0 = numpy_scan_grads(a[:, ::-1], b[:, ::-1], h0,
                                                   upstream[:, ::-1])
        want = grad_a[:, ::-1], grad_b[:, ::-1], grad_h0
    else:
        want = numpy_scan_grads(a, b, h0, upstream)
    for got, expected in zip(grads, want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_gradients_with_dynamic_time_steps():
    """The backward scan also runs in the while_loop schedule when T is unknown."""
    rng = np.random.default_rng(11)
    a = rng.uniform(-1, 1, (2, 6, 3)).astype("float32")
    b = rng.normal(size=(2, 6, 3)).astype("float32")
    h0 = rng.normal(size=(2, 3)).astype("float32")
    spec = tf.TensorSpec([None, None, 3])

    @tf.function(input_signature=[spec, spec, tf.TensorSpec([None, 3])])
    def grads(a, b, h0):
        with tf.GradientTape() as tape:
            tape.watch([a, b, h0])
            loss = tf.reduce_sum(linear_scan(a, b, h0))
        return tape.gradient(loss, [a, b, h0])

    want = numpy_scan_grads(a, b, h0, np.ones_like(b))
    for got, expected in zip(grads(a, b, h0), want):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algorithm", ["blelloch", "hillis_steele"])
def test_long_sequence_is_stable(algorithm):
    """T = 4096 with a in (0, 1): the cumulative products underflow float32 (0.5**4096), yet
    the scan stays as accurate as the float32 sequential loop; the divide-by-cumprod closed
    form h_t = A_t (h0 + sum_k b_k / A_k) breaks (inf/NaN) on the same data."""
    rng = np.random.default_rng(2)
    steps = 4096
    a = rng.uniform(0.3, 0.999, (2, steps, 4)).astype("float32")
    b = rng.normal(size=(2, steps, 4)).astype("float32")
    h0 = rng.normal(size=(2, 4)).astype("float32")
    want = numpy_scan(a, b, h0)
    got = linear_scan(a, b, h0, algorithm=algorithm).numpy()
    loop32 = sequential_scan(a, b, h0).numpy()
    assert np.all(np.isfinite(got))
    scan_error = np.max(np.abs(got - want))
    loop_error = np.max(np.abs(loop32 - want))
    assert scan_error < 1e-4
    assert scan_error <= 4 * loop_error + 1e-6
    cumprod = np.cumprod(a, axis=1, dtype=np.float32)
    with np.errstate(all="ignore"):
        closed_form = cumprod * (h0[:, None] + np.cumsum(b / cumprod, axis=1, dtype=np.float32))
    assert not np.all(np.isfinite(closed_form))


def test_sequential_scan_matches_reference_both_directions():
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (3, 6, 2)).astype("float32")
    b = rng.normal(size=(3, 6, 2)).astype("float32")
    h0 = rng.normal(size=(3, 2)).astype("float32")
    for reverse in (False, True):
        np.testing.assert_allclose(sequential_scan(a, b, h0, reverse=reverse).numpy(),
                                   numpy_scan(a, b, h0, reverse), rtol=1e-5, atol=1e-6)


def test_jit_compiled_scan_and_gradient():
    rng = np.random.default_rng(4)
    a = tf.constant(rng.uniform(0, 1, (2, 37, 3)).astype("float32"))
    b = tf.constant(rng.normal(size=(2, 37, 3)).astype("float32"))
    h0 = tf.constant(rng.normal(size=(2, 3)).astype("float32"))

    @tf.function(jit_compile=True)
    def value_and_grad(a, b, h0):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = tf.reduce_sum(linear_scan(a, b, h0))
        return loss, tape.gradient(loss, [a, b])

    loss, (grad_a, grad_b) = value_and_grad(a, b, h0)
    ones = np.ones(b.shape, "float32")
    want_a, want_b, _ = numpy_scan_grads(a.numpy(), b.numpy(), h0.numpy(), ones)
    np.testing.assert_allclose(loss.numpy(), numpy_scan(a, b, h0).sum(), rtol=1e-5)
    np.testing.assert_allclose(grad_a.numpy(), want_a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grad_b.numpy(), want_b, rtol=1e-4, atol=1e-4)


def test_empty_sequence_returns_empty():
    out = linear_scan(tf.zeros((2, 0, 3)), tf.zeros((2, 0, 3)), tf.zeros((2, 3)))
    assert tuple(out.shape) == (2, 0, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"algorithm": "kogge"}, "algorithm.*'auto', 'blelloch', 'hillis_steele'.*kogge"),
        ({"b": np.zeros((2, 4, 3), "float32")}, r"a.shape=\(2, 5, 3\).*b.shape=\(2, 4, 3\)"),
        ({"h0": np.zeros((2, 4), "float32")}, r"h0.*\(2, 3\).*h0.shape=\(2, 4\)"),
        ({"a": np.zeros((5,), "float32")}, "rank >= 2"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"a": np.zeros((2, 5, 3), "float32"), "b": np.zeros((2, 5, 3), "float32"),
            "h0": np.zeros((2, 3), "float32")}
    args.update(kwargs)
    if "a" in kwargs:
        args["b"] = args["a"]
    with pytest.raises(ValueError, match=match):
        linear_scan(**args)


def test_blelloch_needs_static_time_steps():
    spec = tf.TensorSpec([None, None, 2])
    fn = tf.function(lambda a, b: linear_scan(a, b, tf.zeros((1, 2)), algorithm="blelloch"),
                     input_signature=[spec, spec])
    with pytest.raises(ValueError, match="hillis_steele"):
        fn.get_concrete_function()
