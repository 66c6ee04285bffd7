"""Compiled loops that drive a cell's `recur` over a projected sequence.

`run_loop(cell, projected, initial_states, ...)` is a stateless kernel: `projected` is what
`cell.project` returned for the whole sequence (batch-major, time on axis 1; a tensor or a
nest of tensors), and the loop calls `cell.recur` once per step in a `tf.while_loop` over
fixed-size `TensorArray`s (read with `unstack`/`read`: indexing a full tensor inside the loop
would make its gradient a full-size tensor per step, O(T^2)). `run_sequence` is FusedRNN's
entry point: `cell.project` on the whole sequence, then the loop.

What the kernels may do with a cell comes from ONE place, `cell.fused_spec()` (a
`rnncells.cells.base.FusedSpec`); the backward and the XLA choice are resolved once per call
by `resolve_options`. Backwards (`FusedSpec.backward`, or the `backward` argument):

- "per_step": the forward keeps only the states entering each step; a reverse loop takes,
  at each step, the gradient of ONE recomputed `recur` call (a `tf.GradientTape`, so a
  cell's math is never re-derived here) with respect to the projected step, the states and
  the variables `recur` reads. The gradients of `project`'s weights then come from one
  backpropagation through `project` over the whole sequence (one large matmul).
- "batched": the reverse loop only carries the state gradient and records the gradient
  arriving at each step; `recur` (and, in `run_sequence`, `project`) is then recomputed ONCE
  on all T*B rows and backpropagated in one go, so every weight gradient (recurrent kernel,
  norms, input kernel) is one large matmul or reduction over T*B rows after the loop.
- "autodiff": TensorFlow differentiates the while loop.

Both recomputing backwards run through one custom-gradient driver (`_Loop.differentiate`)
and re-install the dropout masks of the forward (`get_dropout_masks`/`set_dropout_masks`).

Semantics follow `keras.layers.RNN` exactly:
- mask `(B, T)`: a masked step keeps the previous states; its output repeats the previous
  output (zeros before the first unmasked step), or is zero with `zero_output_for_mask`.
- the sequence (and mask) arrive in processing order (`FusedRNN` reverses them once for
  `go_backwards`, `rnncells.kernels.inputs.prepare`), and the outputs are returned in that
  order, as Keras returns them.
- `last_output` is the output written at the last processed step (after masking).

XLA: `jit=True` compiles the forward and the backward loops with XLA (traced calls only).
Cells may wrap the pointwise part of their step in `CompiledPointwise`; the loops here ask
for it (`pointwise_compilation`). Measurements behind these choices: docs/performance.md.
"""

import keras
import tensorflow as tf

from rnncells._pointwise import pointwise_compilation
from rnncells.cells.base import BACKWARDS, RecurrentCell, fused_spec_of

#: On CPU, XLA is used ("auto") when batch * state width is at most this many elements.
CPU_XLA_MAX_STEP_ELEMENTS = 1024

#: Accepted by the `backward` arguments: a `FusedSpec.backward`, or "auto" (the cell's own).
BACKWARD_MODES = BACKWARDS


def prefers_xla(batch_size, state_width, device_type=None):
    """Whether `jit="auto"` compiles the loops with XLA for this step shape and device.

    CPU: when `batch_size * state_width <= CPU_XLA_MAX_STEP_ELEMENTS` (XLA removes the
    per-op overhead that bounds small steps; at larger steps its single-threaded CPU
    matmuls lose to oneDNN's; see docs/performance.md). GPU: always.

    Args:
        batch_size: int or None (unknown: no XLA on CPU).
        state_width: int, total number of state elements per example (e.g. 2*units for LSTM).
        device_type: "CPU" or "GPU"; default: GPU when TensorFlow sees one.
    """
    if device_type is None:
        device_type = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    if device_type.upper() == "GPU":
        return True
    if batch_size is None or state_width is None:
        return False
    return batch_size * state_width <= CPU_XLA_MAX_STEP_ELEMENTS


