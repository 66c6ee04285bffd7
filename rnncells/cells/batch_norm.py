"""Recurrently batch-normalized LSTM and GRU cells (Cooijmans et al. 2016), done right.

"Recurrent Batch Normalization" (Cooijmans, Ballas, Laurent, Gulcehre, Courville, 2016)
normalizes the input term x @ W and the recurrent term h @ U SEPARATELY, with statistics kept
PER TIME STEP: step t has its own batch statistics in training and its own moving statistics
at inference, for t = 0 .. max_steps - 1; later steps reuse the statistics of the last one.

What these cells guarantee (against the batch-norm failures users report: models that are
accurate on training-size batches and poor one sample at a time, and unstable validation):

- Inference (`training=False`, the default of predict/evaluate) uses the moving statistics
  only, so the output of a row never depends on the other rows of the batch: predicting one
  sample at a time and in batches of any size gives the same numbers.
- The cell maintains its moving statistics itself: every call with `training=True` normalizes
  with the batch statistics of its step and updates that step's moving mean and variance
  (non-trainable variables of shape (max_steps, width)). Nothing to wire by hand: it happens
  in `model.fit` (also XLA-compiled), in a custom `tf.GradientTape` loop calling
  `model(x, training=True)`, and under `tf.distribute.MirroredStrategy`.

The step index travels in the cell state (the last state, shape (batch, 1), a float holding
an integer), so `keras.layers.RNN` drives these cells unchanged: a stateful RNN continues
counting across calls (the counter saturates at max_steps - 1, where the statistics stop
changing anyway), `go_backwards=True` counts the steps in processing order (its first
processed input, the last of the sequence, is step 0), and a masked step, whose state
`keras.layers.RNN` leaves unchanged, does not advance that row's counter. Each row carries its
own counter: in training the statistics of a step are those of the rows at that step.

Moving statistics: moving_mean <- momentum * moving_mean + (1 - momentum) * batch_mean, and
the same for the variance, with the unbiased (n / (n - 1)) batch variance so the moving
variance estimates the population variance; normalization itself uses the biased batch
variance, as in batch normalization. Statistics are computed in float32 (also under mixed
precision) and kept in float32.

Masked (padded) entries: they are excluded from the batch statistics and from the moving
statistics update when the cell knows about them: through `mask` (one step: (batch,);
`project` of a sequence: (batch, time)) in `call` / `project` / `recur`, or through
`mask_value`, which marks a step whose features all equal `mask_value` as padded, the rule of
`keras.layers.Masking`. `keras.layers.RNN` does not pass its mask to the cell, so with
`keras.layers.RNN` use `Masking(mask_value=v)` in front and `mask_value=v` on the cell;
otherwise (e.g. `Embedding(mask_zero=True)`) the padded entries do enter the training
statistics (their outputs and states are still masked by `keras.layers.RNN` as usual).

Distribution: the moving statistics are `ON_READ` variables (aggregation MEAN): each replica
updates its own copy inside the recurrent loop, where no cross-replica synchronization is
allowed, and reading them outside the replicas (saving, checkpoints, `get_weights`) gives the
mean over replicas. `synchronized=True` all-reduces the batch statistics across replicas, so
every replica normalizes with the global batch's statistics and all copies stay identical.
TensorFlow forbids that synchronization point inside a `tf.while_loop`, so under a
multi-replica strategy a synchronized cell must run unrolled: `keras.layers.RNN(cell,
unroll=True)` (the cell raises a RuntimeError saying so otherwise). With one replica (no
strategy) `synchronized` changes nothing.

Sequence form of `project` (the time-parallel part, for fused kernels): position t of the
sequence is step `start_step + t` (`start_step` a scalar, default 0); in training the batch
statistics of each position are taken over the batch axis in one op, and the moving statistics
receive exactly the updates that stepping one position at a time would give (in order, so the
last step's statistics, shared by all positions >= max_steps - 1, are an exponential moving
average over those positions). For a backwards pass the kernel reverses the sequence first.
"""

import threading

import keras
import numpy as np
import tensorflow as tf  # tf.distribute only: the replica context for synchronized=True.
from keras import initializers, ops

from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.base import FusedSpec
from rnncells.cells.dense import DenseRecurrentCell, split_gates

