"""FusedRNN: `keras.layers.RNN` with a fast path for rnncells cells.

The layer is a drop-in for `keras.layers.RNN` (it subclasses it and replaces only the inner
loop, so arguments, outputs, masks, initial_state, stateful/reset_state, Bidirectional,
get_config and `.keras` files behave as Keras's own; `initial_state` is also checked against
the cell's `state_size`, see `FusedRNN.check_initial_state`). Its fused path, fixed per layer
(`fused_path`):

- "loop": an rnncells cell (the `project`/`recur` protocol). `cell.project` runs once on the
  whole sequence (one batched matmul, norm, ...), then `cell.recur` runs in a compiled while
  loop with a hand-written O(T) backward (`rnncells.kernels.loop.run_sequence`).
- "scan": a cell whose recurrence is linear in the state (`FusedSpec.scan`,
  `h_t = a_t * h_{t-1} + b_t`, output h): `rnncells.kernels.scan.linear_scan`, a parallel
  associative scan. Masked steps get a = 1, b = 0 (the state is kept).
- "keras": `keras.layers.LSTMCell` / `GRUCell`: Keras's own `keras.layers.LSTM` / `GRU`
  inner loop (cuDNN on a GPU), on the same cell and so the same weights.
- "per_step": anything else (or `use_fused=False`, or `unroll=True`): exactly
  `keras.layers.RNN`'s loop, one `cell(...)` call per step.

Each call then runs a plan (`FusedRNN.plan`, resolved once per call): with
`use_fused="auto"` the route measured fastest for this cell, mode and shape
(`rnncells.layers.routes`; it may be `keras.layers.RNN`'s own per-step loop), with
`use_fused=True` always the fused path. Cells with running statistics (batch norm,
`FusedSpec.running_statistics`) always run on `rnncells.kernels.statistics`: `project` once,
each step's batch statistics recorded in the loop (padded entries of a masked sequence left
out, using the mask this layer receives) and the moving statistics updated once after it.
A masked sequence runs per step for other cells whose spec says so (`FusedSpec.fuse_masks`).

Backends: on TensorFlow the kernels are `rnncells.kernels.loop`, `scan` and `statistics`
(while loops with hand-written backwards, XLA where it was measured faster). On JAX and
PyTorch the same routes run `rnncells.kernels.ops_loop`: `project` once, then `jax.lax.scan`
over `recur` (compiled with Keras's jit-compiled train step on JAX) or a Python loop
(PyTorch), differentiated by the backend; `jit` and `backward` are TensorFlow options and
are ignored there.

The fused paths never re-derive a cell's equations: they only call `project`, `recur` and
`scan_coefficients`, so weights move between `FusedRNN(cell)` and `keras.layers.RNN(cell)`
unchanged (same names, shapes and order).
"""

import dataclasses
import functools

import keras

from rnncells import _backend
from rnncells._shapes import rnn_output_shape, state_shapes
from rnncells._validation import cell_instance
from rnncells.cells.base import BACKWARDS, RecurrentCell, fused_spec_of
from rnncells.kernels import inputs as kernel_inputs
from rnncells.kernels import ops_loop
from rnncells.layers import routes
from rnncells.layers.initial_state import CheckedInitialState

USE_FUSED = ("auto", True, False)


def why_not_fused(cell):
    """None when `FusedRNN` can run `cell` on a fused path; otherwise a sentence saying why."""
    if isinstance(cell, (keras.layers.LSTMCell, keras.layers.GRUCell)):
        return None
    if isinstance(cell, (list, tuple)) or isinstance(cell, keras.layers.StackedRNNCells):
        return ("a stack of cells has no single project/recur split; use one FusedRNN layer "
                "per cell")
    if not isinstance(cell, RecurrentCell):
        return (f"{type(cell).__name__} is not an rnncells RecurrentCell: it has no "
                "project/recur split (the fused paths need `project` on the whole sequence "
                "and `recur` per step)")
    for method in ("project", "recur"):
        if getattr(type(cell), method, None) is getattr(RecurrentCell, method):
            return f"{type(cell).__name__} does not implement `{method}`"
    return None