def spec_of(cell):
    """The cell's spec as the kernels may use it (`rnncells.cells.base.fused_spec_of`): the
    default spec for any other object with a `recur` method (a kernel may be driven by a bare
    function of tensors), and no inherited fast path that a subclass's equations void."""
    return fused_spec_of(cell)


def backward_mode(cell):
    """The backward the kernels use for `cell` when asked for "auto": its spec's."""
    return spec_of(cell).backward


def resolve_options(cell, jit, backward, batch_size, timesteps, initial_states, shape):
    """`(jit: bool, backward: str)` for one kernel call: the ONE place "auto" is resolved.

    `backward="auto"` takes the cell's `FusedSpec.backward`; "batched" falls back to
    "per_step" where the spec does not allow it or the cell holds a mask that is not
    batch-shaped (a recomputation on T*B rows could not tile it). `jit="auto"` follows
    `prefers_xla`; eager calls never compile (every call would compile afresh, and a tape
    around it cannot differentiate an XLA call holding a while loop); `jit=True` needs a
    static T. "autodiff" never runs in XLA (TensorFlow cannot differentiate an XLA call
    holding a while loop: its TensorLists cannot cross the XLA boundary).
    """
    spec = spec_of(cell)
    if backward == "auto":
        backward = spec.backward
    if backward not in BACKWARD_MODES:
        raise ValueError(f"`backward` must be one of {BACKWARD_MODES} or 'auto'; received "
                         f"backward={backward!r}.")
    if backward == "batched" and not (spec.batchable and _can_tile_masks(
            _dropout_masks(cell))):
        backward = "per_step"
    if tf.executing_eagerly():
        return False, backward
    if jit == "auto":
        state_width = sum(_num_elements(s.shape[1:]) or 0 for s in initial_states) or None
        jit = bool(timesteps is not None and prefers_xla(batch_size, state_width))
    elif jit and timesteps is None:
        raise ValueError(
            "run_loop(jit=True) needs a static number of timesteps (axis 1 of the sequence); "
            f"received a sequence of shape {tuple(shape)}. Pass jit=False or 'auto'.")
    return bool(jit) and backward != "autodiff", backward


def run_loop(cell, projected, initial_states, mask=None, training=False, return_sequences=True,
             zero_output_for_mask=False, jit="auto", backward="auto"):
    """Run `cell.recur` over a projected sequence; return `(last_output, outputs, states)`.

    Args:
        cell: an object with `recur(projected_t, states, training) -> (output, new_states)`
            (an rnncells cell). Its output dtype is `cell.compute_dtype`.
        projected: `cell.project(sequence)`: a tensor (or nest) of shape `(B, T, ...)`, in
            processing order.
        initial_states: list of state tensors `(B, ...)`, in the cell's state order.
        mask: optional boolean `(B, T)`, in processing order: False marks a step to skip
            (Keras semantics).
        training: passed to `cell.recur` (dropout, batch statistics).
        return_sequences: if False, `outputs` is `(B, 1, ...)` holding the last output only
            (as `keras.layers.RNN`'s inner loop).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
        jit: True, False or "auto" (see `resolve_options`).
        backward: "per_step", "batched", "autodiff" or "auto" (the cell's `fused_spec()`);
            see the module docstring.

    Returns:
        `(last_output (B, ...), outputs (B, T or 1, ...), final_states list)`.
    """
    flat_projected = [tf.convert_to_tensor(x) for x in tf.nest.flatten(projected)]
    initial_states = [tf.convert_to_tensor(s) for s in initial_states]
    jit, backward = resolve_options(cell, jit, backward, flat_projected[0].shape[0],
                                    flat_projected[0].shape[1], initial_states,
                                    flat_projected[0].shape)
    flat_tm = [_time_major(x) for x in flat_projected]
    mask_tm = _mask_tm(mask)
    loop = _Loop(cell, projected, training, return_sequences, zero_output_for_mask,
                 _output_spec(cell, flat_tm, initial_states, projected, training))
    if backward == "autodiff":
        outputs_tm, final_states, _ = loop.forward(flat_tm, initial_states, mask_tm, False)
    else:
        outputs_tm, final_states = loop.differentiate(flat_tm, initial_states, mask_tm, jit,
                                                      batched=backward == "batched")
    return outputs_tm[-1], _batch_major(outputs_tm), list(final_states)


