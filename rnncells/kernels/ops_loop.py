"""The fused kernels of the JAX and PyTorch backends, in `keras.ops` (TensorFlow's scan
route runs `run_linear_scan` too, over its own `scan.linear_scan`).

The same three kernels as TensorFlow's (`loop`, `scan`, `statistics`), behind one signature,
`(cell, sequences, initial_states, mask, training, return_sequences, zero_output_for_mask)
-> (last_output, outputs, final_states)`, with the semantics of `keras.layers.RNN.inner_loop`
on the input that `FusedRNN` prepares once (`rnncells.kernels.inputs.prepare`):

- `run_sequence`: `cell.project` once on the whole sequence (one large matmul), then
  `cell.recur` once per step: `jax.lax.scan` on JAX (XLA compiles the loop with the rest of
  the train step, which Keras jit-compiles on JAX, and differentiates it), a Python loop on
  PyTorch (autograd differentiates it). `unroll` (JAX) unrolls that many steps per iteration.
  On a JAX CPU the projection stays inside the loop (`hoist`): XLA's CPU matmul of the whole
  sequence measured slower than the per-step ones (docs/performance.md, "Backends").
- `run_linear_scan`: cells whose recurrence is linear in the state
  (`h_t = a_t * h_{t-1} + b_t`, `scan_coefficients`): an associative scan over time
  (`keras.ops.associative_scan`, parallel on JAX).
- `run_statistics_sequence`: cells with running statistics (batch norm). Nothing is assigned
  inside the loop: each step's batch statistics leave the loop as its outputs, and the moving
  statistics are updated once after it (`FusedSpec.statistics.apply`), so the loop has no side
  effects (JAX traces its body once).

Masks `(B, T)`: a masked step keeps the previous states; its output repeats the previous
output (zeros before the first unmasked step), or is zero with `zero_output_for_mask`.
The sequence arrives in the cell's compute dtype, with a boolean mask (B, T) or None, both
already reversed for `go_backwards`: position t is processing step t here, and outputs come
back in that order, as Keras returns them. Gradients are the backend's own differentiation
of these loops.
"""

from keras import ops, tree

from rnncells import _backend
from rnncells._shapes import as_shape
from rnncells.cells.base import fused_spec_of
from rnncells.kernels import inputs as kernel_inputs


def scan(step, carry, xs, unroll=1, compile_step=False):
    """`carry, ys = scan(step, carry, xs)` over the leading axis of the arrays in `xs`
    (a list): `jax.lax.scan` on JAX, a Python loop elsewhere. `ys` is a list of stacked
    arrays (`step` returns `(carry, list_of_arrays)`). `compile_step` (PyTorch only):
    the step goes through `torch.compile` (its kernels are cached across calls by code and
    guards; the first call compiles)."""
    if _backend.name() == "jax":
        import jax

        return jax.lax.scan(step, carry, xs, unroll=unroll)
    if compile_step and _backend.name() == "torch":
        import torch

        step = torch.compile(step, dynamic=False)
    length = ops.shape(xs[0])[0]
    collected = []
    for t in range(length):
        carry, y = step(carry, [x[t] for x in xs])
        collected.append(y)
    if not collected:
        raise ValueError("The fused kernels need at least one timestep.")
    return carry, [ops.stack(list(ys)) for ys in zip(*collected)]


def _expand(mask_t, like):
    return ops.reshape(mask_t, (-1,) + (1,) * (len(like.shape) - 1))


def _time_major(x):
    return ops.moveaxis(x, 1, 0)


def _batch_major(x):
    return ops.moveaxis(x, 0, 1)


def _zero_output(cell, batch, dtype):
    size = getattr(cell, "output_size", None)
    if size is None:
        size = cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else (
            cell.state_size)
    return ops.zeros((batch, *as_shape(size)), dtype=dtype)


