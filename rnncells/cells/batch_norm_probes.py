"""Where the moving-statistics updates of a batch-norm cell go, and keras.layers.RNN's probes.

Fenced off from the cells on purpose: this is bookkeeping around one quirk of
keras.layers.RNN, not batch norm. Nothing here computes statistics.

A batch-norm cell records the batch statistics of each normalization (`record`). They go
to one of three places:

- a kernel's list, inside `collecting_statistics()`: FusedRNN's kernels apply them once
  after their loop (`apply_statistics`);
- the list of the current `call` (one step of keras.layers.RNN): applied together at the end
  of the step (`step_statistics`), or held back (below);
- otherwise (a cell stepped by hand: `project` / `recur`): applied at once.

keras.layers.RNN's probes. On TensorFlow, keras.layers.RNN (unroll=False) calls the cell once
on the first step before its while loop, to learn the output shape, and discards the result
(and, for a StackedRNNCells, calls each cell once more before that to draw the dropout
masks). The variable updates of those probe calls would still run, so the first step's
moving statistics would be updated two or three times. So within a keras.layers.RNN
sequence (opened by `get_dropout_mask`, which the RNN calls before its loop, closed by
`reset_dropout_mask`, which it calls after) the cell holds back the updates of each call made
before the loop and settles them at the next call: when that call is the same step again
(graph mode: it runs in the loop body, another graph, or receives the very same step tensor;
eager: the same step values and inputs), the held-back call was a probe and its updates are
dropped; otherwise (unroll=True) they are applied, and so are the updates held at the end of
the sequence.

The state is per thread (`threading.local`): MirroredStrategy traces each replica in its own
thread.
"""

import contextlib
import threading

import numpy as np
from keras import ops

from rnncells import _backend


class _Collecting:
    """`collecting_statistics`: a list of recorded statistics, restored on exit."""

    def __init__(self, local, shared):
        self.local, self.shared = local, shared

    def __enter__(self):
        self.before = (getattr(self.local, "sink", None), getattr(self.local, "shared", False))
        self.local.sink, self.local.shared = [], self.shared
        return self.local.sink

    def __exit__(self, *exc):
        self.local.sink, self.local.shared = self.before
        return False


class StatisticsRouting:
    """Mixin of the batch-norm cells: routes recorded statistics (see the module docstring).

    The cell provides `apply_statistics(records)`; it calls `init_statistics_routing()` in
    its constructor, `record(prefix, statistics)` where it normalizes, and wraps each
    keras.layers.RNN step in `step_statistics(inputs, step, training)`.
    """

    def init_statistics_routing(self):
        self._rnn_sequence = threading.local()

    # ------------------------------------------------------------------ destinations
    def record(self, prefix, statistics):
        """Apply the batch statistics of a normalization now, or hand them to whoever
        collects them: a kernel (`collecting_statistics`) or the current step's call."""
        local = self._rnn_sequence
        sink = getattr(local, "sink", None)
        if sink is None:
            sink = getattr(local, "collected", None)
        if sink is not None:
            sink.append((prefix, statistics))
            return
        self.apply_statistics([(prefix, statistics)])

    def collecting_statistics(self, shared_steps=False):
        """Context: the statistics the cell records are appended to the list it yields, not
        applied (a kernel applies them after its loop with `apply_statistics`, once).

        shared_steps: every row of the batch is at the same step (no mask, one counter), so
        one-step normalizations take plain reductions over the batch.
        """
        return _Collecting(self._rnn_sequence, shared_steps)

    def shared_steps(self):
        """Inside `collecting_statistics(shared_steps=True)`."""
        return bool(getattr(self._rnn_sequence, "shared", False))

    def inside_keras_rnn(self):
        """Between keras.layers.RNN's `get_dropout_mask` and `reset_dropout_mask`."""
        return bool(getattr(self._rnn_sequence, "open", False))

    # ------------------------------------------------------------------ keras.layers.RNN
    def get_dropout_mask(self, step_input):
        local = self._rnn_sequence
        if not getattr(local, "in_call", False):  # keras.layers.RNN, before its loop
            local.open, local.settled, local.pending, local.collected = True, False, None, None
            local.graph = _backend.current_graph()
        return super().get_dropout_mask(step_input)

    def reset_dropout_mask(self):
        local = self._rnn_sequence
        pending, local.pending = getattr(local, "pending", None), None
        if pending is not None and _backend.current_graph() is pending[1]:
            self.apply_statistics(pending[0])
        local.open = False
        super().reset_dropout_mask()

    def _settle_pending(self, inputs, step):
        """Apply or drop the held-back updates of the previous call (see the module)."""
        local = self._rnn_sequence
        updates, graph, first_inputs, first_step = local.pending
        local.pending = None
        if graph is None:
            probe = (np.array_equal(ops.convert_to_numpy(first_step), ops.convert_to_numpy(step))
                     and np.array_equal(ops.convert_to_numpy(first_inputs),
                                        ops.convert_to_numpy(inputs)))
        else:
            probe = _backend.current_graph() is not graph or step is first_step
        if not probe:
            self.apply_statistics(updates)
            local.settled = True  # the real steps have begun: no more holding back

    @contextlib.contextmanager
    def step_statistics(self, inputs, step, training):
        """Context of one `call` (one step): the statistics recorded inside are applied
        together when it ends (so a step with any non-finite statistics is skipped as a
        whole), or held back when the call may be a keras.layers.RNN probe."""
        local = self._rnn_sequence
        if (training and self.inside_keras_rnn() and _backend.name() == "jax"
                and _backend.is_tracing(inputs)):
            raise RuntimeError(
                f"{type(self).__name__} cannot train inside keras.layers.RNN on the JAX "
                "backend: its loop is a jax.lax.scan, where the moving statistics cannot be "
                "updated (the updates would be lost). Use rnncells.FusedRNN(cell), which "
                "records each step's statistics in the loop and applies them once after it; "
                "inference (training=False) works in either layer.")
        local.in_call = True
        try:
            if getattr(local, "pending", None) is not None:
                self._settle_pending(inputs, step)
            hold = (training and self.inside_keras_rnn() and not local.settled
                    and _backend.current_graph() is local.graph)
            local.collected = []
            yield
            if hold:
                local.pending = (local.collected, local.graph, inputs, step)
            else:
                self.apply_statistics(local.collected)
        finally:
            local.collected = None
            local.in_call = False
