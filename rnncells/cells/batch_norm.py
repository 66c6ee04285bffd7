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
- Right after a short training run, inference agrees with training mode: the moving averages
  warm up (see "Moving statistics" below) instead of starting from (0, 1) with momentum 0.99.
- A training batch whose statistics are not finite (NaN or inf inputs or activations) does
  not update the moving statistics of its steps: inference stays exactly as before it, and a
  `NonFiniteStatisticsWarning` says so (once per cell; not under XLA, which has no host
  calls, where the update is still skipped).

The step index travels in the cell state (the last state, shape (batch, 1), a float holding
an integer), so `keras.layers.RNN` drives these cells unchanged: a stateful RNN continues
counting across calls (the counter saturates at max_steps - 1, where the statistics stop
changing anyway), `go_backwards=True` counts the steps in processing order (its first
processed input, the last of the sequence, is step 0), and a masked step, whose state
`keras.layers.RNN` leaves unchanged, does not advance that row's counter. Each row carries its
own counter: in training the statistics of a step are those of the rows at that step.

Moving statistics: moving_mean <- m * moving_mean + (1 - m) * batch_mean, and the same for
the variance, with the unbiased (n / (n - 1)) batch variance so the moving variance estimates
the population variance; normalization itself uses the biased batch variance, as in batch
normalization. The momentum warms up: m = min(momentum, (1 + k) / (10 + k)) for the k-th
earlier update of that step (ExponentialMovingAverage's `num_updates` rule), counted in the
non-trainable `{norm}_moving_count` (max_steps,). The first update takes 90% of the batch
statistics, and while k is small the average spans the last ~k/10 updates, the statistics of
recent weights; from k = (10 * momentum - 1) / (1 - momentum) on (891 for 0.99) it is the plain
exponential moving average. Files written before the counts existed load as fully warmed up
(`LEGACY_COUNT`): they predict and keep training exactly as before. Statistics are computed in
float32 (also under mixed precision) and kept in float32. The updates are recorded while the
cell normalizes and applied together (`apply_statistics`): at the end of each `call` (one
step), or once after a fused kernel's loop (`collecting_statistics`): the same numbers as
stepping, without rewriting the (max_steps, width) tables at every step.

Masked (padded) entries: they are excluded from the batch statistics and from the moving
statistics update when the cell knows about them: through `mask` (one step: (batch,);
`project` of a sequence: (batch, time)) in `call` / `project` / `recur`, or through
`mask_value`, which marks a step whose features all equal `mask_value` as padded, the rule of
`keras.layers.Masking`. `rnncells.FusedRNN` passes the Keras mask (from `Masking`,
`Embedding(mask_zero=True)` or `mask=`), so it is the layer for masked data: no extra
argument. `keras.layers.RNN` does not pass its mask to the cell, so with `keras.layers.RNN`
use `Masking(mask_value=v)` in front and `mask_value=v` on the cell; otherwise the padded
entries do enter the training statistics (their outputs and states are still masked by
`keras.layers.RNN` as usual). Each row counts its own steps (a padded step does not advance
its counter), and rows at the same step form that step's batch.

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
sequence is step `start_step + t` (`start_step` a scalar, default 0, or the step state (B, 1)
with a mask, counting each row's unpadded steps); in training the batch statistics of each
position are taken over the batch axis in one op, and the moving statistics receive exactly
the updates that stepping one position at a time would give (in order, so the last step's
statistics, shared by all positions >= max_steps - 1, are an exponential moving average over
those positions). For a backwards pass the kernel reverses the sequence first.
"""

import warnings

import keras
from keras import initializers, ops

from rnncells import _backend
from rnncells import _validation as validation
from rnncells._deprecation import take_renamed, upgrade_config
from rnncells._serialization import keras_serializable
from rnncells.cells import batch_norm_statistics as stats
from rnncells.cells.base import FusedSpec, RunningStatistics
from rnncells.cells.batch_norm_probes import StatisticsRouting
from rnncells.cells.dense import DenseRecurrentCell, split_gates
from rnncells.cells.updates import gru_update, lstm_update

#: largest max_steps whose step counter every compute dtype represents exactly.
_MAX_EXACT_STEPS = {"float16": 2049, "bfloat16": 257}

#: previous argument names (rnncells 0.1.0): one name per concept across the cells
RENAMED = {"epsilon": ("norm_epsilon", None), "gamma_initializer": ("norm_gamma_initializer", None)}

#: update count given to the moving statistics of a file saved without counts (rnncells
#: 0.1.0): large enough that min(momentum, (1 + n) / (10 + n)) is the momentum itself.
LEGACY_COUNT = 2.0 ** 24



class PaddingInStatisticsWarning(UserWarning):
    """keras.layers.RNN trained a batch-norm cell on a step whose input row is all zeros, the
    mark `keras.layers.Masking` leaves on padding; keras.layers.RNN does not pass its mask to
    the cell, so without `mask_value` the padding enters the batch statistics (warned once per
    cell)."""


class NonFiniteStatisticsWarning(UserWarning):
    """A training batch gave NaN/inf batch statistics; their moving-statistics update was
    skipped (warned once per cell)."""


def _gamma_initializer(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return initializers.Constant(float(value))
    return initializers.get(value)


class BatchNormRecurrentCell(StatisticsRouting, DenseRecurrentCell):
    """Shared machinery of the recurrently batch-normalized cells (per-step statistics).

    Subclasses call `add_batch_norm(prefix, width, with_beta)` in `build` for each
    normalization and `normalize(prefix, x, step, training, mask)` in `project` / `recur`.
    See the module docstring for the semantics; the arguments are documented on the cells.
    """

    def fused_spec(self):
        """Running statistics: FusedRNN's statistics kernel (masked sequences fused, padded
        entries left out of the statistics); `project` needs the step index held in the last
        state (`start_step`), so a wrapper or kernel that calls `project` itself must pass it;
        the step counter state is bookkeeping; TensorFlow's backward for the generic loop."""
        statistics = RunningStatistics(
            collect=self.collecting_statistics, apply=self.apply_statistics,
            recur_widths=tuple((prefix, self._norm_widths[prefix])
                               for prefix in self.recur_normalizations
                               if prefix in self._norm_widths),
            resolve_mask=self.resolve_mask)
        return FusedSpec(backward="autodiff", batchable=False, fuse_masks=True,
                         project_start_step=True, statistics=statistics)

    def __init__(self, units, momentum=0.99, norm_epsilon=1e-3, norm_gamma_initializer=0.1,
                 beta_initializer="zeros", max_steps=100, synchronized=False, mask_value=None,
                 **kwargs):
        owner = type(self).__name__
        norm_epsilon = take_renamed(owner, kwargs, RENAMED, "epsilon", norm_epsilon, 1e-3)
        norm_gamma_initializer = take_renamed(owner, kwargs, RENAMED, "gamma_initializer",
                                              norm_gamma_initializer, 0.1)
        super().__init__(units, **kwargs)
        self.momentum = validation.unit_interval("momentum", momentum)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.max_steps = validation.positive_int("max_steps", max_steps)
        self.norm_gamma_initializer = _gamma_initializer(norm_gamma_initializer)
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
        self._norm_widths = {}  # prefix -> feature width, as built
        # where recorded statistics go, and keras.layers.RNN's probes (batch_norm_probes.py)
        self.init_statistics_routing()
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
            shape=(width,), name=f"{prefix}_gamma", initializer=self.norm_gamma_initializer))
        beta = None
        if with_beta:
            beta = self.add_weight(shape=(width,), name=f"{prefix}_beta",
                                   initializer=self.beta_initializer)
        setattr(self, f"{prefix}_beta", beta)
        self._norm_prefixes.append(prefix)
        self._norm_widths[prefix] = int(width)

    def _statistics_variable(self, name, shape, init):
        # keras.Variable, not add_weight: add_weight has no `synchronization`, and the update
        # inside the recurrent loop needs ON_READ (see the module docstring). Assigned as an
        # attribute, the layer tracks it like an add_weight variable.
        variable = keras.Variable(
            initializer=initializers.get(init), shape=shape, dtype="float32", trainable=False,
            autocast=False, synchronization="on_read", aggregation="mean", name=name)
        setattr(self, name, variable)

    def add_moving_statistics(self):
        """The non-trainable moving statistics of every normalization: mean and variance
        (max_steps, width), then (after all of those, so the weights of earlier versions keep
        their positions) the update counts (max_steps,)."""
        for prefix in self._norm_prefixes:
            width = getattr(self, f"{prefix}_gamma").shape[0]
            for stat, init in (("moving_mean", "zeros"), ("moving_variance", "ones")):
                self._statistics_variable(f"{prefix}_{stat}", (self.max_steps, width), init)
        for prefix in self._norm_prefixes:
            self._statistics_variable(f"{prefix}_moving_count", (self.max_steps,), "zeros")

    def load_own_variables(self, store):
        """Load the weights; a file written before the update counts existed (rnncells 0.1.0)
        has none: its moving statistics are taken as fully warmed up (count LEGACY_COUNT), so
        the model predicts and keeps training exactly as it did."""
        counts = [getattr(self, f"{p}_moving_count") for p in self._norm_prefixes]
        variables = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) != len(variables) - len(counts):
            return super().load_own_variables(store)
        others = [v for v in variables if all(v is not c for c in counts)]
        for i, variable in enumerate(others):
            variable.assign(store[f"{i}"])
        for variable in counts:
            variable.assign(ops.full(variable.shape, LEGACY_COUNT, "float32"))

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
        return stats.step_indices(step, batch_size, self.max_steps)

    def next_step(self, step):
        """The step state after one step: step + 1, saturating at max_steps - 1."""
        return ops.minimum(step + ops.cast(1, step.dtype),
                           ops.cast(self.max_steps - 1, step.dtype))

    # ------------------------------------------------------------------ statistics
    def _affine(self, prefix, y, dtype):
        y = y * ops.cast(getattr(self, f"{prefix}_gamma"), "float32")
        beta = getattr(self, f"{prefix}_beta")
        if beta is not None:
            y = y + ops.cast(beta, "float32")
        return ops.cast(y, dtype)

    def _replicas(self):
        """The replica context when synchronized under a multi-replica strategy, else None."""
        if not self.synchronized or not _backend.is_tensorflow():
            return None
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return None
        return context

    def _reducer(self):
        """The cross-replica sum of the statistics functions (batch_norm_statistics.py):
        None with one replica or when not synchronized."""
        return None if self._replicas() is None else self._all_reduce

    def _all_reduce(self, tensors):
        """Sum `tensors` over the replicas (synchronized, several replicas)."""
        context = self._replicas()
        import tensorflow as tf

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

    def _normalize_positions(self, prefix, x, idx, training, weight, shared):
        """Batch norm of x (N, R, W) float32; rows at steps idx ((N, R), or (N, 1) when
        `shared`: every row of a position at that step). Records the statistics."""
        moving_mean = ops.take(getattr(self, f"{prefix}_moving_mean"), idx, axis=0)
        moving_variance = ops.take(getattr(self, f"{prefix}_moving_variance"), idx, axis=0)
        if not training:
            return (x - moving_mean) * ops.rsqrt(moving_variance + self.norm_epsilon)
        groups = None
        if shared:
            mean, variance, count = stats.shared_moments(x, weight, self._reducer())
        else:
            weight = ops.ones_like(x[:, :, 0]) if weight is None else weight
            mean, variance, count, groups = stats.grouped_moments(
                x, idx, weight, self.max_steps, self._reducer())
        if weight is not None:  # a row alone in an empty (fully padded) group: moving stats
            has_stats = count[:, :, None] > 0
            mean = ops.where(has_stats, mean, moving_mean)
            variance = ops.where(has_stats, variance, moving_variance)
        y = (x - mean) * ops.rsqrt(variance + self.norm_epsilon)
        if groups is not None:
            # Synchronized replicas record the global groups, not their own rows: a row's part
            # of its group (1 / global size) only adds up to 1 over ALL replicas' rows, so per
            # replica the update would be partial (or missing where a replica has no rows of a
            # step); the groups are the same on every replica, and so are the updates.
            idx, mean, variance, count = groups
            self.record(prefix, (idx, ops.cast(count > 0, "float32"), ops.stop_gradient(
                mean), ops.stop_gradient(stats.unbiased_variance(variance, count))))
            return y
        # share: the row's part of its group's statistics (all parts of a group add up to 1)
        if shared:
            share = ops.cast(count > 0, "float32")
        else:
            share = weight / ops.maximum(count, 1.0)
        self.record(prefix, (idx, share, ops.stop_gradient(mean),
                              ops.stop_gradient(stats.unbiased_variance(variance, count))))
        return y

    def _lean(self, training, weight):
        """Whether the lean batch norm runs: training, every row of a position at one step,
        no padding, no cross-replica sums."""
        return (training and weight is None and self.shared_steps()
                and self._replicas() is None)

    #: the shared-step batch norm backpropagates with its closed-form gradient (fewer ops
    #: and saved tensors per step than TensorFlow's autodiff of the same forward).
    closed_form_norm_gradient = True

    def _shared_batch_norm(self, prefix, x):
        """Training batch norm of x (R, ..., W) float32 with statistics over the R rows (for
        each position of the middle axes), gamma/beta applied, in the fewest ops (this runs
        at every step of a kernel's loop). Returns y, the batch means and the unbiased
        variances (..., W). (TensorFlow's fused batch-norm op was measured ~6x slower than
        these plain ops at 32 x 512 on CPU, forward + backward.)"""
        gamma = ops.cast(getattr(self, f"{prefix}_gamma"), "float32")
        beta = getattr(self, f"{prefix}_beta")
        beta = None if beta is None else ops.cast(beta, "float32")
        return stats.batch_norm_over_rows(x, gamma, beta, self.norm_epsilon,
                                          self.closed_form_norm_gradient)

    def normalize(self, prefix, x, step, training, mask=None):
        """Batch norm of one step x (B, W) with the statistics of each row's step.

        training: the batch statistics of the rows at each step (masked rows excluded), and
        the moving statistics of those steps updated (once, see `apply_statistics`); else the
        moving statistics of each row's step. gamma (and beta, if any) applied after.
        """
        dtype = x.dtype
        x = ops.cast(x, "float32")
        weight = None if mask is None else ops.cast(mask, "float32")[None]
        if self._lean(training, weight):
            # Inside a kernel's loop: the fewest ops per step. The record holds the raw step
            # of the first row (apply_statistics casts and clips it) and no shares (all 1).
            y, mean, unbiased = self._shared_batch_norm(prefix, x)
            self.record(prefix, (step[:1, :1], None, mean, unbiased))
            return ops.cast(y, dtype)
        shared = self.shared_steps()
        if shared and training:
            idx = self.step_indices(step, ops.shape(x)[0])[None, :1]
        else:
            idx = self.step_indices(step, ops.shape(x)[0])[None]
        y = self._normalize_positions(prefix, x[None], idx, training, weight, shared)
        return self._affine(prefix, y[0], dtype)

    def sequence_step_indices(self, start_step, mask, batch, timesteps):
        """Statistics index of every position (T, B) of a sequence (or (T, 1) if shared).

        start_step: an int or scalar (every row starts there), or the step state (B, 1). A
        padded position does not advance its row's counter (as keras.layers.RNN keeps the
        state of a masked step).
        """
        return stats.sequence_step_indices(start_step, mask, batch, timesteps, self.max_steps)

    def normalize_sequence(self, prefix, x, start_step, training, mask=None):
        """Batch norm of a sequence x (B, T, W): position t of row b uses the step of that
        row there (see `sequence_step_indices`).

        training: per-position batch statistics over the batch axis (one op for all t), and
        the moving statistics updated exactly as T successive one-step calls would.
        """
        dtype = x.dtype
        x = ops.cast(x, "float32")
        idx = self.sequence_step_indices(start_step, mask, ops.shape(x)[0], ops.shape(x)[1])
        weight = None if mask is None else ops.transpose(ops.cast(mask, "float32"))
        if idx.shape[1] == 1 and weight is None and training and self._replicas() is None:
            y, mean, unbiased = self._shared_batch_norm(prefix, x)
            self.record(prefix, (idx, None, mean[:, None], unbiased[:, None]))
            return ops.cast(y, dtype)
        y = self._normalize_positions(prefix, ops.transpose(x, (1, 0, 2)), idx, training,
                                      weight, idx.shape[1] == 1)
        return self._affine(prefix, ops.transpose(y, (1, 0, 2)), dtype)

    # ------------------------------------------------------------------ moving statistics
    def apply_statistics(self, records):
        """Update the moving statistics with recorded batch statistics, all at once.

        records: a list of (prefix, statistics), one per normalization, all over the same P
        positions (processing order); statistics: (idx (P, R), share (P, R), mean (P, R, W),
        unbiased variance (P, R, W)), R rows per position: a row's step (clipped to
        max_steps - 1 here) and its `share` of its group's statistics (the shares of a group
        add up to 1; None: every share is 1). Exactly the updates of P successive steps:
        step s receiving its k-th update (count n = k - 1 before it) does
        moving <- m * moving + (1 - m) * batch with m = `effective_momentum(n)`.
        A position where any normalization's statistics are not finite is skipped in every
        normalization (no update, no count): inference stays as it was. The first skip warns
        (`NonFiniteStatisticsWarning`, once per cell).
        """
        if not records:
            return
        prepared, skip = [], None
        for prefix, (idx, share, mean, variance) in records:
            idx = ops.clip(ops.cast(idx, "int32"), 0, self.max_steps - 1)
            shape = ops.shape(idx)
            share = (ops.ones(shape, "float32") if share is None
                     else ops.broadcast_to(ops.cast(share, "float32"), shape))
            usable = self.statistics_usable(mean, variance)
            bad = ops.any(ops.logical_and(share > 0, ops.logical_not(usable)), axis=1)
            skip = bad if skip is None else ops.logical_or(skip, bad)
            prepared.append((prefix, idx, share, usable, mean, variance))
        self._warn_if_skipped(ops.any(skip))
        for prefix, idx, share, usable, mean, variance in prepared:
            usable = ops.logical_and(usable, ops.logical_not(skip)[:, None])
            self._apply_one(prefix, idx, ops.where(usable, share, 0.0), usable, mean, variance)

    def _apply_one(self, prefix, idx, share, usable, mean, variance):
        count = getattr(self, f"{prefix}_moving_count")
        moving = [getattr(self, f"{prefix}_{stat}") for stat in ("moving_mean",
                                                                 "moving_variance")]
        updated, new_count = stats.moving_average_updates(
            idx, share, usable, count, list(zip(moving, (mean, variance))),
            self.effective_momentum, self.max_steps)
        for variable, value in zip(moving, updated):
            variable.assign(value)
        count.assign(new_count)

    def statistics_usable(self, mean, variance):
        """Which recorded rows (P, R) may update the moving statistics: all finite."""
        return stats.statistics_usable(mean, variance)

    def effective_momentum(self, updates):
        """The momentum of an update given the number of earlier updates of its step:
        min(momentum, (1 + n) / (10 + n)), the warm-up of TensorFlow's
        ExponentialMovingAverage(num_updates). The first update takes 90% of the batch
        statistics, so the initial (0, 1) barely counts, and while n is small the average
        spans the last ~n/10 updates, i.e. the statistics of recent weights."""
        return stats.warmup_momentum(self.momentum, updates)

    def _warn_if_skipped(self, skipped):
        """Warn (once per cell) that non-finite batch statistics were left out."""
        if getattr(self, "_warned_non_finite", False):
            return
        # Under TensorFlow's XLA there is no host call: the update is still skipped, silently.
        _backend.host_call_if(skipped, self._warn_non_finite)

    def _warn_non_finite(self):
        if getattr(self, "_warned_non_finite", False):
            return
        self._warned_non_finite = True
        warnings.warn(
            f"{type(self).__name__} {self.name!r}: a training batch gave non-finite (NaN or "
            "inf) batch statistics; the moving statistics of those steps were not updated "
            "(inference is as before that batch). Check the inputs and the loss.",
            NonFiniteStatisticsWarning, stacklevel=2)

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
    def _warn_if_padding(self, inputs):
        """Warn once when a row of this step's input is all zeros inside keras.layers.RNN in
        training: what keras.layers.Masking makes of a padded step (it zeroes the step), whose
        mask keras.layers.RNN does not pass to the cell."""
        if getattr(self, "_warned_padding", False):
            return

        def warn():
            if getattr(self, "_warned_padding", False):
                return
            self._warned_padding = True
            warnings.warn(
                f"{type(self).__name__} {self.name!r} is training inside keras.layers.RNN on a "
                "step where a whole input row is 0, which is how keras.layers.Masking marks "
                "padding. keras.layers.RNN does not pass its mask to the cell, so padded steps "
                "enter the batch statistics. Use rnncells.FusedRNN(cell), which passes the "
                "mask, or give the cell mask_value=0.0 (the Masking layer's mask_value).",
                PaddingInStatisticsWarning, stacklevel=2)

        zero_row = ops.any(ops.all(ops.equal(inputs, ops.zeros((), inputs.dtype)), axis=-1))
        _backend.host_call_if(zero_row, warn)

    def call(self, inputs, states, training=None, mask=None):
        """recur(project(inputs, start_step=step state), states); `mask`: (batch,) or None.
        The step's statistics are applied together at its end, or held back while it may be
        a keras.layers.RNN probe (batch_norm_probes.py)."""
        with self.step_statistics(inputs, states[-1], training):
            if (training and mask is None and self.mask_value is None
                    and self.inside_keras_rnn()):
                self._warn_if_padding(inputs)
            mask = self.resolve_mask(inputs, mask)
            projected = self.project(inputs, training=training, start_step=states[-1],
                                     mask=mask)
            return self.recur(projected, states, training=training, mask=mask)

    def get_config(self):
        config = {
            "momentum": self.momentum,
            "norm_epsilon": self.norm_epsilon,
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "max_steps": self.max_steps,
            "synchronized": self.synchronized,
            "mask_value": self.mask_value,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        return super().from_config(upgrade_config(config, RENAMED))


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
    state_norm_moving_variance (max_steps, U), then the update counts
    kernel_norm_moving_count, recurrent_norm_moving_count, state_norm_moving_count
    (max_steps,). kernel / recurrent_kernel / bias have the shapes
    and gate order of `keras.layers.LSTMCell`.

    Args:
        units: positive int, size of h and c.
        momentum: of the moving statistics, in [0, 1) (default 0.99).
        norm_epsilon: added to the variance, > 0 (default 1e-3; formerly `epsilon`).
        norm_gamma_initializer: (formerly `gamma_initializer`) of every gamma, a number
            (constant) or an initializer (default 0.1, the paper's choice: it keeps
            tanh/sigmoid out of saturation).
        beta_initializer: of beta_c (default "zeros").
        max_steps: number of steps with their own statistics, >= 1 (default 100); later steps
            use those of step max_steps - 1.
        synchronized: all-reduce the batch statistics across the replicas of a
            tf.distribute strategy (default False); needs keras.layers.RNN(..., unroll=True)
            with more than one replica.
        mask_value: None (default) or a number: a step whose features all equal it is padded
            and left out of the statistics (for keras.layers.RNN with
            keras.layers.Masking(mask_value) in front, since keras.layers.RNN does not pass
            its mask to the cell; `rnncells.FusedRNN` passes it, so there it is not needed:
            FusedRNN is the layer for masked data).
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

    Examples:
        >>> layer = keras.layers.RNN(rnncells.BatchNormLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    gates = 4
    #: the normalizations `recur` applies, in order (what a fused kernel collects per step)
    recur_normalizations = ("recurrent_norm", "state_norm")

    def __init__(
        self,
        units,
        momentum=0.99,
        norm_epsilon=1e-3,
        norm_gamma_initializer=0.1,
        beta_initializer="zeros",
        max_steps=100,
        synchronized=False,
        mask_value=None,
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, momentum=momentum, norm_epsilon=norm_epsilon,
                         norm_gamma_initializer=norm_gamma_initializer,
                         beta_initializer=beta_initializer,
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
        h, c = lstm_update(
            split_gates(z, 4), c_tm1, self.activation, self.recurrent_activation,
            state_norm=lambda c: self.normalize("state_norm", c, step, training, mask))
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
    recurrent_norm_moving_mean, recurrent_norm_moving_variance, each (max_steps, 3U), then
    kernel_norm_moving_count, recurrent_norm_moving_count (max_steps,).

    Args:
        units, momentum (0.99), norm_epsilon (1e-3), norm_gamma_initializer (0.1), max_steps (100),
        synchronized (False), mask_value (None): as `BatchNormLSTMCell`; activation ("tanh"),
        recurrent_activation ("sigmoid"), use_bias (True), the initializers, regularizers and
        constraints of Keras's GRUCell, dropout, recurrent_dropout, recurrent_dropconnect, seed.

    Call arguments: inputs (batch, features); states [h (batch, units), step (batch, 1)];
    training; mask (batch,) or None. Returns: (h', [h', step']).

    Examples:
        >>> keras.layers.RNN(rnncells.BatchNormGRUCell(8))(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    gates = 3
    recur_normalizations = ("recurrent_norm",)

    def __init__(self, units, momentum=0.99, norm_epsilon=1e-3, norm_gamma_initializer=0.1,
                 max_steps=100, synchronized=False, mask_value=None, **kwargs):
        kwargs.pop("beta_initializer", None)  # no beta in this cell (kept out of its config)
        super().__init__(units, momentum=momentum, norm_epsilon=norm_epsilon,
                         norm_gamma_initializer=norm_gamma_initializer, max_steps=max_steps,
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
        h = gru_update(split_gates(projected, 3), split_gates(gh, 3), h_tm1, self.activation,
                       self.recurrent_activation)
        return h, [h, self.next_step(step)]

    def get_config(self):
        config = super().get_config()
        config.pop("beta_initializer")
        return config
