"""A recurrent loop that converts to LiteRT builtin ops and to ONNX: used only while exporting.

The training and inference loops (`rnncells.kernels.loop`, Keras's own `backend.rnn`) keep
their per-step inputs and outputs in `TensorArray`s. TensorFlow stores those as TensorLists,
and the LiteRT converter lowers a TensorList to builtin ops only when its element shape is
fully static: with a dynamic batch (`keras.Input((T, F))` has batch None) the converted
model needs the Flex delegate (`'tf.TensorListReserve' op requires element_shape to be
static`), which the plain LiteRT interpreter does not have.

`run` is the same computation without TensorLists:

- the input sequence is projected once (`cell.project`, the whole sequence) and made
  time-major; step t is read with `tf.gather(projected, t)` (LiteRT GATHER, ONNX Gather);
- the outputs go into preallocated tensors written with `tf.tensor_scatter_nd_update`
  (ONNX ScatterND), in blocks of ceil(sqrt(T)) steps (see `run`: LiteRT copies loop-carried
  tensors at every iteration, so a single (T, B, ...) buffer made the loop O(T^2));
- the loops are `tf.while_loop`s (LiteRT WHILE, ONNX Loop), so T stays dynamic and the
  graph does not grow with T.

Cells that follow the rnncells protocol run as `cell.project` on the whole sequence, then
`cell.recur` per step (what FusedRNN's loop does). Other cells (Keras's LSTMCell, cells whose
projection reads a step counter from their state, e.g. per-step batch norm) are called as
Keras calls them, `cell(x_t, states, training=...)`, one step at a time. Masks, go_backwards
and zero_output_for_mask follow `keras.layers.RNN`.

It is written for converters, not for training (no hand-written gradient, no XLA), so the
layers select it only inside `exporting()`, which `rnncells.export` enters, and while Keras's
LiteRT or ONNX export traces the model (`model.export(path, format="litert")`; see
`is_exporting`).
"""

import contextlib
import threading

import tensorflow as tf

from rnncells._compat import export_tracing_format
from rnncells.cells.base import fused_spec_of
from rnncells.kernels import inputs as kernel_inputs

_state = threading.local()


@contextlib.contextmanager
def exporting(format=None):
    """Within this context rnncells' sequence layers trace the export loop (`run`).

    Args:
        format: the target ("litert", "onnx", ...), or None; "litert" writes the outputs in
            blocks (see `run`).
    """
    previous = getattr(_state, "active", None)
    _state.active = (format,)
    try:
        yield
    finally:
        _state.active = previous


def is_exporting():
    """Whether the layers should trace the export loop now.

    True inside `exporting()` (what `rnncells.export` enters), and while Keras's own
    `model.export(path, format="litert" or "onnx")` (or TensorFlow's
    `TFLiteConverter.from_keras_model`) traces the model: LiteRT runs the TensorList loops
    only with the Flex delegate when the batch is dynamic, and tf2onnx does not convert every
    cell's fused loop. Other traces (training, `predict`, SavedModel exports, a user's
    `tf.function`) keep their loops.
    """
    return getattr(_state, "active", None) is not None or export_tracing_format() is not None


def export_format():
    """The `format` given to the innermost `exporting()`; outside it, that of the converter
    tracing the model (`export_tracing_format`); None otherwise or when not given."""
    active = getattr(_state, "active", None)
    if active:
        return active[0]
    return export_tracing_format()


def _follows_protocol(cell):
    """project/recur split usable on a whole sequence (no per-step counter in `project`)."""
    if fused_spec_of(cell).project_start_step:
        return False
    return callable(getattr(cell, "project", None)) and callable(getattr(cell, "recur", None))


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _output_shape(cell):
    """The static shape of one step's output without the batch axis."""
    size = getattr(cell, "output_size", None)
    if isinstance(size, int):
        return [size]
    if isinstance(size, (list, tuple)) and all(isinstance(d, int) for d in size):
        return list(size)
    raise ValueError(
        f"The export loop needs the output size of {type(cell).__name__} (its `output_size` "
        f"must be an int or a tuple of ints once built); received output_size={size!r}.")


def _time_major(x):
    return tf.transpose(x, [1, 0] + list(range(2, len(x.shape))))


def _expand(mask_t, like):
    """(B,) bool mask broadcast to the rank of `like`."""
    return tf.reshape(mask_t, [-1] + [1] * (len(like.shape) - 1))


