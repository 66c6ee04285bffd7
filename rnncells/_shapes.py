"""Shape helpers shared by the cells and the sequence layers."""

import numpy as np


def as_shape(size):
    """A state/output size (int or shape) as a shape tuple without the batch axis."""
    return tuple(size) if isinstance(size, (list, tuple)) else (size,)


def state_shapes(state_size):
    """A cell's `state_size` (an int, or a list of ints / shapes) as one shape per state."""
    sizes = state_size if isinstance(state_size, (list, tuple)) else [state_size]
    return [as_shape(size) for size in sizes]


def _static_shape(value):
    """The static shape of a tensor, array or nested list as a tuple (None: unknown rank)."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return np.shape(value)
    if getattr(shape, "rank", 0) is None:  # tf.TensorShape of unknown rank
        return None
    return tuple(shape)


def _fits(shape, expected):
    """Whether a received state shape (batch first) can be a state of shape `expected`.

    Only known dims are compared: None on either side matches, and the batch axis is not
    compared (the cell does not fix it).
    """
    if shape is None:
        return True
    if len(shape) != 1 + len(expected):
        return False
    return all(a is None or b is None or a == b for a, b in zip(shape[1:], expected))


def _describe(shape):
    return "(unknown rank)" if shape is None else str(tuple(shape))


def check_initial_state(initial_state, state_size, owner):
    """Raise ValueError unless `initial_state` is one tensor per state of `state_size`.

    `initial_state`: a list of tensors (batch, *size), or one bare tensor for a one-state
    cell. `owner` names the layer in the message. Unknown (None) dims are accepted.
    """
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
        initial_state]
    expected = state_shapes(state_size)
    received = [_static_shape(state) for state in states]
    if len(received) == len(expected) and all(map(_fits, received, expected)):
        return
    wanted = ", ".join(str((None, *shape)).replace("None", "batch", 1) for shape in expected)
    got = ", ".join(_describe(shape) for shape in received) or "none"
    raise ValueError(
        f"Invalid value for argument `initial_state` of {owner}: expected {len(expected)} "
        f"state tensor(s), one per entry of the cell's state_size={state_size!r}, of shapes "
        f"{wanted}; received {len(received)} tensor(s) of shapes {got}."
    )


def check_sequences(sequences, initial_state, owner):
    """Raise ValueError for a sequence batch no recurrent loop can run: 0 time steps, or an
    `initial_state` whose batch differs from the sequences'. Unknown (None) dims pass
    (a traced function with free shapes is checked by the backend)."""
    shape = _static_shape(sequences)
    if shape is None or len(shape) < 3:
        return
    batch, steps = shape[0], shape[1]
    if steps == 0:
        raise ValueError(
            f"Invalid value for argument `sequences` of {owner}: it has 0 time steps (shape "
            f"{_describe(shape)}); a recurrent layer needs at least one step. Drop empty "
            "sequences, or pad them to length >= 1 and mask the padding.")
    if initial_state is None or batch is None:
        return
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
        initial_state]
    for index, state in enumerate(states):
        state_shape = _static_shape(state)
        if state_shape and state_shape[0] is not None and state_shape[0] != batch:
            raise ValueError(
                f"Invalid value for argument `initial_state` of {owner}: state {index} has "
                f"batch size {state_shape[0]} (shape {_describe(state_shape)}) but the "
                f"sequences have batch size {batch}; give one initial state row per "
                "sequence.")


def rnn_output_shape(layer, sequences_shape):
    """Symbolic output shape(s) of a `keras.layers.RNN`-like `layer` over `(B, T, *step)`.

    Taken from the cell's `output_size` and `state_size`, which may be ints (dense cells) or
    shapes without batch (convolutional cells, known once the cell is built); Keras's own
    RNN only handles the flat case.
    """
    sequences_shape = tuple(sequences_shape)
    batch, steps = sequences_shape[0], sequences_shape[1]
    cell = layer.cell
    if not cell.built:
        cell.build((batch, *sequences_shape[2:]))
    output = as_shape(cell.output_size)
    output_shape = (batch, steps, *output) if layer.return_sequences else (batch, *output)
    if not layer.return_state:
        return output_shape
    return output_shape, *[(batch, *shape) for shape in state_shapes(cell.state_size)]
