"""Parallel associative scan for linear recurrences `h_t = a_t * h_{t-1} + b_t`.

The recurrence is a composition of affine maps `f_t(h) = a_t * h + b_t`. Composing two of
them is again affine, so "apply step 1, then step 2" is the associative operator

    (a1, b1) . (a2, b2) = (a1 * a2,  a2 * b1 + b2)

and all prefixes `f_t o ... o f_1` can be computed in O(log T) parallel steps instead of T
sequential ones. `h_t` is then the `b` part of the prefix, once `h_0` is folded into the
first step (`b_1 <- a_1 * h_0 + b_1`).

Numerical stability (why this operator, and not the log-space or cumprod forms):
- The operator uses only products and sums: no division and no log/exp. For the usual
  gated recurrences `0 < a_t < 1` (MinGRU's `1 - z`, MinLSTM's normalized forget gate), so
  the cumulative products only shrink toward 0; if one underflows to 0 that *is* the exact
  limit (the far past is forgotten), and nothing downstream divides by it.
- The closed form `h_t = A_t * (h_0 + sum_k b_k / A_k)` with `A_t = prod a` (one cumprod +
  one cumsum) divides by `A_k`: with `a = 0.9` at T = 4096, `A = 0.9**4096 ~ 1e-188`
  underflows float32 and the result is inf/NaN.
- The log-space form (Feng et al. 2024; Heinsen 2023) computes
  `log h_t = a*_t + logcumsumexp(log b_k - a*_k)` with `a*_t = cumsum(log a)`. It needs
  `b > 0` (hence the paper's positive activation g()), and for long sequences it subtracts
  two large numbers (`|a*_t|` grows linearly in T), losing absolute precision in `log h`.
- Each `h_t` here is accumulated through at most ~2 log2(T) rounded multiply-adds, so the
  rounding error of the scan is no worse than the sequential loop's T multiply-adds.

Two schedules compute the same prefixes:
- "blelloch" (the odd-even reduction of Blelloch 1990 / Ladner-Fischer, as `jax.lax.
  associative_scan` does it): O(T) work, ~2 log2(T) depth; needs a static T.
- "hillis_steele" (Hillis & Steele 1986): O(T log T) work, log2(T) depth, fewer and larger
  ops; works with a dynamic T (a `tf.while_loop` over the doubling offset).
"auto" picks "blelloch" when T is known when tracing, "hillis_steele" otherwise.

Gradients: the backward pass is written out (`tf.custom_gradient`): the adjoint of a linear
recurrence is the same recurrence run in reverse with the coefficients shifted by one step,
so it is one more scan of the same schedule, plus elementwise products (see
`_scan_with_adjoint`). Autodiff of the schedule itself (slices, reshapes, concatenations)
would cost several scans' worth of small ops.
"""

import tensorflow as tf

ALGORITHMS = ("auto", "blelloch", "hillis_steele")


def linear_scan(a, b, h0, reverse=False, algorithm="auto"):
    """All states of `h_t = a_t * h_{t-1} + b_t`, computed with a parallel associative scan.

    Args:
        a: (batch, T, *state_shape) multiplicative coefficients.
        b: (batch, T, *state_shape) additive terms, same shape and dtype as `a`.
        h0: (batch, *state_shape) the state before the first step.
        reverse: if True, run from the last step to the first: `h_t = a_t * h_{t+1} + b_t`,
            with `h0` the state after the last step; the result stays in the original time
            order (the same as flipping `a`, `b` along axis 1, scanning, and flipping back).
            Default False.
        algorithm: "auto" (default), "blelloch" (static T only) or "hillis_steele".

    Returns:
        (batch, T, *state_shape): `h_1 ... h_T` (h0 not included), in the dtype of `a`.

    Examples:
        >>> a = tf.fill((2, 5, 3), 0.5); b = tf.ones((2, 5, 3)); h0 = tf.zeros((2, 3))
        >>> linear_scan(a, b, h0)[0, :, 0].numpy()   # 1, 1.5, 1.75, 1.875, 1.9375
    """
    if algorithm not in ALGORITHMS:
        choices = ", ".join(repr(x) for x in ALGORITHMS)
        raise ValueError(
            f"Invalid value for argument `algorithm`: expected one of {choices}, "
            f"received algorithm={algorithm!r}."
        )
    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b, dtype=a.dtype)
    h0 = tf.convert_to_tensor(h0, dtype=a.dtype)
    _check_shapes(a, b, h0)
    time_steps = a.shape[1]
    if time_steps == 0:
        return b
    if algorithm == "auto":
        algorithm = "blelloch" if time_steps is not None else "hillis_steele"
    if algorithm == "blelloch" and time_steps is None:
        raise ValueError(
            "linear_scan(algorithm='blelloch') needs the number of time steps (axis 1 of "
            f"`a`) to be known when tracing; received `a` of shape {tuple(a.shape)}. "
            "Use algorithm='hillis_steele' or 'auto' for a dynamic T."
        )
    if reverse:
        a, b = tf.reverse(a, [1]), tf.reverse(b, [1])
    h = _scan_with_adjoint(a, b, h0, algorithm)
    if reverse:
        h = tf.reverse(h, [1])
    return h


