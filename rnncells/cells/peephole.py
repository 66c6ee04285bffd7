"""LSTM with peephole connections (drop-in for tensorflow-addons' PeepholeLSTMCell).

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`, and in tfa 0.23):
kernel (D, 4U), recurrent_kernel (U, 4U), bias (4U) if use_bias, then
input_gate_peephole_weights (U), forget_gate_peephole_weights (U),
output_gate_peephole_weights (U). Gate order i, f, c (candidate), o, as Keras's LSTMCell.
"""

from rnncells._serialization import keras_serializable
from rnncells.cells.dense import DenseLSTMCell, split_gates

PEEPHOLE_WEIGHTS = (
    "input_gate_peephole_weights",
    "forget_gate_peephole_weights",
    "output_gate_peephole_weights",
)


@keras_serializable
class PeepholeLSTMCell(DenseLSTMCell):
    """LSTM cell with diagonal peephole connections (Gers et al. 2002; Sak et al. 2014).

    The gates also look at the cell state: the input and forget gates at the previous c, the
    output gate at the NEW c' (as tensorflow-addons)::

        z  = x @ W + h @ U + b                       # blocks i, f, c, o (Keras order)
        i  = sigma(z_i + p_i * c)
        f  = sigma(z_f + p_f * c)
        c' = f * c + i * act(z_c)
        o  = sigma(z_o + p_o * c')
        h' = o * act(c')

    `sigma` is `recurrent_activation`, `act` is `activation`, `p_*` are vectors of size U
    (elementwise products).

    Weights, in order (as tfa, so `cell.set_weights(tfa_cell.get_weights())` works): kernel
    (D, 4U), recurrent_kernel (U, 4U), bias (4U) if use_bias, input_gate_peephole_weights,
    forget_gate_peephole_weights, output_gate_peephole_weights (U each; initialized with
    `kernel_initializer`, as tfa).

    Args (those of Keras's LSTMCell, as tfa's cell inherits them; `units` by position or
    keyword, the others by keyword):
        units: positive int, size of h and c.
        activation: default "tanh". recurrent_activation: default "sigmoid".
        use_bias: default True. unit_forget_bias: default True (forget block of b set to 1).
        kernel_initializer "glorot_uniform", recurrent_initializer "orthogonal",
        bias_initializer "zeros"; kernel_/recurrent_/bias_ regularizer and constraint (None).
        dropout, recurrent_dropout: fractions in [0, 1), one mask per sequence. seed: int.
        recurrent_dropconnect: DropConnect on recurrent_kernel, in [0, 1) (default 0).
        implementation: 1 or 2, accepted (and ignored) for configs written by Keras 2 / tfa;
            the numbers do not depend on it.

    Call arguments:
        inputs: (batch, features). states: [h (batch, units), c (batch, units)].
        training: bool, enables dropout and DropConnect.
    Returns: (h', [h', c']).

    Examples:
        >>> layer = keras.layers.RNN(rnncells.PeepholeLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    def build(self, input_shape):
        self.build_dense_weights(input_shape)
        for name in PEEPHOLE_WEIGHTS:
            setattr(self, name, self.add_weight(
                shape=(self.units,), name=name, initializer=self.kernel_initializer))
        self.built = True

    def project(self, inputs, training=None):
        return self.add_bias(self.input_projection(inputs, training))

    def recur(self, projected, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        z = projected + self.recurrent_projection(h_tm1, training)
        z_i, z_f, z_c, z_o = split_gates(z, 4)
        p_i, p_f, p_o = (self.cast_weight(getattr(self, name)) for name in PEEPHOLE_WEIGHTS)
        i = self.recurrent_activation(z_i + p_i * c_tm1)
        f = self.recurrent_activation(z_f + p_f * c_tm1)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + p_o * c)
        h = o * self.activation(c)
        return h, [h, c]