def run_sequence(cell, sequences, initial_states, mask=None, training=False,
                 return_sequences=True, zero_output_for_mask=False, jit="auto",
                 backward="auto"):
    """`cell.project` on the whole sequence, then `run_loop`: what FusedRNN's loop path runs.

    Same arguments and result as `run_loop`, with the raw `sequences` `(B, T, ...)` instead
    of the projected ones. With the "batched" backward, `project` joins the kernel: the
    forward runs it (in the same XLA computation as the loop when `jit`), and the backward
    recomputes `project` and `recur` on all T*B rows at once and backpropagates through both
    in one go. Other backwards call `project` once, outside the loop. The sequence is in
    processing order (reversed BEFORE `project` for `go_backwards`): position t of the
    projected sequence is processing step t, which cells with per-step statistics rely on.
    """
    sequences = tf.convert_to_tensor(sequences)
    initial_states = [tf.convert_to_tensor(s) for s in initial_states]
    jit, backward = resolve_options(cell, jit, backward, sequences.shape[0],
                                    sequences.shape[1], initial_states, sequences.shape)
    if backward != "batched":
        if spec_of(cell).project_start_step:
            # Per-step statistics: the sequence starts at the step counter carried in the
            # last state (a stateful continuation does not start at 0). Rows share one
            # counter unless earlier masked calls held some back; row 0's is used.
            start = tf.cast(tf.reshape(initial_states[-1], [-1])[0], tf.int32)
            projected = cell.project(sequences, training=training, start_step=start)
        else:
            projected = cell.project(sequences, training=training)
        return run_loop(cell, projected, initial_states, mask=mask, training=training,
                        return_sequences=return_sequences,
                        zero_output_for_mask=zero_output_for_mask, jit=jit, backward=backward)
    loop = _Loop(cell, None, training, return_sequences, zero_output_for_mask,
                 _output_spec(cell, None, initial_states, None, training,
                              batch=sequences.shape[0]),
                 project_inside=True)
    outputs_tm, final_states = loop.differentiate([sequences], initial_states,
                                                  _mask_tm(mask), jit, batched=True)
    return outputs_tm[-1], _batch_major(outputs_tm), list(final_states)


def _tf_variable(weight):
    """The tf.Variable behind a Keras variable (what tf.custom_gradient reports)."""
    return weight.value if isinstance(weight, keras.Variable) else weight


def _mask_tm(mask):
    return None if mask is None else tf.transpose(tf.cast(mask, tf.bool), [1, 0])


