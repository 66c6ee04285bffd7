"""Convolutional LSTM and GRU cells for 1, 2 and 3 spatial dimensions (one implementation each).

Protocol (see `rnncells.cells.base`):
- `project(x)`: dropout, the input convolution (filters, kernel_size, strides, padding,
  dilation_rate), its normalization and the bias. One step `(B, *spatial, C)` or a whole
  sequence `(B, T, *spatial, C)`: a sequence is folded to `(B*T, *spatial, C)` so the input
  convolution of every step runs as one big convolution.
- `recur(projected_t, states)`: recurrent dropout, the recurrent convolution (padding "same",
  stride 1, dilation 1, no bias), its normalization, the gates and the state update.

Weight layout (`keras.layers.ConvLSTM1D/2D/3D`'s, so weights move both ways unchanged):
- kernel (*kernel_size, C_in, gates * filters); recurrent_kernel (*kernel_size, filters,
  gates * filters); bias (gates * filters,). Along the last axis the gate blocks are
  contiguous blocks of `filters` channels: LSTM i, f, c (candidate), o; GRU z, r, h.
- With `normalization` set, two more vectors: kernel_norm_gamma and recurrent_norm_gamma, each
  (gates * filters,), in that order after bias.

`data_format="channels_first"` puts the channels before the spatial axes: steps
`(B, C, *spatial)`, states `(B, filters, *spatial')`; the weights are the same.

Normalization (`normalization="layer"` or `"group"`), applied separately to the output of the
input convolution and of the recurrent convolution, before the bias::

    for each sample (and each time step), each gate block of `filters` channels is split into
    `groups` groups of filters // groups consecutive channels; each group is standardized over
    its channels and all spatial positions:  y = (z - mean) / sqrt(var + norm_epsilon) * gamma

Statistics are computed in float32 (biased variance); `gamma` is per channel, there is no beta
(the bias, added after the normalization, plays that role). `"layer"` is `"group"` with
`groups=1`: one group per gate block, so each gate's pre-activation is standardized on its
own (unlike `LayerNormLSTMCell`, whose dense layer norm spans all 4 * units at once).
With `normalization=None` (the default) there are no extra weights and ConvLSTMCell is
exactly Keras's ConvLSTM.
"""

import numbers

import keras
from keras import initializers, ops

from rnncells import _backend
from rnncells import _validation as validation
from rnncells._serialization import keras_serializable
from rnncells.cells.normalization import layer_norm
from rnncells.cells.updates import gru_update, lstm_update
from rnncells.cells.weights import KernelRecurrentCell, unit_forget_bias

RANKS = (1, 2, 3)
PADDINGS = ("valid", "same")
DATA_FORMATS = ("channels_last", "channels_first")
NORMALIZATIONS = (None, "layer", "group")


