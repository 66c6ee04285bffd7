"""The arithmetic of recurrent batch norm: pure functions of tensors, no cell state.

`BatchNormRecurrentCell` (batch_norm.py) holds the variables and decides what to call; these
functions compute. Each takes and returns tensors (keras.ops, every backend), reads no
variable and assigns nothing, so `tests/cells/test_batch_norm_math.py` checks each against a
NumPy loop written from the definition.

Shapes: N positions (time steps processed together), R rows (the batch), W features,
S = max_steps (one moving-statistics row per step). A row's "step" is the index of the
moving statistics it uses; rows of one position at the same step form a group, whose batch
statistics they share. `weight` (N, R) is 1 for a real entry and 0 for a padded one.

`all_reduce` (synchronized replicas): a function summing a list of tensors over the
replicas, or None (one replica: the local sums are the global ones).
"""

from keras import ops

from rnncells import _backend


def step_indices(step, batch_size, max_steps):
    """Per-row statistics index min(step, max_steps - 1), int32 (B,), from any step form:
    a Python int, a scalar, or a (B,) / (B, 1) tensor (the step state)."""
    step = ops.reshape(ops.cast(ops.convert_to_tensor(step), "int32"), (-1,))
    step = step + ops.zeros((batch_size,), dtype="int32")
    return ops.clip(step, 0, max_steps - 1)


def sequence_step_indices(start_step, mask, batch, timesteps, max_steps):
    """Statistics index of every position (T, B) of a sequence, or (T, 1) when every row is
    at the same step (a scalar `start_step` and no mask).

    start_step: an int or scalar (every row starts there), or the step state (B, 1). A
    padded position (mask (B, T) false) does not advance its row's counter.
    """
    start = ops.cast(ops.convert_to_tensor(start_step), "int32")
    positions = ops.arange(timesteps, dtype="int32")[:, None]
    if mask is None and len(start.shape) == 0:
        return ops.clip(positions + start, 0, max_steps - 1)
    start = ops.reshape(start, (1, -1)) + ops.zeros((1, batch), "int32")
    if mask is None:
        return ops.clip(positions + start, 0, max_steps - 1)
    done = ops.cumsum(ops.cast(ops.transpose(mask), "int32"), axis=0)
    done = done - ops.cast(ops.transpose(mask), "int32")
    return ops.clip(start + done, 0, max_steps - 1)


def unbiased_variance(variance, count):
    """n / (n - 1) * variance for groups of size `count` (..., N); variance (..., N, W).
    A group of one keeps its (zero) variance."""
    return variance * (count / ops.maximum(count - 1.0, 1.0))[..., None]


def warmup_momentum(momentum, updates):
    """The momentum of a moving-average update after `updates` earlier updates of the same
    step: min(momentum, (1 + n) / (10 + n)), the warm-up of TensorFlow's
    ExponentialMovingAverage(num_updates)."""
    return ops.minimum(momentum, (1.0 + updates) / (10.0 + updates))


def closed_form_batch_norm(x, gamma, beta, epsilon):
    """(y, mean, biased variance) of a training batch norm over axis 0, gamma (and beta)
    applied, with the closed-form backward: x_hat = (x - mean) / sqrt(var + eps),
    dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps) with g = dy * gamma,
    d gamma = sum(dy * x_hat), d beta = sum(dy) (sums over all axes but the last). The
    statistics outputs carry no gradient (they only feed the moving averages). TensorFlow
    only (`tf.custom_gradient`); `plain_batch_norm` is the same forward for autodiff."""
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x, gamma, *beta):
        mean = tf.reduce_mean(x, axis=0)
        centered = x - mean
        variance = tf.reduce_mean(tf.square(centered), axis=0)
        inv = tf.math.rsqrt(variance + epsilon)
        x_hat = centered * inv
        y = x_hat * gamma + beta[0] if beta else x_hat * gamma

        def grad(dy, d_mean, d_variance):
            del d_mean, d_variance  # the statistics only feed the moving averages
            g = dy * gamma
            dx = inv * (g - tf.reduce_mean(g, axis=0)
                        - x_hat * tf.reduce_mean(g * x_hat, axis=0))
            axes = list(range(len(dy.shape) - 1))  # all but the units: gamma is (W,)
            grads = [dx, tf.reduce_sum(dy * x_hat, axis=axes)]
            if beta:
                grads.append(tf.reduce_sum(dy, axis=axes))
            return grads

        return (y, mean, variance), grad

    return forward(x, gamma, *([] if beta is None else [beta]))