def run(cell, sequences, initial_states, mask=None, training=False, return_sequences=True,
        zero_output_for_mask=False, blocked=None):
    """Run `cell` over `sequences`; return `(last_output, outputs, final_states)`.

    The contract of `rnncells.kernels.loop.run_sequence` and of Keras's `backend.rnn`:

    Args:
        cell: an rnncells cell (project/recur) or any Keras RNN cell (called per step).
        sequences: `(B, T, *step_shape)`, in processing order (`run_layer` reverses it for
            `go_backwards`); outputs come back in that order.
        initial_states: list of state tensors `(B, ...)`, in the cell's state order.
        mask: optional boolean `(B, T)`, in processing order: False marks a step that keeps
            the previous states.
        training: passed to the cell.
        return_sequences: if False, `outputs` is `(B, 1, ...)` holding the last output.
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
        blocked: write the outputs in blocks of ceil(sqrt(T)) steps, a loop in a loop (LiteRT
            copies loop-carried tensors at every iteration: one (T, B, ...) buffer costs
            O(T) per step, blocks O(sqrt(T)); onnxruntime's ScatterND copies its input the
            same way). Default: when exporting to LiteRT, and to ONNX for cells with flat
            outputs (tf2onnx loses the rank of convolutions in a nested Loop).

    Returns:
        `(last_output (B, ...), outputs (B, T or 1, ...), final_states list)`.
    """
    sequences = tf.convert_to_tensor(sequences)
    states = [tf.convert_to_tensor(s) for s in _as_list(initial_states)]
    if _follows_protocol(cell):
        projected = cell.project(sequences, training=training)
        structure = projected

        def step(inputs_t, states):
            return cell.recur(tf.nest.pack_sequence_as(structure, inputs_t), states,
                              training=training)
    else:
        projected = sequences

        def step(inputs_t, states):
            output, new_states = cell(inputs_t[0], states, training=training)
            return output, new_states

    flat_tm = [_time_major(tf.convert_to_tensor(x)) for x in tf.nest.flatten(projected)]
    mask_tm = None if mask is None else _time_major(tf.cast(mask, tf.bool))
    steps = tf.shape(flat_tm[0])[0]
    batch = tf.shape(flat_tm[0])[1]
    dtype = tf.as_dtype(getattr(cell, "compute_dtype", None) or states[0].dtype)
    out_shape = _output_shape(cell)
    prev_output = tf.zeros(tf.concat([[batch], out_shape], 0), dtype)

    def advance(t, prev_output, states):
        """One step at time t: (output, new states), masked as keras.layers.RNN does."""
        output, new_states = step([tf.gather(x, t) for x in flat_tm], states)
        output = tf.cast(output, dtype)
        new_states = [tf.cast(n, s.dtype) for n, s in zip(_as_list(new_states), states)]
        if mask_tm is not None:
            m = tf.gather(mask_tm, t)
            fill = tf.zeros_like(output) if zero_output_for_mask else prev_output
            output = tf.where(_expand(m, output), output, fill)
            new_states = [tf.where(_expand(m, n), n, s) for n, s in zip(new_states, states)]
        # Static shapes as on entry: a cell may lose them (e.g. convolutions of unknown size).
        new_states = [tf.ensure_shape(n, s.shape) for n, s in zip(new_states, states)]
        return tf.ensure_shape(output, prev_output.shape), new_states

    if blocked is None:  # ONNX: tf2onnx loses the rank of convolutions in a nested Loop
        fmt = export_format()
        blocked = fmt == "litert" or (fmt == "onnx" and len(out_shape) == 1)
    if not return_sequences:
        # Only the last output: no output buffer in the loop.
        def last_body(t, prev_output, states):
            output, states = advance(t, prev_output, states)
            return t + 1, output, states

        # No `maximum_iterations`: tf2onnx passed its int64 cast of `steps` (the ONNX trip
        # count) where the body reads the int32 `steps` of the condition, a Loop onnxruntime
        # refuses ("Tensor element type mismatch. 7 != 6"); the condition bounds the loop.
        _, last_output, states = tf.while_loop(
            lambda t, *_: t < steps, last_body, (tf.constant(0), prev_output, states))
        return last_output, _time_major(last_output[None]), list(states)
    if not blocked:
        outputs = tf.zeros(tf.concat([[steps, batch], out_shape], 0), dtype)

        def body(t, prev_output, states, outputs):
            output, states = advance(t, prev_output, states)
            outputs = tf.tensor_scatter_nd_update(outputs, tf.reshape(t, [1, 1]), output[None])
            return t + 1, output, states, outputs

        _, last_output, states, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), prev_output, states, outputs),
            maximum_iterations=steps)
        return last_output, _time_major(outputs), list(states)

    # The outputs are written in blocks of K = ceil(sqrt(T)) steps: LiteRT's WHILE copies a
    # loop-carried tensor at every iteration, so one (T, B, ...) buffer would cost O(T) per
    # step (O(T^2) in all); a (K, B, ...) block per step and the (T, B, ...) buffer once per
    # block cost O(sqrt(T)) per step.
    block = tf.maximum(tf.cast(tf.math.ceil(tf.sqrt(tf.cast(steps, tf.float32))), tf.int32), 1)
    blocks = (steps + block - 1) // block
    block_zeros = tf.zeros(tf.concat([[block, batch], out_shape], 0), dtype)
    outputs = tf.zeros(tf.concat([[blocks, block, batch], out_shape], 0), dtype)

    def inner(i, t, prev_output, states, block_out):
        output, states = advance(t, prev_output, states)
        block_out = tf.tensor_scatter_nd_update(block_out, tf.reshape(i, [1, 1]), output[None])
        return i + 1, t + 1, output, states, block_out

    def outer(b, t, prev_output, states, outputs):
        _, t, prev_output, states, block_out = tf.while_loop(
            lambda i, t, *_: tf.logical_and(i < block, t < steps), inner,
            (tf.constant(0), t, prev_output, states, block_zeros), maximum_iterations=block)
        outputs = tf.tensor_scatter_nd_update(outputs, tf.reshape(b, [1, 1]), block_out[None])
        return b + 1, t, prev_output, states, outputs

    _, _, last_output, states, outputs = tf.while_loop(
        lambda b, *_: b < blocks, outer,
        (tf.constant(0), tf.constant(0), prev_output, states, outputs),
        maximum_iterations=blocks)
    outputs = tf.reshape(outputs, tf.concat([[blocks * block, batch], out_shape], 0))[:steps]
    return last_output, _time_major(outputs), list(states)


def run_layer(layer, sequences, initial_state, mask, training):
    """`run` with the settings of a `keras.layers.RNN`-like layer (`inner_loop`'s contract)."""
    sequences, mask = kernel_inputs.prepare(layer.cell, sequences, mask, layer.go_backwards)
    return run(layer.cell, sequences, initial_state, mask=mask, training=training,
               return_sequences=layer.return_sequences,
               zero_output_for_mask=layer.zero_output_for_mask)
