"""Shape helpers shared by the cells and the sequence layers."""


def as_shape(size):
    """A state/output size (int or shape) as a shape tuple without the batch axis."""
    return tuple(size) if isinstance(size, (list, tuple)) else (size,)


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
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [
        cell.state_size]
    return output_shape, *[(batch, *as_shape(size)) for size in sizes]
