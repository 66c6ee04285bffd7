"""The NAS cell of Zoph & Le (2017) (drop-in for tensorflow-addons' NASCell).

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`, and in tfa 0.23):
recurrent_kernel (P or U, 8U) FIRST, then kernel (D, 8U), bias (8U) if use_bias,
projection_weights (U, P) if projection. The 8 blocks of width U are the 8 branches of the
first layer, in the order of the equations below. State order [c, m], as tfa (c first).
"""

from keras import constraints, initializers, ops, regularizers

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

    Args (tfa's names and defaults):
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

    Example:
        >>> layer = keras.layers.RNN(rnncells.NASCell(4, projection=3), return_state=True)
        >>> [t.shape for t in layer(np.zeros((2, 5, 6), "float32"))]
        [TensorShape([2, 3]), TensorShape([2, 4]), TensorShape([2, 3])]
    """

    gates = NAS_BASE
    #: which state the output is (m); used by `Zoneout` to zone out the output with it.
    output_state_index = 1

    def __init__(
        self,
        units,
        projection=None,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="glorot_uniform",
        projection_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        projection_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        projection_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        for fixed in ("activation", "recurrent_activation"):
            if fixed in kwargs:
                raise ValueError(
                    f"Invalid argument `{fixed}` for NASCell: its activations are fixed by the "
                    f"searched architecture (sigmoid, relu, tanh); received "
                    f"{fixed}={kwargs[fixed]!r}. Allowed: leave it out.")
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.projection = (None if projection is None
                           else validation.positive_int("projection", projection))
        self.projection_initializer = initializers.get(projection_initializer)
        self.projection_regularizer = regularizers.get(projection_regularizer)
        self.projection_constraint = constraints.get(projection_constraint)

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
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_size, width), name="recurrent_kernel",
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,), name="bias", initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.projection_weights = None
        if self.projection is not None:
            self.projection_weights = self.add_weight(
                shape=(self.units, self.projection), name="projection_weights",
                initializer=self.projection_initializer,
                regularizer=self.projection_regularizer,
                constraint=self.projection_constraint)
        self.built = True

    def get_recurrent_dropout_mask(self, state):
        # keras.layers.RNN passes the FIRST state (c, width U); the mask applies to m (width P).
        m_like = ops.zeros((ops.shape(state)[0], self.output_size), dtype=state.dtype)
        return super().get_recurrent_dropout_mask(m_like)

    def project(self, inputs, training=None):
        return self.input_projection(inputs, training)

    def recur(self, projected, states, training=None):
        c_tm1, m_tm1 = states[0], states[1]
        rec = self.recurrent_projection(m_tm1, training)
        if self.use_bias:
            rec = rec + self.cast_weight(self.bias)
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
        config = super().get_config()
        for key in ("activation", "recurrent_activation"):
            config.pop(key)
        config.update({
            "projection": self.projection,
            "projection_initializer": initializers.serialize(self.projection_initializer),
            "projection_regularizer": regularizers.serialize(self.projection_regularizer),
            "projection_constraint": constraints.serialize(self.projection_constraint),
        })
        return config