def can_fuse(cell):
    """Whether `FusedRNN(cell)` runs a fused path (see `why_not_fused` for the reason)."""
    return why_not_fused(cell) is None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one call of a FusedRNN layer runs: `route` ("per_step", "keras", "scan",
    "statistics" (cells with running statistics) or "loop"), and for "loop" the XLA choice
    and the backward ("auto" resolved by the kernel,
    `rnncells.kernels.loop.resolve_options`)."""

    route: str
    jit: object = "auto"
    backward: str = "auto"


@keras.saving.register_keras_serializable(package="rnncells")
class FusedRNN(CheckedInitialState, keras.layers.RNN):
    """`keras.layers.RNN` that runs rnncells cells as one projection + a compiled loop.

    Same arguments, outputs and behaviour as `keras.layers.RNN` (masks, `initial_state`,
    `stateful` with `reset_state()`, `go_backwards`, `zero_output_for_mask`, Bidirectional,
    serialization), and the same weights: `FusedRNN(cell).get_weights()` loads into
    `keras.layers.RNN(cell)` and back. See the module docstring for the paths.

    Args:
        cell: an rnncells cell (fused), `keras.layers.LSTMCell`/`GRUCell` (Keras's
            LSTM/GRU loop, cuDNN on GPU), or any Keras RNN cell (per-step loop).
        return_sequences: return the whole output sequence (default False: the last output).
        return_state: also return the final states (default False).
        go_backwards: process the sequence backwards and return the reversed sequence
            (default False).
        stateful: keep the final states as the next batch's initial states (default False).
        unroll: unroll the per-step loop (default False; forces the per-step path).
        zero_output_for_mask: masked steps output zeros instead of repeating the previous
            output (default False; Bidirectional sets it when returning sequences).
        use_fused: "auto" (default: fused when `can_fuse(cell)`, else per-step), True (raise
            a ValueError saying why when the fused path cannot run) or False (per-step).
        jit: XLA for the loop: "auto" (default: the measured route, else
            `rnncells.kernels.loop.prefers_xla`), True or False.
        backward: the loop's backward: "auto" (default: the measured route, else the cell's
            `fused_spec()`), "per_step", "batched" or "autodiff".
        torch_compile: on the PyTorch backend, compile the step of the fused loop with
            `torch.compile` (default False; needs a C++ compiler; the first call compiles,
            several seconds). Measured on a 2-core CPU: a LayerNormLSTMCell training step
            0.77x the time of the uncompiled loop (docs/performance.md). No effect on
            TensorFlow and JAX, whose loops are compiled anyway, so a saved layer loads
            on every backend.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        sequences: (batch, timesteps, *features).
        initial_state: list of state tensors (batch, *state_size), optional (a bare tensor
            for a one-state cell); a wrong count or a known dim that differs from the
            cell's `state_size` raises a ValueError naming `initial_state`.
        mask: boolean (batch, timesteps), optional (or from Keras masking).
        training: bool, for dropout / normalization.

    Examples:
        >>> layer = rnncells.FusedRNN(rnncells.LayerNormLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
        >>> layer.fused_path
        'loop'
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, use_fused="auto",
                 jit="auto", backward="auto", torch_compile=False, **kwargs):
        cell_instance("cell", cell)
        for name, value in (("use_fused", use_fused), ("jit", jit)):
            if not (isinstance(value, bool) or value == "auto"):
                raise ValueError(f"`{name}` must be one of {USE_FUSED}; received "
                                 f"{name}={value!r}.")
        allowed = ("auto",) + BACKWARDS
        if backward not in allowed:
            raise ValueError(f"`backward` must be one of {allowed}; received "
                             f"backward={backward!r}.")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)
        self.use_fused = use_fused
        self.jit = jit
        self.backward = backward
        if not isinstance(torch_compile, bool):
            raise ValueError("`torch_compile` must be True or False; received "
                             f"torch_compile={torch_compile!r}.")
        self.torch_compile = torch_compile
        reason = self.why_not_fused()
        if use_fused is True and reason is not None:
            raise ValueError(
                f"FusedRNN(use_fused=True) cannot run {type(self.cell).__name__} on a fused "
                f"path: {reason}. Pass use_fused='auto' to fall back to the per-step loop.")
        self.fused_path = self._choose_path(reason)
        self.last_plan = None
        self._keras_rnn = None
        if self.fused_path == "keras":
            self._keras_rnn = self._make_keras_rnn()
            self.supports_jit = self._keras_rnn.supports_jit

    # ------------------------------------------------------------------ path choice
    def why_not_fused(self):
        """None when this layer runs a fused path, else why not (cell or layer settings)."""
        reason = why_not_fused(self.cell)
        if reason is None and self.unroll and not self._is_keras_cell():
            reason = "unroll=True asks for keras.layers.RNN's unrolled per-step loop"
        return reason

    def _is_keras_cell(self):
        return isinstance(self.cell, (keras.layers.LSTMCell, keras.layers.GRUCell))

    def _choose_path(self, reason):
        if self.use_fused is False or reason is not None:
            return "per_step"
        if self._is_keras_cell():
            return "keras"
        if fused_spec_of(self.cell).scan:
            return "scan"
        return "loop"

    def _make_keras_rnn(self):
        """Keras's LSTM/GRU layer driving THIS cell (its inner loop only; never built)."""
        cell = self.cell
        kwargs = dict(units=cell.units, activation=cell.activation,
                      recurrent_activation=cell.recurrent_activation, use_bias=cell.use_bias,
                      unroll=self.unroll)
        if isinstance(cell, keras.layers.GRUCell):
            layer = keras.layers.GRU(reset_after=cell.reset_after, **kwargs)
        else:
            layer = keras.layers.LSTM(**kwargs)
        # Share the cell without Keras tracking it twice: the weights stay this layer's.
        object.__setattr__(layer, "cell", cell)
        return layer

    # ------------------------------------------------------------------ the loop
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        if isinstance(self.cell, RecurrentCell):  # also convolutional (rank > 1) states
            return rnn_output_shape(self, sequences_shape)
        return super().compute_output_shape(sequences_shape, initial_state_shape)

    def plan(self, sequences, mask, training):
        """The `Plan` of one call: the ONE place route, XLA and backward are chosen."""
        path = self.fused_path
        if path == "per_step" or path == "keras":
            return Plan(path)
        spec = fused_spec_of(self.cell)
        if spec.running_statistics:
            # Running statistics (batch norm) have their own kernel, the only route that
            # keeps masked entries out of the statistics; unmasked, the table may prefer the
            # per-step loop (the same numbers).
            if self.use_fused is True or (mask is not None and _backend.is_tensorflow()):
                return Plan("statistics")
            if not training and _backend.name() == "jax":
                # Inference updates nothing: keras.layers.RNN's loop (masks included) gives
                # the same numbers and measured faster on JAX (benchmarks.backends; on
                # PyTorch the statistics kernel measured 2x faster than that loop).
                return Plan("per_step")
            if mask is not None:
                return Plan("statistics")
            route = self._measured_route(sequences, training)
            return Plan("per_step" if route == "per_step" else "statistics")
        if mask is not None and not spec.fuse_masks:
            return Plan("per_step")
        if self.use_fused is True:
            return Plan(path, self.jit, self.backward)
        route = self._measured_route(sequences, training)
        if route is None:  # not measured (or a GPU): the kernels' own defaults
            return Plan(path, self.jit, self.backward)
        if route == "per_step":
            return Plan("per_step")
        if self.jit != "auto":
            jit = self.jit
        else:  # XLA's loops need a static number of steps: without one, the plain loop
            jit = route == "fused_xla" and sequences.shape[1] is not None
        backward = "batched" if route == "fused_batched" and self.backward == "auto" \
            else self.backward
        return Plan(path, jit, backward)

    def _measured_route(self, sequences, training):
        first = state_shapes(self.cell.state_size)[0]
        return routes.choose_route(type(self.cell).__name__, bool(training),
                                   sequences.shape[0], first[-1] or 1,
                                   timesteps=sequences.shape[1])

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if _backend.is_tensorflow():
            from rnncells.kernels import export_loop

            if export_loop.is_exporting() and self.fused_path != "scan":  # LiteRT/ONNX
                return export_loop.run_layer(self, sequences, initial_state, mask, training)
        plan = self.plan(sequences, kernel_inputs.step_mask(mask), training)
        self.last_plan = plan  # what the latest traced call ran (for spies and users)
        if plan.route == "per_step":
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        if plan.route == "keras":
            return self._keras_inner_loop(sequences, initial_state, mask, training)
        # The fused kernels: the input prepared once (compute dtype, boolean mask, both in
        # processing order for go_backwards), then one signature for every kernel.
        sequences, mask = kernel_inputs.prepare(self.cell, sequences, mask, self.go_backwards)
        return self._kernel(plan)(self.cell, sequences, list(initial_state), mask=mask,
                                  training=training, return_sequences=self.return_sequences,
                                  zero_output_for_mask=self.zero_output_for_mask)

    def _kernel(self, plan):
        """The kernel function of `plan`'s route on this backend (rnncells/kernels)."""
        if not _backend.is_tensorflow():
            if plan.route == "loop" and self.torch_compile:
                return functools.partial(ops_loop.run_sequence, compile_step=True)
            return {"statistics": ops_loop.run_statistics_sequence,
                    "scan": ops_loop.run_linear_scan, "loop": ops_loop.run_sequence}[plan.route]
        from rnncells.kernels import loop as loop_kernels
        from rnncells.kernels import scan as scan_kernels
        from rnncells.kernels import statistics as statistics_kernels

        if plan.route == "loop":
            return functools.partial(loop_kernels.run_sequence, jit=plan.jit,
                                     backward=plan.backward)
        if plan.route == "scan":
            return functools.partial(ops_loop.run_linear_scan,
                                     states_of=scan_kernels.linear_scan)
        return statistics_kernels.run_sequence

    def _keras_inner_loop(self, sequences, initial_state, mask, training):
        keras_rnn = self._keras_rnn
        for name in ("return_sequences", "go_backwards", "unroll", "zero_output_for_mask",
                     "stateful"):
            setattr(keras_rnn, name, getattr(self, name))
        result = keras_rnn.inner_loop(sequences, initial_state, mask=mask, training=training)
        if not keras_rnn.supports_jit:  # cuDNN ran: its ops are not XLA-compatible.
            self.supports_jit = False
        return result

    def get_config(self):
        config = {"use_fused": self.use_fused, "jit": self.jit, "backward": self.backward}
        if self.torch_compile:  # only when set: files without it load in earlier versions
            config["torch_compile"] = True
        return {**super().get_config(), **config}
