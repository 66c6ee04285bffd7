"""The fused loop of cells with running statistics (per-step batch norm).

`run_sequence(cell, sequences, initial_states, ...)` is what `FusedRNN` runs for a cell that
keeps moving statistics (`FusedSpec.statistics`, a `RunningStatistics`: how to collect
the statistics `project` and `recur` record, how to apply them, and the normalizations one
`recur` step records with their widths; as `BatchNormLSTMCell` and `BatchNormGRUCell`):

1. `cell.project` on the whole (processing-order) sequence: `x @ W` and its per-step batch
   norm for all T steps at once (one matmul, one reduction over the batch axis).
2. `cell.recur` in a `tf.while_loop`. Each step normalizes with its batch statistics, but
   nothing is assigned inside the loop: the cell records each step's statistics (means and
   unbiased variances, a few (R, W) tensors) into `TensorArray`s.
3. After the loop, ONE `statistics.apply` (all normalizations) gives the moving statistics
   exactly the updates T successive steps would (see the cell's docstring), instead of T
   read-modify-writes of the whole (max_steps, width) tables inside the loop.

TensorFlow differentiates the loop (autodiff); the statistics feed only the moving averages,
which are not differentiated.

Masks (`(B, T)`, from `keras.layers.Masking`, `Embedding(mask_zero=True)` or the `mask`
argument): a masked step keeps the row's states (step counter included) and its output
repeats the previous one (or is zero with `zero_output_for_mask`), as in
`keras.layers.RNN`; masked entries are left out of every batch statistic and moving-statistic
update, and each row's steps are counted from its own counter. A cell's own padding rule
(`RunningStatistics.resolve_mask`, e.g. `mask_value`) joins the mask: such steps are masked
steps here. Without a mask every row is at the same step (the step state of the first row), so each
step's statistics are plain reductions over the batch.
"""

import tensorflow as tf

from rnncells.kernels import inputs as kernel_inputs
from rnncells.kernels.inputs import running_statistics


def run_sequence(cell, sequences, initial_states, mask=None, training=False,
                 return_sequences=True, zero_output_for_mask=False):
    """Run `cell` over `sequences` (B, T, F); return `(last_output, outputs, final_states)`.

    Args:
        cell: a cell whose `fused_spec()` has `statistics` (a `RunningStatistics`).
        sequences: (B, T, F) tensor in the cell's compute dtype and in processing order
            (`rnncells.kernels.inputs.prepare`).
        initial_states: list of the cell's states (B, ...), its step counter last.
        mask: optional (B, T) boolean, in processing order: False marks a padded step.
        training: batch statistics (recorded, then applied once) and dropout.
        return_sequences: if False, `outputs` is (B, 1, units), the last output only.
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Returns:
        `(last_output (B, U), outputs (B, T or 1, U), final_states)` as
        `keras.layers.RNN.inner_loop`.
    """
    statistics = running_statistics(cell)
    sequences = tf.convert_to_tensor(sequences)
    states = [tf.convert_to_tensor(s) for s in initial_states]
    if statistics.resolve_mask is not None:  # e.g. a cell's `mask_value`
        mask = kernel_inputs.step_mask(statistics.resolve_mask(sequences, mask))
    shared = mask is None
    # Without a mask every row is at the first row's step; with one, each row counts its own.
    start = tf.cast(tf.reshape(states[-1], [-1])[0], tf.int32) if shared else states[-1]
    with statistics.collect(shared) as projected_records:
        projected = cell.project(sequences, training=training, start_step=start,
                                 mask=None if mask is None else tf.cast(mask, tf.float32))
    loop = _Loop(cell, statistics, training, shared, return_sequences, zero_output_for_mask)
    last_output, outputs, final_states, loop_records = loop.run(projected, states, mask)
    records = projected_records + loop_records
    if records:
        statistics.apply(records)
    return last_output, outputs, final_states