def _scan_with_adjoint(a, b, h0, algorithm):
    """The forward scan, with its backward written as one more scan (the adjoint).

    For L(h), with g_t = dL/dh_t from above, the total derivative G_t = dL/dh_t through all
    later steps obeys G_t = g_t + a_{t+1} * G_{t+1} (G_{T+1} = 0): a linear recurrence run
    in reverse, so it is a scan too. Then dL/db_t = G_t, dL/da_t = G_t * h_{t-1} and
    dL/dh0 = a_1 * G_1. This costs about one forward scan, where autodiff of the scan's
    slices, reshapes and concatenations costs several.
    """

    @tf.custom_gradient
    def scan(a, b, h0):
        h = _forward_scan(a, b, h0, algorithm)

        def grad(dh):
            a_next = tf.concat([a[:, 1:], tf.zeros_like(a[:, :1])], axis=1)
            total = tf.reverse(_forward_scan(tf.reverse(a_next, [1]), tf.reverse(dh, [1]),
                                             tf.zeros_like(h0), algorithm), [1])
            h_prev = tf.concat([h0[:, None], h[:, :-1]], axis=1)
            return total * h_prev, total, a[:, 0] * total[:, 0]

        return h, grad

    return scan(a, b, h0)


def _forward_scan(a, b, h0, algorithm):
    """h_1..h_T of h_t = a_t h_{t-1} + b_t (time on axis 1) with the given schedule."""
    # Fold h0 into the first step so that h_t is the `b` part of the t-th prefix.
    b = tf.concat([a[:, :1] * h0[:, None] + b[:, :1], b[:, 1:]], axis=1)
    time_steps = a.shape[1]
    if algorithm == "blelloch":
        return _blelloch(a, b)[1]
    if time_steps is not None:
        return _hillis_steele_static(a, b, time_steps)
    return _hillis_steele_dynamic(a, b)


def sequential_scan(a, b, h0, reverse=False):
    """The same recurrence as `linear_scan`, one step at a time (`tf.scan`): the reference
    and the sequential baseline of the benchmarks. Same arguments and result."""
    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b, dtype=a.dtype)
    h0 = tf.convert_to_tensor(h0, dtype=a.dtype)
    _check_shapes(a, b, h0)
    perm = [1, 0] + list(range(2, a.shape.rank))
    a_t, b_t = tf.transpose(a, perm), tf.transpose(b, perm)
    h = tf.scan(lambda h, ab: ab[0] * h + ab[1], (a_t, b_t), initializer=h0, reverse=reverse)
    return tf.transpose(h, perm)


def _check_shapes(a, b, h0):
    if a.shape.rank is None or a.shape.rank < 2:
        raise ValueError(
            "linear_scan expects `a` of shape (batch, T, *state_shape), rank >= 2; received "
            f"`a` of shape {a.shape}."
        )
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(
            "linear_scan expects `a` and `b` of the same shape (batch, T, *state_shape); "
            f"received a.shape={tuple(a.shape)} and b.shape={tuple(b.shape)}."
        )
    expected = a.shape[:1].concatenate(a.shape[2:])
    if not expected.is_compatible_with(h0.shape):
        raise ValueError(
            "linear_scan expects `h0` of shape (batch, *state_shape) = "
            f"{tuple(expected)}; received h0.shape={tuple(h0.shape)}."
        )


