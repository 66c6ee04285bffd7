"""The NAS cell of Zoph & Le (2017) (drop-in for tensorflow-addons' NASCell).

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`, and in tfa 0.23):
recurrent_kernel (P or U, 8U) FIRST, then kernel (D, 8U), bias (8U) if use_bias,
projection_weights (U, P) if projection. The 8 blocks of width U are the 8 branches of the
first layer, in the order of the equations below. State order [c, m], as tfa (c first).
"""

from keras import ops

from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.dense import DenseRecurrentCell, split_gates

#: the 8 branches of NAS's first layer.
NAS_BASE = 8


@keras_serializable
class NASCell(DenseRecurrentCell):
    """Neural Architecture Search cell (Zoph & Le 2017), with an optional projection.

    The activations are fixed by the searched architecture (sigma = sigmoid)::

        a = x @ W                       # 8 blocks a_0..a_7 of width U
        b = m @ R (+ bias)              # 8 blocks b_0..b_7; the bias goes with m @ R, as tfa
        l0 = sigma(a0 + b0)   l1 = relu(a1 + b1)   l2 = sigma(a2 + b2)   l3 = relu(a3 * b3)
        l4 = tanh(a4 + b4)    l5 = sigma(a5 + b5)  l6 = tanh(a6 + b6)    l7 = sigma(a7 + b7)
        c' = tanh(tanh(l0 * l1) + c) * tanh(l2 + l3)
        m' = tanh(c' * tanh(tanh(l4 * l5) + sigma(l6 + l7)))     # then m' @ P if projection

    Weights, in order (as tfa, so `cell.set_weights(tfa_cell.get_weights())` works):
    recurrent_kernel (P or U, 8U), kernel (D, 8U), bias (8U) if use_bias, projection_weights
    (U, P) if projection.

    Args (tfa's names, defaults and order; those beyond tfa by keyword):
        units: positive int, size of c (and of m without projection).
        projection: None (default) or a positive int P, the size of m and of the output.
        use_bias: default False.
        kernel_initializer: default "glorot_uniform". recurrent_initializer: default
            "glorot_uniform". projection_initializer: default "glorot_uniform".
        bias_initializer: default "zeros".
        Beyond tfa: kernel_/recurrent_/bias_/projection_ regularizer and constraint (None);
        dropout, recurrent_dropout (on m), recurrent_dropconnect (on recurrent_kernel), all in
        [0, 1), default 0; seed.

    Call arguments:
        inputs: (batch, features). states: [c (batch, units), m (batch, P or units)].
        training: bool, enables dropout and DropConnect.
    Returns: (m', [c', m']).

    Examples:
        >>> layer = keras.layers.RNN(rnncells.NASCell(4, projection=3), return_state=True)
        >>> [t.shape for t in layer(np.zeros((2, 5, 6), "float32"))]
        [TensorShape([2, 3]), TensorShape([2, 4]), TensorShape([2, 3])]
    """

    gates = NAS_BASE
    #: no activation arguments: the searched architecture fixes them (sigmoid, relu, tanh).
    activation_arguments = ()
    #: which state the output is (m); used by `Zoneout` to zone out the output with it.
    output_state_index = 1

    # tfa's signature (positional use included), then rnncells' additions by keyword.
    def __init__(self, units, projection=None, use_bias=False,
                 kernel_initializer="glorot_uniform", recurrent_initializer="glorot_uniform",
                 projection_initializer="glorot_uniform", bias_initializer="zeros", *,
                 projection_regularizer=None, projection_constraint=None, **kwargs):
        super().__init__(units, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.projection = (None if projection is None
                           else validation.positive_int("projection", projection))
        self.set_weight_arguments("projection", projection_initializer, projection_regularizer,
                                  projection_constraint)

    @property
    def state_size(self):
        return [self.units, self.output_size]

    @property
    def output_size(self):
        return self.units if self.projection is None else self.projection

    def build(self, input_shape):
        input_shape = self.check_step_input_shape(input_shape)
        width = NAS_BASE * self.units
        # tfa's order: recurrent_kernel before kernel.
        self.recurrent_kernel = self.add_weight_with_arguments(
            "recurrent", (self.output_size, width), "recurrent_kernel")
        self.kernel = self.add_weight_with_arguments("kernel", (input_shape[-1], width), "kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments("bias", (width,), "bias")
        self.projection_weights = None
        if self.projection is not None:
            self.projection_weights = self.add_weight_with_arguments(
                "projection", (self.units, self.projection), "projection_weights")
        self.built = True

    def get_recurrent_dropout_mask(self, state):
        # keras.layers.RNN passes the FIRST state (c, width U); the mask applies to m (width P).
        m_like = ops.zeros((ops.shape(state)[0], self.output_size), dtype=state.dtype)
        return super().get_recurrent_dropout_mask(m_like)

    def project(self, inputs, training=None):
        return self.input_projection(inputs, training)

    def recur(self, projected, states, training=None):
        c_tm1, m_tm1 = states[0], states[1]
        rec = self.add_bias(self.recurrent_projection(m_tm1, training))
        a = split_gates(projected, NAS_BASE)
        b = split_gates(rec, NAS_BASE)
        sigmoid, relu, tanh = ops.sigmoid, ops.relu, ops.tanh
        l0 = sigmoid(a[0] + b[0])
        l1 = relu(a[1] + b[1])
        l2 = sigmoid(a[2] + b[2])
        l3 = relu(a[3] * b[3])
        l4 = tanh(a[4] + b[4])
        l5 = sigmoid(a[5] + b[5])
        l6 = tanh(a[6] + b[6])
        l7 = sigmoid(a[7] + b[7])
        c = tanh(tanh(l0 * l1) + c_tm1) * tanh(l2 + l3)
        m = tanh(c * tanh(tanh(l4 * l5) + sigmoid(l6 + l7)))
        if self.projection is not None:
            m = ops.matmul(m, self.cast_weight(self.projection_weights))
        return m, [c, m]

    def get_config(self):
        config = {"projection": self.projection, **self.weight_arguments_config("projection")}
        return {**super().get_config(), **config}
