"""rnncells.cells.batch_norm_statistics against NumPy loops written from the definitions.

Every function there is pure (tensors in, tensors out), so each is checked here on its own,
without a cell: grouping rows by step, the masked moments, the unbiased variance, the
warm-up momentum, and the moving-average updates of P positions at once against P updates
applied one after another.
"""

import keras
import numpy as np
import pytest
from keras import ops

from rnncells.cells import batch_norm_statistics as stats


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def tensors(*arrays):
    """The arrays as backend tensors (what the cells pass; torch tensors do not mix with
    NumPy arrays in arithmetic)."""
    return [None if a is None else ops.convert_to_tensor(a) for a in arrays]


def test_step_indices_clip_every_form_to_the_last_step():
    assert numpy(stats.step_indices(7, 3, 5)).tolist() == [4, 4, 4]
    assert numpy(stats.step_indices(np.array([[0.0], [3.0], [9.0]]), 3, 5)).tolist() == [0, 3, 4]


def test_sequence_step_indices_do_not_advance_on_padding():
    mask = np.array([[1, 0, 1, 1], [1, 1, 1, 1]], bool)  # (B, T)
    idx = numpy(stats.sequence_step_indices(np.array([[0.0], [2.0]]), mask, 2, 4, 4))
    # row 0: steps 0, 1 (padded, not counted), 1, 2; row 1 from 2: 2, 3, 3 (clipped), 3
    assert idx.T.tolist() == [[0, 1, 1, 2], [2, 3, 3, 3]]
    shared = numpy(stats.sequence_step_indices(1, None, 2, 3, 10))
    assert shared.tolist() == [[1], [2], [3]]


def reference_groups(x, idx, weight):
    """Per row: the mean, biased variance and size of the rows of its position at its step."""
    n, r, w = x.shape
    mean, var, count = np.zeros((n, r, w)), np.zeros((n, r, w)), np.zeros((n, r))
    for p in range(n):
        for i in range(r):
            members = [j for j in range(r) if idx[p, j] == idx[p, i] and weight[p, j] > 0]
            count[p, i] = len(members)
            if members:
                rows = x[p, members]
                mean[p, i] = rows.mean(axis=0)
                var[p, i] = rows.var(axis=0)
    return mean, var, count


def test_grouped_moments_match_a_loop_over_groups():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    idx = rng.integers(0, 3, size=(3, 6)).astype("int32")
    weight = (rng.random((3, 6)) > 0.3).astype("float32")
    weight[2] = 0.0  # a fully padded position
    mean, var, count, groups = stats.grouped_moments(*tensors(x, idx, weight), max_steps=3)
    ref_mean, ref_var, ref_count = reference_groups(x, idx, weight)
    assert groups is None
    np.testing.assert_allclose(numpy(count), ref_count)
    has = ref_count > 0
    np.testing.assert_allclose(numpy(mean)[has], ref_mean[has], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy(var)[has], ref_var[has], rtol=1e-5, atol=1e-6)