def plain_batch_norm(x, gamma, beta, epsilon):
    """(y, mean, biased variance) of a training batch norm over axis 0 in keras.ops (every
    backend differentiates it itself)."""
    mean = ops.mean(x, axis=0)
    centered = x - mean
    variance = ops.mean(ops.square(centered), axis=0)
    y = centered * (ops.rsqrt(variance + epsilon) * gamma)
    if beta is not None:
        y = y + beta
    return y, mean, variance


def batch_norm_over_rows(x, gamma, beta, epsilon, closed_form_gradient=True):
    """Training batch norm of x (R, ..., W) with statistics over the R rows: y, the batch
    means and the unbiased variances (..., W). On TensorFlow with `closed_form_gradient`,
    `closed_form_batch_norm` (fewer ops and saved tensors per step than autodiff)."""
    if closed_form_gradient and _backend.is_tensorflow():
        y, mean, variance = closed_form_batch_norm(x, gamma, beta, epsilon)
    else:
        y, mean, variance = plain_batch_norm(x, gamma, beta, epsilon)
    rows = ops.cast(ops.shape(x)[0], "float32")
    return y, mean, variance * (rows / ops.maximum(rows - 1.0, 1.0))


def grouped_moments(x, idx, weight, max_steps, all_reduce=None):
    """Batch statistics of rows grouped by step, at each of N positions.

    x (N, R, W) float32, idx (N, R) int32 (each row's step), weight (N, R) (0: padded).
    Returns, per row, its group's mean and biased variance (N, R, W) and size (N, R), and the
    groups themselves: None, or, with `all_reduce`, the global per-step statistics
    (steps (N, S), mean, biased variance (N, S, W), size (N, S)). Groups are keyed by their
    first row, so the cost does not grow with max_steps; synchronized replicas key them by
    step instead (the same key on every replica).
    """
    positions, rows = ops.shape(idx)[0], ops.shape(idx)[1]
    if all_reduce is not None:
        per_position = max_steps
        keys = idx
    else:
        per_position = rows
        same = ops.equal(idx[:, :, None], idx[:, None, :])
        keys = ops.cast(ops.argmax(ops.cast(same, "int32"), axis=-1), "int32")
    keys = ops.reshape(keys + per_position * ops.arange(positions, dtype="int32")[:, None],
                       (-1,))
    segments = positions * per_position
    width = ops.shape(x)[-1]
    flat_w = ops.reshape(weight, (-1,))
    flat_x = ops.reshape(x, (-1, width))
    counts = ops.segment_sum(flat_w, keys, num_segments=segments)
    sums = ops.segment_sum(flat_x * flat_w[:, None], keys, num_segments=segments)
    if all_reduce is not None:
        counts, sums = all_reduce([counts, sums])
    means = sums / ops.maximum(counts, 1.0)[:, None]
    squares = ops.segment_sum(ops.square(flat_x - ops.take(means, keys, axis=0))
                              * flat_w[:, None], keys, num_segments=segments)
    if all_reduce is not None:
        (squares,) = all_reduce([squares])
    variances = squares / ops.maximum(counts, 1.0)[:, None]
    groups = None
    if all_reduce is not None:  # the all-reduced groups, identical on every replica
        steps = ops.arange(per_position, dtype="int32")[None] + ops.zeros_like(idx[:, :1])
        groups = (steps,
                  ops.reshape(means, (positions, per_position, width)),
                  ops.reshape(variances, (positions, per_position, width)),
                  ops.reshape(counts, (positions, per_position)))
    shape = ops.shape(x)
    return (ops.reshape(ops.take(means, keys, axis=0), shape),
            ops.reshape(ops.take(variances, keys, axis=0), shape),
            ops.reshape(ops.take(counts, keys, axis=0), ops.shape(idx)), groups)