def int_tuple(name, value, rank):
    """`value` (an int or a sequence of `rank` ints, each >= 1) as a tuple of `rank` ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value_tuple = (int(value),) * rank
    elif isinstance(value, (list, tuple)):
        value_tuple = tuple(value)
    else:
        value_tuple = None
    ok = value_tuple is not None and len(value_tuple) == rank and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
        for v in value_tuple)
    if not ok:
        raise ValueError(
            f"The `{name}` argument must be a tuple of {rank} integers. Received "
            f"{name}={value!r}; expected an integer >= 1 or a tuple of {rank} integers >= 1 "
            f"(one per spatial dimension, rank={rank})."
        )
    return tuple(int(v) for v in value_tuple)


def conv_output_length(length, kernel, stride, padding, dilation):
    """Output length of a convolution along one axis (Keras/TensorFlow arithmetic)."""
    if padding == "same":
        return -(-length // stride)
    effective = dilation * (kernel - 1) + 1
    return (length - effective) // stride + 1


class ConvRecurrentCell(KernelRecurrentCell):
    """Base of the convolutional cells: arguments, weights, input/recurrent convolutions.

    Subclasses set `gates` and `num_states` and write `recur`. See `ConvLSTMCell` for the
    arguments.
    """

    gates = 1
    num_states = 1

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        normalization=None,
        groups=None,
        norm_epsilon=1e-3,
        norm_gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(rank, bool) or rank not in RANKS:
            raise ValueError(
                f"Rank {rank!r} convolutions are not currently implemented. Received: "
                f"rank={rank!r}; allowed: {', '.join(map(str, RANKS))}.")
        self.rank = int(rank)
        self.step_input_rank = self.rank + 2  # (batch, *spatial, channels) per step
        self.filters = validation.positive_int("filters", filters)
        self.kernel_size = int_tuple("kernel_size", kernel_size, self.rank)
        self.strides = int_tuple("strides", strides, self.rank)
        self.dilation_rate = int_tuple("dilation_rate", dilation_rate, self.rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please "
                "provide `strides=1` or `dilation_rate=1`. Received: "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.padding = padding.lower() if isinstance(padding, str) else padding
        if self.padding not in PADDINGS:
            raise ValueError(
                f"The `padding` argument must be one of {', '.join(map(repr, PADDINGS))}. "
                f"Received: padding={padding!r}")
        if data_format is None:
            data_format = keras.config.image_data_format()
        if data_format not in DATA_FORMATS:
            raise ValueError(
                "The `data_format` argument must be one of {'channels_first', "
                f"'channels_last'}}. Received: data_format={data_format!r}")
        self.data_format = data_format
        self.normalization = validation.one_of("normalization", normalization, NORMALIZATIONS)
        if self.normalization == "group":
            groups = validation.positive_int("groups", groups)
            if self.filters % groups:
                raise ValueError(
                    "Invalid value for argument `groups`: expected a divisor of "
                    f"filters={self.filters} (each gate block of `filters` channels is split "
                    f"into `groups` equal groups), received groups={groups!r}."
                )
        elif groups is not None:
            raise ValueError(
                "Invalid value for argument `groups`: expected None unless "
                f"normalization='group' (received normalization={self.normalization!r}), "
                f"received groups={groups!r}."
            )
        self.groups = groups if self.normalization == "group" else None
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.state_spatial_shape = (None,) * self.rank
        self.input_channels = None

    # ------------------------------------------------------------------ shapes
    @property
    def channel_axis(self):
        """Channel axis of one step / one state tensor (batch first)."""
        return -1 if self.data_format == "channels_last" else 1

    @property
    def state_shape(self):
        """Shape of one state without the batch axis (spatial dims None until built)."""
        if self.data_format == "channels_last":
            return (*self.state_spatial_shape, self.filters)
        return (self.filters, *self.state_spatial_shape)

    @property
    def state_size(self):
        return [self.state_shape] * self.num_states

    def output_spatial_shape(self, spatial):
        """Spatial shape of the states for input steps of spatial shape `spatial`."""
        return tuple(
            None if n is None else conv_output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def compute_output_shape(self, input_shape, states_shape=None):
        """(output shape, [state shapes]) for one input step of shape `input_shape`."""
        input_shape = tuple(input_shape)
        spatial = input_shape[1:-1] if self.data_format == "channels_last" else input_shape[2:]
        out = self.output_spatial_shape(spatial)
        if self.data_format == "channels_last":
            shape = (input_shape[0], *out, self.filters)
        else:
            shape = (input_shape[0], self.filters, *out)
        return shape, [shape] * self.num_states

    def _feature_axes_description(self):
        spatial = ", ".join(f"spatial_{i + 1}" for i in range(self.rank))
        if self.data_format == "channels_last":
            return f"{spatial}, channels"
        return f"channels, {spatial}"

    # ------------------------------------------------------------------ weights
    def build(self, input_shape):
        input_shape = self.check_step_input_shape(input_shape)
        if self.data_format == "channels_last":
            spatial, channels = input_shape[1:-1], input_shape[-1]
        else:
            spatial, channels = input_shape[2:], input_shape[1]
        if any(n is None for n in spatial):
            raise ValueError(
                f"{type(self).__name__} only supports static input shapes for the spatial "
                f"dimensions (batch, {self._feature_axes_description()}). Received invalid "
                f"input shape: input_shape={input_shape}"
            )
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. Found None. Full "
                f"input shape received: input_shape={input_shape}"
            )
        out = self.output_spatial_shape(spatial)
        if any(n < 1 for n in out):
            raise ValueError(
                f"{type(self).__name__}: input steps of spatial shape {tuple(spatial)} are "
                f"too small for kernel_size={self.kernel_size}, "
                f"dilation_rate={self.dilation_rate} with padding='valid' (the output would "
                f"have shape {out}); received `inputs` of shape {input_shape}."
            )
        self.input_channels = int(channels)
        self.state_spatial_shape = out
        width = self.gates * self.filters
        self.kernel = self.add_weight_with_arguments(
            "kernel", (*self.kernel_size, self.input_channels, width), "kernel")
        self.recurrent_kernel = self.add_weight_with_arguments(
            "recurrent", (*self.kernel_size, self.filters, width), "recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments(
                "bias", (width,), "bias", initializer=self.bias_weight_initializer())
        self.kernel_norm_gamma = self.recurrent_norm_gamma = None
        if self.normalization is not None:
            self.kernel_norm_gamma = self.add_weight(
                shape=(width,), name="kernel_norm_gamma",
                initializer=self.norm_gamma_initializer)
            self.recurrent_norm_gamma = self.add_weight(
                shape=(width,), name="recurrent_norm_gamma",
                initializer=self.norm_gamma_initializer)
        self.built = True

    def bias_weight_initializer(self):
        return self.bias_initializer

    # ------------------------------------------------------------------ the two convolutions
    def normalize(self, z, gamma):
        """Group/layer normalization of a conv output `z` (batch, *state_shape), see module."""
        if self.normalization is None:
            return z
        groups = self.groups or 1
        count, size = self.gates * groups, self.filters // groups
        spatial = self.state_spatial_shape
        if self.data_format == "channels_last":
            grouped = ops.reshape(z, (-1, *spatial, count, size))
            axes = [*range(1, self.rank + 1), self.rank + 2]
            gamma = ops.reshape(gamma, (count, size))
        else:
            grouped = ops.reshape(z, (-1, count, size, *spatial))
            axes = list(range(2, self.rank + 3))
            gamma = ops.reshape(gamma, (count, size) + (1,) * self.rank)
        y = layer_norm(grouped, gamma, None, self.norm_epsilon, axis=axes)
        return ops.reshape(y, ops.shape(z))

    def add_bias(self, z):
        if not self.use_bias:
            return z
        bias = self.cast_weight(self.bias)
        if self.data_format == "channels_first":
            bias = ops.reshape(bias, (-1,) + (1,) * self.rank)
        return z + bias

    def input_conv(self, inputs, training):
        """Dropout, conv(x, kernel), normalization and bias, for one step or a sequence."""
        sequence = self.is_sequence(inputs)
        inputs = self.apply_input_dropout(inputs, training, sequence)
        if sequence:
            batch_and_time = ops.shape(inputs)[:2]
            inputs = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        z = self.conv(inputs, self.cast_weight(self.kernel), strides=self.strides,
                      padding=self.padding, dilation_rate=self.dilation_rate)
        z = self.add_bias(self.normalize(z, self.kernel_norm_gamma))
        if sequence:
            z = ops.reshape(z, (batch_and_time[0], batch_and_time[1], *z.shape[1:]))
        return z

    def recurrent_conv(self, h, training):
        """Recurrent dropout, conv(h, recurrent_kernel) ("same", stride 1), normalization."""
        h = self.apply_recurrent_dropout(h, training)
        z = self.conv(h, self.cast_weight(self.recurrent_kernel), strides=1, padding="same")
        return self.normalize(z, self.recurrent_norm_gamma)

    def conv(self, x, kernel, **kwargs):
        """`ops.conv` in the cell's data format. TensorFlow's CPU kernels have no 2-D
        channels_first convolution (and Keras routes only some shapes to XLA), so on the
        TensorFlow backend a channels_first convolution runs channels_last between two
        transposes: the same numbers, on every device."""
        if self.data_format == "channels_first" and _backend.is_tensorflow():
            z = ops.conv(ops.moveaxis(x, 1, -1), kernel, data_format="channels_last", **kwargs)
            return ops.moveaxis(z, -1, 1)
        return ops.conv(x, kernel, data_format=self.data_format, **kwargs)

    def split_gates(self, z):
        return ops.split(z, self.gates, axis=self.channel_axis)

    def project(self, inputs, training=None):
        return self.input_conv(inputs, training)

    def get_config(self):
        config = {
            "rank": self.rank,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "normalization": self.normalization,
            "groups": self.groups,
            "norm_epsilon": self.norm_epsilon,
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
        }
        return {**super().get_config(), **config}


@keras_serializable
class ConvLSTMCell(ConvRecurrentCell):
    """Convolutional LSTM cell (Shi et al. 2015) with `keras.layers.ConvLSTM*D`'s weights.

    With `*` a convolution, `N_x`, `N_h` the optional normalizations (identity by default)::

        z  = N_x(conv(x, W; strides, padding, dilation)) + b
             + N_h(conv(h, U; "same", stride 1))      # gate blocks i, f, c, o
        i, f, g, o = split(z)                         # along the channel axis
        c' = sigma(f) * c + sigma(i) * act(g)
        h' = sigma(o) * act(c')

    `sigma` is `recurrent_activation`, `act` is `activation`. Weights: kernel
    (*kernel_size, C, 4F), recurrent_kernel (*kernel_size, F, 4F), bias (4F) (Keras's shapes,
    names and gate order, so `cell.set_weights(keras_conv_lstm.get_weights())` works both
    ways with `normalization=None`), then kernel_norm_gamma and recurrent_norm_gamma (4F) if
    `normalization` is set. Dropout draws one input mask and one recurrent mask per sequence
    (shared by the four gates; Keras draws one per gate, so dropout results differ).

    Args:
        rank: number of spatial dimensions, 1, 2 or 3.
        filters: positive int, number of channels of h and c.
        kernel_size: int or tuple of `rank` ints (input and recurrent convolutions).
        strides: int or tuple of `rank` ints, of the input convolution (default 1).
        padding: "valid" (default) or "same", of the input convolution.
        data_format: "channels_last" or "channels_first" (default
            `keras.config.image_data_format()`).
        dilation_rate: int or tuple of `rank` ints, of the input convolution (default 1);
            strides > 1 and dilation_rate > 1 cannot be combined.
        activation: default "tanh"; any Keras activation or
            `rnncells.activations.LeakyReLU(slope)`. recurrent_activation: default "sigmoid".
        use_bias: default True. unit_forget_bias: default True (forget block of b set to 1 at
            initialization, the rest from `bias_initializer`).
        kernel_initializer "glorot_uniform", recurrent_initializer "orthogonal",
        bias_initializer "zeros"; kernel_/recurrent_/bias_ regularizer and constraint (None).
        normalization: None (default), "layer" or "group" (see the module docstring).
        groups: for "group", a divisor of `filters`: groups per gate block.
        norm_epsilon: > 0 (default 1e-3). norm_gamma_initializer: default "ones".
        dropout, recurrent_dropout: fractions in [0, 1). seed: int or None.

    Call arguments:
        inputs: one step (batch, *spatial, C) (channels_first: (batch, C, *spatial)).
        states: [h, c], each (batch, *spatial', filters) (or (batch, filters, *spatial')).
        training: bool, enables dropout.
    Returns: (h', [h', c']).

    In a functional or Sequential model wrap the cell in `rnncells.ConvRNN` (or use
    `rnncells.ConvLSTM2D`, ...): `keras.layers.RNN` computes symbolic output shapes for flat
    states only, so it runs a convolutional cell on tensors but not on `keras.Input`.

    Examples:
        >>> cell = rnncells.ConvLSTMCell(2, filters=4, kernel_size=3, padding="same")
        >>> keras.layers.RNN(cell)(np.zeros((2, 5, 8, 8, 3), "float32")).shape
        TensorShape([2, 8, 8, 4])
    """

    gates = 4
    num_states = 2

    def __init__(self, rank, filters, kernel_size, unit_forget_bias=True, **kwargs):
        super().__init__(rank, filters, kernel_size, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def bias_weight_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        return unit_forget_bias(self.bias_initializer, self.filters)

    def recur(self, projected, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        z = projected + self.recurrent_conv(h_tm1, training)
        h, c = lstm_update(self.split_gates(z), c_tm1, self.activation,
                           self.recurrent_activation)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras_serializable
class ConvGRUCell(ConvRecurrentCell):
    """Convolutional GRU cell (Ballas et al. 2016), Keras GRU conventions (reset after).

    With `*` a convolution, `N_x`, `N_h` the optional normalizations (identity by default)::

        x_z, x_r, x_h = split(N_x(conv(x, W; strides, padding, dilation)) + b)
        h_z, h_r, h_h = split(N_h(conv(h, U; "same", stride 1)))   # no recurrent bias
        z  = sigma(x_z + h_z) ;  r = sigma(x_r + h_r)
        n  = act(x_h + r * h_h)                                    # reset applied after conv
        h' = z * h + (1 - z) * n                                   # z near 1 keeps the state

    Gate order z, r, h as `keras.layers.GRUCell` (`reset_after=True`, one recurrent
    convolution for the three gates). Weights: kernel (*kernel_size, C, 3F),
    recurrent_kernel (*kernel_size, F, 3F), bias (3F) (the input bias; the recurrent conv has
    no bias, as in ConvLSTM), then kernel_norm_gamma and recurrent_norm_gamma (3F) if
    `normalization` is set.

    Args: as `ConvLSTMCell` without `unit_forget_bias` (`rnncells.initializers.Chrono` is a
    good `bias_initializer` for long memories).

    Call arguments: inputs, one step as for ConvLSTMCell; states [h]; training.
    Returns: (h', [h']).

    Examples:
        >>> cell = rnncells.ConvGRUCell(1, filters=4, kernel_size=3)
        >>> keras.layers.RNN(cell)(np.zeros((2, 5, 10, 3), "float32")).shape
        TensorShape([2, 8, 4])
    """

    gates = 3
    num_states = 1

    def recur(self, projected, states, training=None):
        h_tm1 = states[0]
        recurrent = self.recurrent_conv(h_tm1, training)
        h = gru_update(self.split_gates(projected), self.split_gates(recurrent), h_tm1,
                       self.activation, self.recurrent_activation)
        return h, [h]
