"""Independently recurrent cell (IndRNN, Li et al. 2018) and its recurrent-weight bound.

Each unit sees only its own previous state, through one recurrent weight: `u` is a vector,
so the Jacobian dh_t/dh_{t-1} is diagonal, diag(u * act'(pre_t)), and over k steps
dh_{t+k}/dh_t = diag(prod u * act'(pre)). With act' <= 1 (relu, leaky_relu with slope <= 1,
tanh) bounding |u| <= 2**(1/T) keeps every element of dh_T/dh_t at most 2 in magnitude for all
t <= T: gradients cannot explode over T steps. `max_steps=T` applies that bound as a Keras
constraint (`MagnitudeBound`).
"""

import math
import numbers
import warnings

import keras
import numpy as np
from keras import constraints, initializers, ops

from rnncells import _validation as validation
from rnncells._deprecation import take_renamed, upgrade_config
from rnncells._serialization import keras_serializable
from rnncells.cells.normalization import layer_norm
from rnncells.cells.weights import KernelRecurrentCell

NORMALIZATIONS = (None, "layer")

#: previous argument names: {old: (new, old value -> new value)}.
RENAMED = {
    "max_timesteps": ("max_steps", None),
    "layer_norm": ("normalization", lambda on: "layer" if on else None),
}


def _non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a number >= 0, "
            f"received {name}={value!r}."
        )
    return float(value)


def _inward(value, dtype, down):
    """`value` rounded to `dtype` toward the inside of the bound (so the bound holds exactly
    for the stored weights: float32(2**(1/T)) rounded to nearest can exceed 2**(1/T))."""
    rounded = np.asarray(value, dtype)
    if (down and float(rounded) > value) or (not down and float(rounded) < value):
        rounded = np.nextafter(rounded, np.asarray(0.0 if down else np.inf, dtype))
    return float(rounded)


@keras_serializable
class MagnitudeBound(keras.constraints.Constraint):
    """Keep each weight's magnitude in [min_abs, max_abs], keeping its sign.

    w -> sign(w) * clip(|w|, min_abs, max_abs), with sign(0) = +1 (so a zero weight becomes
    +min_abs when min_abs > 0). The bounds are rounded inward to the weight's dtype (the
    float32 nearest to 2**(1/1000) is above it), so the stored weights satisfy them exactly.
    Keras applies a constraint after every optimizer update.
    `MagnitudeBound.for_steps(T)` is IndRNN's bound max_abs = 2**(1/T).

    Args:
        max_abs: upper bound of |w|, a number > 0, or None for no upper bound (default None).
        min_abs: lower bound of |w|, a number >= 0 and <= max_abs (default 0).

    Examples:
        >>> MagnitudeBound.for_steps(1000).max_abs  # 2 ** (1 / 1000)
        1.000693387...
    """

    def __init__(self, max_abs=None, min_abs=0.0):
        if max_abs is not None:
            max_abs = validation.positive_float("max_abs", max_abs)
        min_abs = _non_negative("min_abs", min_abs)
        if max_abs is not None and min_abs > max_abs:
            raise ValueError(
                f"Invalid value for argument `min_abs`: expected a number in [0, max_abs="
                f"{max_abs}], received min_abs={min_abs!r}."
            )
        self.max_abs = max_abs
        self.min_abs = min_abs

    @classmethod
    def for_steps(cls, max_steps, min_abs=0.0):
        """The bound |w| <= 2**(1/max_steps) (Li et al. 2018, for relu IndRNNs)."""
        max_steps = validation.positive_int("max_steps", max_steps)
        return cls(max_abs=2.0 ** (1.0 / max_steps), min_abs=min_abs)

    @classmethod
    def for_timesteps(cls, max_timesteps, min_abs=0.0):
        """Deprecated name of `for_steps`."""
        warnings.warn("`MagnitudeBound.for_timesteps` is deprecated. Use "
                      "`MagnitudeBound.for_steps` instead.", DeprecationWarning, stacklevel=2)
        return cls.for_steps(max_timesteps, min_abs=min_abs)

    def __call__(self, w):
        dtype = keras.backend.standardize_dtype(w.dtype)
        high = math.inf if self.max_abs is None else _inward(self.max_abs, dtype, down=True)
        low = _inward(self.min_abs, dtype, down=False)
        magnitude = ops.clip(ops.abs(w), low, high)
        sign = ops.where(w >= 0, ops.ones_like(w), -ops.ones_like(w))
        return sign * ops.cast(magnitude, dtype)

    def get_config(self):
        return {"max_abs": self.max_abs, "min_abs": self.min_abs}


