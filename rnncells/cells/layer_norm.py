"""Layer-normalized LSTM, GRU and SimpleRNN cells.

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`):
- LSTM gate order i, f, c (candidate), o, as Keras and tensorflow-addons; kernel (D, 4U),
  recurrent_kernel (U, 4U), bias (4U). PyTorch/cuDNN order their blocks i, f, g, o too but
  store W transposed (4U, D) and carry two biases.
- GRU gate order z (update), r (reset), h (candidate), as Keras; bias (2, 3U): row 0 the
  input bias, row 1 the recurrent bias (Keras `reset_after=True`).
"""

import dataclasses

import keras
from keras import constraints, initializers, ops, regularizers

from rnncells import _validation as validation
from rnncells._pointwise import CompiledPointwise
from rnncells._serialization import keras_serializable
from rnncells.cells.dense import DenseRecurrentCell, split_gates
from rnncells.cells.normalization import layer_norm

FORMULATIONS = ("tfa", "ba2016")


@keras_serializable
class LayerNormLSTMCell(DenseRecurrentCell):
    """LSTM cell with layer normalization (drop-in for tensorflow-addons' LayerNormLSTMCell).

    `formulation="tfa"` (default; tensorflow-addons 0.23 numbers)::

        z  = LN_k(x @ W) + LN_r(h @ U) + b          # each LN over all 4*units, gamma and beta
        i, f, g, o = split(z)                       # gate order i, f, c, o
        c' = LN_s(sigma(f) * c + sigma(i) * act(g)) # the NORMALIZED c' is carried
        h' = sigma(o) * act(c')

    `formulation="ba2016"` (Ba et al. 2016, "Layer Normalization"; haste's LayerNormLSTM)::

        z  = LN_k(x @ W) + LN_r(h @ U) + b          # LN with gamma only (no beta), bias after
        c' = sigma(f) * c + sigma(i) * act(g)       # the RAW c' is carried
        h' = sigma(o) * act(LN_s(c'))               # LN_s with gamma and beta

    `sigma` is `recurrent_activation`, `act` is `activation`.

    Weights, in order (as tfa, so `cell.set_weights(tfa_cell.get_weights())` works):
    kernel (D, 4U), recurrent_kernel (U, 4U), bias (4U) if use_bias, kernel_norm_gamma,
    kernel_norm_beta (4U; beta only for "tfa"), recurrent_norm_gamma, recurrent_norm_beta (4U;
    beta only for "tfa"), state_norm_gamma, state_norm_beta (U).

    Args:
        units: positive int, size of h and c.
        activation: default "tanh". recurrent_activation: default "sigmoid".
        use_bias: default True. unit_forget_bias: default True (forget block of b set to 1).
        kernel_initializer "glorot_uniform", recurrent_initializer "orthogonal",
        bias_initializer "zeros", and the regularizers/constraints of Keras's LSTMCell.
        norm_gamma_initializer: default "ones". norm_beta_initializer: default "zeros".
        norm_epsilon: epsilon of the three layer norms, > 0 (default 1e-3, as tfa).
        formulation: "tfa" (default) or "ba2016", see above.
        dropout, recurrent_dropout: fractions in [0, 1), one mask per sequence. seed: int.

    Call arguments:
        inputs: (batch, features). states: [h (batch, units), c (batch, units)].
        training: bool, enables dropout.
    Returns: (h', [h', c']).

    Example:
        >>> layer = keras.layers.RNN(rnncells.LayerNormLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        formulation="tfa",
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
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
        self.unit_forget_bias = bool(unit_forget_bias)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.formulation = validation.one_of("formulation", formulation, FORMULATIONS)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, input_shape):
        bias_init = self.unit_forget_bias_initializer() if self.unit_forget_bias else None
        self.build_dense_weights(input_shape, bias_initializer=bias_init)
        width = 4 * self.units
        with_beta = self.formulation == "tfa"
        self.kernel_norm_gamma, self.kernel_norm_beta = self._norm_weights(
            "kernel_norm", width, with_beta)
        self.recurrent_norm_gamma, self.recurrent_norm_beta = self._norm_weights(
            "recurrent_norm", width, with_beta)
        self.state_norm_gamma, self.state_norm_beta = self._norm_weights(
            "state_norm", self.units, True)
        self.built = True

    def _norm_weights(self, prefix, width, with_beta):
        gamma = self.add_weight(shape=(width,), name=f"{prefix}_gamma",
                                initializer=self.norm_gamma_initializer)
        beta = None
        if with_beta:
            beta = self.add_weight(shape=(width,), name=f"{prefix}_beta",
                                   initializer=self.norm_beta_initializer)
        return gamma, beta

    def project(self, inputs, training=None):
        z = layer_norm(self.input_projection(inputs, training), self.kernel_norm_gamma,
                       self.kernel_norm_beta, self.norm_epsilon)
        if self.use_bias:
            z = z + self.cast_weight(self.bias)
        return z

    def recur(self, projected, states, training=None):
        h_tm1, c_tm1 = states[0], states[1]
        beta = self.recurrent_norm_beta
        h, carried = lstm_pointwise(
            projected, self.recurrent_projection(h_tm1, training), c_tm1,
            self.cast_weight(self.recurrent_norm_gamma),
            None if beta is None else self.cast_weight(beta),
            self.cast_weight(self.state_norm_gamma), self.cast_weight(self.state_norm_beta),
            epsilon=self.norm_epsilon, activation=self.activation,
            recurrent_activation=self.recurrent_activation, formulation=self.formulation)
        return h, [h, carried]

    def get_config(self):
        config = {
            "unit_forget_bias": self.unit_forget_bias,
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "norm_beta_initializer": initializers.serialize(self.norm_beta_initializer),
            "norm_epsilon": self.norm_epsilon,
            "formulation": self.formulation,
        }
        return {**super().get_config(), **config}


@CompiledPointwise
def lstm_pointwise(projected, recurrent, c_tm1, recurrent_gamma, recurrent_beta, state_gamma,
                   state_beta, epsilon, activation, recurrent_activation, formulation):
    """LayerNormLSTMCell's step after `h @ U` (one XLA call in traced non-XLA code, see
    `CompiledPointwise`): returns (h', carried c')."""
    z = projected + layer_norm(recurrent, recurrent_gamma, recurrent_beta, epsilon)
    z_i, z_f, z_g, z_o = split_gates(z, 4)
    c = recurrent_activation(z_f) * c_tm1 + recurrent_activation(z_i) * activation(z_g)
    c_norm = layer_norm(c, state_gamma, state_beta, epsilon)
    h = recurrent_activation(z_o) * activation(c_norm)
    return h, (c_norm if formulation == "tfa" else c)


@keras_serializable
class LayerNormGRUCell(DenseRecurrentCell):
    """GRU cell with layer normalization on the input and recurrent projections.

    Keras `GRUCell(reset_after=True)` semantics, with a layer norm (gamma, no beta; the bias
    comes after) over all 3*units of x @ W and, separately, of h @ U::

        gx = LN_x(x @ W) + b_x ;  gh = LN_h(h @ U) + b_h     # blocks z, r, h (Keras order)
        z  = sigma(gx_z + gh_z) ;  r = sigma(gx_r + gh_r)
        n  = act(gx_h + r * gh_h)
        h' = z * h + (1 - z) * n

    Weights, in order: kernel (D, 3U), recurrent_kernel (U, 3U), bias (2, 3U) (row 0 b_x,
    row 1 b_h) if use_bias, kernel_norm_gamma (3U), recurrent_norm_gamma (3U). With the
    gammas at 1 and the norms removed, this is exactly `keras.layers.GRUCell`.

    Args:
        units, activation ("tanh"), recurrent_activation ("sigmoid"), use_bias (True), the
        initializers/regularizers/constraints of Keras's GRUCell, dropout, recurrent_dropout,
        seed; norm_gamma_initializer ("ones"); norm_epsilon (> 0, default 1e-3).

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h', [h']).

    Example:
        >>> keras.layers.RNN(rnncells.LayerNormGRUCell(8))(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    gates = 3

    def __init__(self, units, norm_gamma_initializer="ones", norm_epsilon=1e-3, **kwargs):
        super().__init__(units, **kwargs)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        self.build_dense_weights(input_shape, bias_shape=(2, 3 * self.units))
        self.kernel_norm_gamma = self.add_weight(
            shape=(3 * self.units,), name="kernel_norm_gamma",
            initializer=self.norm_gamma_initializer)
        self.recurrent_norm_gamma = self.add_weight(
            shape=(3 * self.units,), name="recurrent_norm_gamma",
            initializer=self.norm_gamma_initializer)
        self.built = True

    def project(self, inputs, training=None):
        gx = layer_norm(self.input_projection(inputs, training), self.kernel_norm_gamma,
                        None, self.norm_epsilon)
        if self.use_bias:
            gx = gx + self.cast_weight(self.bias)[0]
        return gx

    def recur(self, projected, states, training=None):
        h_tm1 = states[0]
        gh = layer_norm(self.recurrent_projection(h_tm1, training), self.recurrent_norm_gamma,
                        None, self.norm_epsilon)
        if self.use_bias:
            gh = gh + self.cast_weight(self.bias)[1]
        x_z, x_r, x_h = split_gates(projected, 3)
        h_z, h_r, h_h = split_gates(gh, 3)
        z = self.recurrent_activation(x_z + h_z)
        r = self.recurrent_activation(x_r + h_r)
        candidate = self.activation(x_h + r * h_h)
        h = z * h_tm1 + (1 - z) * candidate
        return h, [h]

    def get_config(self):
        config = {
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
            "norm_epsilon": self.norm_epsilon,
        }
        return {**super().get_config(), **config}


    # ------------------------------------------------------------------ analytic adjoint
    def fused_spec(self):
        """The cell's spec, with its analytic step adjoint (`step_vjp`) when the activations
        are the default tanh / sigmoid (the adjoint is written for those)."""
        spec = super().fused_spec()
        if not self.built or not (self.activation is keras.activations.tanh
                and self.recurrent_activation is keras.activations.sigmoid):
            return spec
        weights = [self.recurrent_kernel, self.recurrent_norm_gamma]
        weights += [self.bias] if self.use_bias else []
        return dataclasses.replace(spec, step_vjp=self.step_vjp,
                                   step_vjp_weights=tuple(weights))

    def step_vjp(self, projected, states, d_output, d_states, training=None):
        """The VJP of `recur` (see `layer_norm_gru_step_vjp`); `d_output` and `d_states[0]`
        both reach h'. Returns (d_projected, [d_h], [d_recurrent_kernel, d_gamma(, d_bias)])."""
        dropout, dropconnect = recurrent_masks(self, states[0], training)
        bias = self.cast_weight(self.bias)[1] if self.use_bias else None
        d_p, d_h, d_kernel, d_gamma, d_bias = layer_norm_gru_step_vjp(
            projected, states[0], d_output + d_states[0],
            self.cast_weight(self.recurrent_kernel), self.recurrent_norm_gamma, bias,
            self.norm_epsilon, dropout, dropconnect)
        d_weights = [d_kernel, d_gamma]
        if self.use_bias:
            d_weights.append(ops.stack([ops.zeros_like(d_bias), d_bias]))
        return d_p, [d_h], d_weights


def layer_norm_gru_step_vjp(projected, h_tm1, d_h_new, recurrent_kernel, gamma, bias,
                            epsilon, dropout_mask=None, dropconnect_mask=None):
    """The adjoint of one LayerNormGRUCell step (tanh / sigmoid), from its equations.

    Forward (recomputed): u = (h * m) @ (U * M); x_hat = (u - mean(u)) / sqrt(var(u) + eps)
    (in float32); gh = x_hat * gamma + b_h; z = sigma(x_z + gh_z); r = sigma(x_r + gh_r);
    n = tanh(x_h + r * gh_h); h' = z * h + (1 - z) * n. With g = dL/dh'::

        dz = g (h - n) z (1 - z);  da = g (1 - z)(1 - n^2);  dr = da gh_h r (1 - r)
        d_projected = [dz, dr, da];  d_gh = [dz, dr, da * r]
        d_b_h = sum_batch d_gh;  d_gamma = sum_batch d_gh * x_hat
        du = (d_x_hat - mean(d_x_hat) - x_hat * mean(d_x_hat * x_hat)) / sqrt(var + eps),
             d_x_hat = d_gh * gamma
        dU = ((h * m)^T @ du) * M;  dh = g z + (du @ (U * M)^T) * m

    Args: tensors of one step (batch first); `bias` the recurrent bias b_h or None; the
    masks None when not training. Returns (d_projected, d_h, dU, d_gamma, d_b_h).
    """
    dtype = h_tm1.dtype
    h_in, kernel = masked_recurrent_inputs(h_tm1, recurrent_kernel, dropout_mask,
                                           dropconnect_mask)
    x_hat, inv = standardize(ops.matmul(h_in, kernel), epsilon)
    gamma32 = ops.cast(gamma, "float32")
    gh = x_hat * gamma32
    if bias is not None:
        gh = gh + ops.cast(bias, "float32")
    gh = ops.cast(gh, dtype)
    x_z, x_r, x_h = split_gates(projected, 3)
    h_z, h_r, h_h = split_gates(gh, 3)
    z = ops.sigmoid(x_z + h_z)
    r = ops.sigmoid(x_r + h_r)
    n = ops.tanh(x_h + r * h_h)
    g = d_h_new
    dz = g * (h_tm1 - n) * z * (1 - z)
    da = g * (1 - z) * (1 - n * n)
    dr = da * h_h * r * (1 - r)
    d_projected = ops.concatenate([dz, dr, da], axis=-1)
    d_gh = ops.cast(ops.concatenate([dz, dr, da * r], axis=-1), "float32")
    du, d_gamma, d_bias = layer_norm_vjp(d_gh, x_hat, inv, gamma32)
    d_kernel, d_h_in = recurrent_matmul_vjp(h_in, kernel, ops.cast(du, dtype), dropout_mask,
                                            dropconnect_mask)
    return (d_projected, g * z + d_h_in, d_kernel, ops.cast(d_gamma, gamma.dtype),
            d_bias)


def recurrent_masks(cell, h_tm1, training):
    """(recurrent dropout mask, DropConnect mask) of `cell`'s current sequence; None where
    unused (the masks `DenseRecurrentCell.recurrent_projection` applies)."""
    return (cell.get_recurrent_dropout_mask(h_tm1)
            if training and cell.recurrent_dropout > 0 else None,
            cell.get_recurrent_dropconnect_mask()
            if training and cell.recurrent_dropconnect > 0 else None)


def masked_recurrent_inputs(h_tm1, recurrent_kernel, dropout_mask, dropconnect_mask):
    """(h * recurrent dropout mask, U * DropConnect mask): the operands of `h @ U` in a step
    (`DenseRecurrentCell.recurrent_projection`); a None mask is no mask."""
    kernel = recurrent_kernel if dropconnect_mask is None else (
        recurrent_kernel * ops.cast(dropconnect_mask, recurrent_kernel.dtype))
    h_in = h_tm1 if dropout_mask is None else h_tm1 * ops.cast(dropout_mask, h_tm1.dtype)
    return h_in, kernel


def recurrent_matmul_vjp(h_in, kernel, du, dropout_mask, dropconnect_mask):
    """The adjoint of u = (h * m) @ (U * M) given du: (dU, dh)."""
    d_kernel = ops.matmul(ops.transpose(h_in), du)
    d_h = ops.matmul(du, ops.transpose(kernel))
    if dropconnect_mask is not None:
        d_kernel = d_kernel * ops.cast(dropconnect_mask, d_kernel.dtype)
    if dropout_mask is not None:
        d_h = d_h * ops.cast(dropout_mask, d_h.dtype)
    return d_kernel, d_h


def layer_norm_vjp(d_y, x_hat, inv_std, gamma):
    """The adjoint of y = x_hat * gamma (+ beta), x_hat = (x - mean) * inv_std over the last
    axis (all float32): (dx, d_gamma, d_beta) with the parameter gradients summed over rows."""
    d_x_hat = d_y * gamma
    d_x = (d_x_hat - ops.mean(d_x_hat, axis=-1, keepdims=True)
           - x_hat * ops.mean(d_x_hat * x_hat, axis=-1, keepdims=True)) * inv_std
    return d_x, ops.sum(d_y * x_hat, axis=0), ops.sum(d_y, axis=0)


def standardize(x, epsilon):
    """(x_hat, inv_std) of x over the last axis, in float32 (as `layer_norm`)."""
    x32 = ops.cast(x, "float32")
    mean, variance = ops.moments(x32, axes=[-1], keepdims=True)
    inv_std = ops.rsqrt(variance + epsilon)
    return (x32 - mean) * inv_std, inv_std


@keras_serializable
class LayerNormSimpleRNNCell(DenseRecurrentCell):
    """SimpleRNN cell with layer normalization (drop-in for tfa's LayerNormSimpleRNNCell)::

        h' = act(LN(x @ W + h @ U; gamma, no beta) + b)

    Weights, in order (as tfa): kernel (D, U), recurrent_kernel (U, U), bias (U) if use_bias,
    gamma (U).

    Args (tfa's names and defaults):
        units; activation "tanh"; use_bias True; layernorm_epsilon 1e-5 (> 0);
        kernel_initializer "glorot_uniform"; recurrent_initializer "orthogonal";
        bias_initializer "zeros"; gamma_initializer "ones"; kernel_/recurrent_/bias_/gamma_
        regularizer and _constraint (None); dropout, recurrent_dropout; seed.

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h', [h']).

    Example:
        >>> keras.layers.RNN(rnncells.LayerNormSimpleRNNCell(4))(np.zeros((2, 5, 3))).shape
        TensorShape([2, 4])
    """

    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        layernorm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        gamma_initializer="ones",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        gamma_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        gamma_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
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
        self.layernorm_epsilon = validation.positive_float("layernorm_epsilon",
                                                           layernorm_epsilon)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma_constraint = constraints.get(gamma_constraint)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        self.build_dense_weights(input_shape)
        self.gamma = self.add_weight(
            shape=(self.units,), name="gamma", initializer=self.gamma_initializer,
            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        self.built = True

    def project(self, inputs, training=None):
        return self.input_projection(inputs, training)

    def recur(self, projected, states, training=None):
        pre = projected + self.recurrent_projection(states[0], training)
        h = layer_norm(pre, self.gamma, None, self.layernorm_epsilon)
        if self.use_bias:
            h = h + self.cast_weight(self.bias)
        h = self.activation(h)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation")
        config.update({
            "layernorm_epsilon": self.layernorm_epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        })
        return config