#: largest max_steps whose step counter every compute dtype represents exactly.
_MAX_EXACT_STEPS = {"float16": 2049, "bfloat16": 257}


def _gamma_initializer(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return initializers.Constant(float(value))
    return initializers.get(value)


class BatchNormRecurrentCell(DenseRecurrentCell):
    """Shared machinery of the recurrently batch-normalized cells (per-step statistics).

    Subclasses call `add_batch_norm(prefix, width, with_beta)` in `build` for each
    normalization and `normalize(prefix, x, step, training, mask)` in `project` / `recur`.
    See the module docstring for the semantics; the arguments are documented on the cells.
    """

    def fused_spec(self):
        """`project` needs the step index held in the last state (`start_step`), so a wrapper
        or kernel that calls `project` itself must pass it; the step counter state is
        bookkeeping. Running statistics: TensorFlow's backward, masked sequences per step."""
        return FusedSpec(backward="autodiff", batchable=False, fuse_masks=False,
                         project_start_step=True)

    def __init__(self, units, momentum=0.99, epsilon=1e-3, gamma_initializer=0.1,
                 beta_initializer="zeros", max_steps=100, synchronized=False, mask_value=None,
                 **kwargs):
        super().__init__(units, **kwargs)
        self.momentum = validation.unit_interval("momentum", momentum)
        self.epsilon = validation.positive_float("epsilon", epsilon)
        self.max_steps = validation.positive_int("max_steps", max_steps)
        self.gamma_initializer = _gamma_initializer(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)
        self.synchronized = bool(synchronized)
        if mask_value is not None and (isinstance(mask_value, bool)
                                       or not isinstance(mask_value, (int, float))):
            raise ValueError(
                "Invalid value for argument `mask_value`: expected None or a number (the "
                f"value of every feature of a padded step), received mask_value={mask_value!r}."
            )
        self.mask_value = None if mask_value is None else float(mask_value)
        self._norm_prefixes = []
        # Per thread (MirroredStrategy traces each replica in its own thread): the bookkeeping
        # that keeps keras.layers.RNN's time-zero probe from updating the statistics twice.
        self._rnn_sequence = threading.local()
        self.supports_masking = True  # the optional per-step `mask` of `call`

    def check_step_counter_dtype(self):
        """Raise if the compute dtype cannot count up to max_steps - 1 exactly."""
        limit = _MAX_EXACT_STEPS.get(self.compute_dtype)
        if limit is not None and self.max_steps > limit:
            raise ValueError(
                f"Invalid value for argument `max_steps`: {type(self).__name__} carries the step "
                f"index in a {self.compute_dtype} state, which counts exactly only up to "
                f"{limit - 1}; received max_steps={self.max_steps}. Use max_steps <= {limit} or "
                "a float32 compute dtype."
            )

    # ------------------------------------------------------------------ weights
    def add_batch_norm(self, prefix, width, with_beta):
        """Create `{prefix}_gamma` (and `_beta`) and the per-step moving statistics."""
        setattr(self, f"{prefix}_gamma", self.add_weight(
            shape=(width,), name=f"{prefix}_gamma", initializer=self.gamma_initializer))
        beta = None
        if with_beta:
            beta = self.add_weight(shape=(width,), name=f"{prefix}_beta",
                                   initializer=self.beta_initializer)
        setattr(self, f"{prefix}_beta", beta)
        self._norm_prefixes.append(prefix)

    def add_moving_statistics(self):
        """The non-trainable (max_steps, width) moving mean/variance of every normalization."""
        for prefix in self._norm_prefixes:
            width = getattr(self, f"{prefix}_gamma").shape[0]
            for stat, init in (("moving_mean", "zeros"), ("moving_variance", "ones")):
                # keras.Variable, not add_weight: add_weight has no `synchronization`, and the
                # update inside the recurrent loop needs ON_READ (see the module docstring).
                # Assigned as an attribute, the layer tracks it like an add_weight variable.
                variable = keras.Variable(
                    initializer=initializers.get(init), shape=(self.max_steps, width),
                    dtype="float32", trainable=False, autocast=False,
                    synchronization="on_read", aggregation="mean", name=f"{prefix}_{stat}")
                setattr(self, f"{prefix}_{stat}", variable)

    # ------------------------------------------------------------------ masks and steps
    def resolve_mask(self, inputs, mask):
        """The mask of `inputs` ((B,) per step, (B, T) per sequence) as float32, or None.

        Combines the explicit `mask` with `mask_value` (a step whose features all equal
        mask_value is padded).
        """
        if self.mask_value is not None:
            from_value = ops.any(ops.not_equal(inputs, ops.cast(self.mask_value, inputs.dtype)),
                                 axis=-1)
            mask = from_value if mask is None else ops.logical_and(ops.cast(mask, "bool"),
                                                                   from_value)
        if mask is None:
            return None
        return ops.cast(mask, "float32")

    def step_indices(self, step, batch_size):
        """Per-row statistics index min(step, max_steps - 1), int32 (B,), from any step form.

        `step` is a Python int, a scalar, or a (B,) / (B, 1) tensor (the step state).
        """
        step = ops.reshape(ops.cast(ops.convert_to_tensor(step), "int32"), (-1,))
        step = step + ops.zeros((batch_size,), dtype="int32")
        return ops.clip(step, 0, self.max_steps - 1)

    def next_step(self, step):
        """The step state after one step: step + 1, saturating at max_steps - 1."""
        return ops.minimum(step + ops.cast(1, step.dtype),
                           ops.cast(self.max_steps - 1, step.dtype))

    # ------------------------------------------------------------------ normalization
    def _affine(self, prefix, y, dtype):
        y = y * ops.cast(getattr(self, f"{prefix}_gamma"), "float32")
        beta = getattr(self, f"{prefix}_beta")
        if beta is not None:
            y = y + ops.cast(beta, "float32")
        return ops.cast(y, dtype)

    def _all_reduce(self, tensors):
        """Sum `tensors` over the replicas when synchronized (no-op with one replica)."""
        if not self.synchronized:
            return tensors
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return tensors
        try:
            return context.all_reduce(tf.distribute.ReduceOp.SUM, list(tensors))
        except RuntimeError as err:
            raise RuntimeError(
                f"{type(self).__name__}(synchronized=True) needs a cross-replica all-reduce at "
                "every step, which TensorFlow does not allow inside a tf.while_loop under a "
                f"{context.num_replicas_in_sync}-replica strategy. Run the cell unrolled, "
                "keras.layers.RNN(cell, unroll=True), or use synchronized=False (each replica "
                f"normalizes with its own batch statistics). ({err})"
            ) from None

    def _update_moving(self, prefix, weighted_means, weighted_variances, decay):
        """moving <- decay * moving + weighted batch statistics (rows not updated: decay 1)."""
        collected = getattr(self._rnn_sequence, "collected", None)
        if collected is not None:  # a possible probe call: decide later (see `call`)
            collected.append((prefix, weighted_means, weighted_variances, decay))
            return
        moving_mean = getattr(self, f"{prefix}_moving_mean")
        moving_variance = getattr(self, f"{prefix}_moving_variance")
        decay = ops.expand_dims(decay, -1)
        moving_mean.assign(decay * moving_mean + weighted_means)
        moving_variance.assign(decay * moving_variance + weighted_variances)

    def normalize(self, prefix, x, step, training, mask=None):
        """Batch norm of one step x (B, W) with the statistics of each row's step.

        training: the batch statistics of the rows at each step (masked rows excluded), and
        the moving statistics of those steps updated; else the moving statistics of each
        row's step. gamma (and beta, if the normalization has one) applied after.
        """
        dtype = x.dtype
        x = ops.cast(x, "float32")
        idx = self.step_indices(step, ops.shape(x)[0])
        moving_mean = ops.take(getattr(self, f"{prefix}_moving_mean"), idx, axis=0)
        moving_variance = ops.take(getattr(self, f"{prefix}_moving_variance"), idx, axis=0)
        if not training:
            y = (x - moving_mean) * ops.rsqrt(moving_variance + self.epsilon)
            return self._affine(prefix, y, dtype)
        steps = self.max_steps
        weight = ops.ones_like(x[:, 0]) if mask is None else ops.cast(mask, "float32")
        counts = ops.segment_sum(weight, idx, num_segments=steps)
        sums = ops.segment_sum(x * weight[:, None], idx, num_segments=steps)
        counts, sums = self._all_reduce([counts, sums])
        means = sums / ops.maximum(counts, 1.0)[:, None]
        centered = x - ops.take(means, idx, axis=0)
        squares = ops.segment_sum(ops.square(centered) * weight[:, None], idx,
                                  num_segments=steps)
        (squares,) = self._all_reduce([squares])
        variances = squares / ops.maximum(counts, 1.0)[:, None]
        # A row alone in an empty (fully masked) step falls back to the moving statistics.
        has_stats = ops.take(counts, idx, axis=0)[:, None] > 0
        mean = ops.where(has_stats, ops.take(means, idx, axis=0), moving_mean)
        variance = ops.where(has_stats, ops.take(variances, idx, axis=0), moving_variance)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        present = ops.cast(counts > 0, "float32")
        unbiased = variances * (counts / ops.maximum(counts - 1.0, 1.0))[:, None]
        rate = (1.0 - self.momentum) * present[:, None]
        self._update_moving(prefix, rate * means, rate * unbiased,
                            1.0 - (1.0 - self.momentum) * present)
        return self._affine(prefix, y, dtype)

    def normalize_sequence(self, prefix, x, start_step, training, mask=None):
        """Batch norm of a sequence x (B, T, W): position t uses step start_step + t.

        training: per-position batch statistics over the batch axis (one op for all t), and
        the moving statistics updated exactly as T successive one-step calls would.
        """
        dtype = x.dtype
        x = ops.cast(x, "float32")
        timesteps = ops.shape(x)[1]
        positions = ops.arange(timesteps, dtype="int32")
        idx = ops.clip(positions + ops.cast(ops.convert_to_tensor(start_step), "int32"), 0,
                       self.max_steps - 1)
        moving_mean = ops.take(getattr(self, f"{prefix}_moving_mean"), idx, axis=0)
        moving_variance = ops.take(getattr(self, f"{prefix}_moving_variance"), idx, axis=0)
        if not training:
            y = (x - moving_mean) * ops.rsqrt(moving_variance + self.epsilon)
            return self._affine(prefix, y, dtype)
        weight = (ops.ones_like(x[:, :, 0]) if mask is None
                  else ops.cast(mask, "float32"))[:, :, None]
        counts = ops.sum(weight, axis=0)  # (T, 1)
        sums = ops.sum(x * weight, axis=0)
        counts, sums = self._all_reduce([counts, sums])
        means = sums / ops.maximum(counts, 1.0)
        squares = ops.sum(ops.square(x - means) * weight, axis=0)
        (squares,) = self._all_reduce([squares])
        variances = squares / ops.maximum(counts, 1.0)
        has_stats = counts > 0
        mean = ops.where(has_stats, means, moving_mean)
        variance = ops.where(has_stats, variances, moving_variance)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        # T sequential EMA updates in closed form: position t, updating row idx_t, is followed
        # by `later_t` updates of the same row (only the last row is shared by positions).
        present = ops.cast(counts[:, 0] > 0, "float32")
        after = ops.sum(present) - ops.cumsum(present)
        later = ops.where(idx == self.max_steps - 1, after, 0.0)
        coef = present * (1.0 - self.momentum) * ops.power(self.momentum, later)
        unbiased = variances * (counts / ops.maximum(counts - 1.0, 1.0))
        updates = ops.segment_sum(present, idx, num_segments=self.max_steps)
        decay = ops.power(self.momentum, updates)
        self._update_moving(
            prefix,
            ops.segment_sum(coef[:, None] * means, idx, num_segments=self.max_steps),
            ops.segment_sum(coef[:, None] * unbiased, idx, num_segments=self.max_steps),
            decay)
        return self._affine(prefix, y, dtype)

    # ------------------------------------------------------------------ the protocol
    def normalized_input_projection(self, inputs, training, start_step, mask):
        """BN_x(dropout(x) @ kernel) for one step (step per row) or a sequence."""
        mask = self.resolve_mask(inputs, mask)
        sequence = self.is_sequence(inputs)
        xw = self.input_projection(inputs, training)
        if sequence:
            return self.normalize_sequence("kernel_norm", xw, start_step, training, mask)
        return self.normalize("kernel_norm", xw, start_step, training, mask)

    # ------------------------------------------------------------------ keras.layers.RNN
    # On TensorFlow, keras.layers.RNN (unroll=False) calls the cell once on the first step
    # before its while loop, to learn the output shape, and discards the result (and, for a
    # StackedRNNCells, calls each cell once more before that to draw the dropout masks). The
    # variable updates of those probe calls would still run, so the first step's moving
    # statistics would be updated two or three times. So within a keras.layers.RNN sequence
    # (opened by `get_dropout_mask`, which the RNN calls before its loop, closed by
    # `reset_dropout_mask`, which it calls after) the cell holds back the updates of each call
    # made before the loop and settles them at the next call: when that call is the same step
    # again (graph mode: it runs in the loop body, another graph, or receives the very same
    # step tensor; eager: the same step values and inputs), the held-back call was a probe
    # and its updates are dropped; otherwise (unroll=True) they are applied, and so are the
    # updates held at the end of the sequence. Cells stepped by hand, `project` and `recur`
    # update at once.
    def get_dropout_mask(self, step_input):
        local = self._rnn_sequence
        if not getattr(local, "in_call", False):  # keras.layers.RNN, before its loop
            local.open, local.settled, local.pending, local.collected = True, False, None, None
            local.graph = self._current_graph()
        return super().get_dropout_mask(step_input)

    def reset_dropout_mask(self):
        local = self._rnn_sequence
        pending, local.pending = getattr(local, "pending", None), None
        if pending is not None and self._current_graph() is pending[1]:
            self._apply_updates(pending[0])
        local.open = False
        super().reset_dropout_mask()

    @staticmethod
    def _current_graph():
        return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()

    def _apply_updates(self, updates):
        for update in updates:
            self._update_moving(*update)

    def _settle_pending(self, inputs, step):
        """Apply or drop the held-back updates of the previous call (see above)."""
        local = self._rnn_sequence
        updates, graph, first_inputs, first_step = local.pending
        local.pending = None
        if graph is None:
            probe = (np.array_equal(np.asarray(first_step), np.asarray(step))
                     and np.array_equal(np.asarray(first_inputs), np.asarray(inputs)))
        else:
            probe = self._current_graph() is not graph or step is first_step
        if not probe:
            self._apply_updates(updates)
            local.settled = True  # the real steps have begun: no more holding back

    def call(self, inputs, states, training=None, mask=None):
        """recur(project(inputs, start_step=step state), states); `mask`: (batch,) or None."""
        local = self._rnn_sequence
        local.in_call = True
        try:
            if getattr(local, "pending", None) is not None:
                self._settle_pending(inputs, states[-1])
            hold = (training and getattr(local, "open", False) and not local.settled
                    and self._current_graph() is local.graph)
            local.collected = [] if hold else None
            mask = self.resolve_mask(inputs, mask)
            projected = self.project(inputs, training=training, start_step=states[-1],
                                     mask=mask)
            output, new_states = self.recur(projected, states, training=training, mask=mask)
            if hold:
                local.pending = (local.collected, local.graph, inputs, states[-1])
            return output, new_states
        finally:
            local.collected = None
            local.in_call = False

    def get_config(self):
        config = {
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "max_steps": self.max_steps,
            "synchronized": self.synchronized,
            "mask_value": self.mask_value,
        }
        return {**super().get_config(), **config}


@keras_serializable
class BatchNormLSTMCell(BatchNormRecurrentCell):
    """LSTM cell with recurrent batch normalization (Cooijmans et al. 2016), per-step stats.

    Equations (gate order i, f, g (candidate), o, as Keras; `sigma` is recurrent_activation,
    `act` is activation; step t = the step state, statistics of min(t, max_steps - 1))::

        z  = BN_x(x @ W; gamma_x) + BN_h(h @ U; gamma_h) + b   # no beta on these two, b after
        i, f, g, o = split(z)
        c' = sigma(f) * c + sigma(i) * act(g)                  # c is NOT normalized here
        h' = sigma(o) * act(BN_c(c'; gamma_c, beta_c))
        t' = min(t + 1, max_steps - 1)

    BN(v) = (v - mean_t) / sqrt(var_t + epsilon) * gamma (+ beta): the batch statistics of
    step t when training (and the moving statistics of step t updated), the moving statistics
    of step t otherwise. See the module docstring (masks, distribution, sequence `project`).

    Weights, in order: kernel (D, 4U), recurrent_kernel (U, 4U), bias (4U) if use_bias,
    kernel_norm_gamma (4U), recurrent_norm_gamma (4U), state_norm_gamma (U), state_norm_beta
    (U); non-trainable (max_steps rows, one per step): kernel_norm_moving_mean,
    kernel_norm_moving_variance (max_steps, 4U), recurrent_norm_moving_mean,
    recurrent_norm_moving_variance (max_steps, 4U), state_norm_moving_mean,
    state_norm_moving_variance (max_steps, U). kernel / recurrent_kernel / bias have the shapes
    and gate order of `keras.layers.LSTMCell`.

    Args:
        units: positive int, size of h and c.
        momentum: of the moving statistics, in [0, 1) (default 0.99).
        epsilon: added to the variance, > 0 (default 1e-3).
        gamma_initializer: of every gamma, a number (constant) or an initializer (default
            0.1, the paper's choice: it keeps tanh/sigmoid out of saturation).
        beta_initializer: of beta_c (default "zeros").
        max_steps: number of steps with their own statistics, >= 1 (default 100); later steps
            use those of step max_steps - 1.
        synchronized: all-reduce the batch statistics across the replicas of a
            tf.distribute strategy (default False); needs keras.layers.RNN(..., unroll=True)
            with more than one replica.
        mask_value: None (default) or a number: a step whose features all equal it is padded
            and left out of the statistics (use with keras.layers.Masking(mask_value)).
        activation ("tanh"), recurrent_activation ("sigmoid"), use_bias (True),
        unit_forget_bias (True: forget block of b initialized to 1), kernel_initializer
        ("glorot_uniform"), recurrent_initializer ("orthogonal"), bias_initializer ("zeros"),
        the regularizers and constraints of Keras's LSTMCell, dropout, recurrent_dropout,
        recurrent_dropconnect, seed: as `keras.layers.LSTMCell` / `DenseRecurrentCell`.

    Call arguments:
        inputs: (batch, features). states: [h (batch, units), c (batch, units), step
        (batch, 1)]. training: bool (batch statistics + moving-statistics update, dropout).
        mask: optional (batch,) bool/0-1, False for padded rows of this step.
    Returns: (h', [h', c', step']).

    Example:
        >>> layer = keras.layers.RNN(rnncells.BatchNormLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    gates = 4

    def __init__(
        self,
        units,
        momentum=0.99,
        epsilon=1e-3,
        gamma_initializer=0.1,
        beta_initializer="zeros",
        max_steps=100,
        synchronized=False,
        mask_value=None,
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, momentum=momentum, epsilon=epsilon,
                         gamma_initializer=gamma_initializer, beta_initializer=beta_initializer,
                         max_steps=max_steps, synchronized=synchronized, mask_value=mask_value,
                         **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units, 1]

    def build(self, input_shape):
        self.check_step_counter_dtype()
        bias_init = self.unit_forget_bias_initializer() if self.unit_forget_bias else None
        self.build_dense_weights(input_shape, bias_initializer=bias_init)
        self.add_batch_norm("kernel_norm", 4 * self.units, with_beta=False)
        self.add_batch_norm("recurrent_norm", 4 * self.units, with_beta=False)
        self.add_batch_norm("state_norm", self.units, with_beta=True)
        self.add_moving_statistics()
        self.built = True

    def project(self, inputs, training=None, start_step=0, mask=None):
        """BN_x(x @ W) + b for one step (B, F) or a sequence (B, T, F) starting at start_step.

        start_step: the step of the (first) input: for one step an int, a scalar or the step
        state (B, 1); for a sequence an int or a scalar. mask: (B,) / (B, T) or None.
        """
        z = self.normalized_input_projection(inputs, training, start_step, mask)
        if self.use_bias:
            z = z + self.cast_weight(self.bias)
        return z

    def recur(self, projected, states, training=None, mask=None):
        h_tm1, c_tm1, step = states[0], states[1], states[2]
        z = projected + self.normalize(
            "recurrent_norm", self.recurrent_projection(h_tm1, training), step, training, mask)
        z_i, z_f, z_g, z_o = split_gates(z, 4)
        c = (self.recurrent_activation(z_f) * c_tm1
             + self.recurrent_activation(z_i) * self.activation(z_g))
        c_norm = self.normalize("state_norm", c, step, training, mask)
        h = self.recurrent_activation(z_o) * self.activation(c_norm)
        return h, [h, c, self.next_step(step)]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras_serializable
class BatchNormGRUCell(BatchNormRecurrentCell):
    """GRU cell with recurrent batch normalization (Cooijmans et al. 2016), per-step stats.

    Keras `GRUCell(reset_after=True)` semantics (blocks z, r, h in Keras's order), the input
    and recurrent terms each batch-normalized with their own per-step statistics (gamma, no
    beta; the biases after), step t = the step state::

        gx = BN_x(x @ W; gamma_x) + b_x ;  gh = BN_h(h @ U; gamma_h) + b_h
        z  = sigma(gx_z + gh_z) ;  r = sigma(gx_r + gh_r)
        n  = act(gx_h + r * gh_h)
        h' = z * h + (1 - z) * n
        t' = min(t + 1, max_steps - 1)

    Weights, in order: kernel (D, 3U), recurrent_kernel (U, 3U), bias (2, 3U) (row 0 b_x,
    row 1 b_h, as Keras) if use_bias, kernel_norm_gamma (3U), recurrent_norm_gamma (3U);
    non-trainable: kernel_norm_moving_mean, kernel_norm_moving_variance,
    recurrent_norm_moving_mean, recurrent_norm_moving_variance, each (max_steps, 3U).

    Args:
        units, momentum (0.99), epsilon (1e-3), gamma_initializer (0.1), max_steps (100),
        synchronized (False), mask_value (None): as `BatchNormLSTMCell`; activation ("tanh"),
        recurrent_activation ("sigmoid"), use_bias (True), the initializers, regularizers and
        constraints of Keras's GRUCell, dropout, recurrent_dropout, recurrent_dropconnect, seed.

    Call arguments: inputs (batch, features); states [h (batch, units), step (batch, 1)];
    training; mask (batch,) or None. Returns: (h', [h', step']).

    Example:
        >>> keras.layers.RNN(rnncells.BatchNormGRUCell(8))(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    gates = 3

    def __init__(self, units, momentum=0.99, epsilon=1e-3, gamma_initializer=0.1,
                 max_steps=100, synchronized=False, mask_value=None, **kwargs):
        kwargs.pop("beta_initializer", None)  # no beta in this cell (kept out of its config)
        super().__init__(units, momentum=momentum, epsilon=epsilon,
                         gamma_initializer=gamma_initializer, max_steps=max_steps,
                         synchronized=synchronized, mask_value=mask_value, **kwargs)

    @property
    def state_size(self):
        return [self.units, 1]

    def build(self, input_shape):
        self.check_step_counter_dtype()
        self.build_dense_weights(input_shape, bias_shape=(2, 3 * self.units))
        self.add_batch_norm("kernel_norm", 3 * self.units, with_beta=False)
        self.add_batch_norm("recurrent_norm", 3 * self.units, with_beta=False)
        self.add_moving_statistics()
        self.built = True

    def project(self, inputs, training=None, start_step=0, mask=None):
        """BN_x(x @ W) + b_x for one step or a sequence; see BatchNormLSTMCell.project."""
        gx = self.normalized_input_projection(inputs, training, start_step, mask)
        if self.use_bias:
            gx = gx + self.cast_weight(self.bias)[0]
        return gx

    def recur(self, projected, states, training=None, mask=None):
        h_tm1, step = states[0], states[1]
        gh = self.normalize("recurrent_norm", self.recurrent_projection(h_tm1, training), step,
                            training, mask)
        if self.use_bias:
            gh = gh + self.cast_weight(self.bias)[1]
        x_z, x_r, x_h = split_gates(projected, 3)
        h_z, h_r, h_h = split_gates(gh, 3)
        z = self.recurrent_activation(x_z + h_z)
        r = self.recurrent_activation(x_r + h_r)
        candidate = self.activation(x_h + r * h_h)
        h = z * h_tm1 + (1 - z) * candidate
        return h, [h, self.next_step(step)]

    def get_config(self):
        config = super().get_config()
        config.pop("beta_initializer")
        return config