@keras_serializable
class IndRNNCell(KernelRecurrentCell):
    """Independently recurrent cell (Li et al. 2018): h' = act(x @ W + u * h + b).

    `u` is a vector (one recurrent weight per unit, elementwise product)::

        p  = x @ W                      # or LN(x @ W) * gamma with normalization="layer"
        h' = act(p + u * h + b)

    Weights, in order: kernel (D, U), recurrent_kernel (U,) (the vector u), bias (U,) if
    use_bias, kernel_norm_gamma (U,) with normalization="layer".

    Bounds: `max_steps=T` constrains |u| <= 2**(1/T) (`MagnitudeBound`); with an activation
    whose slope is at most 1 (relu, leaky_relu with slope <= 1, tanh) every element of the
    (diagonal) Jacobian dh_T/dh_t is then at most 2**((T - t)/T) <= 2 in magnitude.
    `recurrent_min_abs` adds a lower bound |u| >= min (memory that cannot vanish too fast,
    e.g. 0.5**(1/T) keeps at least half of a unit's state over T steps). The bound is applied to
    the initial value too, and by Keras after every optimizer step; values written with
    `set_weights` / `assign` are not clipped until the next step.

    Initialization (the paper's and its reference implementation's): recurrent weights uniform
    in [recurrent_min_abs, 2**(1/T)] with `max_steps=T` (in [recurrent_min_abs, 1]
    without); for an output layer that must remember over all T steps the paper's authors
    draw them in [0.5**(1/T), 2**(1/T)] (pass `recurrent_min_abs=0.5 ** (1 / T)`). Input
    weights: "glorot_uniform" by default (Keras's), biases zeros. relu is the paper's
    activation.

    Args:
        units: positive int.
        activation: "relu" (default), "leaky_relu", `rnncells.activations.LeakyReLU(slope)`,
            "tanh", "elu", "softplus" or any Keras activation.
        use_bias: default True.
        kernel_initializer: default "glorot_uniform". recurrent_initializer: default None (the
            uniform initialization above). bias_initializer: default "zeros".
        kernel_/recurrent_/bias_ regularizer and constraint: default None. A
            `recurrent_constraint` cannot be combined with `max_steps` / `recurrent_min_abs`.
        max_steps: None (default, no upper bound) or T >= 1: |u| <= 2**(1/T). Formerly
            `max_timesteps` (still accepted, with a DeprecationWarning).
        recurrent_min_abs: lower bound of |u|, >= 0 (default 0: none).
        normalization: None (default) or "layer": layer-normalize x @ W over the units
            before adding u * h and b. Formerly `layer_norm=True` (still accepted, with a
            DeprecationWarning).
        norm_epsilon: > 0 (default 1e-3). norm_gamma_initializer: default "ones".
        dropout, recurrent_dropout: fractions in [0, 1) (recurrent dropout on h before u * h).
        seed: int or None.

    Call arguments: inputs (batch, features); states [h (batch, units)]; training.
    Returns: (h', [h']).

    Examples:
        >>> cell = rnncells.IndRNNCell(8, max_steps=1000)
        >>> keras.layers.RNN(cell)(np.zeros((2, 1000, 3), "float32")).shape
        TensorShape([2, 8])
    """

    activation_arguments = ("activation",)

    def __init__(
        self,
        units,
        activation="relu",
        recurrent_initializer=None,
        recurrent_constraint=None,
        max_steps=None,
        recurrent_min_abs=0.0,
        normalization=None,
        norm_epsilon=1e-3,
        norm_gamma_initializer="ones",
        **kwargs,
    ):
        max_steps = take_renamed("IndRNNCell", kwargs, RENAMED, "max_timesteps", max_steps, None)
        normalization = take_renamed("IndRNNCell", kwargs, RENAMED, "layer_norm", normalization,
                                     None)
        units = validation.positive_int("units", units)
        if max_steps is not None:
            max_steps = validation.positive_int("max_steps", max_steps)
        recurrent_min_abs = _non_negative("recurrent_min_abs", recurrent_min_abs)
        max_abs = None if max_steps is None else 2.0 ** (1.0 / max_steps)
        bounded = max_steps is not None or recurrent_min_abs > 0
        if bounded and recurrent_constraint is not None:
            raise ValueError(
                "Invalid value for argument `recurrent_constraint`: expected None when "
                f"max_steps={max_steps!r} or recurrent_min_abs={recurrent_min_abs!r} set the "
                f"bound of u; received recurrent_constraint={recurrent_constraint!r}."
            )
        if recurrent_initializer is None:
            high = 1.0 if max_abs is None else max_abs
            if recurrent_min_abs > high:
                raise ValueError(
                    "Invalid value for argument `recurrent_min_abs`: expected a number in "
                    f"[0, {high}] (the upper bound of |u|), received "
                    f"recurrent_min_abs={recurrent_min_abs!r}."
                )
            recurrent_initializer = initializers.RandomUniform(recurrent_min_abs, high,
                                                               seed=kwargs.get("seed"))
        super().__init__(activation=activation, recurrent_initializer=recurrent_initializer,
                         recurrent_constraint=recurrent_constraint, **kwargs)
        self.units = units
        self.max_steps = max_steps
        self.recurrent_min_abs = recurrent_min_abs
        self.max_abs = max_abs
        #: the constraint the user passed (serialized); `recurrent_constraint` is the one used.
        self.user_recurrent_constraint = self.recurrent_constraint
        if bounded:
            self.recurrent_constraint = MagnitudeBound(max_abs, recurrent_min_abs)
        self.normalization = validation.one_of("normalization", normalization, NORMALIZATIONS)
        self.norm_epsilon = validation.positive_float("norm_epsilon", norm_epsilon)
        self.norm_gamma_initializer = initializers.get(norm_gamma_initializer)

    @property
    def state_size(self):
        return [self.units]

    def build(self, input_shape):
        input_shape = self.check_step_input_shape(input_shape)
        self.kernel = self.add_weight_with_arguments("kernel", (input_shape[-1], self.units),
                                                     "kernel")
        base, bound = self.recurrent_initializer, self.recurrent_constraint

        def recurrent_init(shape, dtype=None):
            value = base(shape, dtype=dtype)
            return value if bound is None else bound(value)

        self.recurrent_kernel = self.add_weight_with_arguments(
            "recurrent", (self.units,), "recurrent_kernel", initializer=recurrent_init)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight_with_arguments("bias", (self.units,), "bias")
        self.kernel_norm_gamma = None
        if self.normalization == "layer":
            self.kernel_norm_gamma = self.add_weight(
                shape=(self.units,), name="kernel_norm_gamma",
                initializer=self.norm_gamma_initializer)
        self.built = True

    def project(self, inputs, training=None):
        p = self.input_projection(inputs, training)
        if self.normalization == "layer":
            p = layer_norm(p, self.kernel_norm_gamma, None, self.norm_epsilon)
        return self.add_bias(p)

    def recur(self, projected, states, training=None):
        h_tm1 = self.apply_recurrent_dropout(states[0], training)
        h = self.activation(projected + self.cast_weight(self.recurrent_kernel) * h_tm1)
        return h, [h]

    def get_config(self):
        config = {
            "units": self.units,
            "recurrent_constraint": constraints.serialize(self.user_recurrent_constraint),
            "max_steps": self.max_steps,
            "recurrent_min_abs": self.recurrent_min_abs,
            "normalization": self.normalization,
            "norm_epsilon": self.norm_epsilon,
            "norm_gamma_initializer": initializers.serialize(self.norm_gamma_initializer),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        return super().from_config(upgrade_config(config, RENAMED))
