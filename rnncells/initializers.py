"""Initializers for recurrent cells: chrono gate biases and identity-scaled recurrent kernels.

Both are Keras initializers (registered, serializable: pass them to any Keras or rnncells
cell, they survive `get_config` / `.keras` save and load). Keras's own defaults stay the
defaults of the cells (orthogonal `recurrent_initializer`, zeros `bias_initializer`).
"""

import math
import numbers

import keras
from keras import ops

from rnncells import _validation as validation

GATE_LAYOUTS = ("lstm", "gru")


@keras.saving.register_keras_serializable(package="rnncells")
class Chrono(keras.initializers.Initializer):
    """Chrono initialization of LSTM/GRU gate biases (Tallec & Ollivier 2018).

    For dependencies up to `max_timescale` steps, draw per unit
    `b ~ log(U[1, max_timescale - 1])` and put it on the gate that keeps the memory, so the
    characteristic forgetting times are spread between 1 and `max_timescale` steps:

    - `gates="lstm"` (Keras gate order i, f, c, o; bias (4U,)): f block = b, i block = -b,
      c and o blocks = 0 (the paper's b_f = log U[1, T_max - 1], b_i = -b_f).
    - `gates="gru"` (Keras gate order z, r, h; bias (3U,), or (2, 3U) for Keras
      `reset_after=True`, where only row 0, the input bias, is filled): z block = +b, r and
      h blocks = 0. Sign convention: Keras's GRU updates h' = z * h + (1 - z) * n, so z is the
      "keep" gate (the paper's forget gate) and a large positive bias keeps memory; in the
      paper's notation h' = (1 - z) * h + z * n the bias would be -b.

    With Keras's LSTM / ConvLSTM cells pass `unit_forget_bias=False`, else Keras overwrites
    the forget block with ones.

    Args:
        max_timescale: expected longest dependency in steps, a number >= 2.
        gates: "lstm" (default) or "gru", the layout of the bias.
        seed: int (the same values at every call, as Keras's random initializers) or None.

    Examples:
        >>> cell = keras.layers.LSTMCell(16, unit_forget_bias=False,
        ...                              bias_initializer=rnncells.initializers.Chrono(100))
    """

    def __init__(self, max_timescale, gates="lstm", seed=None):
        if (isinstance(max_timescale, bool) or not isinstance(max_timescale, numbers.Real)
                or not max_timescale >= 2):
            raise ValueError(
                "Invalid value for argument `max_timescale`: expected a number >= 2 (the "
                f"longest dependency, in steps), received max_timescale={max_timescale!r}."
            )
        self.max_timescale = float(max_timescale)
        self.gates = validation.one_of("gates", gates, GATE_LAYOUTS)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        blocks = 4 if self.gates == "lstm" else 3
        rows_ok = len(shape) == 1 or (self.gates == "gru" and len(shape) == 2 and shape[0] == 2)
        if not rows_ok or shape[-1] % blocks:
            allowed = "(4 * units,)" if self.gates == "lstm" else "(3 * units,) or (2, 3 * units)"
            raise ValueError(
                f"Chrono(gates={self.gates!r}) initializes a bias of shape {allowed}; "
                f"received shape={shape}."
            )
        units = shape[-1] // blocks
        timescales = keras.random.uniform((units,), 1.0, self.max_timescale - 1.0,
                                          dtype="float32", seed=self.seed)
        b = ops.log(timescales)
        zeros = ops.zeros((units,), "float32")
        if self.gates == "lstm":
            bias = ops.concatenate([-b, b, zeros, zeros])
        else:
            bias = ops.concatenate([b, zeros, zeros])
            if len(shape) == 2:
                bias = ops.stack([bias, ops.zeros_like(bias)])
        return ops.cast(bias, dtype or keras.config.floatx())

    def get_config(self):
        return {"max_timescale": self.max_timescale, "gates": self.gates, "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnncells")
class IdentityRecurrent(keras.initializers.Initializer):
    """Identity-scaled recurrent kernel, `gain * I` (IRNN, Le et al. 2015).

    With ReLU units and zero biases, `h' = relu(W x + gain * h)` starts by copying the state
    (gain 1), or slowly forgetting it (gain < 1); Le et al. use gain 1 (0.01 for some tasks).
    Works on every recurrent kernel layout of this package:

    - (U, U): `gain * I`. (U, k * U) (k gate blocks, e.g. LSTM 4U): `gain * I` in every block.
    - (U,): `gain` everywhere (a diagonal recurrence such as IndRNN's `u`).
    - (*kernel_size, F, k * F) (convolutional): a "delta" kernel, `gain * I` at the tap that
      "same" padding aligns with the output position (index (k - 1) // 2 on each axis, the
      centre for odd sizes), zeros elsewhere, so the recurrent convolution starts as
      `gain * h`.

    Args:
        gain: multiplier of the identity, a number (default 1.0).

    Examples:
        >>> cell = keras.layers.SimpleRNNCell(32, activation="relu",
        ...                                   recurrent_initializer=IdentityRecurrent(1.0))
    """

    def __init__(self, gain=1.0):
        if isinstance(gain, bool) or not isinstance(gain, numbers.Real) or math.isnan(gain):
            raise ValueError(
                f"Invalid value for argument `gain`: expected a number, received gain={gain!r}."
            )
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        dtype = dtype or keras.config.floatx()
        if len(shape) == 1:
            return ops.full(shape, self.gain, dtype=dtype)
        rows, cols = shape[-2], shape[-1]
        if cols % rows:
            raise ValueError(
                "IdentityRecurrent needs a recurrent kernel of shape (U,), (U, k * U) or "
                f"(*kernel_size, F, k * F); received shape={shape}."
            )
        block = ops.tile(ops.eye(rows, dtype="float32"), (1, cols // rows)) * self.gain
        if len(shape) == 2:
            return ops.cast(block, dtype)
        spatial = shape[:-2]
        centre = [(k - 1) // 2 for k in spatial]
        flat_index = 0
        for k, c in zip(spatial, centre):
            flat_index = flat_index * k + c
        taps = math.prod(spatial)
        onehot = ops.reshape(ops.one_hot(flat_index, taps, dtype="float32"), (taps, 1, 1))
        kernel = ops.reshape(onehot * block[None], shape)
        return ops.cast(kernel, dtype)

    def get_config(self):
        return {"gain": self.gain}
