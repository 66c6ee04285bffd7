"""Sequence layers for convolutional cells: `ConvRNN`, `ConvGRU1D/2D/3D`, `ConvLSTM1D/2D/3D`.

`keras.layers.RNN.compute_output_shape` assumes flat states (`state_size` an int), so a
convolutional cell in a plain `keras.layers.RNN` runs when called on tensors but has no symbolic
output shape in a functional or Sequential model. `ConvRNN(cell)` is `keras.layers.RNN` with
the output and state shapes read from the cell (`cell.output_size` and `cell.state_size`,
tuples without the batch axis), for any cell whose states are tensors of any rank:
`ConvLSTMCell`, `ConvGRUCell`, or one of your own (examples/conv_cell.py).

`ConvGRU1D/2D/3D` and `ConvLSTM1D/2D/3D` are `ConvRNN` over a `ConvGRUCell` / `ConvLSTMCell`
of rank 1, 2, 3, with the API of `keras.layers.ConvLSTM2D` (cell arguments and
return_sequences, return_state, go_backwards, stateful, unroll) plus the cells' `normalization`
arguments. rnncells' ConvLSTM*D have the weights of Keras's (`set_weights` works both ways).
Their config is flat (cell arguments and RNN arguments together), as Keras's ConvLSTM*D.
"""

import keras

from rnncells import _backend
from rnncells._serialization import keras_serializable
from rnncells._shapes import rnn_output_shape
from rnncells._validation import cell_instance
from rnncells.cells.conv import ConvGRUCell, ConvLSTMCell
from rnncells.layers.initial_state import CheckedInitialState

#: keyword arguments that belong to the layer, not to its cell.
_LAYER_KWARGS = ("name", "dtype", "trainable", "activity_regularizer", "autocast",
                 "input_shape", "batch_size", "input_dim", "zero_output_for_mask")


@keras_serializable
class ConvRNN(CheckedInitialState, keras.layers.RNN):
    """`keras.layers.RNN` for cells with convolutional (rank > 1) states and outputs.

    Same arguments and behaviour as `keras.layers.RNN(cell, ...)` (masking, go_backwards,
    stateful, return_state, ...); only the symbolic output shapes differ: they come from the
    cell's `output_size` and `state_size` (shapes without batch, known once the cell is built).

    Call arguments: sequences (batch, time, *step_shape); initial_state; mask
    (batch, time); training.

    Examples:
        >>> layer = rnncells.ConvRNN(rnncells.ConvGRUCell(2, 4, 3), return_sequences=True)
        >>> inputs = keras.Input((5, 8, 8, 3))
        >>> layer(inputs).shape
        (None, 5, 6, 6, 4)
    """

    def __init__(self, cell, **kwargs):
        super().__init__(cell_instance("cell", cell), **kwargs)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        return rnn_output_shape(self, sequences_shape)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not _backend.is_tensorflow():
            if mask is not None and keras.backend.backend() == "jax" and not self.unroll:
                # Keras's JAX loop reduces the step mask to (batch, 1) and broadcasts it
                # against the states, which fails for (batch, rows, ..., filters) states:
                # give it one singleton axis per state axis instead.
                states = initial_state if isinstance(initial_state, (list, tuple)) else [
                    initial_state]
                rank = max(len(s.shape) for s in states)
                mask = keras.ops.reshape(mask, (*keras.ops.shape(mask)[:2],
                                                *([1] * (rank - 1))))
            return super().inner_loop(sequences, initial_state, mask, training=training)
        from rnncells.kernels import export_loop

        if export_loop.is_exporting():  # LiteRT/ONNX-friendly loop (rnncells.export)
            return export_loop.run_layer(self, sequences, initial_state, mask, training)
        return super().inner_loop(sequences, initial_state, mask, training=training)


class _ConvSequence(ConvRNN):
    """ConvRNN over a cell built from the layer's arguments (the ConvLSTM2D-style API)."""

    cell_class = None
    rank = None

    def __init__(self, filters, kernel_size, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_KWARGS if k in kwargs}
        cell = self.cell_class(self.rank, filters, kernel_size,
                               dtype=layer_kwargs.get("dtype"),
                               name=f"{self.cell_class.__name__.lower()}", **kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         **layer_kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 3)

    def get_config(self):
        config = super().get_config()
        cell_config = dict(config.pop("cell")["config"])
        for key in ("name", "dtype", "trainable", "rank"):
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_CELL_ATTRIBUTES = (
    "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
    "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "dropout", "recurrent_dropout", "normalization", "groups",
    "norm_epsilon", "norm_gamma_initializer", "seed",
)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


# The cell's arguments read through the layer (layer.filters, ...), as on ConvLSTM2D.
for _name in _CELL_ATTRIBUTES:
    setattr(_ConvSequence, _name, _cell_property(_name))


