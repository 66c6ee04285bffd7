"""Shared weights and arguments of the fully connected cells (LSTM/GRU/SimpleRNN families).

`DenseRecurrentCell` owns what Keras's LSTMCell/GRUCell/SimpleRNNCell have in common:
`units`, `activation`, `recurrent_activation`, `use_bias`, the initializers, regularizers and
constraints of `kernel` (input_dim, gates*units), `recurrent_kernel` (units, gates*units) and
`bias`, and their serialization. Subclasses set `gates`, build any extra weights and write
`project` / `recur`.
"""

from keras import constraints, initializers, ops, regularizers

from rnncells import _validation as validation
from rnncells import activations
from rnncells.cells.base import RecurrentCell


class DenseRecurrentCell(RecurrentCell):
    """Base of the dense cells: kernel, recurrent_kernel and bias with Keras's arguments.

    Args:
        units: positive int, dimensionality of the output / hidden state.
        activation: activation of the candidate and the output (default "tanh").
        recurrent_activation: activation of the gates (default "sigmoid").
        use_bias: whether the cell has a bias vector (default True).
        kernel_initializer: for `kernel` (default "glorot_uniform").
        recurrent_initializer: for `recurrent_kernel` (default "orthogonal").
        bias_initializer: for `bias` (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: default None.
        kernel_constraint, recurrent_constraint, bias_constraint: default None.
        dropout, recurrent_dropout, seed: see `RecurrentCell`.
        recurrent_dropconnect: DropConnect (Wan et al. 2013) on `recurrent_kernel`, the
            fraction of its entries to drop, in [0, 1) (default 0). When training, one mask of
            the shape of `recurrent_kernel` is drawn per sequence (with the recurrent dropout
            mask, so `keras.layers.RNN` and FusedRNN draw and reset it together) and the kept
            entries are scaled by 1 / (1 - rate); at inference the plain kernel is used (its
            expectation). The same for every subclass, through `recurrent_projection`.
        implementation: 1 or 2, accepted and ignored (configs written by Keras 2 / tfa).
    """

    #: number of gate blocks in kernel / recurrent_kernel (LSTM 4, GRU 3, SimpleRNN 1).
    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        recurrent_dropconnect=0.0,
        **kwargs,
    ):
        # Keras 2 / tfa configs carry `implementation` (1 or 2); like Keras 3's LSTMCell,
        # accept and ignore it: the numbers do not depend on it.
        validation.one_of("implementation", kwargs.pop("implementation", 2), (1, 2))
        super().__init__(dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         **kwargs)
        self.recurrent_dropconnect = validation.unit_interval("recurrent_dropconnect",
                                                              recurrent_dropconnect)
        self._recurrent_dropconnect_mask = None
        self.units = validation.positive_int("units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build_dense_weights(self, input_shape, bias_shape=None, bias_initializer=None):
        """Create kernel, recurrent_kernel and (if use_bias) bias, in that order."""
        input_shape = self.check_step_input_shape(input_shape)
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape or (width,),
                name="bias",
                initializer=bias_initializer or self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        return input_shape

    def unit_forget_bias_initializer(self):
        """LSTM bias initializer: `bias_initializer` everywhere but 1 on the forget block."""
        units, base = self.units, self.bias_initializer

        def init(shape, dtype=None):
            return ops.concatenate([
                base((units,), dtype=dtype),
                initializers.get("ones")((units,), dtype=dtype),
                base((shape[0] - 2 * units,), dtype=dtype),
            ])

        return init

    def input_projection(self, inputs, training):
        """Dropout on the input, then x @ kernel, for one step or a whole sequence."""
        sequence = self.is_sequence(inputs)
        inputs = self.apply_input_dropout(inputs, training, sequence)
        return ops.matmul(inputs, self.cast_weight(self.kernel))

    def recurrent_projection(self, h, training):
        """Recurrent dropout on h, then h @ recurrent_kernel (DropConnect-masked if training)."""
        h = self.apply_recurrent_dropout(h, training)
        kernel = self.cast_weight(self.recurrent_kernel)
        if training and self.recurrent_dropconnect > 0:
            kernel = kernel * ops.cast(self.get_recurrent_dropconnect_mask(), kernel.dtype)
        return ops.matmul(h, kernel)

    # ------------------------------------------------------------------ DropConnect
    def get_recurrent_dropconnect_mask(self):
        """The DropConnect mask of `recurrent_kernel` for the current sequence (drawn once).

        Entries are 0 (dropped) or 1 / (1 - recurrent_dropconnect) (kept); None when the rate
        is 0. Drawn with the recurrent dropout mask, reset with it.
        """
        if self._recurrent_dropconnect_mask is None and self.recurrent_dropconnect > 0:
            self._recurrent_dropconnect_mask = self._new_mask(
                ops.ones(tuple(self.recurrent_kernel.shape), dtype=self.compute_dtype),
                self.recurrent_dropconnect)
        return self._recurrent_dropconnect_mask

    def get_recurrent_dropout_mask(self, state):
        """The recurrent dropout mask; also draws the DropConnect mask (once per sequence)."""
        mask = super().get_recurrent_dropout_mask(state)
        if self.built:
            self.get_recurrent_dropconnect_mask()
        return mask

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._recurrent_dropconnect_mask = None

    def get_dropout_masks(self):
        return {**super().get_dropout_masks(),
                "recurrent_dropconnect": self._recurrent_dropconnect_mask}

    def set_dropout_masks(self, masks):
        super().set_dropout_masks(masks)
        self._recurrent_dropconnect_mask = masks.get("recurrent_dropconnect")

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "recurrent_dropconnect": self.recurrent_dropconnect,
        }
        base_config = super().get_config()
        return {**base_config, **config}


def split_gates(z, count):
    """Split the last axis of `z` into `count` equal gate blocks."""
    return ops.split(z, count, axis=-1)