def test_grouped_moments_with_an_all_reduce_key_groups_by_step():
    """Synchronized replicas: the sums go through `all_reduce` (here: two identical
    replicas, so every sum doubles and the statistics stay the same) and the per-step groups
    come back."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    idx = np.array([[0, 0, 1, 1, 1], [2, 2, 2, 0, 0]], "int32")
    weight = np.ones((2, 5), "float32")
    calls = []

    def twice(tensors):
        calls.append(len(tensors))
        return [2.0 * t for t in tensors]

    mean, var, count, (steps, g_mean, g_var, g_count) = stats.grouped_moments(
        *tensors(x, idx, weight), max_steps=3, all_reduce=twice)
    ref_mean, ref_var, ref_count = reference_groups(x, idx, weight)
    assert calls == [2, 1]
    np.testing.assert_allclose(numpy(count), 2 * ref_count)
    np.testing.assert_allclose(numpy(mean), ref_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy(var), ref_var, rtol=1e-5, atol=1e-6)
    assert numpy(steps).tolist() == [[0, 1, 2], [0, 1, 2]]
    np.testing.assert_allclose(numpy(g_count), [[4, 6, 0], [4, 0, 6]])
    np.testing.assert_allclose(numpy(g_mean)[0, 1], x[0, 2:].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(numpy(g_var)[1, 2], x[1, :3].var(axis=0), rtol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_shared_moments_are_masked_reductions_over_the_rows(masked):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    weight = (rng.random((4, 7)) > 0.4).astype("float32") if masked else None
    mean, var, count = stats.shared_moments(*tensors(x, weight))
    w = np.ones((4, 7)) if weight is None else weight
    for p in range(4):
        rows = x[p, w[p] > 0]
        assert numpy(count)[p, 0] == len(rows)
        np.testing.assert_allclose(numpy(mean)[p, 0], rows.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(numpy(var)[p, 0], rows.var(axis=0), rtol=1e-5, atol=1e-6)


def test_unbiased_variance_and_a_group_of_one():
    variance = np.ones((2, 3), "float32")
    out = numpy(stats.unbiased_variance(*tensors(variance, np.array([4.0, 1.0], "float32"))))
    np.testing.assert_allclose(out, [[4 / 3] * 3, [1.0] * 3], rtol=1e-6)


def test_warmup_momentum_is_the_exponential_moving_average_rule():
    updates = np.array([0.0, 1.0, 10.0, 891.0, 5000.0], "float32")
    out = numpy(stats.warmup_momentum(0.99, *tensors(updates)))
    np.testing.assert_allclose(out, np.minimum(0.99, (1 + updates) / (10 + updates)), rtol=1e-6)
    assert out[0] == pytest.approx(0.1) and out[-1] == pytest.approx(0.99)


def test_batch_norm_over_rows_gives_the_unbiased_variance_and_normalizes():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(8, 5)).astype("float32")
    gamma, beta = np.full(5, 0.5, "float32"), np.full(5, 0.25, "float32")
    for closed_form in (True, False):
        y, mean, unbiased = stats.batch_norm_over_rows(*tensors(x, gamma, beta), 1e-3, closed_form)
        expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * 0.5 + 0.25
        np.testing.assert_allclose(numpy(y), expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(numpy(mean), x.mean(0), rtol=1e-5)
        np.testing.assert_allclose(numpy(unbiased), x.var(0, ddof=1), rtol=1e-4)


def test_closed_form_gradient_equals_autodiff_of_the_plain_formula():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the closed form is TensorFlow's custom gradient")
    import tensorflow as tf

    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(6, 3, 4)).astype("float32"))
    gamma = tf.constant(rng.normal(size=4).astype("float32"))
    beta = tf.constant(rng.normal(size=4).astype("float32"))
    weights = tf.constant(rng.normal(size=(6, 3, 4)).astype("float32"))
    grads = []
    for fn in (stats.closed_form_batch_norm, stats.plain_batch_norm):
        with tf.GradientTape() as tape:
            tape.watch([x, gamma, beta])
            y, _, _ = fn(x, gamma, beta, 1e-3)
            loss = tf.reduce_sum(tf.sin(y) * weights)
        grads.append(tape.gradient(loss, [x, gamma, beta]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def sequential_updates(idx, share, usable, count, moving, values, momentum):
    """The definition: position by position, each step present there gets one update."""
    moving, count = [m.astype("float64").copy() for m in moving], count.astype("float64").copy()
    for p in range(idx.shape[0]):
        for s in sorted(set(idx[p][share[p] > 0].tolist())):
            rows = (idx[p] == s) & (share[p] > 0)
            m = min(momentum, (1 + count[s]) / (10 + count[s]))
            for k, vals in enumerate(values):
                batch = (share[p, rows, None] * np.where(usable[p, rows, None],
                                                          vals[p, rows], 0.0)).sum(axis=0)
                moving[k][s] = m * moving[k][s] + (1 - m) * batch
            count[s] += 1
    return moving, count


@pytest.mark.parametrize("positions", [1, 5])
def test_moving_average_updates_equal_successive_updates(positions):
    rng = np.random.default_rng(5 + positions)
    steps, rows, width = 4, 6, 3
    idx = rng.integers(0, steps, size=(positions, rows)).astype("int32")
    share = rng.random((positions, rows)).astype("float32")
    share[share < 0.25] = 0.0  # rows left out
    usable = share > 0
    count = np.array([0.0, 3.0, 50.0, 2000.0], "float32")
    moving = [rng.normal(size=(steps, width)).astype("float32") for _ in range(2)]
    values = [rng.normal(size=(positions, rows, width)).astype("float32") for _ in range(2)]
    updated, new_count = stats.moving_average_updates(
        *tensors(idx, share, usable, count), list(zip(tensors(*moving), tensors(*values))),
        lambda n: stats.warmup_momentum(0.99, n), steps)
    ref_moving, ref_count = sequential_updates(idx, share, usable, count, moving, values, 0.99)
    np.testing.assert_allclose(numpy(new_count), ref_count)
    for got, want in zip(updated, ref_moving):
        np.testing.assert_allclose(numpy(got), want, rtol=1e-5, atol=1e-6)


def test_statistics_usable_flags_rows_with_any_non_finite_value():
    mean = np.array([[[0.0, 1.0], [np.nan, 0.0]]], "float32")
    variance = np.array([[[1.0, np.inf], [1.0, 1.0]]], "float32")
    assert numpy(stats.statistics_usable(*tensors(mean, variance))).tolist() == [[False, False]]
    finite = stats.statistics_usable(*tensors(mean[:, :1] * 0, variance[:, 1:]))
    assert numpy(finite).tolist() == [[True]]