@keras_serializable
class ConvGRU1D(_ConvSequence):
    """Convolutional GRU over sequences of 1-D signals: inputs (batch, time, steps, channels).

    A `ConvRNN` over `ConvGRUCell(rank=1, ...)` (h' = z * h + (1 - z) * act(x_h + r * h_h)).
    Arguments, call arguments and config: see `ConvGRU2D`.

    Examples:
        >>> rnncells.ConvGRU1D(4, 3)(np.zeros((2, 5, 8, 3), "float32")).shape
        TensorShape([2, 6, 4])
    """

    cell_class = ConvGRUCell
    rank = 1


@keras_serializable
class ConvGRU2D(_ConvSequence):
    """Convolutional GRU over sequences of images: inputs (batch, time, rows, cols, channels).

    A `ConvRNN` over `ConvGRUCell(rank=2, ...)`; the API of `keras.layers.ConvLSTM2D`::

        z, r = sigma(N_x(W * x) + b + N_h(U * h))  (z, r blocks);
        h' = z * h + (1 - z) * act(x_h + r * h_h)

    Args:
        filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
        activation="tanh", recurrent_activation="sigmoid", use_bias=True,
        kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
        bias_initializer="zeros", kernel_/recurrent_/bias_ regularizer and constraint (None),
        normalization=None ("layer" | "group"), groups=None, norm_epsilon=1e-3,
        norm_gamma_initializer="ones", dropout=0, recurrent_dropout=0, seed=None: the cell's
        arguments, see `rnncells.ConvGRUCell`.
        return_sequences: return the whole output sequence (default False: the last output).
        return_state: also return the last state (default False).
        go_backwards: process the sequence in reverse (default False).
        stateful: carry the last state over to the next batch (default False).
        unroll: unroll the time loop (default False).
        name, dtype, trainable, activity_regularizer: `keras.layers.Layer` arguments.

    Call arguments: inputs (batch, time, rows, cols, channels) (channels_first:
    (batch, time, channels, rows, cols)); mask (batch, time); training; initial_state.

    The config is flat (cell and layer arguments together, as Keras's ConvLSTM2D); the cell's
    arguments read through the layer (`layer.filters`, ...).

    Examples:
        >>> layer = rnncells.ConvGRU2D(4, 3, padding="same", return_sequences=True)
        >>> layer(np.zeros((2, 5, 8, 8, 3), "float32")).shape
        TensorShape([2, 5, 8, 8, 4])
    """

    cell_class = ConvGRUCell
    rank = 2


@keras_serializable
class ConvGRU3D(_ConvSequence):
    """Convolutional GRU over sequences of volumes: inputs (batch, time, d1, d2, d3, channels).

    A `ConvRNN` over `ConvGRUCell(rank=3, ...)`. Arguments, call arguments and config: see
    `ConvGRU2D`.

    Examples:
        >>> rnncells.ConvGRU3D(4, 3)(np.zeros((2, 5, 4, 4, 4, 3), "float32")).shape
        TensorShape([2, 2, 2, 2, 4])
    """

    cell_class = ConvGRUCell
    rank = 3


@keras_serializable
class ConvLSTM1D(_ConvSequence):
    """Convolutional LSTM over sequences of 1-D signals, weights of `keras.layers.ConvLSTM1D`.

    A `ConvRNN` over `ConvLSTMCell(rank=1, ...)`; with normalization=None the same equations
    and weights as Keras's ConvLSTM1D. Arguments as `ConvGRU2D` plus `unit_forget_bias`
    (default True).

    Examples:
        >>> rnncells.ConvLSTM1D(4, 3)(np.zeros((2, 5, 8, 3), "float32")).shape
        TensorShape([2, 6, 4])
    """

    cell_class = ConvLSTMCell
    rank = 1


@keras_serializable
class ConvLSTM2D(_ConvSequence):
    """Convolutional LSTM over sequences of images, weights of `keras.layers.ConvLSTM2D`.

    A `ConvRNN` over `ConvLSTMCell(rank=2, ...)`; with normalization=None the same equations
    and weights as Keras's ConvLSTM2D. Arguments as `ConvGRU2D` plus `unit_forget_bias`
    (default True).

    Examples:
        >>> rnncells.ConvLSTM2D(4, 3)(np.zeros((2, 5, 8, 8, 3), "float32")).shape
        TensorShape([2, 6, 6, 4])
    """

    cell_class = ConvLSTMCell
    rank = 2


@keras_serializable
class ConvLSTM3D(_ConvSequence):
    """Convolutional LSTM over sequences of volumes, weights of `keras.layers.ConvLSTM3D`.

    A `ConvRNN` over `ConvLSTMCell(rank=3, ...)`; with normalization=None the same equations
    and weights as Keras's ConvLSTM3D. Arguments as `ConvGRU2D` plus `unit_forget_bias`
    (default True).

    Examples:
        >>> rnncells.ConvLSTM3D(4, 3)(np.zeros((2, 5, 4, 4, 4, 3), "float32")).shape
        TensorShape([2, 2, 2, 2, 4])
    """

    cell_class = ConvLSTMCell
    rank = 3