class _Loop:
    """The forward and backward loops of one kernel call (closures over the cell).

    The loop's inputs are either the projected sequence, time-major and flattened
    (`project_inside=False`), or the raw batch-major sequence, which `head` projects
    (`project_inside=True`: "batched" backward of `run_sequence`).
    """

    def __init__(self, cell, structure, training, return_sequences, zero_output_for_mask,
                 output_spec, project_inside=False):
        self.cell = cell
        self.structure = structure
        self.training = training
        self.return_sequences = return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.output_shape, self.output_dtype = output_spec
        self.project_inside = project_inside
        self.spec = spec_of(cell)
        if self.spec.step_vjp is None:
            self.step_vjp = None  # the tape's gradient of one recomputed step

    def head(self, inputs):
        """The flattened, time-major projected sequence the loop reads, from its inputs."""
        if not self.project_inside:
            return list(inputs)
        projected = self.cell.project(inputs[0], training=self.training)
        self.structure = projected
        return [_time_major(tf.convert_to_tensor(x)) for x in tf.nest.flatten(projected)]

    def step(self, flat_p, states):
        projected_t = tf.nest.pack_sequence_as(self.structure, list(flat_p))
        output, new_states = self.cell.recur(projected_t, list(states), training=self.training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        return tf.cast(output, self.output_dtype), list(new_states)

    def zero_output(self, batch):
        return tf.zeros(tf.concat([[batch], self.output_shape[1:]], 0), self.output_dtype)

    # ------------------------------------------------------------------ forward
    def forward(self, flat_tm, states, mask_tm, save_states):
        """The forward loop; returns (outputs_tm, final_states, saved_states_tm)."""
        if self.output_shape is None:
            self.output_shape, self.output_dtype = _output_spec(
                self.cell, flat_tm, states, self.structure, self.training)
        steps = tf.shape(flat_tm[0])[0]
        batch = tf.shape(flat_tm[0])[1]
        static_t = flat_tm[0].shape[0]
        inputs_ta = [_ta(x.dtype, static_t, x.shape[1:], steps).unstack(x) for x in flat_tm]
        mask_ta = None
        if mask_tm is not None:
            mask_ta = _ta(tf.bool, static_t, mask_tm.shape[1:], steps).unstack(mask_tm)
        out_size = static_t if self.return_sequences else 1
        out_ta = _ta(self.output_dtype, out_size, self.output_shape, steps if
                     self.return_sequences else 1)
        saved_ta = [_ta(s.dtype, static_t, s.shape, steps) for s in states] if save_states \
            else []
        prev_output = self.zero_output(batch)

        def body(t, out_ta, prev_output, states, saved_ta):
            p_t = [ta.read(t) for ta in inputs_ta]
            saved_ta = [ta.write(t, s) for ta, s in zip(saved_ta, states)]
            output, new_states = self.step(p_t, states)
            if mask_ta is not None:
                m = mask_ta.read(t)
                fill = tf.zeros_like(output) if self.zero_output_for_mask else prev_output
                output = tf.where(_expand(m, output), output, fill)
                new_states = [tf.where(_expand(m, n), n, s) for n, s in zip(new_states, states)]
            index = t if self.return_sequences else 0
            out_ta = out_ta.write(index, output)
            return t + 1, out_ta, output, list(new_states), saved_ta

        _, out_ta, _, states, saved_ta = tf.while_loop(
            lambda t, *_: t < steps, body,
            (tf.constant(0), out_ta, prev_output, list(states), saved_ta),
            maximum_iterations=steps, parallel_iterations=32)
        return out_ta.stack(), list(states), [ta.stack() for ta in saved_ta]

    # ------------------------------------------------------------------ backward
    def backward(self, flat_tm, saved_tm, mask_tm, d_outputs, d_states, variables, batched):
        """Reverse loop: gradients of the projected steps, initial states and variables.

        `batched=False`: each step takes the gradient of its `recur` call with respect to the
        projected step, the states and the variables. `batched=True` (cells whose `recur`
        treats every row of the batch independently): the loop only carries the state
        gradient back and records the gradient arriving at each step; then ONE call of
        `recur` on all steps at once (batch T*B) gives the gradients of the projected input
        and of the variables as large matmuls.
        """
        steps = tf.shape(flat_tm[0])[0]
        batch = tf.shape(flat_tm[0])[1]
        static_t = flat_tm[0].shape[0]
        inputs_ta = [_ta(x.dtype, static_t, x.shape[1:], steps).unstack(x) for x in flat_tm]
        saved_ta = [_ta(s.dtype, static_t, s.shape[1:], steps).unstack(s) for s in saved_tm]
        mask_ta = None
        if mask_tm is not None:
            mask_ta = _ta(tf.bool, static_t, mask_tm.shape[1:], steps).unstack(mask_tm)
        d_out_ta = None
        if self.return_sequences:
            d_out_ta = _ta(d_outputs.dtype, static_t, d_outputs.shape[1:], steps).unstack(
                d_outputs)
            d_carry = self.zero_output(batch)
        else:
            d_carry = d_outputs[0]
        if batched:
            # Per step: the gradient arriving at recur's output and at each new state.
            record = [_ta(self.output_dtype, static_t, self.output_shape, steps)]
            record += [_ta(s.dtype, static_t, s.shape[1:], steps) for s in saved_tm]
            loop_vars = []
        else:
            record = [_ta(x.dtype, static_t, x.shape[1:], steps) for x in flat_tm]
            loop_vars = list(variables)
        d_vars = [tf.zeros(v.shape, v.dtype) for v in loop_vars]

        def body(t, d_carry, d_states, d_vars, record):
            p_t = [ta.read(t) for ta in inputs_ta]
            s_prev = [ta.read(t) for ta in saved_ta]
            d_out = d_carry + d_out_ta.read(t) if d_out_ta is not None else d_carry
            if mask_ta is not None:
                m = mask_ta.read(t)
                m_out = _expand(m, d_out)
                d_raw_out = tf.where(m_out, d_out, tf.zeros_like(d_out))
                d_carry = (tf.zeros_like(d_out) if self.zero_output_for_mask
                           else tf.where(m_out, tf.zeros_like(d_out), d_out))
                d_raw_states = [tf.where(_expand(m, d), d, tf.zeros_like(d)) for d in d_states]
                d_pass = [tf.where(_expand(m, d), tf.zeros_like(d), d) for d in d_states]
            else:
                d_raw_out, d_raw_states, d_pass = d_out, list(d_states), None
                d_carry = tf.zeros_like(d_out)
            if batched or self.step_vjp is None:
                grads = self.step_gradients(p_t, s_prev, d_raw_out, d_raw_states, loop_vars,
                                            with_inputs=not batched)
            else:
                grads = self.step_vjp(p_t, s_prev, d_raw_out, d_raw_states, loop_vars)
            if batched:
                d_s = grads
                record = [ta.write(t, g) for ta, g in zip(record, [d_raw_out] + d_raw_states)]
            else:
                n_p, n_s = len(p_t), len(s_prev)
                d_s = grads[n_p:n_p + n_s]
                record = [ta.write(t, g) for ta, g in zip(record, grads[:n_p])]
                d_vars = [a + tf.convert_to_tensor(b) for a, b in zip(d_vars, grads[n_p + n_s:])]
            if d_pass is not None:
                d_s = [a + b for a, b in zip(d_s, d_pass)]
            return t - 1, d_carry, list(d_s), d_vars, record

        _, _, d_states, d_vars, record = tf.while_loop(
            lambda t, *_: t >= 0, body,
            (steps - 1, d_carry, list(d_states), d_vars, record),
            maximum_iterations=steps, parallel_iterations=32)
        # batched: `record` holds the gradients arriving at each step, for batched_gradients.
        return [ta.stack() for ta in record], list(d_states), d_vars

    def step_gradients(self, p_t, s_prev, d_out, d_states, variables, with_inputs):
        """Gradients of one recomputed `recur` call (a tape) with respect to the projected
        step (if `with_inputs`), the states and `variables`."""
        watched = p_t + s_prev if with_inputs else s_prev
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            tape.watch(variables)
            output, new_states = self.step(p_t, s_prev)
        return tape.gradient([output] + new_states, watched + list(variables),
                             output_gradients=[d_out] + list(d_states),
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def step_vjp(self, p_t, s_prev, d_out, d_states, variables):
        """The same gradients from the cell's analytic adjoint (`FusedSpec.step_vjp`)."""
        spec = self.spec
        projected_t = tf.nest.pack_sequence_as(self.structure, list(p_t))
        d_p, d_s, d_w = spec.step_vjp(projected_t, list(s_prev), d_out, list(d_states),
                                      self.training)
        by_ref = {_tf_variable(w).ref(): g for w, g in zip(spec.step_vjp_weights, d_w)}
        d_vars = [tf.cast(by_ref[v.ref()], v.dtype) if v.ref() in by_ref
                  else tf.zeros(v.shape, v.dtype) for v in variables]
        return tf.nest.flatten(d_p) + list(d_s) + d_vars

    def batched_gradients(self, inputs, saved_tm, d_raw, variables):
        """Gradients of the loop's inputs and of the variables from ONE recomputation of
        (`project` and) `recur` on all T*B rows, given the gradients `d_raw` arriving at each
        step's output and new states (recorded by the reverse loop)."""
        steps = tf.shape(saved_tm[0])[0]

        def merge(x):  # (T, B, ...) -> (T*B, ...)
            return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            tape.watch(list(variables))
            p_all = [merge(x) for x in self.head(inputs)]
            with _installed_dropout_masks(self.cell, _dropout_masks(self.cell), steps):
                output, new_states = self.step(p_all, [merge(s) for s in saved_tm])
        grads = tape.gradient(
            [output] + new_states, list(inputs) + list(variables),
            output_gradients=[merge(d) for d in d_raw],
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        n = len(inputs)
        return list(grads[:n]), [tf.convert_to_tensor(g) for g in grads[n:]]

    # ------------------------------------------------------------------ custom gradient
    def differentiate(self, inputs, initial_states, mask_tm, jit, batched):
        """The loop with its hand-written backward: the ONE custom-gradient driver.

        `inputs` are the loop's inputs (see the class docstring); returns
        `(outputs_tm, final_states)`, differentiable with respect to `inputs`, the initial
        states and every variable the forward reads.
        """

        def forward(inputs, states, mask_tm, save):
            flat_tm = self.head(inputs)
            outputs_tm, final_states, saved = self.forward(flat_tm, states, mask_tm, save)
            return outputs_tm, final_states, saved, flat_tm

        backward, batched_gradients = self.backward, self.batched_gradients
        if jit:
            # XLA fuses the tape's step gradient as well; the analytic adjoint measured no
            # faster there (docs/performance.md), so it serves the non-XLA loops.
            self.step_vjp = None
            forward, backward, batched_gradients = (
                tf.function(fn, jit_compile=True, autograph=False)
                for fn in (forward, backward, batched_gradients))
        n_in = len(inputs)
        # The dropout masks the forward used: the backward may run after the layer reset them.
        masks = _dropout_masks(self.cell)

        # An inference call saves no per-step states: it is rarely differentiated (e.g. a
        # model called with training=False inside a fine-tuning step), and then its backward
        # first recomputes them with a second forward.
        save = self.training is not False

        @tf.custom_gradient
        def fused(*args):
            inputs, states = list(args[:n_in]), list(args[n_in:])
            with pointwise_compilation():
                outputs_tm, final_states, saved, flat_tm = forward(inputs, states, mask_tm,
                                                                   save)

            def grad(d_outputs, *d_final, variables=None):
                variables = list(variables or [])
                d_outputs = _zeros_if_none(d_outputs, outputs_tm)
                d_final = [_zeros_if_none(d, s) for d, s in zip(d_final, final_states)]
                with _installed_dropout_masks(self.cell, masks):
                    with pointwise_compilation():
                        saved_tm = saved if save else forward(inputs, states, mask_tm, True)[2]
                        d_flat, d_init, d_vars = backward(flat_tm, saved_tm, mask_tm,
                                                          d_outputs, d_final, variables,
                                                          batched)
                    if batched:  # d_flat holds the gradients arriving at each step
                        d_flat, d_vars = batched_gradients(inputs, saved_tm, d_flat,
                                                           variables)
                return list(d_flat) + list(d_init), list(d_vars)

            return (outputs_tm, *final_states), grad

        result = fused(*inputs, *initial_states)
        return result[0], list(result[1:])


def _time_major(x):
    perm = [1, 0] + list(range(2, len(x.shape)))
    return tf.transpose(x, perm)


def _batch_major(x):
    return _time_major(x)


def _ta(dtype, static_size, element_shape, size):
    return tf.TensorArray(dtype, size=static_size if static_size is not None else size,
                          element_shape=element_shape, clear_after_read=False)


def _expand(mask_t, like):
    """(B,) bool mask broadcast to the rank of `like`."""
    return tf.reshape(mask_t, [-1] + [1] * (len(like.shape) - 1))


def _num_elements(shape):
    dims = list(shape)
    if any(d is None for d in dims):
        return None
    n = 1
    for d in dims:
        n *= d
    return n


def _zeros_if_none(grad, like):
    return tf.zeros_like(like) if grad is None else tf.convert_to_tensor(grad)


def _output_spec(cell, flat_tm, states, structure, training, batch=None):
    """(static output shape with batch first, output dtype) without running a step if known.

    With `flat_tm=None` (projection not computed yet) an unknown output size is returned as
    None and probed later."""
    dtype = tf.as_dtype(getattr(cell, "compute_dtype", None) or states[0].dtype)
    size = getattr(cell, "output_size", None)
    if flat_tm is not None:
        batch = flat_tm[0].shape[1]
    if isinstance(size, int):
        return tf.TensorShape([batch, size]), dtype
    if isinstance(size, (list, tuple)) and all(isinstance(d, int) for d in size):
        return tf.TensorShape([batch, *size]), dtype
    if flat_tm is None:
        return None, dtype
    # Unknown output size: trace one step in a scratch graph (no side effects run).
    spec = {}

    def probe():
        p_t = tf.nest.pack_sequence_as(structure, [tf.zeros_like(x[0]) for x in flat_tm])
        output, _ = cell.recur(p_t, [tf.zeros_like(s) for s in states], training=training)
        spec["shape"] = tf.convert_to_tensor(output).shape
        return output

    tf.function(probe, autograph=False).get_concrete_function()
    return tf.TensorShape([batch, *spec["shape"][1:]]), dtype


def _dropout_masks(cell):
    """The per-sequence masks the cell holds now (`RecurrentCell.get_dropout_masks`)."""
    return dict(cell.get_dropout_masks()) if isinstance(cell, RecurrentCell) else None


#: Masks of shape (batch, ...) that `_installed_dropout_masks` repeats for a T*B-row recur call.
_BATCH_MASKS = ("dropout", "recurrent_dropout")


def _can_tile_masks(masks):
    """Whether every mask the cell holds is batch-shaped (tiling others would be wrong)."""
    return not masks or all(v is None for k, v in masks.items() if k not in _BATCH_MASKS)


class _installed_dropout_masks:
    """Install `masks` on the cell for a recomputation, then put back what was there.

    The backward pass may run after the layer reset the masks of the forward pass; with
    `steps`, the batch-shaped masks are tiled T times (t-major) for one recur call on T*B
    rows.
    """

    def __init__(self, cell, masks, steps=None):
        self.cell, self.masks, self.steps = cell, masks, steps

    def __enter__(self):
        if self.masks is None:
            return
        self.before = _dropout_masks(self.cell)
        masks = dict(self.masks)
        if self.steps is not None:
            for key in _BATCH_MASKS:
                m = masks.get(key)
                if m is not None:
                    masks[key] = tf.tile(m, [self.steps] + [1] * (len(m.shape) - 1))
        self.cell.set_dropout_masks(masks)

    def __exit__(self, *exc):
        if self.masks is not None:
            self.cell.set_dropout_masks(self.before)
        return False
