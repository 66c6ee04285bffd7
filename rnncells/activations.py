"""Activations for rnncells cells.

Every cell resolves `activation` / `recurrent_activation` with `keras.activations.get`, so any
Keras activation name works ("tanh", "relu", "leaky_relu", "elu", "softplus", ...). The string
"leaky_relu" uses Keras's default slope (0.2); for another slope pass `LeakyReLU(negative_slope)`,
which serializes with the cell.
"""

import keras


@keras.saving.register_keras_serializable(package="rnncells")
class LeakyReLU:
    """Leaky ReLU with a configurable slope, usable as a cell's `activation`.

    f(x) = x for x >= 0, negative_slope * x otherwise.

    Args:
        negative_slope: slope for x < 0, a number >= 0 (default 0.2, Keras's default).

    Examples:
        >>> cell = rnncells.IndRNNCell(8, activation=rnncells.activations.LeakyReLU(0.05))
    """

    def __init__(self, negative_slope=0.2):
        if (isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float))
                or not negative_slope >= 0):
            raise ValueError(
                "Invalid value for argument `negative_slope`: expected a number >= 0, "
                f"received negative_slope={negative_slope!r}."
            )
        self.negative_slope = float(negative_slope)

    def __call__(self, x):
        return keras.ops.leaky_relu(x, negative_slope=self.negative_slope)

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"

    def __eq__(self, other):
        return isinstance(other, LeakyReLU) and other.negative_slope == self.negative_slope

    def __hash__(self):
        return hash(("LeakyReLU", self.negative_slope))

    def get_config(self):
        return {"negative_slope": self.negative_slope}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def get(identifier):
    """Resolve an activation like `keras.activations.get`, with a clear error when unknown."""
    if identifier is None:
        return keras.activations.get("linear")
    try:
        return keras.activations.get(identifier)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"Unknown activation {identifier!r}: expected a Keras activation name "
            "(e.g. 'tanh', 'sigmoid', 'relu', 'leaky_relu', 'elu', 'softplus'), a callable, or "
            f"rnncells.activations.LeakyReLU(negative_slope). ({err})"
        ) from None


def serialize(fn):
    """Serialize an activation for `get_config` (the inverse of `get`)."""
    return keras.activations.serialize(fn)
