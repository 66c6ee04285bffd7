"""Compiled loops that drive a cell's `recur` over a projected sequence.

`run_loop(cell, projected, initial_states, ...)` is a stateless kernel: `projected` is what
`cell.project` returned for the whole sequence (batch-major, time on axis 1; a tensor or a
nest of tensors), and the loop calls `cell.recur` once per step in a `tf.while_loop` over
fixed-size `TensorArray`s. Inputs are read with `TensorArray.unstack`/`read`, never by
indexing a full tensor inside the loop (the gradient of such an index is a full-size tensor
per step: O(T^2) time and memory).

The backward pass is written by hand (`tf.custom_gradient`): the forward loop keeps only the
states entering each step; the backward loop runs in reverse over the recurrent part only,
and at each step takes the gradient of ONE call of `cell.recur` (recomputed from the saved
states) with `tf.GradientTape`, so a cell's math is never re-derived here. It writes the
gradient of each step's projected input into a `TensorArray` and sums the gradients of the
variables `recur` reads (recurrent kernel, norms, ...). The gradients of the variables of
`cell.project` (the input kernel) then come from one backpropagation through `project` over
the whole sequence, outside this kernel: one large matmul instead of T small ones
(`backward="per_step"`, the default). `backward="batched"` instead recomputes all steps as
one T*B-row batch after the loop, and `run_sequence` (FusedRNN's entry point) then also
takes `project` into the kernel; see `backward_mode`.

Semantics follow `keras.layers.RNN` exactly:
- mask `(B, T)`: a masked step keeps the previous states; its output repeats the previous
  output (zeros before the first unmasked step), or is zero with `zero_output_for_mask`.
- `go_backwards`: the sequence (and mask) is processed in reversed time and the outputs are
  returned in processing order, i.e. reversed, as Keras returns them.
- `last_output` is the output written at the last processed step (after masking).

XLA: `jit=True` compiles the forward and the backward loop with XLA, `False` does not, and
`"auto"` asks `prefers_xla` (a per-device, per-shape choice: on CPU, XLA removes the
per-op overhead that dominates small steps, but it runs single-threaded and its matmuls
are slower than oneDNN's once the step has real work). XLA applies to traced calls only.

Per-op overhead: a cell may wrap the pointwise part of its step (after `h @ U`) in
`CompiledPointwise`, one XLA call per step inside the non-XLA loops, forward and backward,
with the matmuls left to oneDNN; the loops here ask for it (`pointwise_compilation`).

Measured and not adopted, and what bounds the loop (2-core CPU, TF 2.21, LayerNormLSTMCell,
B=32, T=100, I=H=128, in-process medians; the gaps between identical paths were up to ~10%
on that shared machine):
- The pointwise call capturing the norm variables instead of taking them as tensors:
  inference 1.15x slower than plain.
- Whole-recur per-step XLA calls (matmul included): ~1.17x slower (XLA's matmul).
- `TF_XLA_FLAGS="--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"`: every path slower
  (1.5-2.4x against runs without it, keras.layers.LSTM included).
- The layer norm of `project` as one XLA call over the sequence: inference ~0.9x, training
  ~1.2x (XLA runs the large element-wise work single-threaded).
- What bounds the loop is op count (~2 us per small op): computing ops per step in the
  training graph, forward + backward, are ~43 + ~117 here, ~85 + ~152 for
  `keras.layers.RNN(cell)` and ~31 + ~36 for `keras.layers.LSTM`. RNN(cell)'s extra ops
  (per-step `x @ W` and its norm) do not depend on the state and run on the second core
  alongside the recurrent chain, so hoisting `project` out of the loop gains little here.
"""

import tensorflow as tf

from rnncells._pointwise import pointwise_compilation

#: On CPU, XLA is used ("auto") when batch * state width is at most this many elements.
CPU_XLA_MAX_STEP_ELEMENTS = 1024


