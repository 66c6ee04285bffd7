"""`streaming_model(model)`: a trained sequence model as a one-step model (online inference).

A sequence model `(B, T, *step) -> (B, T, ...)` made of recurrent layers and per-step layers
becomes a Keras model that takes ONE time step and the recurrent states, and returns the
output of that step and the new states:

    inputs:  [x_t (B, *step), *states]       outputs: [y_t (B, ...), *new_states]

The states are those of every recurrent layer, in layer order, each in its cell's state
order (`cell.state_size`; for per-step batch-norm cells the step counter is one of them).
Start from `initial_states(streaming, batch_size)` (the cells' `get_initial_state`) and feed
each step's new states into the next call: the outputs are those of `model.predict` on the
whole sequence, step by step. The streaming model holds the SAME weight objects as `model`
(no copy: training `model` further changes it too), and exports like any Keras model
(`rnncells.export(streaming, "step.tflite")`).

Supported layers: recurrent layers (`FusedRNN`, `keras.layers.RNN`, `ConvRNN`, Conv*D, with
rnncells cells or Keras cells; `return_sequences` True, or False for the last one, whose
streaming output at step t is then what `predict` returns for the sequence up to t), and
layers that act on each time step alone (Dense, EinsumDense on the last axis, Activation and
the activation layers, Dropout and the noise layers (identity at inference),
LayerNormalization and BatchNormalization over the last axis, Rescaling, Identity,
TimeDistributed). Anything else raises a ValueError naming the layer and why: layers that mix
time steps (convolutions and pooling over time, attention, Flatten, Bidirectional,
`go_backwards`), masking, stacked cells, multi-input models, unbuilt models.
"""

import keras

#: Layers that act on each time step alone (on the last axis, or not on any axis).
_PER_STEP = (
    keras.layers.Dense, keras.layers.Activation, keras.layers.Dropout,
    keras.layers.GaussianNoise, keras.layers.GaussianDropout, keras.layers.AlphaDropout,
    keras.layers.ReLU, keras.layers.Softmax, keras.layers.LeakyReLU, keras.layers.ELU,
    keras.layers.Rescaling, keras.layers.Identity,
)
_LAST_AXIS = (keras.layers.LayerNormalization, keras.layers.BatchNormalization,
              keras.layers.Softmax)


class CellStep(keras.layers.Layer):
    """One call of a recurrent layer's cell: `[x_t, *states] -> [output, *new_states]`.

    It holds the cell itself (the same weight objects as the sequence layer).
    """

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, inputs):
        x_t, states = inputs[0], list(inputs[1:])
        output, new_states = self.cell(x_t, states, training=False)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        return [output, *new_states]


def _error(layer, why):
    return ValueError(f"streaming_model cannot run layer {layer.name!r} "
                      f"({type(layer).__name__}) one step at a time: {why}.")


def _check_recurrent(layer, is_last):
    if isinstance(layer.cell, keras.layers.StackedRNNCells):
        raise _error(layer, "a stack of cells; use one recurrent layer per cell")
    if layer.go_backwards:
        raise _error(layer, "go_backwards=True reads the sequence from its end, which a "
                            "stream does not have yet")
    if not layer.return_sequences and not is_last:
        raise _error(layer, "return_sequences=False before another recurrent layer")


def _last_axis_only(layer, rank):
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return all(a in (-1, rank - 1) for a in axes)


def _step_layer(layer, x_t, rank):
    """Apply a per-step layer to one step; raise if it is not one."""
    if isinstance(layer, keras.layers.TimeDistributed):
        return layer.layer(x_t)
    if isinstance(layer, _LAST_AXIS) and not _last_axis_only(layer, rank):
        raise _error(layer, f"it normalizes over axes {layer.axis}, not only the last one "
                            "(features)")
    if isinstance(layer, _PER_STEP + _LAST_AXIS):
        return layer(x_t, training=False)
    if isinstance(layer, keras.layers.Bidirectional):
        raise _error(layer, "its backward direction reads the sequence from its end")
    if isinstance(layer, keras.layers.Masking):
        raise _error(layer, "masks change which steps the recurrent layers take; feed only "
                            "the steps to process")
    raise _error(layer, "it is not a recurrent layer nor a layer known to act on each time "
                        "step alone (it may mix time steps); supported: recurrent layers, "
                        "Dense, Activation, Dropout, LayerNormalization, BatchNormalization, "
                        "TimeDistributed and the like")