def shared_moments(x, weight, all_reduce=None):
    """Batch statistics when every row of a position is at the same step.

    x (N, R, W), weight (N, R) or None. Returns mean, biased variance (N, 1, W) and count
    (N, 1): plain reductions over the rows."""
    if weight is None:
        mean = ops.mean(x, axis=1, keepdims=True)
        count = ops.cast(ops.shape(x)[1], "float32") + ops.zeros_like(mean[:, :, 0])
        sums = mean * count[:, :, None]
    else:
        count = ops.sum(weight, axis=1, keepdims=True)
        sums = ops.sum(x * weight[:, :, None], axis=1, keepdims=True)
    if weight is None and all_reduce is None:
        variance = ops.mean(ops.square(x - mean), axis=1, keepdims=True)
        return mean, variance, count
    w = ops.ones_like(x[:, :, :1]) if weight is None else weight[:, :, None]
    if all_reduce is not None:
        count, sums = all_reduce([count, sums])
    mean = sums / ops.maximum(count, 1.0)[:, :, None]
    squares = ops.sum(ops.square(x - mean) * w, axis=1, keepdims=True)
    if all_reduce is not None:
        (squares,) = all_reduce([squares])
    return mean, squares / ops.maximum(count, 1.0)[:, :, None], count


def statistics_usable(mean, variance):
    """Which recorded rows (P, R) may update the moving statistics: all finite."""
    return ops.logical_and(ops.all(ops.isfinite(mean), axis=-1),
                           ops.all(ops.isfinite(variance), axis=-1))


def moving_average_updates(idx, share, usable, count, statistics, momentum_fn, max_steps):
    """The moving statistics after P positions of recorded batch statistics, in one go.

    idx (P, R) int32 in [0, max_steps): each recorded row's step; share (P, R): its part of
    its group's statistics (a group's parts add up to 1; 0: left out); usable (P, R) bool;
    count (S,): the earlier updates of each step; statistics: a list of (moving (S, W),
    values (P, R, W)) pairs (mean, variance, ...) updated alike; momentum_fn(updates) -> the
    momentum of an update after that many earlier ones (broadcasting).

    Exactly P successive exponential-moving-average steps: at each position, a step s
    present there (any share > 0) gets moving <- m * moving + (1 - m) * sum(share * values)
    with m = momentum_fn(its updates so far), and its count grows by one. Returns the new
    moving tensors (in the order of `statistics`) and the new count.
    """
    positions = ops.shape(idx)[0]
    keys = ops.reshape(idx + max_steps * ops.arange(positions, dtype="int32")[:, None], (-1,))
    present = ops.segment_sum(ops.reshape(ops.cast(share > 0, "float32"), (-1,)), keys,
                              num_segments=positions * max_steps)
    present = ops.cast(ops.reshape(present, (positions, max_steps)) > 0, "float32")
    if idx.shape[0] == 1:  # one step (keras.layers.RNN's per-step calls): fewest ops
        momentum = momentum_fn(count[None])
        decay = ops.where(present > 0, momentum, 1.0)[0]
        later = 1.0
    else:
        updates = count[None] + ops.cumsum(present, axis=0) - present  # before each
        momentum = momentum_fn(updates)
        factor = ops.where(present > 0, momentum, 1.0)
        # product of the factors of the LATER updates of the same step (exclusive)
        later = ops.flip(ops.cumprod(ops.flip(factor, axis=0), axis=0), axis=0)
        decay = later[0]
        later = ops.concatenate([later[1:], ops.ones_like(later[:1])], axis=0)
    coef = ops.take(ops.reshape(present * (1.0 - momentum) * later, (-1,)), keys, axis=0)
    coef = coef * ops.reshape(share, (-1,))
    flat_idx = ops.reshape(idx, (-1,))
    flat_usable = ops.reshape(usable, (-1, 1))
    updated = []
    for moving, values in statistics:
        width = ops.shape(values)[-1]
        values = ops.where(flat_usable, ops.reshape(values, (-1, width)), 0.0)
        updated.append(decay[:, None] * moving + ops.segment_sum(
            coef[:, None] * values, flat_idx, num_segments=max_steps))
    return updated, count + ops.sum(present, axis=0)