def _masked_step(output, new_states, states, prev_output, m_t, zero_output_for_mask):
    """Keras's masking of one step (see the module docstring)."""
    if m_t is None:
        return output, new_states
    fill = ops.zeros_like(output) if zero_output_for_mask else prev_output
    output = ops.where(_expand(m_t, output), output, fill)
    new_states = [ops.where(_expand(m_t, n), n, s) for n, s in zip(new_states, states)]
    return output, new_states


def _outputs(outputs_tm, last_output, return_sequences):
    """(B, T, ...) outputs, or (B, 1, ...) holding the last output only."""
    if return_sequences:
        return _batch_major(outputs_tm)
    return ops.expand_dims(last_output, 1)


def hoists_projection(cell):
    """Whether `run_sequence` projects the whole sequence before its loop: everywhere but on
    a JAX CPU (measured slower there), and always for a cell whose `project` draws random
    numbers of its own or depends on the step (`FusedSpec.batchable` False, e.g. Zoneout:
    a draw inside `lax.scan` could not leave it)."""
    spec = fused_spec_of(cell)
    if not spec.batchable or spec.project_start_step or _backend.name() != "jax":
        return True
    import jax

    return jax.default_backend() != "cpu"


def run_sequence(cell, sequences, initial_states, mask=None, training=False,
                 return_sequences=True, zero_output_for_mask=False, unroll=1,
                 hoist="auto", compile_step=False):
    """`cell.project` on the whole sequence, then `cell.recur` per step (see the module
    docstring); `hoist=False` (or "auto" on a JAX CPU, `hoists_projection`) calls `project`
    on each step inside the loop instead. Returns `(last_output (B, ...), outputs
    (B, T or 1, ...), final_states)`."""
    states = [ops.convert_to_tensor(s) for s in initial_states]
    if hoist == "auto":
        hoist = hoists_projection(cell)
    if not hoist:
        projected = sequences
    elif fused_spec_of(cell).project_start_step:
        start = ops.cast(ops.reshape(states[-1], (-1,))[0], "int32")
        projected = cell.project(sequences, training=training, start_step=start)
    else:
        projected = cell.project(sequences, training=training)
    flat = [_time_major(ops.convert_to_tensor(x)) for x in tree.flatten(projected)]
    dtype = cell.compute_dtype
    batch = ops.shape(sequences)[0]
    has_mask = mask is not None
    xs = flat + ([ops.transpose(mask)] if has_mask else [])

    def step(carry, x_t):
        states, prev_output = carry
        p_t = tree.pack_sequence_as(projected, list(x_t[:len(flat)]))
        if not hoist:
            p_t = cell.project(p_t, training=training)
        output, new_states = cell.recur(p_t, list(states), training=training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        output = ops.cast(output, dtype)
        output, new_states = _masked_step(output, list(new_states), states, prev_output,
                                          x_t[-1] if has_mask else None, zero_output_for_mask)
        return (list(new_states), output), [output] if return_sequences else []

    (final_states, last_output), ys = scan(
        step, (states, _zero_output(cell, batch, dtype)), xs, unroll=unroll,
        compile_step=compile_step)
    outputs = _outputs(ys[0] if return_sequences else None, last_output, return_sequences)
    return last_output, outputs, list(final_states)


def associative_states(a, b, h0):
    """The states `h_t = a_t * h_{t-1} + b_t` (B, T, ...) from `h_0` (B, ...), as
    `keras.ops.associative_scan` over time (parallel on JAX)."""

    def combine(first, second):
        a1, b1 = first
        a2, b2 = second
        return a1 * a2, a2 * b1 + b2

    a_cum, b_cum = ops.associative_scan(combine, (a, b), axis=1)
    return a_cum * ops.expand_dims(h0, 1) + b_cum


def run_linear_scan(cell, sequences, initial_states, mask=None, training=False,
                    return_sequences=True, zero_output_for_mask=False,
                    states_of=associative_states):
    """`h_t = a_t * h_{t-1} + b_t` (`cell.scan_coefficients`) as an associative scan,
    `states_of(a, b, h0)` (on TensorFlow, `rnncells.kernels.scan.linear_scan`, whose
    backward is written out). Masked steps get a = 1, b = 0 (the state is kept)."""
    a, b = cell.scan_coefficients(cell.project(sequences, training=training))
    h0 = ops.cast(initial_states[0], a.dtype)
    if mask is not None:
        step_mask = ops.reshape(mask, ops.shape(mask) + (1,) * (len(a.shape) - 2))
        a = ops.where(step_mask, a, ops.ones_like(a))
        b = ops.where(step_mask, b, ops.zeros_like(b))
    states = states_of(a, b, h0)
    outputs = states
    if mask is not None:
        keep = step_mask
        if not zero_output_for_mask:  # the previous output: zeros before the first step
            keep = ops.cumsum(ops.cast(step_mask, "int32"), axis=1) > 0
        outputs = ops.where(keep, states, ops.zeros_like(states))
    outputs = ops.cast(outputs, cell.compute_dtype)
    last_output = outputs[:, -1]
    if not return_sequences:
        outputs = ops.expand_dims(last_output, 1)
    return last_output, outputs, [ops.cast(states[:, -1], cell.compute_dtype)]


def run_statistics_sequence(cell, sequences, initial_states, mask=None, training=False,
                            return_sequences=True, zero_output_for_mask=False, unroll=1):
    """The loop of a cell with running statistics: each step's statistics are loop outputs,
    applied once after the loop with `FusedSpec.statistics.apply` (see the module
    docstring)."""
    statistics = kernel_inputs.running_statistics(cell)
    states = [ops.convert_to_tensor(s) for s in initial_states]
    if statistics.resolve_mask is not None:  # e.g. the cell's `mask_value`
        mask = kernel_inputs.step_mask(statistics.resolve_mask(sequences, mask))
    shared = mask is None
    # Without a mask every row is at the first row's step; with one, each row counts its own.
    start = ops.cast(ops.reshape(states[-1], (-1,))[0], "int32") if shared else states[-1]
    float_mask = None if mask is None else ops.cast(mask, "float32")
    with statistics.collect(shared) as projected_records:
        projected = cell.project(sequences, training=training, start_step=start,
                                 mask=float_mask)
    dtype = cell.compute_dtype
    structure = []  # (prefix, which statistics are None) of one step's records

    def step(carry, x_t):
        states, prev_output = carry
        m_t = x_t[1] if len(x_t) > 1 else None
        with statistics.collect(shared) as records:
            output, new_states = cell.recur(
                x_t[0], list(states), training=training,
                mask=None if m_t is None else ops.cast(m_t, "float32"))
        output = ops.cast(output, dtype)
        output, new_states = _masked_step(output, list(new_states), states, prev_output, m_t,
                                          zero_output_for_mask)
        structure[:] = [(prefix, [s is None for s in stats]) for prefix, stats in records]
        flat = [s for _, stats in records for s in stats if s is not None]
        return (list(new_states), output), ([output] if return_sequences else []) + flat

    xs = [_time_major(projected)] + ([ops.transpose(mask)] if mask is not None else [])
    batch = ops.shape(sequences)[0]
    (final_states, last_output), ys = scan(
        step, (states, _zero_output(cell, batch, dtype)), xs, unroll=unroll)
    outputs_tm = ys[0] if return_sequences else None
    recorded = iter(ys[1:] if return_sequences else ys)
    loop_records = []
    timesteps = ops.shape(xs[0])[0]
    for prefix, missing in structure:
        idx, share, mean, variance = [None if m else next(recorded) for m in missing]
        width = ops.shape(mean)[-1]
        loop_records.append((prefix, (
            ops.reshape(idx, (timesteps, -1)),
            None if share is None else ops.reshape(share, (timesteps, -1)),
            ops.reshape(mean, (timesteps, -1, width)),
            ops.reshape(variance, (timesteps, -1, width)))))
    records = list(projected_records) + loop_records
    if records and training:
        statistics.apply(records)
    return last_output, _outputs(outputs_tm, last_output, return_sequences), list(final_states)