def _layers_in_order(model):
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"streaming_model needs a built model with a `keras.Input` (Sequential or "
            f"functional); received model {model.name!r}, which "
            f"{'has no keras.Input' if model.built else 'was never built'}. Build it from "
            "`keras.Input((None, *step_shape))` (its weights can be copied over with "
            "`set_weights`).")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"streaming_model needs a model with one input and one output; "
                         f"received model {model.name!r} with {len(model.inputs)} inputs "
                         f"and {len(model.outputs)} outputs.")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:  # before the chain check: a mask makes the next layer look unchained
        if isinstance(layer, keras.layers.Masking):
            raise _error(layer, "a streaming model takes one real step per call, so there is "
                                "no padding to mask. Build the same model without Masking "
                                "(copy the weights with `set_weights`), and do not call the "
                                "step model for padded steps")
    previous = model.inputs[0]
    for layer in layers:  # a chain: each layer reads the previous layer's output
        if layer.input is not previous:
            raise _error(layer, "the model is not a chain of layers (each reading the "
                                "previous one's output once)")
        previous = layer.output
    return layers


def streaming_model(model):
    """A one-step Keras model `[x_t, *states] -> [y_t, *new_states]` from a sequence model.

    Args:
        model: a built Sequential or functional Keras model, a chain of recurrent layers
            (`FusedRNN`, `keras.layers.RNN`, `ConvRNN`, Conv*D; return_sequences=True) and
            per-step layers (Dense, Activation, Dropout, LayerNormalization, ...), with input
            `(batch, time, *step_shape)`.

    Returns:
        A functional `keras.Model` (a `StreamingModel`) with inputs `[x_t (batch,
        *step_shape), *states]` named `x_t`, then `<layer>_state_<k>`, and outputs `[y_t,
        *new_states]`; states in layer order, each cell's in its state order. Its weights are
        `model`'s weight objects. Its inputs may mix NumPy arrays and tensors.

    Raises:
        ValueError: an unbuilt model, or a layer that cannot run one step at a time (the
            message names it and says why).

    Examples:
        >>> model = keras.Sequential([keras.Input((None, 3)), rnncells.FusedRNN(
        ...     rnncells.LayerNormLSTMCell(8), return_sequences=True), keras.layers.Dense(2)])
        >>> step = rnncells.streaming_model(model)
        >>> states = rnncells.streaming.initial_states(step, batch_size=1)
        >>> for t in range(3):
        ...     y, *states = step([np.zeros((1, 3), "float32"), *states])
        >>> y.shape
        TensorShape([1, 2])
    """
    layers = _layers_in_order(model)
    sequence_input = model.inputs[0]
    if len(sequence_input.shape) < 3:
        raise ValueError(f"streaming_model needs a sequence input (batch, time, ...); model "
                         f"{model.name!r} takes shape {tuple(sequence_input.shape)}.")
    batch = sequence_input.shape[0]
    x_t = keras.Input(batch_shape=(batch, *sequence_input.shape[2:]),
                      dtype=sequence_input.dtype, name="x_t")
    recurrent = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.RNN)]
    state_inputs, state_outputs = [], []
    y = x_t
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.RNN):
            _check_recurrent(layer, is_last=i == recurrent[-1])
            states = []
            for k, s in enumerate(layer.cell.get_initial_state(batch_size=1)):
                states.append(keras.Input(batch_shape=(batch, *s.shape[1:]), dtype=s.dtype,
                                          name=f"{layer.name}_state_{k}"))
            y, *new_states = CellStep(layer.cell, name=f"{layer.name}_step")([y, *states])
            state_inputs += states
            state_outputs += new_states
        else:
            rank = len(layer.input.shape)
            y = _step_layer(layer, y, rank)
    if not recurrent:
        raise ValueError(f"streaming_model needs at least one recurrent layer; model "
                         f"{model.name!r} has none.")
    return StreamingModel([x_t, *state_inputs], [y, *state_outputs],
                          name=f"{model.name}_streaming")


@keras.saving.register_keras_serializable(package="rnncells")
class StreamingModel(keras.Model):
    """The functional one-step model `streaming_model` returns.

    It differs from `keras.Model` in one thing: its inputs may mix NumPy arrays and tensors,
    as the stepping loop does (`y_t, *states = step([x_t, *states])` with a NumPy `x_t` and
    the tensors the previous step returned; Keras refuses such a mix in a nested argument).
    The input names (for `run_litert(..., names=...)` on an exported step model) are `x_t`,
    then `<layer>_state_<k>` for the k-th state of each recurrent layer, in layer order.
    """

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and any(
                keras.ops.is_tensor(x) or isinstance(x, keras.KerasTensor) for x in inputs):
            inputs = [x if keras.ops.is_tensor(x) or isinstance(x, keras.KerasTensor)
                      else keras.ops.convert_to_tensor(x) for x in inputs]
        return super().__call__(inputs, *args, **kwargs)


def initial_states(streaming, batch_size):
    """The states to start a stream with: each cell's `get_initial_state(batch_size)`."""
    states = []
    for layer in streaming.layers:
        if isinstance(layer, CellStep):
            states += [keras.ops.convert_to_numpy(s)
                       for s in layer.cell.get_initial_state(batch_size=batch_size)]
    return states
