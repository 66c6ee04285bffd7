"""`CheckedInitialState`: a clear error for a bad `initial_state` (or an empty sequence batch)
in rnncells' sequence layers.

`keras.layers.RNN` passes a wrong `initial_state` on to the cell, where it fails deep inside
the loop with a shape error that names neither the argument nor the cell, or (a parallel
scan, extra states) not at all. The mixin checks it against the cell's `state_size` first.
"""

import keras

from rnncells._shapes import check_initial_state, check_sequences


class CheckedInitialState:
    """Mixin for `keras.layers.RNN` subclasses (put it first among the bases)."""

    def check_initial_state(self, initial_state):
        """Raise a ValueError naming `initial_state` unless it holds one tensor per state
        of the cell, each (batch, *state_size entry) where dims are known (a bare tensor
        for a one-state cell). Stacked cells (nested states) are left to Keras."""
        if initial_state is None or isinstance(self.cell, keras.layers.StackedRNNCells):
            return
        check_initial_state(initial_state, self.cell.state_size,
                            f"{type(self).__name__}({type(self.cell).__name__})")

    def check_sequences(self, sequences, initial_state):
        """Raise a ValueError naming the argument for 0 time steps or an `initial_state`
        whose batch differs from the sequences' (known dims only)."""
        check_sequences(sequences, initial_state,
                        f"{type(self).__name__}({type(self.cell).__name__})")

    def compute_output_spec(self, sequences, *args, **kwargs):
        # Symbolic calls (keras.Input) come here instead of `call`.
        initial_state = kwargs.get("initial_state", args[0] if args else None)
        self.check_initial_state(initial_state)
        self.check_sequences(sequences, initial_state)
        return super().compute_output_spec(sequences, *args, **kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self.check_initial_state(initial_state)
        self.check_sequences(sequences, initial_state)
        if sequences.shape[0] == 0 and not self.stateful:
            # An empty batch: the outputs are empty too, as from keras.layers.RNN (the loops'
            # own code would index row 0); nothing to update.
            shapes = self.compute_output_shape(tuple(sequences.shape))
            if self.return_state:
                return [keras.ops.zeros(s, self.compute_dtype) for s in shapes]
            return keras.ops.zeros(shapes, self.compute_dtype)
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)
