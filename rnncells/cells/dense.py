"""Shared weights and arguments of the fully connected cells (LSTM/GRU/SimpleRNN families).

`DenseRecurrentCell` owns what Keras's LSTMCell/GRUCell/SimpleRNNCell have in common:
`units`, `kernel` (input_dim, gates*units), `recurrent_kernel` (units, gates*units) and
`bias`, the projections x @ W and h @ U, and DropConnect. The activations, `use_bias` and the
weights' initializers, regularizers and constraints (and their serialization) come from
`KernelRecurrentCell`. Subclasses set `gates`, build any extra weights and write `project` /
`recur`; they list in their own signature only the arguments they add or whose default
differs, and pass the rest on with `**kwargs`.
"""

from keras import ops

from rnncells import _validation as validation
from rnncells.cells.weights import KernelRecurrentCell, unit_forget_bias


class DenseRecurrentCell(KernelRecurrentCell):
    """Base of the dense cells: kernel, recurrent_kernel and bias with Keras's arguments.

    Args:
        units: positive int, dimensionality of the output / hidden state.
        activation ("tanh", candidate and output), recurrent_activation ("sigmoid", gates),
        use_bias (True), the initializers ("glorot_uniform", "orthogonal", "zeros"),
        regularizers and constraints of kernel, recurrent_kernel and bias, dropout,
        recurrent_dropout, seed: as Keras's LSTMCell, see `KernelRecurrentCell`.
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

    def __init__(self, units, recurrent_dropconnect=0.0, **kwargs):
        # Keras 2 / tfa configs carry `implementation` (1 or 2); like Keras 3's LSTMCell,
        # accept and ignore it: the numbers do not depend on it.
        validation.one_of("implementation", kwargs.pop("implementation", 2), (1, 2))
        super().__init__(**kwargs)
        self.recurrent_dropconnect = validation.unit_interval("recurrent_dropconnect",
                                                              recurrent_dropconnect)
        self._recurrent_dropconnect_mask = None
        self.units = validation.positive_int("units", units)

    @property
    def state_size(self):
        return self.units

    def build_dense_weights(self, input_shape, bias_shape=None, bias_initializer=None):
        """Create kernel, recurrent_kernel and (if use_bias) bias, in that order."""
        input_shape = self.check_step_input_shape(input_shape)
        width = self.gates * self.units
        self.kernel = self.add_weight_with_arguments("kernel", (input_shape[-1], width),
                                                     "kernel")
        self.recurrent_kernel = self.add_weight_with_arguments("recurrent", (self.units, width),
                                                               "recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments(
                "bias", bias_shape or (width,), "bias",
                initializer=bias_initializer or self.bias_initializer)
        return input_shape

    def unit_forget_bias_initializer(self):
        """LSTM bias initializer: `bias_initializer` everywhere but 1 on the forget block."""
        return unit_forget_bias(self.bias_initializer, self.units)

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
        config = {"units": self.units, "recurrent_dropconnect": self.recurrent_dropconnect}
        return {**super().get_config(), **config}


class DenseLSTMCell(DenseRecurrentCell):
    """Base of the dense LSTM cells: gate blocks i, f, c, o, states [h, c] and Keras's
    `unit_forget_bias` (default True: the forget block of the bias starts at 1, the rest at
    `bias_initializer`). Arguments: `units` by position, `unit_forget_bias` and those of
    `DenseRecurrentCell` by keyword."""

    gates = 4

    def __init__(self, units, *, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build_dense_weights(self, input_shape, bias_shape=None, bias_initializer=None):
        if bias_initializer is None and self.unit_forget_bias:
            bias_initializer = self.unit_forget_bias_initializer()
        return super().build_dense_weights(input_shape, bias_shape, bias_initializer)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


def split_gates(z, count):
    """Split the last axis of `z` into `count` equal gate blocks."""
    return ops.split(z, count, axis=-1)