def prefers_xla(batch_size, state_width, device_type=None):
    """Whether `jit="auto"` compiles the loops with XLA for this step shape and device.

    XLA fuses the pointwise ops of a step, which removes the per-op overhead that bounds
    small recurrent steps, but XLA on CPU runs single-threaded and its matmuls are slower
    than oneDNN's. Measured on a 2-core x86 CPU (TF 2.21, LayerNormLSTMCell training step,
    CPU-time medians): batch 1 x 32 units (64 state elements): XLA ~7x faster than without;
    batch 32 x 128 units (8192): no gain (2% slower, inference too). The threshold,
    `CPU_XLA_MAX_STEP_ELEMENTS`, sits between the two. GPUs: always XLA (it fuses a step's
    pointwise kernels, which is what a recurrent step on a GPU is bound by; not measured
    here).

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


BACKWARD_MODES = ("per_step", "batched", "autodiff")


def backward_mode(cell):
    """The backward `run_loop` / `run_sequence` use for `cell` by default.

    A cell may say it with a `fused_backward` attribute ("per_step", "batched" or
    "autodiff"). Otherwise: "autodiff" for a cell with non-trainable weights (running
    statistics: its `recur` may update them, and a recomputing backward would update them
    again), else "per_step".

    - "per_step" (default): the reverse loop takes, at each step, the gradient of one
      recomputed `recur` call with respect to the projected step, the states and the
      variables `recur` reads; the gradients of `project`'s weights then come from one
      backpropagation through `project` on the whole sequence (TensorFlow's, outside the
      kernel).
    - "batched": the reverse loop only carries the state gradient; `recur` (and, in
      `run_sequence`, `project`) is then recomputed once on all T*B rows and backpropagated
      in one go, so every weight gradient is one large matmul. It needs rows that are
      independent in `recur` and batch-shaped masks only ("dropout", "recurrent_dropout";
      otherwise, e.g. DropConnect, "per_step" runs), and it recomputes `project`. Measured on
      a 2-core CPU (LayerNormLSTMCell training step): as fast as "per_step" at batch 32 x
      128 units, ~1.4x slower at batch 1 x 32 units; offered for shapes where per-step weight
      gradients are the bottleneck.
    - "autodiff": TensorFlow differentiates the while loop (no recomputation; slower:
      ~1.3x at batch 32 x 128, ~16x at batch 1 x 32 on that CPU).

    Both recomputing backwards re-install the dropout masks of the forward pass
    (`get_dropout_masks`/`set_dropout_masks`); a cell whose `project` draws other random
    numbers must not use "batched", one whose `recur` does must ask for "autodiff".
    """
    mode = getattr(cell, "fused_backward", None)
    if mode is not None:
        return _check_backward(mode)
    if getattr(cell, "non_trainable_weights", None):
        return "autodiff"
    return "per_step"


def _check_backward(mode):
    if mode not in BACKWARD_MODES:
        raise ValueError(f"`backward` must be one of {BACKWARD_MODES} or 'auto'; received "
                         f"backward={mode!r}.")
    return mode


def run_loop(cell, projected, initial_states, mask=None, go_backwards=False, training=False,
             return_sequences=True, zero_output_for_mask=False, jit="auto", backward="auto"):
    """Run `cell.recur` over a projected sequence; return `(last_output, outputs, states)`.

    Args:
        cell: an object with `recur(projected_t, states, training) -> (output, new_states)`
            (an rnncells cell). Its output dtype is `cell.compute_dtype`.
        projected: `cell.project(sequence)`: a tensor (or nest) of shape `(B, T, ...)`.
        initial_states: list of state tensors `(B, ...)`, in the cell's state order.
        mask: optional boolean `(B, T)`: False marks a step to skip (Keras semantics).
        go_backwards: process reversed time; outputs come back in processing order.
        training: passed to `cell.recur` (dropout, batch statistics).
        return_sequences: if False, `outputs` is `(B, 1, ...)` holding the last output only
            (as `keras.layers.RNN`'s inner loop).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
        jit: True, False or "auto" (see `prefers_xla`). XLA needs a static T and applies
            to traced code only (eager calls run without it).
        backward: how gradients are computed: "batched", "per_step", "autodiff" or "auto"
            (default: `backward_mode(cell)`). "batched" and "per_step" are the hand-written
            O(T) backward (see the module docstring); "autodiff" lets TensorFlow
            differentiate the while loop.

    Returns:
        `(last_output (B, ...), outputs (B, T or 1, ...), final_states list)`.
    """
    flat_projected = [tf.convert_to_tensor(x) for x in tf.nest.flatten(projected)]
    structure = projected
    initial_states = [tf.convert_to_tensor(s) for s in initial_states]
    # Time-major, reversed for go_backwards, as keras.backend.rnn does.
    flat_tm = [_time_major(x) for x in flat_projected]
    if go_backwards:
        flat_tm = [tf.reverse(x, [0]) for x in flat_tm]
    mask_tm = None
    if mask is not None:
        mask_tm = tf.transpose(tf.cast(mask, tf.bool), [1, 0])
        if go_backwards:
            mask_tm = tf.reverse(mask_tm, [0])

    jit = _resolve_jit(jit, flat_tm[0].shape[0], flat_tm[0].shape[1], initial_states,
                       flat_projected[0].shape)

    loop = _Loop(cell, structure, training, return_sequences, zero_output_for_mask,
                 num_states=len(initial_states), output_spec=_output_spec(
                     cell, flat_tm, initial_states, structure, training))
    if backward == "auto":
        backward = backward_mode(cell)
    backward = _check_backward(backward)
    if backward != "autodiff":
        outputs_tm, final_states = loop.run_custom_gradient(
            flat_tm, initial_states, mask_tm, bool(jit), backward == "batched")
    else:
        # No XLA function here: TensorFlow cannot differentiate an XLA call holding a while
        # loop (its TensorLists cannot cross the XLA boundary).
        outputs_tm, final_states, _ = loop.forward(flat_tm, initial_states, mask_tm, False)
    outputs = _batch_major(outputs_tm)
    last_output = outputs_tm[-1]
    return last_output, outputs, list(final_states)


def run_sequence(cell, sequences, initial_states, mask=None, go_backwards=False,
                 training=False, return_sequences=True, zero_output_for_mask=False, jit="auto",
                 backward="auto"):
    """`cell.project` on the whole sequence, then `run_loop`: what FusedRNN's loop path runs.

    Same arguments and result as `run_loop`, with the raw `sequences` `(B, T, ...)` instead
    of the projected ones. With the "batched" backward, `project` joins the kernel: the
    forward runs it (in the same XLA computation as the loop when `jit`), and the backward
    recomputes `project` and `recur` on all T*B rows at once and backpropagates through both
    in one go, so the gradients of every weight (input kernel, norms, recurrent kernel) and
    of the input come from large batched ops. Other backwards call `project` once, outside.
    `go_backwards` reverses the sequence BEFORE `project` (position t of the projected
    sequence is processing step t, which cells with per-step statistics rely on).
    """
    sequences = tf.convert_to_tensor(sequences)
    if go_backwards:
        sequences = tf.reverse(sequences, [1])
        if mask is not None:
            mask = tf.reverse(mask, [1])
    mode = backward_mode(cell) if backward == "auto" else _check_backward(backward)
    if mode != "batched" or not _can_tile_masks(_dropout_masks(cell)):
        if getattr(cell, "project_reads_step_state", False):
            # Per-step statistics: the sequence starts at the step counter carried in the
            # last state (a stateful continuation does not start at 0). Rows share one
            # counter unless earlier masked calls held some back; row 0's is used.
            start = tf.cast(tf.reshape(initial_states[-1], [-1])[0], tf.int32)
            projected = cell.project(sequences, training=training, start_step=start)
        else:
            projected = cell.project(sequences, training=training)
        return run_loop(cell, projected, initial_states, mask=mask, training=training,
                        return_sequences=return_sequences,
                        zero_output_for_mask=zero_output_for_mask, jit=jit, backward=mode)
    initial_states = [tf.convert_to_tensor(s) for s in initial_states]
    mask_tm = None if mask is None else tf.transpose(tf.cast(mask, tf.bool), [1, 0])
    jit = _resolve_jit(jit, sequences.shape[1], sequences.shape[0], initial_states,
                       sequences.shape)
    output_spec = _output_spec(cell, None, initial_states, None, training,
                               batch=sequences.shape[0])
    loop = _Loop(cell, None, training, return_sequences, zero_output_for_mask,
                 num_states=len(initial_states), output_spec=output_spec)
    outputs_tm, final_states = loop.run_custom_gradient_with_project(
        sequences, initial_states, mask_tm, jit)
    return outputs_tm[-1], _batch_major(outputs_tm), list(final_states)


def _resolve_jit(jit, timesteps, batch_size, initial_states, shape):
    if tf.executing_eagerly():
        # XLA applies to traced code (tf.function, Keras fit/predict); an eager call would
        # compile afresh every time, and a tape around it cannot differentiate an XLA call
        # holding a while loop.
        return False
    if jit == "auto":
        state_width = sum(_num_elements(s.shape[1:]) or 0 for s in initial_states) or None
        return bool(timesteps is not None and prefers_xla(batch_size, state_width))
    if jit and timesteps is None:
        raise ValueError(
            "run_loop(jit=True) needs a static number of timesteps (axis 1 of the sequence); "
            f"received a sequence of shape {tuple(shape)}. Pass jit=False or 'auto'.")
    return bool(jit)


class _Loop:
    """The forward and backward loops of one `run_loop` call (closures over the cell)."""

    def __init__(self, cell, structure, training, return_sequences, zero_output_for_mask,
                 num_states, output_spec):
        self.cell = cell
        self.structure = structure
        self.training = training
        self.return_sequences = return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.num_states = num_states
        self.output_shape, self.output_dtype = output_spec

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
            sources = s_prev if batched else p_t + s_prev + loop_vars
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(s_prev if batched else p_t + s_prev)
                if not batched:
                    tape.watch(loop_vars)
                output, new_states = self.step(p_t, s_prev)
            grads = tape.gradient(
                [output] + new_states, sources,
                output_gradients=[d_raw_out] + d_raw_states,
                unconnected_gradients=tf.UnconnectedGradients.ZERO)
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

    def batched_gradients(self, flat_tm, saved_tm, d_raw, variables):
        """Gradients of the projected input and the variables from one (T*B)-row recur call."""
        steps, batch = tf.shape(flat_tm[0])[0], tf.shape(flat_tm[0])[1]

        def merge(x):  # (T, B, ...) -> (T*B, ...)
            return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))

        p_all = [merge(x) for x in flat_tm]
        s_all = [merge(s) for s in saved_tm]
        with _installed_dropout_masks(self.cell, _dropout_masks(self.cell), steps):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(p_all)
                tape.watch(list(variables))
                output, new_states = self.step(p_all, s_all)
            grads = tape.gradient(
                [output] + new_states, p_all + list(variables),
                output_gradients=[merge(d) for d in d_raw],
                unconnected_gradients=tf.UnconnectedGradients.ZERO)
        d_flat = [tf.reshape(g, tf.concat([[steps, batch], tf.shape(g)[1:]], 0))
                  for g in grads[:len(p_all)]]
        return d_flat, [tf.convert_to_tensor(g) for g in grads[len(p_all):]]

    # ------------------------------------------------------------------ custom gradient
    def run_custom_gradient(self, flat_tm, initial_states, mask_tm, jit, batched):
        forward, backward, batched_gradients = (self.forward, self.backward,
                                                self.batched_gradients)
        if jit:
            forward = tf.function(forward, jit_compile=True, autograph=False)
            backward = tf.function(backward, jit_compile=True, autograph=False)
            batched_gradients = tf.function(batched_gradients, jit_compile=True,
                                            autograph=False)
        n_p = len(flat_tm)
        # The dropout masks the forward used: the backward may run after the layer reset them.
        masks = _dropout_masks(self.cell)
        batched = batched and _can_tile_masks(masks)

        @tf.custom_gradient
        def fused(*args):
            flat, states = list(args[:n_p]), list(args[n_p:])
            with pointwise_compilation():
                outputs_tm, final_states, saved = forward(flat, states, mask_tm, True)

            def grad(d_outputs, *d_final, variables=None):
                variables = list(variables or [])
                d_outputs = _zeros_if_none(d_outputs, outputs_tm)
                d_final = [_zeros_if_none(d, s) for d, s in zip(d_final, final_states)]
                with _installed_dropout_masks(self.cell, masks):
                    with pointwise_compilation():
                        d_flat, d_init, d_vars = backward(flat, saved, mask_tm, d_outputs,
                                                          d_final, variables, batched)
                    if batched:  # d_flat holds the per-step gradients of recur's results.
                        d_flat, d_vars = batched_gradients(flat, saved, d_flat, variables)
                return list(d_flat) + list(d_init), list(d_vars)

            return (outputs_tm, *final_states), grad

        result = fused(*flat_tm, *initial_states)
        return result[0], list(result[1:])


    # ------------------------------------------------------------------ project inside
    def project_tm(self, sequences):
        """cell.project on the whole (processing-order) sequence, flattened and time-major."""
        projected = self.cell.project(sequences, training=self.training)
        self.structure = projected
        return [_time_major(tf.convert_to_tensor(x)) for x in tf.nest.flatten(projected)]

    def forward_with_project(self, sequences, states, mask_tm):
        flat_tm = self.project_tm(sequences)
        outputs_tm, final_states, saved = self.forward(flat_tm, states, mask_tm, True)
        return outputs_tm, final_states, saved, flat_tm

    def sequence_gradients(self, sequences, saved_tm, d_raw, variables):
        """Gradients of the sequence and the variables: project and recur recomputed on all
        T*B rows at once, one backpropagation through both."""
        steps = tf.shape(sequences)[1]

        def merge(x):  # (T, B, ...) -> (T*B, ...)
            return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(sequences)
            tape.watch(list(variables))
            p_all = [merge(x) for x in self.project_tm(sequences)]
            with _installed_dropout_masks(self.cell, _dropout_masks(self.cell), steps):
                output, new_states = self.step(p_all, [merge(s) for s in saved_tm])
        grads = tape.gradient(
            [output] + new_states, [sequences] + list(variables),
            output_gradients=[merge(d) for d in d_raw],
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads[0], [tf.convert_to_tensor(g) for g in grads[1:]]

    def run_custom_gradient_with_project(self, sequences, initial_states, mask_tm, jit):
        forward, backward, sequence_gradients = (self.forward_with_project, self.backward,
                                                 self.sequence_gradients)
        if jit:
            forward = tf.function(forward, jit_compile=True, autograph=False)
            backward = tf.function(backward, jit_compile=True, autograph=False)
            sequence_gradients = tf.function(sequence_gradients, jit_compile=True,
                                             autograph=False)
        masks = _dropout_masks(self.cell)

        @tf.custom_gradient
        def fused(sequences, *states):
            with pointwise_compilation():
                outputs_tm, final_states, saved, flat_tm = forward(sequences, list(states),
                                                                   mask_tm)

            def grad(d_outputs, *d_final, variables=None):
                variables = list(variables or [])
                d_outputs = _zeros_if_none(d_outputs, outputs_tm)
                d_final = [_zeros_if_none(d, s) for d, s in zip(d_final, final_states)]
                with _installed_dropout_masks(self.cell, masks):
                    with pointwise_compilation():
                        d_raw, d_init, _ = backward(flat_tm, saved, mask_tm, d_outputs,
                                                    d_final, variables, True)
                    d_sequences, d_vars = sequence_gradients(sequences, saved, d_raw,
                                                             variables)
                return [d_sequences] + list(d_init), list(d_vars)

            return (outputs_tm, *final_states), grad

        result = fused(sequences, *initial_states)
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
    get = getattr(cell, "get_dropout_masks", None)
    return dict(get()) if get is not None else None


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