class _Loop:
    """The while loop over `cell.recur`, collecting the statistics each step records."""

    def __init__(self, cell, statistics, training, shared, return_sequences,
                 zero_output_for_mask):
        self.cell, self.statistics = cell, statistics
        self.training, self.shared = training, shared
        self.return_sequences = return_sequences
        self.zero_output_for_mask = zero_output_for_mask

    def step(self, projected_t, states, mask_t):
        with self.statistics.collect(self.shared) as records:
            output, new_states = self.cell.recur(
                projected_t, list(states), training=self.training,
                mask=None if mask_t is None else tf.cast(mask_t, tf.float32))
        return output, list(new_states), records

    def record_spec(self, batch, step_dtype):
        """The (prefix, statistics specs) one step of `recur` records, in order (None: an
        entry not recorded, see the cell's `normalize`)."""
        spec = []
        for prefix, width in self.statistics.recur_widths:
            if self.shared:  # the first row's step, no shares, statistics (W,)
                stats = [tf.TensorSpec((1, 1), step_dtype), None,
                         tf.TensorSpec((width,), tf.float32),
                         tf.TensorSpec((width,), tf.float32)]
            else:
                stats = [tf.TensorSpec((1, batch), tf.int32),
                         tf.TensorSpec((1, batch), tf.float32),
                         tf.TensorSpec((1, batch, width), tf.float32),
                         tf.TensorSpec((1, batch, width), tf.float32)]
            spec.append((prefix, stats))
        return spec

    def run(self, projected, states, mask):
        timesteps = tf.shape(projected)[1]
        static_t = projected.shape[1]
        size = static_t if static_t is not None else timesteps
        projected_ta = tf.TensorArray(projected.dtype, size=size,
                                      element_shape=projected.shape[:1] + projected.shape[2:])
        projected_ta = projected_ta.unstack(tf.transpose(projected, [1, 0, 2]))
        mask_ta = None
        if mask is not None:
            mask_ta = tf.TensorArray(tf.bool, size=size, element_shape=mask.shape[:1])
            mask_ta = mask_ta.unstack(tf.transpose(mask))
        spec = (self.record_spec(projected.shape[0], states[-1].dtype) if self.training
                else [])
        record_tas = [tf.TensorArray(s.dtype, size=size, element_shape=s.shape)
                      for _, stats in spec for s in stats if s is not None]
        output_dtype = self.cell.compute_dtype
        zero = tf.zeros([tf.shape(projected)[0], self.cell.output_size], output_dtype)
        out_ta = None
        if self.return_sequences:
            out_ta = tf.TensorArray(output_dtype, size=size,
                                    element_shape=[projected.shape[0], self.cell.output_size])

        def body(t, states, prev_output, out_ta, record_tas):
            m_t = None if mask_ta is None else mask_ta.read(t)
            output, new_states, records = self.step(projected_ta.read(t), states, m_t)
            output = tf.cast(output, output_dtype)
            if m_t is not None:
                keep = m_t[:, None]
                fill = tf.zeros_like(output) if self.zero_output_for_mask else prev_output
                output = tf.where(keep, output, fill)
                new_states = [tf.where(keep, n, s) for n, s in zip(new_states, states)]
            if out_ta is not None:
                out_ta = out_ta.write(t, output)
            flat = [x for _, stats in records for x in stats if x is not None]
            if len(flat) != len(record_tas):
                raise ValueError(
                    f"{type(self.cell).__name__}.recur recorded the statistics of "
                    f"{[p for p, _ in records]}; its `FusedSpec.statistics.recur_widths` "
                    f"says {[p for p, _ in self.statistics.recur_widths]}.")
            record_tas = [ta.write(t, x) for ta, x in zip(record_tas, flat)]
            return t + 1, new_states, output, out_ta, record_tas

        loop_vars = (tf.constant(0), states, zero, out_ta, record_tas)
        if out_ta is None:  # nothing to write per step
            loop_vars = (tf.constant(0), states, zero, tf.constant(0), record_tas)

            def looped(t, states, prev_output, unused, record_tas):
                out = body(t, states, prev_output, None, record_tas)
                return out[0], out[1], out[2], unused, out[4]
        else:
            looped = body
        _, final_states, last_output, out_ta, record_tas = tf.while_loop(
            lambda t, *_: t < timesteps, looped, loop_vars, maximum_iterations=timesteps)
        if self.return_sequences:
            outputs = tf.transpose(out_ta.stack(), [1, 0, 2])
        else:
            outputs = last_output[:, None]
        records, tas = [], iter(record_tas)
        for prefix, stats in spec:
            idx, share, mean, variance = [None if s is None else next(tas).stack()
                                          for s in stats]
            # T one-step records -> (T, R) and (T, R, W)
            width = tf.shape(mean)[-1]
            records.append((prefix, (
                tf.reshape(idx, [timesteps, -1]),
                None if share is None else tf.reshape(share, [timesteps, -1]),
                tf.reshape(mean, [timesteps, -1, width]),
                tf.reshape(variance, [timesteps, -1, width]))))
        return last_output, outputs, list(final_states), records
