"""Layer-normalized LSTM, GRU and SimpleRNN cells.

Weight layout (the same in `keras.layers.RNN(cell)` and `FusedRNN(cell)`):
- LSTM gate order i, f, c (candidate), o, as Keras and tensorflow-addons; kernel (D, 4U),
  recurrent_kernel (U, 4U), bias (4U). PyTorch/cuDNN order their blocks i, f, g, o too but
  store W transposed (4U, D) and carry two biases.
- GRU gate order z (update), r (reset), h (candidate), as Keras; bias (2, 3U): row 0 the
  input bias, row 1 the recurrent bias (Keras `reset_after=True`).
- The norm weights live in `LayerNorm` sublayers, as in tensorflow-addons: the LSTM's
  `kernel_norm`, `recurrent_norm`, `state_norm` and the GRU's `kernel_norm`,
  `recurrent_norm` (weight paths `.../kernel_norm/gamma`, `.../kernel_norm/beta`, ...), the
  SimpleRNN's `layernorm` (`.../layernorm/gamma`). `cell.weights` lists the cell's own
  kernel, recurrent_kernel, bias first, then each sublayer's gamma (and beta): tfa's order.
- rnncells 0.1.0 kept the norm weights as the cell's own variables (`kernel_norm_gamma`, ...,
  in the same order); `.keras` / `.weights.h5` files written by it still load
  (`LegacyNormWeightsLoader`).
"""

import dataclasses

import keras
from keras import initializers, ops

from rnncells import _validation as validation
from rnncells._pointwise import CompiledPointwise
from rnncells._serialization import keras_serializable
from rnncells.cells.dense import DenseLSTMCell, DenseRecurrentCell, split_gates
from rnncells.cells.normalization import layer_norm
from rnncells.cells.updates import gru_update, lstm_update
from rnncells.cells.weights import WeightArguments

FORMULATIONS = ("tfa", "ba2016")


