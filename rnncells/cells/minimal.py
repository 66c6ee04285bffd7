"""Minimal recurrent cells: minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

Their gates depend on the input only, so the state update is linear in the state,
`h_t = a_t * h_{t-1} + b_t`, with `a`, `b` computed from `x_t` alone. Step by step (in
`keras.layers.RNN`) they are ordinary cells; over a whole sequence, `scan_coefficients` gives
`(a, b)` for every step at once and `rnncells.kernels.scan.linear_scan` computes all states
with a parallel scan of log depth.

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`; there is no
recurrent kernel):
- MinGRUCell: kernel (D, 2U) with blocks [z, h~] (update gate, candidate), bias (2U).
- MinLSTMCell: kernel (D, 3U) with blocks [f, i, h~] (forget, input, candidate), bias (3U).
The paper's reference code (PyTorch) keeps one `nn.Linear(D, U)` per block, storing W
transposed (U, D): `kernel[:, k*U:(k+1)*U] = linear_k.weight.T`, `bias[k*U:(k+1)*U] =
linear_k.bias`.

About g(): the paper's log-space implementation passes the candidate through the positive
function `g(x) = x + 0.5 if x >= 0 else sigmoid(x)` (and h_0 through g) because it takes
logarithms of `b_t`. rnncells does not need that: its scan works in linear space with
products and sums only (see `rnncells.kernels.scan`), stable for any sign of `b`. So the
candidate is the plain linear map of the paper's equations by default (`activation=None`);
any Keras activation can be chosen instead.
"""

from keras import ops

from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.dense import split_gates
from rnncells.cells.weights import KernelRecurrentCell


class MinimalRecurrentCell(KernelRecurrentCell):
    """Base of the minimal cells: one input kernel (D, gates*U) and a bias; no recurrent kernel.

    `project` is `dropout(x) @ kernel + bias` (one step or a whole sequence); subclasses turn a
    projection into the coefficients `(a, b)` of `h_t = a_t * h_{t-1} + b_t` in
    `scan_coefficients`, and `recur` applies exactly that update, so the step-by-step path and
    the scan share one source of math.

    Args:
        units: positive int, size of the state h (and the output).
        activation: activation of the candidate h~ (default None: linear, as in the paper;
            serialized as "linear").
        use_bias: default True.
        kernel_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: default None.
        dropout: input dropout fraction in [0, 1), one mask per sequence (default 0).
        recurrent_dropout: must be 0 (there is no recurrent projection to drop from).
        seed: int seed of the dropout mask (default None).
    """

    #: number of blocks of `units` columns in the kernel.
    gates = 1

    activation_arguments = ("activation",)
    weight_arguments = ("kernel", "bias")

    def __init__(self, units, activation=None, recurrent_dropout=0.0, **kwargs):
        if recurrent_dropout != 0:
            raise ValueError(
                f"Invalid value for argument `recurrent_dropout`: {type(self).__name__} has no "
                "recurrent projection (its gates read the input only), so the only allowed "
                f"value is 0; received recurrent_dropout={recurrent_dropout!r}. Use `dropout` "
                "for the input."
            )
        super().__init__(activation=activation, **kwargs)
        self.units = validation.positive_int("units", units)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        input_shape = self.check_step_input_shape(input_shape)
        width = self.gates * self.units
        self.kernel = self.add_weight_with_arguments("kernel", (input_shape[-1], width),
                                                     "kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments("bias", (width,), "bias")
        self.built = True

    def project(self, inputs, training=None):
        """dropout(x) @ kernel + bias: (B, D) -> (B, gates*U) or (B, T, D) -> (B, T, gates*U)."""
        return self.add_bias(self.input_projection(inputs, training))

    def scan_coefficients(self, projected):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement scan_coefficients().")

    def recur(self, projected, states, training=None):
        """h = a * h_prev + b with (a, b) = scan_coefficients(projected). Returns (h, [h])."""
        a, b = self.scan_coefficients(projected)
        h = a * states[0] + b
        return h, [h]

    def candidate(self, projected_block):
        """h~ = activation(block); the identity for the default `activation=None`."""
        return self.activation(projected_block)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras_serializable
class MinGRUCell(MinimalRecurrentCell):
    """minGRU (Feng et al. 2024): a GRU whose gate and candidate read the input only.

    Equations (sigma the logistic sigmoid; `act` = `activation`, identity by default)::

        z  = sigma(x @ W_z + b_z)              # update gate
        h~ = act(x @ W_h + b_h)                # candidate
        h  = (1 - z) * h_prev + z * h~

    i.e. `h_t = a_t * h_{t-1} + b_t` with `a = 1 - z = sigma(-(x @ W_z + b_z))` (computed
    that way, without the cancellation of `1 - z` when z is near 1) and `b = z * h~`.
    Weights: kernel (D, 2U) blocks [z, h~], bias (2U). State [h]; output h.

    Args: see `MinimalRecurrentCell` (units, activation=None, use_bias=True, initializers,
    regularizers, constraints, dropout, recurrent_dropout=0, seed).

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h, [h]).

    Examples:
        >>> layer = keras.layers.RNN(rnncells.MinGRUCell(8), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 8])
    """

    gates = 2

    def scan_coefficients(self, projected):
        """(a, b) = (1 - z, z * h~) for projected (..., 2U) from `project`; each (..., U)."""
        k_z, k_h = split_gates(projected, 2)
        a = ops.sigmoid(-k_z)
        b = ops.sigmoid(k_z) * self.candidate(k_h)
        return a, b


@keras_serializable
class MinLSTMCell(MinimalRecurrentCell):
    """minLSTM (Feng et al. 2024): an LSTM with input-only gates and normalized f, i.

    Equations (sigma the logistic sigmoid; `act` = `activation`, identity by default)::

        f  = sigma(x @ W_f + b_f) ;  i = sigma(x @ W_i + b_i)
        f' = f / (f + i) ;  i' = i / (f + i)     # time-independent scale: f' + i' = 1
        h~ = act(x @ W_h + b_h)
        h  = f' * h_prev + i' * h~

    i.e. `h_t = a_t * h_{t-1} + b_t` with `a = f'`, `b = i' * h~`. The normalized gates are
    computed as `f' = sigma(log f - log i) = sigma(softplus(-k_i) - softplus(-k_f))` and
    `i' = 1 - f' = sigma(softplus(-k_f) - softplus(-k_i))` (k the gate pre-activations): the
    same values, without the 0 / 0 of `f / (f + i)` when both gates underflow (float16).
    Weights: kernel (D, 3U) blocks [f, i, h~], bias (3U). State [h]; output h.

    Args: see `MinimalRecurrentCell` (units, activation=None, use_bias=True, initializers,
    regularizers, constraints, dropout, recurrent_dropout=0, seed).

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h, [h]).

    Examples:
        >>> layer = keras.layers.RNN(rnncells.MinLSTMCell(8))
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    gates = 3

    def scan_coefficients(self, projected):
        """(a, b) = (f', i' * h~) for projected (..., 3U) from `project`; each (..., U)."""
        k_f, k_i, k_h = split_gates(projected, 3)
        log_ratio = ops.softplus(-k_i) - ops.softplus(-k_f)  # log f - log i
        a = ops.sigmoid(log_ratio)
        b = ops.sigmoid(-log_ratio) * self.candidate(k_h)
        return a, b