def _combine(a1, b1, a2, b2):
    """(a1, b1) then (a2, b2): the composite affine map."""
    return a1 * a2, a2 * b1 + b2


def _time_paddings(rank, steps):
    return [[0, 0], [steps, 0]] + [[0, 0]] * (rank - 2)


def _hillis_steele_static(a, b, time_steps):
    rank = a.shape.rank
    offset = 1
    while offset < time_steps:
        # Element t combines with element t - offset; the first `offset` combine with identity.
        paddings = _time_paddings(rank, offset)
        b_prev = tf.pad(b[:, : time_steps - offset], paddings)
        b = a * b_prev + b
        if offset * 2 < time_steps:  # the last round does not need the products of a
            a_prev = tf.pad(a[:, : time_steps - offset], paddings, constant_values=1)
            a = a * a_prev
        offset *= 2
    return b


def _hillis_steele_dynamic(a, b):
    rank = a.shape.rank
    time_steps = tf.shape(a)[1]

    def body(offset, a, b):
        paddings = _time_paddings(rank, offset)
        b_prev = tf.pad(b[:, : time_steps - offset], paddings)
        a_prev = tf.pad(a[:, : time_steps - offset], paddings, constant_values=1)
        return offset * 2, a * a_prev, a * b_prev + b

    _, _, b = tf.while_loop(lambda offset, a, b: offset < time_steps, body,
                            (tf.constant(1), a, b))
    return b


def _blelloch(a, b):
    """Inclusive prefixes of (a, b) along axis 1 by odd-even reduction (static T)."""
    n = a.shape[1]
    if n < 2:
        return a, b
    # 1. Combine neighbouring pairs (0, 1), (2, 3), ...: the prefixes at odd positions
    #    are the prefixes of this half-length sequence.
    (a_even, a_odd), (b_even, b_odd) = _pairs(a), _pairs(b)
    odd_a, odd_b = _blelloch(*_combine(a_even, b_even, a_odd, b_odd))
    # 2. The prefix at even position 2k (k >= 1) is prefix(2k - 1) then element 2k.
    count = (n - 1) // 2  # even positions 2, 4, ... < n
    next_a = tf.concat([a_even[:, 1:], a[:, n - 1:]], axis=1) if n % 2 else a_even[:, 1:]
    next_b = tf.concat([b_even[:, 1:], b[:, n - 1:]], axis=1) if n % 2 else b_even[:, 1:]
    even_a, even_b = _combine(odd_a[:, :count], odd_b[:, :count], next_a, next_b)
    even_a = tf.concat([a[:, :1], even_a], axis=1)
    even_b = tf.concat([b[:, :1], even_b], axis=1)
    return _interleave(even_a, odd_a), _interleave(even_b, odd_b)


def _pairs(x):
    """Elements (0, 2, 4, ...) and (1, 3, 5, ...) of the first 2*(n//2) steps, by reshape."""
    m = x.shape[1] // 2
    head = x[:, : 2 * m]
    shape = tf.concat([tf.shape(head)[:1], [m, 2], tf.shape(head)[2:]], axis=0)
    even, odd = tf.unstack(tf.reshape(head, shape), num=2, axis=2)
    return even, odd


def _interleave(even, odd):
    """[e0, o0, e1, o1, ...] along axis 1; `even` has as many or one more element."""
    n_odd = odd.shape[1]
    tail = None
    if even.shape[1] > n_odd:
        even, tail = even[:, :n_odd], even[:, n_odd:]
    pairs = tf.stack([even, odd], axis=2)
    shape = tf.concat([tf.shape(pairs)[:1], [2 * n_odd], tf.shape(pairs)[3:]], axis=0)
    merged = tf.reshape(pairs, shape)
    return merged if tail is None else tf.concat([merged, tail], axis=1)