@keras_serializable
class LayerNorm(WeightArguments, keras.layers.Layer):
    """Layer normalization over the last axis: the gamma/beta holder of the layer-norm cells.

    ::

        y = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta    # beta only if center

    The cells call the pure `layer_norm` with these weights inside their own steps (so the
    fused kernels see the same math); calling the layer does the same computation. Its
    attributes follow `keras.layers.LayerNormalization` (`gamma`, `beta`, `epsilon`,
    `center`), as the sublayers of tensorflow-addons' cells were such layers.

    Args:
        epsilon: > 0 (default 1e-3). center: create and add beta (default True).
        gamma_initializer "ones", beta_initializer "zeros"; gamma_/beta_ regularizer and
        constraint (None).
    """

    def __init__(self, epsilon=1e-3, center=True, gamma_initializer="ones",
                 beta_initializer="zeros", gamma_regularizer=None, beta_regularizer=None,
                 gamma_constraint=None, beta_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = validation.positive_float("epsilon", epsilon)
        self.center = bool(center)
        self.set_weight_arguments("gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        self.set_weight_arguments("beta", beta_initializer, beta_regularizer, beta_constraint)
        self.gamma = self.beta = None
        self._loaded_by_parent = False

    def build(self, input_shape):
        width = (input_shape[-1],)
        self.gamma = self.add_weight_with_arguments("gamma", width, "gamma")
        if self.center:
            self.beta = self.add_weight_with_arguments("beta", width, "beta")
        self.built = True

    def call(self, inputs):
        return layer_norm(inputs, self.gamma, self.beta, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def mark_loaded_by_parent(self):
        """Let the next `load_own_variables` find an empty store (a legacy file)."""
        self._loaded_by_parent = True

    def load_own_variables(self, store):
        # A legacy file holds these weights in the parent cell's variables; the parent has
        # already assigned them and marked this layer (see LegacyNormWeightsLoader).
        if self._loaded_by_parent and not list(store.keys()):
            self._loaded_by_parent = False
            return
        self._loaded_by_parent = False
        super().load_own_variables(store)

    def get_config(self):
        config = {"epsilon": self.epsilon, "center": self.center,
                  **self.weight_arguments_config("gamma", "beta")}
        return {**super().get_config(), **config}


class LegacyNormWeightsLoader:
    """Mixin of the layer-norm cells: load files whose norm weights were the cell's own.

    rnncells 0.1.0 created the norm weights with the cell's `add_weight`, right after kernel,
    recurrent_kernel and bias, in the order `cell.weights` has today. Its `.keras` and
    `.weights.h5` files therefore store all of a cell's weights under the cell, none under its
    `LayerNorm` sublayers. A store holding exactly `len(cell.weights)` entries is that layout:
    assign them in order and let the (empty) sublayer stores pass; any other store goes to
    Keras's own loader (which also reports a mismatch).

    Subclasses list their sublayers in `norm_layers`.
    """

    norm_layers = ()

    def load_own_variables(self, store):
        norms = [getattr(self, name) for name in self.norm_layers]
        weights = self.weights
        own = len(weights) - sum(len(norm.weights) for norm in norms)
        if len(list(store.keys())) == len(weights) != own:
            for index, variable in enumerate(weights):
                variable.assign(store[str(index)])
            for norm in norms:
                norm.mark_loaded_by_parent()
            return
        super().load_own_variables(store)


@keras_serializable
class LayerNormLSTMCell(LegacyNormWeightsLoader, DenseLSTMCell):
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

    Weights, in order (as tfa, so `cell.set_weights(tfa_cell.get_weights())` works), with
    tfa's paths: kernel (D, 4U), recurrent_kernel (U, 4U), bias (4U) if use_bias,
    kernel_norm/gamma, kernel_norm/beta (4U; beta only for "tfa"), recurrent_norm/gamma,
    recurrent_norm/beta (4U; beta only for "tfa"), state_norm/gamma, state_norm/beta (U).
    The three norms are `LayerNorm` sublayers `cell.kernel_norm`, `cell.recurrent_norm`,
    `cell.state_norm`; `cell.kernel_norm_gamma` etc. name their weights.

    Args (`units` by position or keyword, the others by keyword):
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

    Examples:
        >>> layer = keras.layers.RNN(rnncells.LayerNormLSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    norm_layers = ("kernel_norm", "recurrent_norm", "state_norm")

    def __init__(self, units, *, norm_gamma_initializer="ones", norm_beta_initializer="zeros",
                 norm_epsilon=1e-3, formulation="tfa", **kwargs):
        super().__init__(units, **kwargs)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = initializers.get(norm_beta_initializer)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.formulation = validation.one_of("formulation", formulation, FORMULATIONS)
        with_beta = self.formulation == "tfa"
        self.kernel_norm = self._norm_layer("kernel_norm", with_beta)
        self.recurrent_norm = self._norm_layer("recurrent_norm", with_beta)
        self.state_norm = self._norm_layer("state_norm", True)

    def _norm_layer(self, name, center):
        return LayerNorm(epsilon=self.norm_epsilon, center=center,
                         gamma_initializer=self.norm_gamma_initializer,
                         beta_initializer=self.norm_beta_initializer, name=name,
                         dtype=self.dtype_policy)

    def build(self, input_shape):
        self.build_dense_weights(input_shape)
        self.kernel_norm.build((None, 4 * self.units))
        self.recurrent_norm.build((None, 4 * self.units))
        self.state_norm.build((None, self.units))
        self.built = True

    kernel_norm_gamma = property(lambda self: self.kernel_norm.gamma)
    kernel_norm_beta = property(lambda self: self.kernel_norm.beta)
    recurrent_norm_gamma = property(lambda self: self.recurrent_norm.gamma)
    recurrent_norm_beta = property(lambda self: self.recurrent_norm.beta)
    state_norm_gamma = property(lambda self: self.state_norm.gamma)
    state_norm_beta = property(lambda self: self.state_norm.beta)

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
    return lstm_update(split_gates(z, 4), c_tm1, activation, recurrent_activation,
                       state_norm=lambda c: layer_norm(c, state_gamma, state_beta, epsilon),
                       carry_normalized=formulation == "tfa")


@keras_serializable
class LayerNormGRUCell(LegacyNormWeightsLoader, DenseRecurrentCell):
    """GRU cell with layer normalization on the input and recurrent projections.

    Keras `GRUCell(reset_after=True)` semantics, with a layer norm (gamma, no beta; the bias
    comes after) over all 3*units of x @ W and, separately, of h @ U::

        gx = LN_x(x @ W) + b_x ;  gh = LN_h(h @ U) + b_h     # blocks z, r, h (Keras order)
        z  = sigma(gx_z + gh_z) ;  r = sigma(gx_r + gh_r)
        n  = act(gx_h + r * gh_h)
        h' = z * h + (1 - z) * n

    Weights, in order: kernel (D, 3U), recurrent_kernel (U, 3U), bias (2, 3U) (row 0 b_x,
    row 1 b_h) if use_bias, kernel_norm/gamma (3U), recurrent_norm/gamma (3U): the `LayerNorm`
    sublayers `cell.kernel_norm`, `cell.recurrent_norm` (no beta), named as
    LayerNormLSTMCell's. With the gammas at 1 and the norms removed, this is exactly
    `keras.layers.GRUCell`.

    Args:
        units, activation ("tanh"), recurrent_activation ("sigmoid"), use_bias (True), the
        initializers/regularizers/constraints of Keras's GRUCell, dropout, recurrent_dropout,
        seed; norm_gamma_initializer ("ones"); norm_epsilon (> 0, default 1e-3).

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h', [h']).

    Examples:
        >>> keras.layers.RNN(rnncells.LayerNormGRUCell(8))(np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 8])
    """

    gates = 3
    norm_layers = ("kernel_norm", "recurrent_norm")

    def __init__(self, units, norm_gamma_initializer="ones", norm_epsilon=1e-3, **kwargs):
        super().__init__(units, **kwargs)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.kernel_norm, self.recurrent_norm = (
            LayerNorm(epsilon=self.norm_epsilon, center=False,
                      gamma_initializer=self.norm_gamma_initializer, name=name,
                      dtype=self.dtype_policy)
            for name in self.norm_layers)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        self.build_dense_weights(input_shape, bias_shape=(2, 3 * self.units))
        self.kernel_norm.build((None, 3 * self.units))
        self.recurrent_norm.build((None, 3 * self.units))
        self.built = True

    kernel_norm_gamma = property(lambda self: self.kernel_norm.gamma)
    recurrent_norm_gamma = property(lambda self: self.recurrent_norm.gamma)

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
        h = gru_update(split_gates(projected, 3), split_gates(gh, 3), h_tm1, self.activation,
                       self.recurrent_activation)
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
class LayerNormSimpleRNNCell(LegacyNormWeightsLoader, DenseRecurrentCell):
    """SimpleRNN cell with layer normalization (drop-in for tfa's LayerNormSimpleRNNCell)::

        h' = act(LN(x @ W + h @ U; gamma, no beta) + b)

    Weights, in order (as tfa): kernel (D, U), recurrent_kernel (U, U), bias (U) if use_bias,
    layernorm/gamma (U): the `LayerNorm` sublayer `cell.layernorm` (no beta), which the
    gamma_* arguments configure, as tfa's.

    Args (tfa's names and defaults; `units` by position or keyword, the others by keyword):
        units; activation "tanh"; use_bias True; layernorm_epsilon 1e-5 (> 0);
        kernel_initializer "glorot_uniform"; recurrent_initializer "orthogonal";
        bias_initializer "zeros"; gamma_initializer "ones"; kernel_/recurrent_/bias_/gamma_
        regularizer and _constraint (None); dropout, recurrent_dropout; seed.

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h', [h']).

    Examples:
        >>> keras.layers.RNN(rnncells.LayerNormSimpleRNNCell(4))(np.zeros((2, 5, 3))).shape
        TensorShape([2, 4])
    """

    gates = 1
    norm_layers = ("layernorm",)
    activation_arguments = ("activation",)  # a SimpleRNN has no recurrent_activation

    def __init__(self, units, *, layernorm_epsilon=1e-5, gamma_initializer="ones",
                 gamma_regularizer=None, gamma_constraint=None, **kwargs):
        super().__init__(units, **kwargs)
        self.layernorm_epsilon = validation.positive_float("layernorm_epsilon",
                                                           layernorm_epsilon)
        self.set_weight_arguments("gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        self.layernorm = LayerNorm(
            epsilon=self.layernorm_epsilon, center=False,
            gamma_initializer=self.gamma_initializer,
            gamma_regularizer=self.gamma_regularizer, gamma_constraint=self.gamma_constraint,
            name="layernorm", dtype=self.dtype_policy)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        self.build_dense_weights(input_shape)
        self.layernorm.build((None, self.units))
        self.built = True

    gamma = property(lambda self: self.layernorm.gamma)

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
        config = {"layernorm_epsilon": self.layernorm_epsilon,
                  **self.weight_arguments_config("gamma")}
        return {**super().get_config(), **config}

